package sentelite_test

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sente-clj/sente/internal/testutil"
	"github.com/sente-clj/sente/sentelite"
	"github.com/sente-clj/sente/wire"
)

// logRecorder is a slog handler that keeps the records.
type logRecorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.recs = append(l.recs, r.Clone())
	l.mu.Unlock()
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

// attrs returns attribute key of every record with message msg.
func (l *logRecorder) attrs(msg, key string) []slog.Value {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []slog.Value
	for _, r := range l.recs {
		if r.Message != msg {
			continue
		}
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == key {
				out = append(out, a.Value)
			}
			return true
		})
	}
	return out
}

func TestReconnectAfterServerRestart(t *testing.T) {
	h := newHub(t)
	logs := &logRecorder{}
	opened := make(chan wire.Handshake, 8)
	reconnected := make(chan wire.Handshake, 8)
	closed := make(chan error, 8)
	resubscribed := make(chan error, 8)
	c := dial(t, h, func(o *sentelite.Options) {
		o.Logger = slog.New(logs)
		o.Jitter = 0
		o.BackoffBase, o.BackoffMax = 10*time.Millisecond, 80*time.Millisecond
		o.OnOpen = func(_ *sentelite.Client, hs wire.Handshake) { opened <- hs }
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
	first := <-opened
	if err := c.Subscribe(ctxFor(t, testutil.Patience), "room"); err != nil {
		t.Fatal(err)
	}
	var msgs collector
	c.OnChannel("room", func(m sentelite.ChannelMessage) {
		msgs.add(sentelite.Message{Event: wire.Event{ID: "x", Data: m.Data}})
	})

	// The server goes away and comes back on the same port once the client
	// has failed to reach it a few times.
	h.stop()
	select {
	case err := <-closed:
		if err == nil || errors.Is(err, sentelite.ErrClosed) {
			t.Errorf("OnClose(%v)", err)
		}
	case <-time.After(testutil.Patience):
		t.Fatal("OnClose not called")
	}
	// Four failed attempts (delays 10, 20, 40, 80 ms) reach BackoffMax.
	testutil.Eventually(t, 0, func() bool { return len(logs.attrs("reconnect failed", "err")) >= 4 },
		"four failed reconnect attempts")
	h.start()
	var again wire.Handshake
	select {
	case again = <-reconnected:
	case <-time.After(testutil.Patience):
		t.Fatal("OnReconnect not called")
	}
	if hs := <-opened; !reflect.DeepEqual(hs, again) {
		t.Errorf("OnOpen got %+v, OnReconnect %+v", hs, again)
	}
	if again.UID == first.UID || c.UID() != again.UID {
		t.Errorf("uid %q before, %q after, UID() %q", first.UID, again.UID, c.UID())
	}
	if err := <-resubscribed; err != nil {
		t.Fatalf("resubscribe in OnReconnect: %v", err)
	}
	if err := c.Publish("room", "back", false); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 0, func() bool { return msgs.len() == 1 }, "a message after resubscribing")

	// Backoff: the delays double from BackoffBase up to BackoffMax.
	var delays []time.Duration
	for _, v := range logs.attrs("reconnecting", "in") {
		delays = append(delays, v.Duration())
	}
	want := []time.Duration{10, 20, 40, 80, 80, 80, 80, 80}
	if len(delays) < 2 {
		t.Fatalf("only %d reconnect attempts while the server was down: %v", len(delays), delays)
	}
	for i, d := range delays {
		if w := want[min(i, len(want)-1)] * time.Millisecond; d != w {
			t.Errorf("attempt %d waited %v, want %v (all: %v)", i+1, d, w, delays)
			break
		}
	}
	if n := len(logs.attrs("reconnect failed", "err")); n != len(delays)-1 {
		t.Errorf("%d failed attempts logged for %d attempts", n, len(delays))
	}
}

func TestPingTimeoutDropsASilentServer(t *testing.T) {
	h := newHub(t)
	h.noPong.Store(true)
	closed := make(chan error, 8)
	c := dial(t, h, func(o *sentelite.Options) {
		o.PingInterval, o.PingTimeout = 20*time.Millisecond, 500*time.Millisecond
		o.OnClose = func(_ *sentelite.Client, err error) { closed <- err }
	})
	uid := c.UID()
	select {
	case err := <-closed:
		if err == nil || !strings.Contains(err.Error(), "ping timeout 500ms") {
			t.Errorf("OnClose(%v)", err)
		}
	case <-time.After(testutil.Patience):
		t.Fatal("a silent server was not dropped")
	}
	if n := h.count("[:chsk/ws-ping]"); n < 1 {
		t.Errorf("the client sent no ping before giving up")
	}
	h.noPong.Store(false)
	testutil.Eventually(t, 0, func() bool { return c.Connected() && c.UID() != uid }, "the reconnect")
}

func TestClientPingsKeepTheConnection(t *testing.T) {
	h := newHub(t)
	closed := make(chan error, 8)
	c := dial(t, h, func(o *sentelite.Options) {
		o.SendQueue = 8 // pings go through the writer goroutine
		// A generous timeout: a loaded machine (-race, GOMAXPROCS 1) can
		// stall a while.
		o.PingInterval, o.PingTimeout = 20*time.Millisecond, time.Second
		o.OnClose = func(_ *sentelite.Client, err error) { closed <- err }
	})
	var all collector
	c.On(sentelite.HandlerOptions{Callback: all.add})
	// 60 pings take longer than PingTimeout: only the pongs kept it open.
	testutil.Eventually(t, 0, func() bool { return h.count("[:chsk/ws-ping]") >= 60 }, "60 pings")
	select {
	case err := <-closed:
		t.Fatalf("dropped although the server answers pings: %v", err)
	default:
	}
	if all.len() != 0 {
		t.Errorf("pongs reached the catch-all handler: %v", all.ids())
	}
	if st := c.QueueStats(); st != (sentelite.QueueStats{}) {
		t.Errorf("pings counted in QueueStats: %+v", st)
	}
}

func TestServerPingsAnswered(t *testing.T) {
	for _, q := range []int{0, 8} {
		h := newHub(t, func(h *testHub) { h.pingEvery = 10 * time.Millisecond })
		c := dial(t, h, func(o *sentelite.Options) { o.SendQueue = q })
		var all collector
		c.On(sentelite.HandlerOptions{Callback: all.add})
		testutil.Eventually(t, 0, func() bool { return h.count("[:chsk/ws-pong]") >= 5 }, "pongs")
		if all.len() != 0 {
			t.Errorf("queue=%d: pings reached the catch-all handler: %v", q, all.ids())
		}
	}
}

func TestNoGoroutineLeak(t *testing.T) {
	h := newHub(t, func(h *testHub) { h.pingEvery = 20 * time.Millisecond })
	base := runtime.NumGoroutine()

	// A failed Dial leaves nothing behind.
	o := fastOptions("ws://127.0.0.1:1/chsk")
	if _, err := sentelite.Dial(ctxFor(t, time.Second), o); err == nil {
		t.Fatal("Dial to port 1 succeeded")
	}

	for _, q := range []int{0, 16} {
		c := dial(t, h, func(o *sentelite.Options) {
			o.SendQueue = q
			o.PingInterval = 20 * time.Millisecond
		})
		ctx := ctxFor(t, testutil.Patience)
		if err := c.Subscribe(ctx, "room"); err != nil {
			t.Fatal(err)
		}
		c.On(sentelite.HandlerOptions{EventID: "test/x", Once: true, Timeout: time.Hour, Callback: func(sentelite.Message) {}})
		uid := c.UID()
		h.dropAll()
		testutil.Eventually(t, 0, func() bool { return c.Connected() && c.UID() != uid }, "the reconnect")
		if _, err := c.Request(ctx, wire.Event{ID: "test/echo", Data: 1}); err != nil {
			t.Fatal(err)
		}
		_, _ = c.Take(ctxFor(t, 10*time.Millisecond), "test/never", nil)
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if !testutil.Poll(context.Background(), 0, func() bool { return runtime.NumGoroutine() <= base }) {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
	}
}

func TestOversizedFrameDropsTheConnection(t *testing.T) {
	h := newHub(t)
	closed := make(chan error, 8)
	c := dial(t, h, func(o *sentelite.Options) {
		o.Limits = wire.Limits{MaxBytes: 1024}
		o.OnClose = func(_ *sentelite.Client, err error) { closed <- err }
	})
	uid := c.UID()
	h.push(`[:test/big "` + strings.Repeat("x", 2048) + `"]`)
	select {
	case err := <-closed:
		if err == nil || !strings.Contains(err.Error(), "read limit") {
			t.Errorf("OnClose(%v)", err)
		}
	case <-time.After(testutil.Patience):
		t.Fatal("an oversized frame was accepted")
	}
	testutil.Eventually(t, 0, func() bool { return c.Connected() && c.UID() != uid }, "the reconnect")
}
