package gateway_test

// Two gateways on one real NATS server (in process, nats-server/v2), with Go
// sente-lite clients on both: the hubs must behave as one.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"olympos.io/encoding/edn"

	"github.com/sente-clj/sente/gateway"
	"github.com/sente-clj/sente/internal/gatewaytest"
	"github.com/sente-clj/sente/internal/natstest"
	"github.com/sente-clj/sente/internal/testutil"
	"github.com/sente-clj/sente/sentelite"
	"github.com/sente-clj/sente/wire"
)

const bound = 30 * time.Second // every wait; a healthy run is far below it

// pair is two gateways sharing channels through one NATS server.
type pair struct {
	nats *natstest.Server
	a, b *gatewaytest.Gateway
}

func startPair(t *testing.T, tweak func(*gateway.Config)) *pair {
	t.Helper()
	ns := natstest.Start(t)
	start := func() *gatewaytest.Gateway {
		return gatewaytest.Start(t, func(cfg *gateway.Config) {
			cfg.NATS = gateway.DefaultNATS()
			cfg.NATS.URL = ns.URL()
			cfg.NATS.ReconnectWait = 100 * time.Millisecond
			if tweak != nil {
				tweak(cfg)
			}
		})
	}
	p := &pair{nats: ns, a: start(), b: start()}
	for _, g := range []*gatewaytest.Gateway{p.a, p.b} {
		testutil.Eventually(t, bound, func() bool { return natsHealth(t, g)["connected"] == true }, "gateway joined NATS")
	}
	return p
}

func natsHealth(t *testing.T, g *gatewaytest.Gateway) map[string]any {
	t.Helper()
	var h struct {
		NATS map[string]any `json:"nats"`
	}
	g.GetJSON(t, "/health", &h)
	return h.NATS
}

func natsStats(t *testing.T, g *gatewaytest.Gateway) map[string]any {
	t.Helper()
	var s struct {
		NATS map[string]any `json:"nats"`
	}
	g.GetJSON(t, "/stats", &s)
	return s.NATS
}

// sub is a Go sente-lite client that records every channel message.
type sub struct {
	c   *sentelite.Client
	uid string

	mu   sync.Mutex
	msgs []sentelite.ChannelMessage
}

func connect(t *testing.T, g *gatewaytest.Gateway, channels ...string) *sub {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	c, err := sentelite.Dial(ctx, sentelite.DefaultOptions(g.ChskURL()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s := &sub{c: c, uid: c.UID()}
	c.OnChannel("", func(m sentelite.ChannelMessage) {
		s.mu.Lock()
		s.msgs = append(s.msgs, m)
		s.mu.Unlock()
	})
	for _, ch := range channels {
		if err := c.Subscribe(ctx, ch); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func (s *sub) messages() []sentelite.ChannelMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sentelite.ChannelMessage(nil), s.msgs...)
}

// seqs are the :seq of the messages from publisher uid with :tag tag.
func (s *sub) seqs(from, tag string) []int64 {
	var out []int64
	for _, m := range s.messages() {
		if m.From != from || wire.Get(m.Data, "tag") != tag {
			continue
		}
		n, _ := wire.Get(m.Data, "seq").(int64)
		out = append(out, n)
	}
	return out
}

func publish(t *testing.T, s *sub, channel, tag string, seq int64, exclude bool) {
	t.Helper()
	if err := s.c.Publish(channel, map[edn.Keyword]any{"tag": tag, "seq": seq}, exclude); err != nil {
		t.Errorf("publish: %v", err) // also from publishing goroutines: no Fatal
	}
}

// awaitBus publishes probes from pub until every one of subs has one: the
// interest of their instances has reached the NATS server.
func awaitBus(t *testing.T, pub *sub, channel string, subs ...*sub) {
	t.Helper()
	var seq int64
	testutil.Eventually(t, bound, func() bool {
		publish(t, pub, channel, "probe", seq, false)
		seq++
		time.Sleep(20 * time.Millisecond)
		for _, s := range subs {
			if len(s.seqs(pub.uid, "probe")) == 0 {
				return false
			}
		}
		return true
	}, "a probe crossed the bus")

}

// inOrderOnce checks that got is 0..n-1, each once, in order.
func inOrderOnce(got []int64, n int) error {
	if len(got) != n {
		return fmt.Errorf("%d messages, want %d", len(got), n)
	}
	for i, v := range got {
		if v != int64(i) {
			return fmt.Errorf("message %d has seq %d", i, v)
		}
	}
	return nil
}

func TestChannelsAcrossInstances(t *testing.T) {
	p := startPair(t, nil)
	a1, a2 := connect(t, p.a, "news"), connect(t, p.a, "news")
	b1, b2 := connect(t, p.b, "news"), connect(t, p.b, "news")
	awaitBus(t, a1, "news", b1, b2)
	awaitBus(t, b1, "news", a1, a2)

	const n = 200
	// Both instances publish at once, a1 asking not to get its own messages.
	var wg sync.WaitGroup
	for _, pub := range []struct {
		s       *sub
		exclude bool
	}{{a1, true}, {b1, false}} {
		wg.Go(func() {
			for i := range int64(n) {
				publish(t, pub.s, "news", "main", i, pub.exclude)
			}
		})
	}
	wg.Wait()

	tests := []struct {
		name      string
		s         *sub
		from      *sub
		wantCount int // n, or 0 for an excluded sender
	}{
		{"a1 excluded itself", a1, a1, 0},
		{"a2 gets a1 locally", a2, a1, n},
		{"b1 gets a1 across", b1, a1, n},
		{"b2 gets a1 across", b2, a1, n},
		{"a1 gets b1 across", a1, b1, n},
		{"a2 gets b1 across", a2, b1, n},
		{"b1 gets itself locally", b1, b1, n},
		{"b2 gets b1 locally", b2, b1, n},
	}
	// Wait for everything, then publish one more from each instance and wait
	// for it: a duplicate would have arrived before it (per-publisher order).
	for _, tt := range tests {
		if tt.wantCount > 0 {
			testutil.Eventually(t, bound, func() bool { return len(tt.s.seqs(tt.from.uid, "main")) >= tt.wantCount }, "%s", tt.name)
		}
	}
	publish(t, a1, "news", "end", 0, false)
	publish(t, b1, "news", "end", 0, false)
	for _, s := range []*sub{a1, a2, b1, b2} {
		testutil.Eventually(t, bound, func() bool { return len(s.seqs(a1.uid, "end")) == 1 && len(s.seqs(b1.uid, "end")) == 1 }, "end markers")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := inOrderOnce(tt.s.seqs(tt.from.uid, "main"), tt.wantCount); err != nil {
				t.Error(err)
			}
		})
	}

	// /stats and /channels say what crossed the bus.
	for _, g := range []*gatewaytest.Gateway{p.a, p.b} {
		st := natsStats(t, g)
		if st["published"].(float64) < n || st["received"].(float64) < n || st["lost-detected"] != 0.0 || st["publish-failed"] != 0.0 {
			t.Errorf("%s /stats nats = %v", g.HTTPAddr(), st)
		}
		var ch struct {
			Channels map[string]int `json:"channels"`
			NATS     map[string]struct {
				Received     int64 `json:"received"`
				LostDetected int64 `json:"lost-detected"`
			} `json:"nats"`
		}
		g.GetJSON(t, "/channels", &ch)
		if ch.Channels["news"] != 2 || ch.NATS["news"].Received < n {
			t.Errorf("%s /channels = %+v", g.HTTPAddr(), ch)
		}
	}
}

// TestInterestFollowsSubscriptions: an instance takes a channel from NATS only
// while it has local subscribers of it.
func TestInterestFollowsSubscriptions(t *testing.T) {
	p := startPair(t, nil)
	subscribed := func(g *gatewaytest.Gateway) float64 { return natsStats(t, g)["subscribed-channels"].(float64) }
	if subscribed(p.b) != 0 {
		t.Fatalf("b takes %v channels with no subscribers", subscribed(p.b))
	}
	b1 := connect(t, p.b, "x", "y")
	b2 := connect(t, p.b, "x")
	steps := []struct {
		name string
		do   func() error
		want float64
	}{
		{"two channels", func() error { return nil }, 2},
		{"one of two x subscribers leaves", func() error { return b2.c.Unsubscribe(context.Background(), "x") }, 2},
		{"y's only subscriber leaves", func() error { return b1.c.Unsubscribe(context.Background(), "y") }, 1},
		{"x's last subscriber disconnects", func() error { return b1.c.Close() }, 0},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		testutil.Eventually(t, bound, func() bool { return subscribed(p.b) == s.want }, "%s", s.name)
	}
}

// TestNATSOutageMidStream: NATS stops while a publisher on a publishes
// steadily. a's own subscriber never stops receiving; /health says the bus
// is down; after NATS is back b's subscriber receives again, and every
// message b missed is counted in its lost-detected, not hidden.
func TestNATSOutageMidStream(t *testing.T) {
	tests := []struct {
		name     string
		buffer   int  // bytes of publishes kept while NATS is down
		mustLose bool // the buffer is too small for the outage
	}{
		{"default buffer", 0, false},
		{"1KiB buffer overflows", 1 << 10, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { testOutage(t, tt.buffer, tt.mustLose) })
	}
}

func testOutage(t *testing.T, buffer int, mustLose bool) {
	p := startPair(t, func(cfg *gateway.Config) {
		if buffer > 0 {
			cfg.NATS.ReconnectBuffer = buffer
		}
	})
	pub, local := connect(t, p.a), connect(t, p.a, "feed")
	remote := connect(t, p.b, "feed")
	awaitBus(t, pub, "feed", remote)

	var mu sync.Mutex
	published := int64(0)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := int64(0); ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			publish(t, pub, "feed", "main", i, false)
			mu.Lock()
			published = i + 1
			mu.Unlock()
		}
	}()
	count := func(s *sub) int { return len(s.seqs(pub.uid, "main")) }
	testutil.Eventually(t, bound, func() bool { return count(remote) > 50 }, "remote receives before the outage")

	p.nats.Stop()
	testutil.Eventually(t, bound, func() bool {
		return natsHealth(t, p.a)["connected"] == false && natsHealth(t, p.b)["connected"] == false
	}, "/health shows the bus down")

	atDown := count(local)
	testutil.Eventually(t, bound, func() bool { return count(local) > atDown+100 }, "local delivery goes on while NATS is down")
	if natsHealth(t, p.a)["connected"] != false {
		t.Fatal("NATS came back by itself")
	}

	p.nats.Restart()
	testutil.Eventually(t, bound, func() bool {
		return natsHealth(t, p.a)["connected"] == true && natsHealth(t, p.b)["connected"] == true
	}, "both reconnect")

	mu.Lock()
	atUp := published
	mu.Unlock()
	testutil.Eventually(t, bound, func() bool {
		s := remote.seqs(pub.uid, "main")
		return len(s) > 0 && s[len(s)-1] > atUp+50
	}, "remote receives what is published after the restart")

	close(stop)
	<-done
	total := published
	testutil.Eventually(t, bound, func() bool {
		s := remote.seqs(pub.uid, "main")
		return len(s) > 0 && s[len(s)-1] == total-1
	}, "remote receives the last message")
	// Local delivery is a different connection: it may come after remote's.
	testutil.Eventually(t, bound, func() bool {
		s := local.seqs(pub.uid, "main")
		return len(s) > 0 && s[len(s)-1] == total-1
	}, "local receives the last message")

	if err := inOrderOnce(local.seqs(pub.uid, "main"), int(total)); err != nil {
		t.Errorf("local subscriber: %v", err)
	}
	got := remote.seqs(pub.uid, "main")
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Fatalf("remote: seq %d after %d: out of order or duplicated", got[i], got[i-1])
		}
	}
	missed := total - int64(len(got))
	bStats, aStats := natsStats(t, p.b), natsStats(t, p.a)
	t.Logf("published %d; remote got %d, missed %d; b reports lost-detected %v, a publish-failed %v, reconnects %v",
		total, len(got), missed, bStats["lost-detected"], aStats["publish-failed"], aStats["reconnects"])
	if bStats["lost-detected"] != float64(missed) {
		t.Errorf("remote missed %d messages but b's /stats reports lost-detected %v", missed, bStats["lost-detected"])
	}
	if mustLose && (missed == 0 || aStats["publish-failed"].(float64) == 0) {
		t.Errorf("a %d-byte buffer lost nothing: missed %d, a's publish-failed %v", buffer, missed, aStats["publish-failed"])
	}
	if aStats["disconnects"].(float64) < 1 || aStats["reconnects"].(float64) < 1 {
		t.Errorf("a's /stats nats = %v, want a disconnect and a reconnect counted", aStats)
	}
	if !strings.Contains(p.a.Logs.String(), "lost the NATS connection") || !strings.Contains(p.a.Logs.String(), "NATS connection back") {
		t.Error("the outage and the reconnect are not logged")
	}
}

// TestSlowSubscriberOnOneInstance: a subscriber on a that stops reading is
// closed as a slow consumer there; the subscribers on b (and a's other
// subscriber) get every message, in order.
func TestSlowSubscriberOnOneInstance(t *testing.T) {
	p := startPair(t, func(cfg *gateway.Config) { cfg.ClientQueue = 64; cfg.Batch = false })
	pub, fastA := connect(t, p.a), connect(t, p.a, "firehose")
	fastB := connect(t, p.b, "firehose")

	slow, _, err := websocket.DefaultDialer.Dial(p.a.ChskURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	if err := slow.WriteMessage(websocket.TextMessage, []byte(`[:sente-lite/subscribe {:channel-id "firehose"}]`)); err != nil {
		t.Fatal(err)
	}
	var chans struct {
		Channels map[string]int `json:"channels"`
	}
	testutil.Eventually(t, bound, func() bool { p.a.GetJSON(t, "/channels", &chans); return chans.Channels["firehose"] == 2 }, "slow subscribed")
	awaitBus(t, pub, "firehose", fastB)

	// slow never reads; big messages fill its socket buffers, then its queue.
	pad := strings.Repeat("z", 16<<10)
	const n = 400
	for i := range int64(n) {
		if err := pub.c.Publish("firehose", map[edn.Keyword]any{"tag": "main", "seq": i, "pad": pad}, false); err != nil {
			t.Fatal(err)
		}
		// In step with the fast subscribers, so that only slow can fall behind.
		testutil.Eventually(t, bound, func() bool {
			return len(fastA.seqs(pub.uid, "main")) > int(i) && len(fastB.seqs(pub.uid, "main")) > int(i)
		}, "fast subscribers keep up")

	}
	for _, s := range []*sub{fastA, fastB} {
		if err := inOrderOnce(s.seqs(pub.uid, "main"), n); err != nil {
			t.Errorf("fast subscriber: %v", err)
		}
	}
	var st struct {
		SenteLite map[string]any `json:"sente-lite"`
	}
	testutil.Eventually(t, bound, func() bool {
		p.a.GetJSON(t, "/stats", &st)
		return st.SenteLite["slow-consumer-closes"] == 1.0
	}, "slow closed on a")

	if b := natsStats(t, p.b); b["lost-detected"] != 0.0 || b["dropped-slow"] != 0.0 {
		t.Errorf("b lost messages: %v", b)
	}
}

// TestWithoutNATSNothingChanges: no nats key, the hub as before.
func TestWithoutNATSNothingChanges(t *testing.T) {
	g := gatewaytest.Start(t, nil)
	for _, path := range []string{"/health", "/stats", "/channels"} {
		var m map[string]json.RawMessage
		g.GetJSON(t, path, &m)
		if _, ok := m["nats"]; ok {
			t.Errorf("%s has a nats key without --nats", path)
		}
	}
}

// TestGatewayStartsBeforeNATS: a gateway whose NATS server is not up yet
// starts, keeps its channels local, and joins once the server is there.
func TestGatewayStartsBeforeNATS(t *testing.T) {
	ns := natstest.Start(t)
	ns.Stop() // its port is known; nothing listens there now
	start := func() *gatewaytest.Gateway {
		return gatewaytest.Start(t, func(cfg *gateway.Config) {
			cfg.NATS = gateway.DefaultNATS()
			cfg.NATS.URL = ns.URL()
			cfg.NATS.ReconnectWait = 100 * time.Millisecond
		})
	}
	a, b := start(), start()
	if natsHealth(t, a)["connected"] != false || !strings.Contains(a.Logs.String(), "NATS is not reachable yet") {
		t.Fatalf("/health nats = %v; want it down and logged", natsHealth(t, a))
	}
	pub, local := connect(t, a), connect(t, a, "c")
	publish(t, pub, "c", "main", 0, false)
	testutil.Eventually(t, bound, func() bool { return len(local.seqs(pub.uid, "main")) == 1 }, "local delivery without NATS")

	ns.Restart()
	testutil.Eventually(t, bound, func() bool {
		return natsHealth(t, a)["connected"] == true && natsHealth(t, b)["connected"] == true
	}, "both join NATS")

	remote := connect(t, b, "c")
	awaitBus(t, pub, "c", remote)
}

func TestNATSURLChecked(t *testing.T) {
	tests := []struct {
		url  string
		want string // "" accepted
	}{
		{"nats://127.0.0.1:4222", ""},
		{"127.0.0.1:4222", ""},
		{"nats://127.0.0.1:1,nats://127.0.0.1:2", ""},
		{"tls://127.0.0.1:1", ""},
		{"http://127.0.0.1:4222", "the scheme must be"},
		{"nats://", "names no host"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			cfg := gateway.DefaultConfig()
			cfg.NREPLPort, cfg.HTTPPort, cfg.PortFile = 0, 0, ""
			cfg.NATS = gateway.DefaultNATS()
			cfg.NATS.URL = tt.url
			cfg.NATS.ReconnectWait = time.Hour // accepted ones need not reach anything
			srv, err := gateway.Listen(cfg)
			if srv != nil {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				_ = srv.Serve(ctx)
			}
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("err = %v, want one saying %q", err, tt.want)
			}
		})
	}
}

// TestBusDeliveryHonoursBatching: messages from another instance reach each
// local subscriber the way it asked for them at connect time: batch frames
// only for a client that came with ?batch=1, one event per frame for the
// sente-lite's published clients (which would lose a batch frame's events),
// all in order.
func TestBusDeliveryHonoursBatching(t *testing.T) {
	p := startPair(t, nil)
	pub := connect(t, p.a, "news")
	anchor := connect(t, p.b, "news")
	raw := []struct {
		name  string
		query string
		batch bool
	}{
		{"seed client", "", false},
		{"client that asks for batches", "?batch=1", true},
	}
	conns := make([]*websocket.Conn, len(raw))
	for i, r := range raw {
		conn, _, err := websocket.DefaultDialer.Dial(p.b.ChskURL()+r.query, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		if err := conn.WriteMessage(websocket.TextMessage, []byte(`[:sente-lite/subscribe {:channel-id "news"}]`)); err != nil {
			t.Fatal(err)
		}
		conns[i] = conn
		for subscribed := false; !subscribed; {
			_ = conn.SetReadDeadline(time.Now().Add(bound))
			_, data, err := conn.ReadMessage()
			if err != nil {
				t.Fatalf("%s: waiting for :sente-lite/subscribed: %v", r.name, err)
			}
			subscribed = strings.Contains(string(data), ":sente-lite/subscribed")
		}
	}
	// b has the channel's interest since anchor subscribed; the probes make
	// sure it reached NATS. The raw clients skip them like any other tag.
	awaitBus(t, pub, "news", anchor)

	const n = 300
	for i := range int64(n) {
		publish(t, pub, "news", "main", i, false)
	}
	for i, r := range raw {
		t.Run(r.name, func(t *testing.T) {
			conn := conns[i]
			var seqs []int64
			batches := 0
			for len(seqs) < n {
				_ = conn.SetReadDeadline(time.Now().Add(bound))
				_, data, err := conn.ReadMessage()
				if err != nil {
					t.Fatalf("after %d messages: %v", len(seqs), err)
				}
				f, err := wire.DecodeFrame(data, wire.DefaultLimits())
				if err != nil {
					t.Fatalf("decode %.200q: %v", data, err)
				}
				events := []wire.Event{f.Event}
				if f.Kind == wire.KindBatch {
					if !r.batch {
						t.Fatalf("a client that did not ask for batches got one: %.200s", data)
					}
					batches++
					events = f.Batch
				}
				for _, ev := range events {
					if ev.ID != wire.EvChannelMsg || wire.Get(wire.Get(ev.Data, "data"), "tag") != "main" {
						continue
					}
					seq, _ := wire.Get(wire.Get(ev.Data, "data"), "seq").(int64)
					seqs = append(seqs, seq)
				}
			}
			if err := inOrderOnce(seqs, n); err != nil {
				t.Error(err)
			}
			t.Logf("%d batch frames", batches)
		})
	}
}
