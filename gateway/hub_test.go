package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"olympos.io/encoding/edn"

	"github.com/sente-clj/sente/gateway/wsconn"
	"github.com/sente-clj/sente/internal/testutil"
	"github.com/sente-clj/sente/nrepl"
	"github.com/sente-clj/sente/wire"
)

// rawLite is a bare sente-lite client for hub tests: frames in and out, with
// batches unwrapped, so every assertion is about the wire itself.
type rawLite struct {
	t       *testing.T
	conn    *websocket.Conn
	pending []wire.Frame
	hs      wire.Handshake
}

func dialLite(t *testing.T, g *testGateway) *rawLite {
	t.Helper()
	return dialLiteAt(t, "ws://"+g.HTTPAddr().String()+"/chsk")
}

func dialLiteAt(t *testing.T, url string) *rawLite {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &rawLite{t: t, conn: conn}
	f := c.next()
	if f.Kind != wire.KindEvent || f.Event.ID != wire.EvHandshake {
		t.Fatalf("first frame is not a handshake: %+v", f)
	}
	if c.hs, err = wire.ParseHandshake(f.Event); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *rawLite) send(s string) {
	c.t.Helper()
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

// next returns the next frame, events of a batch one at a time.
func (c *rawLite) next() wire.Frame {
	c.t.Helper()
	if len(c.pending) == 0 {
		_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		f, err := wire.DecodeFrame(data, wire.DefaultLimits())
		if err != nil {
			c.t.Fatalf("decode %q: %v", data, err)
		}
		if f.Kind == wire.KindBatch {
			for _, ev := range f.Batch {
				c.pending = append(c.pending, wire.Frame{Kind: wire.KindEvent, Event: ev})
			}
		} else {
			c.pending = append(c.pending, f)
		}
	}
	f := c.pending[0]
	c.pending = c.pending[1:]
	return f
}

// nextEvent skips the nREPL probe every new client is sent.
func (c *rawLite) nextEvent() wire.Event {
	c.t.Helper()
	for {
		f := c.next()
		if f.Kind == wire.KindEvent && f.Event.ID == wire.EvNREPLRequest {
			continue
		}
		if f.Kind != wire.KindEvent {
			c.t.Fatalf("want an event, got %+v", f)
		}
		return f.Event
	}
}

func TestHubHandshake(t *testing.T) {
	g := startGateway(t, func(c *Config) { c.CSRFToken = "tok-123" })
	a, b := dialLite(t, g), dialLite(t, g)
	if a.hs.UID == b.hs.UID || len(a.hs.UID) < 32 {
		t.Errorf("uids %q and %q: want distinct and unguessable", a.hs.UID, b.hs.UID)
	}
	if a.hs.CSRFToken != "tok-123" || !a.hs.First {
		t.Errorf("handshake %+v", a.hs)
	}
}

func TestHubEventForms(t *testing.T) {
	g := startGateway(t, nil)
	c := dialLite(t, g)

	c.send(`[:chsk/ws-ping]`)
	if ev := c.nextEvent(); ev.ID != wire.EvPong {
		t.Errorf("ping answered with %v", ev.ID)
	}
	c.send(`[[:my-app/question {:q 42}] "cb-1"]`)
	f := c.next()
	for f.Kind == wire.KindEvent && f.Event.ID == wire.EvNREPLRequest {
		f = c.next()
	}
	if f.Kind != wire.KindReply || f.CallbackID != "cb-1" {
		t.Fatalf("callback event answered with %+v", f)
	}
	if got := wire.Get(f.Reply, "original-event-id"); got != edn.Keyword("my-app/question") {
		t.Errorf("reply %v", f.Reply)
	}
	c.send(`[:my-app/hello "world"]`)
	ev := c.nextEvent()
	if ev.ID != wire.EvEcho || wire.Get(ev.Data, "original-data") != "world" || wire.Get(ev.Data, "conn-id") != c.hs.UID {
		t.Errorf("echo %+v", ev)
	}
	c.send(`[[:my-app/a 1] [:my-app/b 2]]`)
	for _, want := range []string{"my-app/a", "my-app/b"} {
		if got := wire.Get(c.nextEvent().Data, "original-event-id"); got != edn.Keyword(want) {
			t.Errorf("batch event echoed as %v, want %s", got, want)
		}
	}
}

func TestHubRejectsBadFrames(t *testing.T) {
	g := startGateway(t, func(c *Config) { c.MaxBadFrames = 3 })
	c := dialLite(t, g)
	other := dialLite(t, g)
	tests := []struct{ frame, want string }{
		{`{:type :subscribe :channel-id "x"}`, "v2"},
		{`[:hello "no namespace"]`, "namespace"},
	}
	for _, tc := range tests {
		c.send(tc.frame)
		ev := c.nextEvent()
		if ev.ID != wire.EvError || !strings.Contains(fmt.Sprint(wire.Get(ev.Data, "reason")), tc.want) {
			t.Errorf("%s: got %+v, want an error mentioning %q", tc.frame, ev, tc.want)
		}
	}
	c.send(`[:a/b`) // the third strike closes the connection
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := c.conn.ReadMessage(); err != nil {
			break
		}
	}
	other.send(`[:chsk/ws-ping]`)
	if ev := other.nextEvent(); ev.ID != wire.EvPong {
		t.Errorf("another client was disturbed: %v", ev.ID)
	}
	if !strings.Contains(g.logs.String(), "unreadable frame from sente-lite client") {
		t.Error("refusals not logged")
	}
}

func TestHubPubSubOrderAndExcludeSender(t *testing.T) {
	g := startGateway(t, nil)
	pub, sub := dialLite(t, g), dialLite(t, g)
	for _, c := range []*rawLite{pub, sub} {
		c.send(`[:sente-lite/subscribe {:channel-id "news"}]`)
		ev := c.nextEvent()
		if ev.ID != wire.EvSubscribed || wire.Get(ev.Data, "success") != true {
			t.Fatalf("subscribe answered %+v", ev)
		}
	}
	const n = 500
	for i := 0; i < n; i++ {
		pub.send(fmt.Sprintf(`[:sente-lite/publish {:channel-id "news" :data {:seq %d} :exclude-sender? true}]`, i))
	}
	for i := 0; i < n; i++ {
		ev := sub.nextEvent()
		if ev.ID != wire.EvChannelMsg || wire.Get(wire.Get(ev.Data, "data"), "seq") != int64(i) || wire.Get(ev.Data, "from") != pub.hs.UID {
			t.Fatalf("message %d: %+v", i, ev)
		}
	}
	// The sender excluded itself: its next event is the answer to this ping.
	pub.send(`[:chsk/ws-ping]`)
	if ev := pub.nextEvent(); ev.ID != wire.EvPong {
		t.Fatalf("excluded sender received %v", ev.ID)
	}
	pub.send(`[:sente-lite/publish {:channel-id "news" :data "to all"}]`)
	if ev := pub.nextEvent(); ev.ID != wire.EvChannelMsg {
		t.Fatalf("sender not excluded should get its message, got %v", ev.ID)
	}
	pub.send(`[:sente-lite/unsubscribe {:channel-id "news"}]`)
	if ev := pub.nextEvent(); ev.ID != wire.EvSubscribed || wire.Get(ev.Data, "subscribed") != false {
		t.Fatalf("unsubscribe answered %+v", ev)
	}
	var stats struct {
		SenteLite map[string]any `json:"sente-lite"`
	}
	getJSON(t, g, "/stats", &stats)
	if ch := stats.SenteLite["channels"].(map[string]any); ch["news"] != float64(1) {
		t.Errorf("/stats channels = %v", ch)
	}
}

// TestHubShutdownDeliversWhatItAccepted: a message the hub acknowledged
// reaches its subscriber even when the gateway stops right after.
func TestHubShutdownDeliversWhatItAccepted(t *testing.T) {
	g := startGateway(t, nil)
	pub, sub := dialLite(t, g), dialLite(t, g)
	sub.send(`[:sente-lite/subscribe {:channel-id "news"}]`)
	if ev := sub.nextEvent(); ev.ID != wire.EvSubscribed || wire.Get(ev.Data, "success") != true {
		t.Fatalf("subscribe answered %+v", ev)
	}
	const n = 500
	for i := 0; i < n-1; i++ {
		pub.send(fmt.Sprintf(`[:sente-lite/publish {:channel-id "news" :data %d}]`, i))
	}
	pub.send(fmt.Sprintf(`[[:sente-lite/publish {:channel-id "news" :data %d}] "last"]`, n-1))
	for {
		f := pub.next()
		if f.Kind == wire.KindReply && f.CallbackID == "last" {
			if wire.Get(f.Reply, "delivered") != int64(1) {
				t.Fatalf("the last publish was answered %v", f.Reply)
			}
			break
		}
	}
	g.stop(t)
	for i := 0; i < n; i++ {
		if ev := sub.nextEvent(); ev.ID != wire.EvChannelMsg || wire.Get(ev.Data, "data") != int64(i) {
			t.Fatalf("message %d: %+v", i, ev)
		}
	}
	_, _, err := sub.conn.ReadMessage()
	if ce, ok := errors.AsType[*websocket.CloseError](err); !ok || ce.Text != "gateway shutting down" {
		t.Errorf("after the messages the subscriber read %v, want the shutdown's close frame", err)
	}
}

func TestHubLimits(t *testing.T) {
	g := startGateway(t, func(c *Config) {
		c.MaxConnections = 2
		c.MaxSubscriptions = 1
		c.MaxMessageBytes = 1024
	})
	a := dialLite(t, g)
	b := dialLite(t, g)
	_, resp, err := websocket.DefaultDialer.Dial("ws://"+g.HTTPAddr().String()+"/chsk", nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("third connection: err=%v resp=%v, want 503", err, resp)
	}
	a.send(`[:sente-lite/subscribe {:channel-id "one"}]`)
	a.nextEvent()
	a.send(`[:sente-lite/subscribe {:channel-id "two"}]`)
	if ev := a.nextEvent(); wire.Get(ev.Data, "success") != false || !strings.Contains(fmt.Sprint(wire.Get(ev.Data, "error")), "limit") {
		t.Errorf("over the subscription limit: %+v", ev)
	}
	b.send(`[:my-app/big "` + strings.Repeat("x", 2048) + `"]`)
	_ = b.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var closeErr error
	for closeErr == nil {
		_, _, closeErr = b.conn.ReadMessage()
	}
	if !websocket.IsCloseError(closeErr, websocket.CloseMessageTooBig) {
		t.Errorf("oversized frame: %v, want close 1009", closeErr)
	}
	var stats struct {
		SenteLite map[string]any `json:"sente-lite"`
	}
	getJSON(t, g, "/stats", &stats)
	if stats.SenteLite["rejected-connections"] != float64(1) {
		t.Errorf("/stats = %v", stats.SenteLite)
	}
}

func TestHubSlowConsumerClosedOthersUnaffected(t *testing.T) {
	g := startGateway(t, func(c *Config) { c.ClientQueue = 64; c.Batch = false })
	pub, fast, slow := dialLite(t, g), dialLite(t, g), dialLite(t, g)
	for _, c := range []*rawLite{fast, slow} {
		c.send(`[:sente-lite/subscribe {:channel-id "firehose"}]`)
		c.nextEvent()
	}
	// slow never reads again; big messages fill its socket buffers, then its
	// queue. The publisher keeps in step with fast, so fast never lags by more
	// than a frame however loaded the machine is: only slow can overflow.
	payload := strings.Repeat("y", 16<<10)
	const n = 400
	got := make(chan error)
	go func() {
		for i := 0; i < n; i++ {
			_ = fast.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, data, err := fast.conn.ReadMessage()
			if err == nil {
				f, _ := wire.DecodeFrame(data, wire.Limits{MaxBytes: 1 << 20})
				if seq := wire.Get(wire.Get(f.Event.Data, "data"), "seq"); seq != int64(i) {
					err = fmt.Errorf("fast subscriber: message %d arrived as %v", i, seq)
				}
			}
			got <- err
			if err != nil {
				return
			}
		}
	}()
	for i := 0; i < n; i++ {
		pub.send(fmt.Sprintf(`[:sente-lite/publish {:channel-id "firehose" :data {:seq %d :pad "%s"}}]`, i, payload))
		if err := <-got; err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	testutil.Eventually(t, 0, func() bool { return g.hub.stats.slowConsumers.Load() == 1 }, "slow consumer closed")
	if !strings.Contains(g.logs.String(), "closed a slow consumer") {
		t.Error("slow consumer not logged")
	}
}

func TestHubHeartbeatReapsSilentClients(t *testing.T) {
	g := startGateway(t, func(c *Config) {
		c.HeartbeatInterval = 100 * time.Millisecond
		c.HeartbeatTimeout = 400 * time.Millisecond
	})
	silentOne := dialLite(t, g)
	alive := dialLite(t, g)
	stop := make(chan struct{})
	defer close(stop)
	var pings atomic.Int64
	go func() { // alive answers every ping, as the Scittle and Go clients do
		for {
			_, data, err := alive.conn.ReadMessage()
			if err != nil {
				return
			}
			if strings.Contains(string(data), ":chsk/ws-ping") {
				pings.Add(1)
				_ = alive.conn.WriteMessage(websocket.TextMessage, []byte(`[:chsk/ws-pong]`))
			}
		}
	}()
	_ = silentOne
	testutil.Eventually(t, 0, func() bool { return g.hub.stats.heartbeatFails.Load() == 1 }, "silent client reaped")
	// Five more pings span more than the heartbeat timeout: had the answering
	// client been taken for silent, it would be gone by then.
	after := pings.Load()
	testutil.Eventually(t, 0, func() bool { return pings.Load() >= after+5 && g.hub.stats.connections.Load() <= 1 },
		"five more pings at the answering client and the silent one dropped")
	if n := g.hub.stats.connections.Load(); n != 1 {
		t.Errorf("%d connections left, want the answering one", n)
	}
}

// A sente-lite client that answers :nrepl/request is a runtime, in either response shape.
func TestNREPLOverSenteLite(t *testing.T) {
	for _, shape := range []string{"wrapped", "plain"} {
		t.Run(shape, func(t *testing.T) {
			g := startGateway(t, nil)
			c := dialLite(t, g)
			stop := make(chan struct{})
			served := make(chan struct{})
			go func() {
				defer close(served)
				for {
					select {
					case <-stop:
						return
					default:
					}
					_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
					_, data, err := c.conn.ReadMessage()
					if err != nil {
						return
					}
					f, err := wire.DecodeFrame(data, wire.DefaultLimits())
					if err != nil || f.Kind != wire.KindEvent || f.Event.ID != wire.EvNREPLRequest {
						continue
					}
					var req nrepl.Msg
					if shape == "wrapped" {
						text, _ := wire.GetString(f.Event.Data, "edn")
						v, _ := wire.Parse([]byte(text), wire.DefaultLimits())
						req, _ = nrepl.FromEDN(v)
						if _, isKw := v.(map[any]any)[edn.Keyword("op")].(edn.Keyword); !isKw {
							t.Errorf(":edn carries op %v, want a keyword", v)
						}
					} else {
						req, _ = nrepl.FromEDN(f.Event.Data)
					}
					for _, resp := range []nrepl.Msg{{"value": "v:" + req.Str("code")}, {"status": []any{"done"}}} {
						resp["id"] = req.Str("id")
						var data any = nrepl.ToEDN(resp)
						if shape == "wrapped" {
							text, _ := wire.Print(data)
							data = map[any]any{edn.Keyword("edn"): string(text)}
						}
						frame, _ := wire.EncodeEvent(wire.Event{ID: wire.EvNREPLResponse, Data: data, HasData: true})
						_ = c.conn.WriteMessage(websocket.TextMessage, frame)
					}
				}
			}()
			testutil.Eventually(t, 0, func() bool { return g.runtimes.count() == 1 }, "runtime from the probe")
			if k := g.runtimes.list()[0].Kind; k != KindSenteLite {
				t.Errorf("kind %q", k)
			}
			ed := g.editor(t)
			rs := testutil.Collect(t, ed, nrepl.Msg{"op": "eval", "code": "(+ 1 2)", "id": "e1"}, 0)
			if v := testutil.Joined(rs, "value"); v != "v:(+ 1 2)" || rs[0].Str("id") != "e1" {
				t.Fatalf("responses %v", rs)
			}
			// Runtime gone mid-request: the editor still gets done.
			close(stop)
			_, ch, _ := ed.Send(ctxT(t), nrepl.Msg{"op": "eval", "code": "never answered"})
			c.conn.Close()
			<-served
			var end []nrepl.Msg
			for r := range ch {
				end = append(end, r)
			}
			if st := testutil.Statuses(end); !slices.Contains(st, "done") {
				t.Fatalf("statuses %v", st)
			}
		})
	}
}

func getJSON(t *testing.T, g *testGateway, path string, v any) {
	t.Helper()
	resp, err := http.Get("http://" + g.HTTPAddr().String() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// recordingBus is a channelBus that notes what the hub tells it.
type recordingBus struct {
	mu    sync.Mutex
	calls []string
}

func (b *recordingBus) note(call string) { b.mu.Lock(); b.calls = append(b.calls, call); b.mu.Unlock() }

func (b *recordingBus) interest(ch string)   { b.note("interest " + ch) }
func (b *recordingBus) noInterest(ch string) { b.note("noInterest " + ch) }
func (b *recordingBus) publish(ch string, frame []byte) {
	f, err := wire.DecodeFrame(frame, wire.DefaultLimits())
	if err != nil || f.Event.ID != wire.EvChannelMsg {
		b.note(fmt.Sprintf("publish %s of something else: %q", ch, frame))
		return
	}
	b.note("publish " + ch)
}

// take returns the calls so far, sorted, and forgets them.
func (b *recordingBus) take() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	calls := b.calls
	b.calls = nil
	slices.Sort(calls)
	return calls
}

func (b *recordingBus) count() int { b.mu.Lock(); defer b.mu.Unlock(); return len(b.calls) }

// startHub serves a hub alone, on its own dependencies, and returns its
// /chsk URL.
func startHub(t *testing.T, cfg hubConfig, bus channelBus) string {
	t.Helper()
	live := wsconn.NewLiveness()
	var conns sync.WaitGroup
	h := newHub(hubDeps{cfg: cfg, log: slog.New(slog.DiscardHandler), upgrader: &websocket.Upgrader{},
		live: live, goConn: conns.Go, bus: bus})
	srv := httptest.NewServer(http.HandlerFunc(h.serveChsk))
	t.Cleanup(func() {
		live.CloseAll("test over")
		srv.Close()
		conns.Wait()
	})
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

// TestHubTellsTheBus: the hub tells its bus when a channel gains its first
// subscriber here and loses its last, by unsubscribing or leaving, and hands
// it every publish, whether or not anyone here listens.
func TestHubTellsTheBus(t *testing.T) {
	type step struct {
		who  string // client a or b
		do   string // "sub ch", "unsub ch", "pub ch" or "leave"
		want []string
	}
	for _, tc := range []struct {
		name             string
		maxSubscriptions int
		steps            []step
	}{
		{"first subscriber brings interest, the last one's leaving ends it", 100, []step{
			{"a", "sub x", []string{"interest x"}},
			{"b", "sub x", nil},
			{"a", "unsub x", nil},
			{"b", "leave", []string{"noInterest x"}},
		}},
		{"unsubscribing the last ends interest; subscribing again brings it", 100, []step{
			{"a", "sub x", []string{"interest x"}},
			{"a", "sub x", nil},
			{"a", "unsub x", []string{"noInterest x"}},
			{"a", "unsub x", nil},
			{"b", "sub x", []string{"interest x"}},
		}},
		{"publishes go to the bus, with or without subscribers here", 100, []step{
			{"a", "pub x", []string{"publish x"}},
			{"b", "sub x", []string{"interest x"}},
			{"a", "pub x", []string{"publish x"}},
			{"b", "pub x", []string{"publish x"}},
		}},
		{"a client that leaves ends the channels only it held", 100, []step{
			{"a", "sub x", []string{"interest x"}},
			{"a", "sub y", []string{"interest y"}},
			{"a", "sub z", []string{"interest z"}},
			{"b", "sub y", nil},
			{"a", "leave", []string{"noInterest x", "noInterest z"}},
			{"b", "leave", []string{"noInterest y"}},
		}},
		{"a refused subscription tells the bus nothing", 1, []step{
			{"a", "sub x", []string{"interest x"}},
			{"a", "sub y", nil},
			{"a", "leave", []string{"noInterest x"}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := hubConfigOf(DefaultConfig())
			cfg.nreplProbe = false
			cfg.maxSubscriptions = tc.maxSubscriptions
			bus := &recordingBus{}
			url := startHub(t, cfg, bus)
			clients := map[string]*rawLite{"a": dialLiteAt(t, url), "b": dialLiteAt(t, url)}
			for i, st := range tc.steps {
				c := clients[st.who]
				verb, ch, _ := strings.Cut(st.do, " ")
				if verb == "leave" {
					c.conn.Close()
					testutil.Eventually(t, 0, func() bool { return bus.count() >= len(st.want) }, "step %d: %v", i, st.want)
				} else {
					// The callback form, so that each step waits for its answer;
					// what the hub tells the bus it tells before answering.
					ev := map[string]string{"sub": "subscribe", "unsub": "unsubscribe", "pub": "publish"}[verb]
					c.send(fmt.Sprintf(`[[:sente-lite/%s {:channel-id %q :data 1}] "cb-%d"]`, ev, ch, i))
					f := c.next()
					for f.Kind == wire.KindEvent && f.Event.ID == wire.EvChannelMsg {
						f = c.next() // published to a channel it holds
					}
					if f.Kind != wire.KindReply || f.CallbackID != fmt.Sprintf("cb-%d", i) {
						t.Fatalf("step %d (%s %s): answered %+v", i, st.who, st.do, f)
					}
				}
				if got := bus.take(); !slices.Equal(got, st.want) {
					t.Fatalf("step %d (%s %s): the bus heard %q, want %q", i, st.who, st.do, got, st.want)
				}
			}
		})
	}
}
