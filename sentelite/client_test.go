package sentelite_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"olympos.io/encoding/edn"

	"github.com/sente-clj/sente/internal/testutil"
	"github.com/sente-clj/sente/sentelite"
	"github.com/sente-clj/sente/wire"
)

func TestHandshakeForms(t *testing.T) {
	tests := []struct {
		name      string
		first     string
		want      wire.Handshake
		wantEarly []string // events after the handshake in its frame
	}{
		{"4-element", `[:chsk/handshake ["u-4" "tok" {:v 1} true]]`,
			wire.Handshake{UID: "u-4", CSRFToken: "tok", Data: map[any]any{edn.Keyword("v"): int64(1)}, First: true}, nil},
		{"2-element", `[:chsk/handshake ["u-2" "tok2"]]`, wire.Handshake{UID: "u-2", CSRFToken: "tok2"}, nil},
		{"2-element nil csrf", `[:chsk/handshake ["u-n" nil]]`, wire.Handshake{UID: "u-n"}, nil},
		{"3-element", `[:chsk/handshake ["u-3" nil {:x true}]]`,
			wire.Handshake{UID: "u-3", Data: map[any]any{edn.Keyword("x"): true}}, nil},
		{"batch led by the handshake", `[[:chsk/handshake ["u-b" "t" nil false]] [:test/early 1] [:test/early 2]]`,
			wire.Handshake{UID: "u-b", CSRFToken: "t"}, []string{"test/early", "test/early"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHub(t, func(h *testHub) { h.handshake = func(string) string { return tt.first } })
			var opened []wire.Handshake
			o := fastOptions(h.URL())
			o.OnOpen = func(_ *sentelite.Client, hs wire.Handshake) { opened = append(opened, hs) }
			c := sentelite.New(o)
			t.Cleanup(func() { _ = c.Close() })
			var got collector
			c.On(sentelite.HandlerOptions{Callback: got.add}) // before Connect: sees the early events
			if err := c.Connect(ctxFor(t, testutil.Patience)); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.Handshake(), tt.want) {
				t.Errorf("Handshake() = %#v, want %#v", c.Handshake(), tt.want)
			}
			if c.UID() != tt.want.UID || c.CSRFToken() != tt.want.CSRFToken || !c.Connected() {
				t.Errorf("UID %q CSRF %q Connected %v", c.UID(), c.CSRFToken(), c.Connected())
			}
			if len(opened) != 1 || !reflect.DeepEqual(opened[0], tt.want) {
				t.Errorf("OnOpen got %#v", opened)
			}
			testutil.Eventually(t, 0, func() bool { return got.len() == len(tt.wantEarly) }, "early events")
			if ids := got.ids(); len(tt.wantEarly) > 0 && !reflect.DeepEqual(ids, tt.wantEarly) {
				t.Errorf("early events %v, want %v", ids, tt.wantEarly)
			}
		})
	}
}

func TestDialErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "ws://" + ln.Addr().String() + "/chsk"
	_ = ln.Close()

	tests := []struct {
		name  string
		url   func(h *testHub) string
		first string // the hub's first frame; "" sends none
		want  string // the whole message, or a part of it when wantPart
		exact bool
	}{
		{"refused", func(*testHub) string { return closedURL }, "x",
			"connect to " + closedURL + ": connection refused", true},
		{"not a websocket path", func(h *testHub) string { return strings.TrimSuffix(h.URL(), "chsk") + "nope" }, "x",
			"server answered HTTP 404 Not Found", false},
		{"no handshake", (*testHub).URL, "", "no [:chsk/handshake ...] from the server within 2s", false},
		{"another event first", (*testHub).URL, `[:test/hello 1]`, "expected [:chsk/handshake [uid csrf-token ...]] as the first frame, got :test/hello", false},
		{"malformed handshake", (*testHub).URL, `[:chsk/handshake "uid"]`, "handshake data must be", false},
		{"v1 map", (*testHub).URL, `{:type :handshake}`, "v1 map messages are not supported", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHub(t, func(h *testHub) { h.handshake = func(string) string { return tt.first } })
			o := fastOptions(tt.url(h))
			if tt.first == "" {
				// Long enough that the WebSocket dial, which the same
				// timeout bounds, finishes first on a busy machine.
				o.HandshakeTimeout = 2 * time.Second
			}
			c, err := sentelite.Dial(ctxFor(t, testutil.Patience), o)
			if err == nil {
				_ = c.Close()
				t.Fatal("Dial succeeded")
			}
			if tt.exact && err.Error() != tt.want || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "connect to "+o.URL+": ") {
				t.Errorf("error %q does not name the URL", err)
			}
		})
	}
}

func TestEventForms(t *testing.T) {
	h := newHub(t)
	c := dial(t, h, nil)
	var all collector
	c.On(sentelite.HandlerOptions{Callback: all.add})
	var pings collector
	c.On(sentelite.HandlerOptions{EventID: wire.EvPing, Callback: pings.add})

	tests := []struct {
		name  string
		frame string
		want  []wire.Event
		pings int
	}{
		{"event with data", `[:test/a 1]`, []wire.Event{{ID: "test/a", Data: int64(1), HasData: true}}, 0},
		{"event without data", `[:test/a]`, []wire.Event{{ID: "test/a"}}, 0},
		{"event with nil data", `[:test/a nil]`, []wire.Event{{ID: "test/a", HasData: true}}, 0},
		{"string data that is no callback id", `[:test/a "cb-unknown"]`, []wire.Event{{ID: "test/a", Data: "cb-unknown", HasData: true}}, 0},
		{"batch in order", `[[:test/a 1] [:test/b 2] [:test/c]]`, []wire.Event{
			{ID: "test/a", Data: int64(1), HasData: true}, {ID: "test/b", Data: int64(2), HasData: true}, {ID: "test/c"}}, 0},
		{"batch of one", `[[:test/a 1]]`, []wire.Event{{ID: "test/a", Data: int64(1), HasData: true}}, 0},
		{"recv wrapper", `[:chsk/recv [:test/a {:k "v"}]]`, []wire.Event{
			{ID: "test/a", Data: map[any]any{edn.Keyword("k"): "v"}, HasData: true}}, 0},
		{"recv wrapper without data", `[:chsk/recv [:test/a]]`, []wire.Event{{ID: "test/a"}}, 0},
		{"recv wrappers in a batch", `[[:chsk/recv [:test/a 1]] [:test/b 2] [:chsk/recv [:test/c 3]]]`, []wire.Event{
			{ID: "test/a", Data: int64(1), HasData: true}, {ID: "test/b", Data: int64(2), HasData: true},
			{ID: "test/c", Data: int64(3), HasData: true}}, 0},
		{"server ping: answered, not for catch-all", `[:chsk/ws-ping]`, nil, 1},
		{"pong: swallowed", `[:chsk/ws-pong]`, nil, 0},
		{"ping in a batch", `[[:chsk/ws-ping] [:test/a 1]]`, []wire.Event{{ID: "test/a", Data: int64(1), HasData: true}}, 1},
		{"a second handshake: ignored", `[:chsk/handshake ["x" nil]]`, nil, 0},
		{"reply to no request: ignored", `[{:v 1} "nobody"]`, nil, 0},
		{"callback request from the server: dispatched", `[[:test/ask 1] "srv-cb"]`, []wire.Event{{ID: "test/ask", Data: int64(1), HasData: true}}, 0},
		{"malformed recv: ignored", `[:chsk/recv 42]`, nil, 0},
		{"v1 map: ignored", `{:type :x}`, nil, 0},
		{"not namespaced: ignored", `[:hello 1]`, nil, 0},
		{"not EDN: ignored", `[:test/a`, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			all.reset()
			pings.reset()
			pongs := h.count("[:chsk/ws-pong]")
			h.push(tt.frame)
			h.push(`[:test/end]`)
			testutil.Eventually(t, 0, func() bool {
				ids := all.ids()
				return len(ids) > 0 && ids[len(ids)-1] == "test/end"
			}, ":test/end")

			msgs := all.all()
			var got []wire.Event
			for _, m := range msgs[:len(msgs)-1] {
				got = append(got, m.Event)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("catch-all got %#v\nwant %#v", got, tt.want)
			}
			if pings.len() != tt.pings {
				t.Errorf("ping handler called %d times, want %d", pings.len(), tt.pings)
			}
			testutil.Eventually(t, 0, func() bool { return h.count("[:chsk/ws-pong]") == pongs+tt.pings }, "pongs")
		})
	}
	if !c.Connected() {
		t.Error("bad frames dropped the connection")
	}
}

func TestRequestReply(t *testing.T) {
	tests := []struct {
		name string
		data any
		want any
	}{
		{"int", int64(42), int64(42)},
		{"string", "text", "text"},
		{"nil", nil, nil},
		{"map", map[edn.Keyword]any{"a": int64(1)}, map[any]any{edn.Keyword("a"): int64(1)}},
		{"plain vector", []any{int64(1), int64(2)}, []any{int64(1), int64(2)}},
		{"big int", big.NewInt(7), big.NewInt(7)},
		// [:a/b "cb"] decodes as an event; the pending cb makes it the reply.
		{"namespaced keyword (reads as an event)", edn.Keyword("a/b"), edn.Keyword("a/b")},
		// [[:a/b 1] "cb"] decodes as a callback request; the pending cb makes it the reply.
		{"event-shaped vector (reads as a callback)", []any{edn.Keyword("a/b"), int64(1)}, []any{edn.Keyword("a/b"), int64(1)}},
		// [:ok "cb"] is not a valid frame for wire (not namespaced).
		{"bare keyword (rejected by wire)", edn.Keyword("ok"), edn.Keyword("ok")},
	}
	for _, queue := range []int{0, 16} {
		t.Run(fmt.Sprintf("queue=%d", queue), func(t *testing.T) {
			h := newHub(t)
			c := dial(t, h, func(o *sentelite.Options) { o.SendQueue = queue })
			var all collector
			c.On(sentelite.HandlerOptions{Callback: all.add})
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					got, err := c.Request(ctxFor(t, testutil.Patience), wire.Event{ID: "test/echo", Data: tt.data, HasData: true})
					if err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(got, tt.want) {
						t.Errorf("reply %#v, want %#v", got, tt.want)
					}
				})
			}
			if n := all.len(); n != 0 {
				t.Errorf("replies reached the catch-all handler: %v", all.ids())
			}
		})
	}
}

func TestRequestTimeoutAndLateReply(t *testing.T) {
	h := newHub(t)
	var logs testutil.Buffer
	c := dial(t, h, func(o *sentelite.Options) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	// The hub holds the reply, so only the deadline can end the Request.
	h.holdReplies()
	_, err := c.Request(ctxFor(t, 30*time.Millisecond), wire.Event{ID: "test/slow", Data: 1})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want DeadlineExceeded", err)
	}
	h.releaseReplies() // the late reply arrives and is ignored
	logs.WaitFor(t, "ignored a reply to no pending request", 0)
	got, err := c.Request(ctxFor(t, testutil.Patience), wire.Event{ID: "test/fast", Data: "ok"})
	if err != nil || got != "ok" {
		t.Fatalf("Request after a late reply: %v, %v", got, err)
	}
}

func TestRequestConnectionLost(t *testing.T) {
	for _, reconnect := range []bool{false, true} {
		t.Run(fmt.Sprintf("reconnect=%v", reconnect), func(t *testing.T) {
			h := newHub(t)
			c := dial(t, h, func(o *sentelite.Options) { o.Reconnect = reconnect })
			h.dropOnCallback.Store(true)
			_, err := c.Request(ctxFor(t, testutil.Patience), wire.Event{ID: "test/x", Data: 1})
			if !errors.Is(err, sentelite.ErrClosed) {
				t.Fatalf("err %v, want ErrClosed", err)
			}
		})
	}
}

func TestHandlers(t *testing.T) {
	h := newHub(t)
	c := dial(t, h, nil)
	var order []string
	record := func(name string) func(sentelite.Message) {
		return func(m sentelite.Message) { order = append(order, name+":"+string(m.Event.ID)) }
	}
	idA := c.On(sentelite.HandlerOptions{EventID: "test/a", Callback: record("A")})
	c.On(sentelite.HandlerOptions{Callback: record("any")})
	c.On(sentelite.HandlerOptions{EventID: "test/a", Once: true, Callback: record("onceA")})
	c.On(sentelite.HandlerOptions{EventID: "test/b", Callback: record("B")})
	c.On(sentelite.HandlerOptions{Pred: func(ev wire.Event) bool { return ev.Data == int64(2) }, Callback: record("pred2")})
	if n := c.HandlerCount(); n != 5 {
		t.Fatalf("HandlerCount %d", n)
	}

	sync := func() {
		var done atomic.Bool
		id := c.On(sentelite.HandlerOptions{EventID: "test/sync", Once: true, Callback: func(sentelite.Message) { done.Store(true) }})
		_ = id
		h.push(`[:test/sync]`)
		testutil.Eventually(t, 0, done.Load, "sync")
		order = order[:len(order)-1] // the catch-all saw :test/sync
	}

	h.push(`[[:test/a 1] [:test/a 2] [:test/b 1] [:chsk/ws-ping]]`)
	sync()
	want := []string{
		"A:test/a", "any:test/a", "onceA:test/a",
		"A:test/a", "any:test/a", "pred2:test/a",
		"any:test/b", "B:test/b",
	}
	if !reflect.DeepEqual(order, want) {
		t.Errorf("dispatch order\n got %v\nwant %v", order, want)
	}
	if n := c.HandlerCount(); n != 4 {
		t.Errorf("HandlerCount after the once handler fired: %d", n)
	}

	if !c.Off(idA) || c.Off(idA) || c.Off("h-nope") {
		t.Error("Off should succeed once, then report false")
	}
	c.On(sentelite.HandlerOptions{EventID: "test/b", Callback: record("B2")})
	if n := c.OffEvent("test/b"); n != 2 {
		t.Errorf("OffEvent removed %d, want 2", n)
	}
	order = nil
	h.push(`[[:test/a 1] [:test/b 1]]`)
	sync()
	if want := []string{"any:test/a", "any:test/b"}; !reflect.DeepEqual(order, want) {
		t.Errorf("after Off: %v, want %v", order, want)
	}
	if n := c.OffAll(); n != 2 {
		t.Errorf("OffAll removed %d, want 2", n)
	}
	if n := c.HandlerCount(); n != 0 {
		t.Errorf("HandlerCount after OffAll: %d", n)
	}
}

func TestOnceTimeout(t *testing.T) {
	h := newHub(t)
	c := dial(t, h, nil)
	var timedOut, matched, later collector
	c.On(sentelite.HandlerOptions{EventID: "test/never", Once: true, Timeout: 30 * time.Millisecond, Callback: timedOut.add})
	// Long enough for the push to match first on a busy machine.
	const soon = time.Second
	c.On(sentelite.HandlerOptions{EventID: "test/soon", Once: true, Timeout: soon, Callback: matched.add})
	h.push(`[:test/soon 1]`)
	testutil.Eventually(t, 0, func() bool { return timedOut.len() == 1 && matched.len() == 1 }, "the timeout and the match")
	// A handler registered now with a longer timeout times out after the
	// matched one would have: once it has, so has any stray timer.
	c.On(sentelite.HandlerOptions{EventID: "test/never", Once: true, Timeout: soon + 100*time.Millisecond, Callback: later.add})
	testutil.Eventually(t, 0, func() bool { return later.len() == 1 }, "the later handler's timeout")
	if m := timedOut.all(); len(m) != 1 || m[0].Err != sentelite.ErrTimeout {
		t.Errorf("timed-out handler got %v", timedOut.ids())
	}
	if m := matched.all(); len(m) != 1 || m[0].Err != nil || m[0].Event.ID != "test/soon" {
		t.Errorf("matched handler got %v (it must not also time out)", matched.ids())
	}
	if n := c.HandlerCount(); n != 0 {
		t.Errorf("HandlerCount %d", n)
	}
}

func TestTakeAndExpect(t *testing.T) {
	h := newHub(t)
	c := dial(t, h, nil)

	t.Run("Expect before Send", func(t *testing.T) {
		w := c.Expect(wire.EvEcho, func(ev wire.Event) bool { return wire.Get(ev.Data, "original-data") == int64(7) })
		if err := c.Send(wire.Event{ID: "test/hello", Data: 7}); err != nil {
			t.Fatal(err)
		}
		ev, err := w.Wait(ctxFor(t, testutil.Patience))
		if err != nil {
			t.Fatal(err)
		}
		if id, _ := wire.Get(ev.Data, "original-event-id").(edn.Keyword); id != "test/hello" {
			t.Errorf("echo %#v", ev)
		}
	})
	t.Run("Take a push with a predicate", func(t *testing.T) {
		got := make(chan wire.Event, 1)
		go func() {
			ev, _ := c.Take(ctxFor(t, testutil.Patience), "test/push", func(ev wire.Event) bool { return ev.Data == int64(2) })
			got <- ev
		}()
		testutil.Eventually(t, 0, func() bool { return c.HandlerCount() == 1 }, "Take to register")
		h.push(`[[:test/push 1] [:test/push 2] [:test/push 3]]`)
		if ev := <-got; ev.Data != int64(2) {
			t.Errorf("Take got %#v", ev)
		}
	})
	t.Run("Take bounded by ctx", func(t *testing.T) {
		_, err := c.Take(ctxFor(t, 20*time.Millisecond), "test/never", nil)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err %v", err)
		}
		if n := c.HandlerCount(); n != 0 {
			t.Errorf("Take left %d handlers", n)
		}
	})
	t.Run("Cancel", func(t *testing.T) {
		w := c.Expect("test/x", nil)
		if !w.Cancel() || w.Cancel() || c.HandlerCount() != 0 {
			t.Error("Cancel")
		}
	})
}

func TestDisconnectNotifiesOnceHandlers(t *testing.T) {
	h := newHub(t)
	closed := make(chan error, 4)
	c := dial(t, h, func(o *sentelite.Options) {
		o.OnClose = func(_ *sentelite.Client, err error) { closed <- err }
	})
	var once, always collector
	c.On(sentelite.HandlerOptions{EventID: "test/x", Once: true, Callback: once.add})
	c.On(sentelite.HandlerOptions{EventID: "test/x", Once: true, Timeout: time.Hour, Callback: once.add})
	c.On(sentelite.HandlerOptions{EventID: "test/x", Callback: always.add})
	takeErr := make(chan error, 1)
	go func() { _, err := c.Take(ctxFor(t, testutil.Patience), "test/x", nil); takeErr <- err }()
	testutil.Eventually(t, 0, func() bool { return c.HandlerCount() == 4 }, "Take to register")
	oldUID := c.UID()

	h.dropAll()
	if err := <-takeErr; err != sentelite.ErrClosed {
		t.Errorf("Take: %v, want ErrClosed", err)
	}
	testutil.Eventually(t, 0, func() bool { return once.len() == 2 }, "closed notifications")
	for _, m := range once.all() {
		if m.Err != sentelite.ErrClosed {
			t.Errorf("once handler got %+v", m)
		}
	}
	select {
	case err := <-closed:
		if err == nil || errors.Is(err, sentelite.ErrClosed) {
			t.Errorf("OnClose(%v) for a drop", err)
		}
	case <-time.After(testutil.Patience):
		t.Fatal("OnClose not called")
	}
	if n := c.HandlerCount(); n != 1 {
		t.Errorf("HandlerCount %d, want the one non-once handler", n)
	}
	testutil.Eventually(t, 0, func() bool { return c.Connected() && c.UID() != oldUID }, "reconnect")
	h.push(`[:test/x 1]`)
	testutil.Eventually(t, 0, func() bool { return always.len() == 1 }, "the non-once handler after the reconnect")
}

func TestClose(t *testing.T) {
	h := newHub(t)
	closed := make(chan error, 2)
	c := dial(t, h, func(o *sentelite.Options) {
		o.OnClose = func(_ *sentelite.Client, err error) { closed <- err }
	})
	var once collector
	c.On(sentelite.HandlerOptions{EventID: "test/x", Once: true, Timeout: time.Hour, Callback: once.add})
	h.holdReplies()
	reqErr := make(chan error, 1)
	go func() {
		_, err := c.Request(context.Background(), wire.Event{ID: "test/slow", Data: 1})
		reqErr <- err
	}()
	testutil.Eventually(t, 0, func() bool { return h.count("test/slow") == 1 }, "the request to reach the hub")

	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if m := once.all(); len(m) != 1 || m[0].Err != sentelite.ErrClosed {
		t.Errorf("once handler got %v", once.ids())
	}
	if err := <-reqErr; !errors.Is(err, sentelite.ErrClosed) {
		t.Errorf("pending Request: %v", err)
	}
	if err := <-closed; err != sentelite.ErrClosed {
		t.Errorf("OnClose(%v), want ErrClosed", err)
	}
	if c.Connected() {
		t.Error("Connected after Close")
	}
	if err := c.Send(wire.Event{ID: "test/x"}); err != sentelite.ErrClosed {
		t.Errorf("Send after Close: %v", err)
	}
	if _, err := c.Request(context.Background(), wire.Event{ID: "test/x"}); !errors.Is(err, sentelite.ErrClosed) {
		t.Errorf("Request after Close: %v", err)
	}
	if _, err := c.Take(context.Background(), "test/x", nil); err != sentelite.ErrClosed {
		t.Errorf("Take after Close: %v", err)
	}
	if err := c.Subscribe(context.Background(), "c"); !errors.Is(err, sentelite.ErrClosed) {
		t.Errorf("Subscribe after Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	testutil.Eventually(t, 0, func() bool { return h.connCount() == 0 }, "the hub to see the close")
}

func TestSendWhileDisconnected(t *testing.T) {
	t.Run("no queue, reconnecting: ErrNotConnected", func(t *testing.T) {
		h := newHub(t)
		c := dial(t, h, func(o *sentelite.Options) { o.BackoffBase, o.BackoffMax = time.Hour, time.Hour })
		h.dropAll()
		testutil.Eventually(t, 0, func() bool { return !c.Connected() }, "the drop")
		if err := c.Send(wire.Event{ID: "test/x"}); err != sentelite.ErrNotConnected {
			t.Errorf("Send: %v", err)
		}
		if err := c.Subscribe(ctxFor(t, time.Second), "c"); !errors.Is(err, sentelite.ErrNotConnected) {
			t.Errorf("Subscribe: %v", err)
		}
	})
	t.Run("queue, reconnecting: queued, sent after the reconnect", func(t *testing.T) {
		h := newHub(t)
		c := dial(t, h, func(o *sentelite.Options) {
			o.SendQueue = 8
			o.BackoffBase, o.BackoffMax = 100*time.Millisecond, 100*time.Millisecond
		})
		h.dropAll()
		testutil.Eventually(t, 0, func() bool { return !c.Connected() }, "the drop")
		if err := c.Send(wire.Event{ID: "test/queued", Data: 1}); err != nil {
			t.Fatalf("Send: %v", err)
		}
		testutil.Eventually(t, 0, func() bool { return h.count("test/queued") == 1 }, "the queued frame")
	})
	t.Run("no reconnect: ErrClosed", func(t *testing.T) {
		for _, q := range []int{0, 4} {
			h := newHub(t)
			c := dial(t, h, func(o *sentelite.Options) { o.Reconnect = false; o.SendQueue = q })
			h.dropAll()
			testutil.Eventually(t, 0, func() bool { return !c.Connected() }, "the drop")
			testutil.Eventually(t, 0, func() bool { return c.Send(wire.Event{ID: "test/x"}) == sentelite.ErrClosed }, "ErrClosed")
			if _, err := c.Take(context.Background(), "test/x", nil); err != sentelite.ErrClosed {
				t.Errorf("queue=%d: Take after the end: %v", q, err)
			}
		}
	})
}

func TestPubSub(t *testing.T) {
	h := newHub(t)
	a := dial(t, h, nil)
	b := dial(t, h, func(o *sentelite.Options) { o.SendQueue = 16 })
	var gotA, gotB []sentelite.ChannelMessage
	msgsA, msgsB := make(chan struct{}, 16), make(chan struct{}, 16)
	a.OnChannel("room", func(m sentelite.ChannelMessage) { gotA = append(gotA, m); msgsA <- struct{}{} })
	b.OnChannel("", func(m sentelite.ChannelMessage) { gotB = append(gotB, m); msgsB <- struct{}{} })
	ctx := ctxFor(t, testutil.Patience)
	for _, c := range []*sentelite.Client{a, b} {
		if err := c.Subscribe(ctx, "room"); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Subscribe(ctx, "other"); err != nil {
		t.Fatal(err)
	}
	if got := a.Subscriptions(); !reflect.DeepEqual(got, []string{"room", "other"}) {
		t.Errorf("Subscriptions %v", got)
	}
	wait := func(ch chan struct{}, who string) {
		select {
		case <-ch:
		case <-time.After(testutil.Patience):
			t.Fatalf("%s got no channel message", who)
		}
	}

	if err := a.Publish("room", map[edn.Keyword]any{"n": int64(1)}, false); err != nil {
		t.Fatal(err)
	}
	wait(msgsA, "a")
	wait(msgsB, "b")
	want := sentelite.ChannelMessage{Channel: "room", Data: map[any]any{edn.Keyword("n"): int64(1)}, From: a.UID()}
	if !reflect.DeepEqual(gotA[0], want) || !reflect.DeepEqual(gotB[0], want) {
		t.Errorf("got %#v and %#v, want %#v", gotA[0], gotB[0], want)
	}

	if err := a.Publish("room", "excluded", true); err != nil {
		t.Fatal(err)
	}
	wait(msgsB, "b")
	if gotB[1].Data != "excluded" || gotB[1].From != a.UID() {
		t.Errorf("b got %#v", gotB[1])
	}

	if err := b.Unsubscribe(ctx, "room"); err != nil {
		t.Fatal(err)
	}
	if got := b.Subscriptions(); len(got) != 0 {
		t.Errorf("b.Subscriptions after Unsubscribe: %v", got)
	}
	if err := b.Publish("room", "after", false); err != nil {
		t.Fatal(err)
	}
	wait(msgsA, "a")
	if gotA[len(gotA)-1].Data != "after" || gotA[len(gotA)-1].From != b.UID() {
		t.Errorf("a got %#v", gotA[len(gotA)-1])
	}
	// a round trip on b proves b's message would have arrived by now
	if _, err := b.Request(ctx, wire.Event{ID: "test/sync"}); err != nil {
		t.Fatal(err)
	}
	if len(gotB) != 2 || len(gotA) != 2 {
		t.Errorf("a got %d, b got %d messages", len(gotA), len(gotB))
	}

	err := a.Subscribe(ctx, "forbidden")
	refused := sentelite.RefusedError{Op: "subscribe to", Channel: "forbidden", Reason: "channel is forbidden"}
	if re, ok := errors.AsType[*sentelite.RefusedError](err); !ok || *re != refused ||
		err.Error() != `sentelite: subscribe to "forbidden" refused: channel is forbidden` {
		t.Errorf("refused Subscribe: %v", err)
	}
	if n := a.HandlerCount(); n != 1 {
		t.Errorf("a.HandlerCount %d: Subscribe left handlers behind", n)
	}
	if _, ok := sentelite.ParseChannelMessage(wire.Event{ID: "test/x"}); ok {
		t.Error("ParseChannelMessage accepted another event")
	}
}

func TestSubscribeTimeout(t *testing.T) {
	h := newHub(t)
	c := dial(t, h, nil)
	err := c.Subscribe(ctxFor(t, 30*time.Millisecond), "silent") // the hub never answers
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err %v", err)
	}
	if len(c.Subscriptions()) != 0 || c.HandlerCount() != 0 {
		t.Errorf("Subscriptions %v, HandlerCount %d", c.Subscriptions(), c.HandlerCount())
	}
}
