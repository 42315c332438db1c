package sentelite_test

// The Go client against the real gateway hub (package gateway), in process:
// every event form, a reconnect across a gateway restart, heartbeat reaping and
// slow-consumer closing, as a sente-lite client sees them.

import (
	"context"
	"errors"
	"net"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"olympos.io/encoding/edn"

	"github.com/sente-clj/sente/gateway"
	"github.com/sente-clj/sente/internal/gatewaytest"
	"github.com/sente-clj/sente/internal/testutil"
	"github.com/sente-clj/sente/sentelite"
	"github.com/sente-clj/sente/wire"
)

// realGateway is a gateway serving in this process (internal/gatewaytest).
type realGateway struct {
	*gatewaytest.Gateway
}

// startRealGateway runs a gateway on free ports (tweak may pin them); it is
// stopped at the end of the test, and its log shown if the test failed.
func startRealGateway(t *testing.T, tweak func(*gateway.Config)) *realGateway {
	t.Helper()
	return &realGateway{gatewaytest.Start(t, tweak)}
}

func (g *realGateway) URL() string { return g.ChskURL() }

// stop shuts the gateway down as Ctrl-C does and waits for it.
func (g *realGateway) stop(t *testing.T) { g.Stop(t) }

// stat reads one counter of the sente-lite section of /stats.
func (g *realGateway) stat(t *testing.T, name string) int64 {
	t.Helper()
	var stats struct {
		SenteLite map[string]any `json:"sente-lite"`
	}
	g.GetJSON(t, "/stats", &stats)
	n, ok := stats.SenteLite[name].(float64)
	if !ok {
		t.Fatalf("/stats has no sente-lite %q: %v", name, stats.SenteLite)
	}
	return int64(n)
}

// channelSubscribers is a channel's subscriber count from /channels.
func (g *realGateway) channelSubscribers(t *testing.T, ch string) int {
	t.Helper()
	var body struct {
		Channels map[string]int `json:"channels"`
	}
	g.GetJSON(t, "/channels", &body)
	return body.Channels[ch]
}

// dialGateway connects a sentelite client to g with fastOptions adjusted by
// mod; it is closed at the end of the test.
func dialGateway(t *testing.T, g *realGateway, mod func(*sentelite.Options)) *sentelite.Client {
	t.Helper()
	o := fastOptions(g.URL())
	if mod != nil {
		mod(&o)
	}
	c, err := sentelite.Dial(ctxFor(t, testutil.Patience), o)
	if err != nil {
		t.Fatalf("Dial %s: %v", g.URL(), err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// rawGatewayConn is a bare WebSocket to g that has read the handshake.
func rawGatewayConn(t *testing.T, g *realGateway, dialer *websocket.Dialer) *websocket.Conn {
	t.Helper()
	if dialer == nil {
		dialer = websocket.DefaultDialer
	}
	conn, _, err := dialer.Dial(g.URL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, data, err := conn.ReadMessage()
	if err != nil || !strings.HasPrefix(string(data), "[:chsk/handshake") {
		t.Fatalf("first frame %q, %v: want the handshake", data, err)
	}
	_ = conn.SetReadDeadline(time.Time{})
	return conn
}

func TestGatewayEventForms(t *testing.T) {
	g := startRealGateway(t, nil)
	c := dialGateway(t, g, nil)
	uid := c.UID()
	if len(uid) != 32 {
		t.Fatalf("uid %q: want the gateway's 32 hex digits", uid)
	}
	ctx := ctxFor(t, 10*time.Second)

	t.Run("event is echoed", func(t *testing.T) {
		w := c.Expect(wire.EvEcho, nil)
		if err := c.Send(wire.Event{ID: "my-app/hello", HasData: true, Data: map[edn.Keyword]any{"n": 1, "who": "Ada"}}); err != nil {
			w.Cancel()
			t.Fatal(err)
		}
		ev, err := w.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := wire.Get(ev.Data, "original-event-id"); got != edn.Keyword("my-app/hello") {
			t.Errorf(":original-event-id %v", got)
		}
		data := wire.Get(ev.Data, "original-data")
		if wire.Get(data, "n") != int64(1) || wire.Get(data, "who") != "Ada" {
			t.Errorf(":original-data %#v", data)
		}
		if got, _ := wire.GetString(ev.Data, "conn-id"); got != uid {
			t.Errorf(":conn-id %q, want the handshake's uid %q", got, uid)
		}
		if _, ok := wire.Get(ev.Data, "timestamp").(int64); !ok {
			t.Errorf(":timestamp %#v", wire.Get(ev.Data, "timestamp"))
		}
	})

	t.Run("event without data is echoed", func(t *testing.T) {
		w := c.Expect(wire.EvEcho, func(ev wire.Event) bool {
			return wire.Get(ev.Data, "original-event-id") == edn.Keyword("my-app/bare")
		})
		if err := c.Send(wire.Event{ID: "my-app/bare"}); err != nil {
			t.Fatal(err)
		}
		ev, err := w.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d := wire.Get(ev.Data, "original-data"); d != nil {
			t.Errorf(":original-data %#v, want nil", d)
		}
	})

	t.Run("callback is replied to", func(t *testing.T) {
		reply, err := c.Request(ctx, wire.Event{ID: "my-app/question", HasData: true, Data: []any{1, 2, 3}})
		if err != nil {
			t.Fatal(err)
		}
		if got := wire.Get(reply, "original-event-id"); got != edn.Keyword("my-app/question") {
			t.Errorf("reply %#v", reply)
		}
		if got := wire.Get(reply, "original-data"); !reflect.DeepEqual(got, []any{int64(1), int64(2), int64(3)}) {
			t.Errorf(":original-data %#v", got)
		}
		if got, _ := wire.GetString(reply, "conn-id"); got != uid {
			t.Errorf(":conn-id %q, want %q", got, uid)
		}
	})

	t.Run("ping is answered with pong", func(t *testing.T) {
		w := c.Expect(wire.EvPong, nil)
		if err := c.Send(wire.Event{ID: wire.EvPing}); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		// In the callback form a ping is answered true (a bare keyword reply
		// would read as an event).
		reply, err := c.Request(ctx, wire.Event{ID: wire.EvPing})
		if err != nil || reply != true {
			t.Errorf("callback ping: %#v, %v; want true", reply, err)
		}
	})

	t.Run("pubsub", func(t *testing.T) {
		msgs := make(chan sentelite.ChannelMessage, 16)
		id := c.OnChannel("news", func(m sentelite.ChannelMessage) { msgs <- m })
		defer c.Off(id)
		if err := c.Subscribe(ctx, "news"); err != nil {
			t.Fatal(err)
		}
		if got := c.Subscriptions(); !slices.Equal(got, []string{"news"}) {
			t.Errorf("Subscriptions %v", got)
		}
		if n := g.channelSubscribers(t, "news"); n != 1 {
			t.Errorf("/channels news: %d subscribers", n)
		}
		// Excluded, then included: the first message to arrive must be the second.
		if err := c.Publish("news", "not for me", true); err != nil {
			t.Fatal(err)
		}
		if err := c.Publish("news", map[edn.Keyword]any{"headline": "hi"}, false); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-msgs:
			if m.Channel != "news" || m.From != uid || wire.Get(m.Data, "headline") != "hi" {
				t.Errorf("message %+v", m)
			}
		case <-ctx.Done():
			t.Fatal("no channel message")
		}
		// The callback form is answered with the delivery count.
		reply, err := c.Request(ctx, wire.Event{ID: wire.EvPublish, HasData: true,
			Data: map[edn.Keyword]any{"channel-id": "news", "data": 42}})
		if err != nil {
			t.Fatal(err)
		}
		if !wire.GetBool(reply, "success") || wire.Get(reply, "delivered") != int64(1) {
			t.Errorf("publish reply %#v", reply)
		}
		if m := <-msgs; m.Data != int64(42) {
			t.Errorf("message %+v", m)
		}
		// Subscribe in the callback form too.
		reply, err = c.Request(ctx, wire.Event{ID: wire.EvSubscribe, HasData: true, Data: map[edn.Keyword]any{"channel-id": "sport"}})
		if err != nil || !wire.GetBool(reply, "success") || wire.Get(reply, "channel-id") != "sport" {
			t.Errorf("subscribe reply %#v, %v", reply, err)
		}
		if err := c.Unsubscribe(ctx, "news"); err != nil {
			t.Fatal(err)
		}
		if got := c.Subscriptions(); len(got) != 0 {
			t.Errorf("Subscriptions after Unsubscribe %v", got)
		}
		reply, err = c.Request(ctx, wire.Event{ID: wire.EvPublish, HasData: true,
			Data: map[edn.Keyword]any{"channel-id": "news", "data": 43}})
		if err != nil || wire.Get(reply, "delivered") != int64(0) {
			t.Errorf("publish after unsubscribe: %#v, %v", reply, err)
		}
	})

	t.Run("a bad publish is a :sente-lite/error event", func(t *testing.T) {
		w := c.Expect(wire.EvError, nil)
		if err := c.Send(wire.Event{ID: wire.EvPublish, HasData: true, Data: map[edn.Keyword]any{"data": 1}}); err != nil {
			t.Fatal(err)
		}
		ev, err := w.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if wire.GetBool(ev.Data, "success") {
			t.Errorf("error %#v", ev.Data)
		}
		if s, _ := wire.GetString(ev.Data, "error"); !strings.Contains(s, "channel-id") {
			t.Errorf("error %#v", ev.Data)
		}
	})

	t.Run("many events, batched by the hub, arrive in order", func(t *testing.T) {
		const n = 200
		var mu sync.Mutex
		var seqs []int64
		all := make(chan struct{})
		id := c.On(sentelite.HandlerOptions{EventID: wire.EvEcho, Callback: func(m sentelite.Message) {
			if wire.Get(m.Event.Data, "original-event-id") != edn.Keyword("my-app/seq") {
				return
			}
			mu.Lock()
			seqs = append(seqs, wire.Get(m.Event.Data, "original-data").(int64))
			if len(seqs) == n {
				close(all)
			}
			mu.Unlock()
		}})
		defer c.Off(id)
		for i := 0; i < n; i++ {
			if err := c.Send(wire.Event{ID: "my-app/seq", HasData: true, Data: i}); err != nil {
				t.Fatal(err)
			}
		}
		select {
		case <-all:
		case <-ctx.Done():
			mu.Lock()
			t.Fatalf("%d of %d echoes", len(seqs), n)
		}
		mu.Lock()
		defer mu.Unlock()
		for i, s := range seqs {
			if s != int64(i) {
				t.Fatalf("echo %d has seq %d: out of order", i, s)
			}
		}
	})

	if !c.Connected() || c.UID() != uid {
		t.Errorf("the connection changed: connected %v, uid %q", c.Connected(), c.UID())
	}
}

func TestGatewayReconnectAfterRestart(t *testing.T) {
	g1 := startRealGateway(t, nil)
	port := g1.HTTPAddr().Port

	reconnected := make(chan wire.Handshake, 4)
	resubscribed := make(chan error, 4)
	closed := make(chan error, 4)
	c := dialGateway(t, g1, func(o *sentelite.Options) {
		o.Jitter = 0
		o.BackoffBase, o.BackoffMax = 20*time.Millisecond, 100*time.Millisecond
		o.OnClose = func(_ *sentelite.Client, err error) { closed <- err }
		o.OnReconnect = func(c *sentelite.Client, hs wire.Handshake) {
			reconnected <- hs
			for _, ch := range c.Subscriptions() {
				ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
				resubscribed <- c.Subscribe(ctx, ch)
				cancel()
			}
		}
	})
	firstUID := c.UID()
	msgs := make(chan sentelite.ChannelMessage, 16)
	c.OnChannel("news", func(m sentelite.ChannelMessage) { msgs <- m })
	if err := c.Subscribe(ctxFor(t, testutil.Patience), "news"); err != nil {
		t.Fatal(err)
	}
	noReconnect := func(o *sentelite.Options) { o.Reconnect = false }
	pub1 := dialGateway(t, g1, noReconnect)
	if err := pub1.Publish("news", "before", false); err != nil {
		t.Fatal(err)
	}
	if m := receive(t, msgs); m.Data != "before" {
		t.Fatalf("message %+v", m)
	}

	g1.stop(t)
	select {
	case err := <-closed:
		t.Logf("connection lost as the gateway stopped: %v", err)
	case <-time.After(testutil.Patience):
		t.Fatal("no OnClose after the gateway stopped")
	}
	testutil.Eventually(t, 0, func() bool { return !c.Connected() }, "the client to notice")

	g2 := startRealGateway(t, func(cfg *gateway.Config) { cfg.HTTPPort = port })
	var hs wire.Handshake
	select {
	case hs = <-reconnected:
	case <-time.After(testutil.Patience):
		t.Fatal("no OnReconnect after the gateway restarted on the same port")
	}
	if hs.UID == firstUID || hs.UID == "" {
		t.Errorf("uid after reconnect %q, before %q: want a new one", hs.UID, firstUID)
	}
	if err := <-resubscribed; err != nil {
		t.Fatalf("resubscribe: %v", err)
	}
	if c.UID() != hs.UID || !c.Connected() {
		t.Errorf("client uid %q connected %v, want %q", c.UID(), c.Connected(), hs.UID)
	}
	if n := g2.channelSubscribers(t, "news"); n != 1 {
		t.Errorf("/channels news on the new gateway: %d subscribers, want 1", n)
	}

	pub2 := dialGateway(t, g2, noReconnect)
	reply, err := pub2.Request(ctxFor(t, testutil.Patience), wire.Event{ID: wire.EvPublish, HasData: true,
		Data: map[edn.Keyword]any{"channel-id": "news", "data": "after"}})
	if err != nil || wire.Get(reply, "delivered") != int64(1) {
		t.Fatalf("publish on the new gateway: %#v, %v", reply, err)
	}
	m := receive(t, msgs)
	if m.Data != "after" || m.From != pub2.UID() {
		t.Errorf("message %+v, want \"after\" from %s", m, pub2.UID())
	}
	if len(reconnected) != 0 {
		t.Errorf("%d more reconnects", len(reconnected))
	}
}

func receive(t *testing.T, msgs chan sentelite.ChannelMessage) sentelite.ChannelMessage {
	t.Helper()
	select {
	case m := <-msgs:
		return m
	case <-time.After(testutil.Patience):
		t.Fatalf("no channel message within %v", testutil.Patience)
		return sentelite.ChannelMessage{}
	}
}

func TestGatewayHeartbeatReapsSilentClient(t *testing.T) {
	const interval, timeout = 100 * time.Millisecond, 400 * time.Millisecond
	g := startRealGateway(t, func(cfg *gateway.Config) {
		cfg.HeartbeatInterval, cfg.HeartbeatTimeout = interval, timeout
	})

	// A raw client that reads everything (so it is no slow consumer) and
	// answers nothing, not even the gateway's [:chsk/ws-ping].
	silent := rawGatewayConn(t, g, nil)
	silentEnd := make(chan error, 1)
	go func() {
		for {
			if _, _, err := silent.ReadMessage(); err != nil {
				silentEnd <- err
				return
			}
		}
	}()

	// A sentelite client that only answers the gateway's pings.
	var pings, reconnects atomic.Int64
	c := dialGateway(t, g, func(o *sentelite.Options) {
		o.OnReconnect = func(*sentelite.Client, wire.Handshake) { reconnects.Add(1) }
	})
	c.On(sentelite.HandlerOptions{EventID: wire.EvPing, Callback: func(sentelite.Message) { pings.Add(1) }})
	uid := c.UID()

	testutil.Eventually(t, 0, func() bool { return g.stat(t, "heartbeat-closes") == 1 }, "the silent client reaped")
	select {
	case err := <-silentEnd:
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway || !strings.HasPrefix(ce.Text, "silent for") {
			t.Errorf("silent client ended with %v, want close 1001 \"silent for ...\"", err)
		}
	case <-time.After(testutil.Patience):
		t.Fatal("the silent client's connection was not closed")
	}

	// Well past several timeouts (a ping per interval), the answering client
	// is still on its first connection, kept alive by its pongs alone.
	after := pings.Load()
	testutil.Eventually(t, 0, func() bool { return pings.Load() >= after+int64(3*timeout/interval) },
		"%d more pings at the answering client", 3*timeout/interval)
	if n := g.stat(t, "heartbeat-closes"); n != 1 {
		t.Errorf("heartbeat-closes %d, want 1", n)
	}
	if n := g.stat(t, "connections"); n != 1 {
		t.Errorf("%d connections, want the answering client's", n)
	}
	if !c.Connected() || c.UID() != uid || reconnects.Load() != 0 {
		t.Errorf("answering client: connected %v, uid %q (was %q), %d reconnects", c.Connected(), c.UID(), uid, reconnects.Load())
	}
	if pings.Load() < 3 {
		t.Errorf("the client saw %d pings; the gateway pings every %s", pings.Load(), interval)
	}
	reply, err := c.Request(ctxFor(t, testutil.Patience), wire.Event{ID: "my-app/still-there"})
	if err != nil || wire.Get(reply, "conn-id") != uid {
		t.Errorf("request after the reaping: %#v, %v", reply, err)
	}
}

func TestGatewaySlowConsumerClosedOthersKeepReceiving(t *testing.T) {
	g := startRealGateway(t, func(cfg *gateway.Config) {
		cfg.ClientQueue = 32
		cfg.ClientQueueBytes = 512 << 10
	})
	ctx := ctxFor(t, 60*time.Second)

	// The slow consumer subscribes, then never reads again; a small socket
	// receive buffer makes its backlog reach the gateway's queue sooner.
	dialer := &websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(4096)
		}
		return conn, err
	}}
	slow := rawGatewayConn(t, g, dialer)
	if err := slow.WriteMessage(websocket.TextMessage, []byte(`[:sente-lite/subscribe {:channel-id "firehose"}]`)); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 0, func() bool { return g.channelSubscribers(t, "firehose") == 1 }, "the slow consumer subscribed")

	var mu sync.Mutex
	var seqs []int64
	var reconnects atomic.Int64
	sub := dialGateway(t, g, func(o *sentelite.Options) {
		o.OnReconnect = func(*sentelite.Client, wire.Handshake) { reconnects.Add(1) }
	})
	sub.OnChannel("firehose", func(m sentelite.ChannelMessage) {
		mu.Lock()
		seqs = append(seqs, wire.Get(m.Data, "seq").(int64))
		mu.Unlock()
	})
	if err := sub.Subscribe(ctx, "firehose"); err != nil {
		t.Fatal(err)
	}
	pub := dialGateway(t, g, nil)

	// Publish, each acknowledged, until the hub delivers to one subscriber
	// instead of two (the slow one is gone), then a few more.
	pad := strings.Repeat("y", 16<<10)
	const maxMessages, after = 20000, 20
	sent, closedAt := 0, -1
	for ; closedAt < 0 || sent < closedAt+after; sent++ {
		if sent == maxMessages {
			t.Fatalf("the slow consumer still subscribed after %d messages of %d KiB", sent, len(pad)>>10)
		}
		reply, err := pub.Request(ctx, wire.Event{ID: wire.EvPublish, HasData: true, Data: map[edn.Keyword]any{
			"channel-id": "firehose", "data": map[edn.Keyword]any{"seq": sent, "pad": pad}}})
		if err != nil {
			t.Fatalf("publish %d: %v", sent, err)
		}
		switch d := wire.Get(reply, "delivered"); {
		case d == int64(2):
		case d == int64(1) && closedAt < 0:
			closedAt = sent
		case d == int64(1):
		default:
			t.Fatalf("publish %d answered %#v", sent, reply)
		}
	}
	t.Logf("the slow consumer was closed at message %d", closedAt)

	testutil.Eventually(t, 0, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seqs) >= sent
	}, "all %d messages at the fast subscriber", sent)

	mu.Lock()
	for i, s := range seqs {
		if s != int64(i) {
			mu.Unlock()
			t.Fatalf("message %d has seq %d: lost or out of order", i, s)
		}
	}
	if len(seqs) != sent {
		t.Errorf("%d messages, want %d", len(seqs), sent)
	}
	mu.Unlock()
	if n := g.stat(t, "slow-consumer-closes"); n != 1 {
		t.Errorf("slow-consumer-closes %d, want 1", n)
	}
	if !sub.Connected() || reconnects.Load() != 0 {
		t.Errorf("fast subscriber: connected %v, %d reconnects", sub.Connected(), reconnects.Load())
	}
	// The hub forgets the slow consumer's subscription once its read loop
	// ends, which waits for the close frame on the congested socket (up to 1s).
	testutil.Eventually(t, 0, func() bool {
		return g.channelSubscribers(t, "firehose") == 1
	}, "the slow consumer's subscription dropped")

}
