package sentelite_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"olympos.io/encoding/edn"

	"github.com/sente-clj/sente/internal/testutil"
	"github.com/sente-clj/sente/sentelite"
	"github.com/sente-clj/sente/wire"
)

// testHub is a small sente-lite server speaking the sente-lite protocol, with
// switches to misbehave. Every text frame it reads is recorded.
type testHub struct {
	t    testing.TB
	addr string // kept across restarts

	mu       sync.Mutex
	srv      *http.Server
	stopped  bool
	conns    map[*hubConn]bool
	channels map[string]map[*hubConn]bool
	nextUID  int
	frames   []string
	held     chan struct{}  // non-nil: replies to callbacks wait until it is closed (holdReplies)
	wg       sync.WaitGroup // connection goroutines

	// Set before the hub serves (or read per connection).
	handshake  func(uid string) string // first frame; nil: the 4-element form; returns "" to send none
	pingEvery  time.Duration           // server pings
	readBuffer int                     // SO_RCVBUF for accepted sockets (0: default)
	discard    bool                    // neither record nor decode (benchmarks)

	// Switches flipped while running.
	noPong         atomic.Bool // ignore the client's pings
	stallReads     atomic.Bool // stop reading (backpressure)
	dropOnCallback atomic.Bool // close the connection instead of answering a callback
}

type hubConn struct {
	ws   *websocket.Conn
	uid  string
	wmu  sync.Mutex
	done chan struct{}
}

func (hc *hubConn) write(s string) error {
	hc.wmu.Lock()
	defer hc.wmu.Unlock()
	_ = hc.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return hc.ws.WriteMessage(websocket.TextMessage, []byte(s))
}

func (hc *hubConn) writeEvent(ev wire.Event) {
	b, err := wire.EncodeEvent(ev)
	if err != nil {
		panic(err)
	}
	_ = hc.write(string(b))
}

// newHub starts a hub on a free port; setup may set the fields read at
// start. The hub stops at the end of the test.
func newHub(t testing.TB, setup ...func(*testHub)) *testHub {
	t.Helper()
	h := &testHub{t: t, addr: "127.0.0.1:0", conns: map[*hubConn]bool{}, channels: map[string]map[*hubConn]bool{}}
	for _, f := range setup {
		f(h)
	}
	h.start()
	t.Cleanup(h.stop)
	return h
}

func (h *testHub) URL() string { return "ws://" + h.addr + "/chsk" }

func (h *testHub) start() {
	h.t.Helper()
	var ln net.Listener
	var err error
	// The port may linger a moment after a stop.
	if !testutil.Poll(context.Background(), 0, func() bool { ln, err = net.Listen("tcp", h.addr); return err == nil }) {
		h.t.Fatalf("hub listen on %s: %v", h.addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/chsk", h.serve)
	srv := &http.Server{Handler: mux}
	h.mu.Lock()
	h.addr = ln.Addr().String()
	h.srv = srv
	h.stopped = false
	h.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// stop closes the listener and every connection, and waits for the
// connection goroutines. start after stop restarts the hub on the same port.
func (h *testHub) stop() {
	h.mu.Lock()
	srv := h.srv
	h.srv = nil
	h.stopped = true
	conns := make([]*hubConn, 0, len(h.conns))
	for c := range h.conns {
		conns = append(conns, c)
	}
	h.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
	for _, c := range conns {
		_ = c.ws.Close()
	}
	h.wg.Wait()
}

// holdReplies makes the hub keep its replies to callbacks from now on, until
// releaseReplies sends them (or their connection ends).
func (h *testHub) holdReplies() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.held == nil {
		h.held = make(chan struct{})
	}
}

// releaseReplies sends the held replies and stops holding new ones.
func (h *testHub) releaseReplies() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.held != nil {
		close(h.held)
		h.held = nil
	}
}

// dropAll closes every connection abruptly; the hub keeps listening.
func (h *testHub) dropAll() {
	for _, c := range h.connList() {
		_ = c.ws.Close()
	}
}

func (h *testHub) connList() []*hubConn {
	h.mu.Lock()
	defer h.mu.Unlock()
	var cs []*hubConn
	for c := range h.conns {
		cs = append(cs, c)
	}
	return cs
}

func (h *testHub) connCount() int { return len(h.connList()) }

// push writes a raw frame to every connection.
func (h *testHub) push(raw string) {
	for _, c := range h.connList() {
		_ = c.write(raw)
	}
}

// received is a copy of every frame read so far.
func (h *testHub) received() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.frames...)
}

func (h *testHub) count(substr string) int {
	n := 0
	for _, f := range h.received() {
		if strings.Contains(f, substr) {
			n++
		}
	}
	return n
}

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

func (h *testHub) serve(w http.ResponseWriter, r *http.Request) {
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	if h.readBuffer > 0 {
		if tc, ok := ws.NetConn().(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(h.readBuffer)
		}
	}
	h.mu.Lock()
	if h.stopped {
		h.mu.Unlock()
		_ = ws.Close()
		return
	}
	h.nextUID++
	c := &hubConn{ws: ws, uid: fmt.Sprintf("uid-%d", h.nextUID), done: make(chan struct{})}
	h.conns[c] = true
	h.wg.Add(1)
	h.mu.Unlock()
	defer h.wg.Done()
	defer func() {
		close(c.done)
		_ = ws.Close()
		h.mu.Lock()
		delete(h.conns, c)
		for _, subs := range h.channels {
			delete(subs, c)
		}
		h.mu.Unlock()
	}()

	first := fmt.Sprintf(`[:chsk/handshake [%q "csrf-%s" {:hub "test"} true]]`, c.uid, c.uid)
	if h.handshake != nil {
		first = h.handshake(c.uid)
	}
	if first != "" {
		_ = c.write(first)
	}
	if h.pingEvery > 0 {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			t := time.NewTicker(h.pingEvery)
			defer t.Stop()
			for {
				select {
				case <-c.done:
					return
				case <-t.C:
					_ = c.write("[:chsk/ws-ping]")
				}
			}
		}()
	}
	for {
		for h.stallReads.Load() {
			select {
			case <-c.done:
				return
			case <-time.After(2 * time.Millisecond):
			}
			h.mu.Lock()
			stopped := h.stopped
			h.mu.Unlock()
			if stopped {
				return
			}
		}
		_, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		if h.discard {
			continue
		}
		h.mu.Lock()
		h.frames = append(h.frames, string(data))
		h.mu.Unlock()
		f, err := wire.DecodeFrame(data, wire.DefaultLimits())
		if err != nil {
			c.writeEvent(wire.Event{ID: wire.EvError, HasData: true, Data: map[edn.Keyword]any{"error": edn.Keyword("unreadable-frame"), "reason": err.Error()}})
			continue
		}
		switch f.Kind {
		case wire.KindEvent:
			h.handle(c, f.Event, "")
		case wire.KindCallback:
			h.handle(c, f.Event, f.CallbackID)
		case wire.KindBatch:
			for _, ev := range f.Batch {
				h.handle(c, ev, "")
			}
		}
	}
}

func (h *testHub) handle(c *hubConn, ev wire.Event, cb string) {
	if cb != "" {
		if h.dropOnCallback.Load() {
			_ = c.ws.Close()
			return
		}
		reply, err := wire.EncodeReply(ev.Data, cb) // echo the data back
		if err != nil {
			panic(err)
		}
		h.mu.Lock()
		held := h.held
		h.mu.Unlock()
		if held != nil {
			go func() {
				select {
				case <-held:
					_ = c.write(string(reply))
				case <-c.done:
				}
			}()
			return
		}
		_ = c.write(string(reply))
		return
	}
	ch, _ := wire.GetString(ev.Data, "channel-id")
	switch ev.ID {
	case wire.EvPing:
		if !h.noPong.Load() {
			_ = c.write("[:chsk/ws-pong]")
		}
	case wire.EvPong:
	case wire.EvSubscribe:
		if ch == "silent" {
			return
		}
		if ch == "forbidden" {
			c.writeEvent(wire.Event{ID: wire.EvSubscribed, HasData: true, Data: map[edn.Keyword]any{
				"channel-id": ch, "success": false, "error": "channel is forbidden"}})
			return
		}
		h.mu.Lock()
		if h.channels[ch] == nil {
			h.channels[ch] = map[*hubConn]bool{}
		}
		h.channels[ch][c] = true
		h.mu.Unlock()
		c.writeEvent(wire.Event{ID: wire.EvSubscribed, HasData: true, Data: map[edn.Keyword]any{"channel-id": ch, "success": true}})
	case wire.EvUnsubscribe:
		h.mu.Lock()
		delete(h.channels[ch], c)
		h.mu.Unlock()
		c.writeEvent(wire.Event{ID: wire.EvSubscribed, HasData: true, Data: map[edn.Keyword]any{"channel-id": ch, "success": true, "subscribed": false}})
	case wire.EvPublish:
		msg, err := wire.EncodeEvent(wire.Event{ID: wire.EvChannelMsg, HasData: true, Data: map[edn.Keyword]any{
			"channel-id": ch, "data": wire.Get(ev.Data, "data"), "from": c.uid}})
		if err != nil {
			panic(err)
		}
		exclude := wire.GetBool(ev.Data, "exclude-sender?")
		h.mu.Lock()
		var subs []*hubConn
		for s := range h.channels[ch] {
			if !(exclude && s == c) {
				subs = append(subs, s)
			}
		}
		h.mu.Unlock()
		for _, s := range subs {
			_ = s.write(string(msg))
		}
	case "test/drop":
		_ = c.ws.Close()
	case "test/push": // write the data, a raw frame, back
		if s, ok := ev.Data.(string); ok {
			_ = c.write(s)
		}
	default:
		c.writeEvent(wire.Event{ID: wire.EvEcho, HasData: true, Data: map[edn.Keyword]any{
			"original-event-id": ev.ID, "original-data": ev.Data, "conn-id": c.uid}})
	}
}

// --- helpers shared by the tests ---

// fastOptions are DefaultOptions with test-sized backoff and timeouts.
func fastOptions(url string) sentelite.Options {
	o := sentelite.DefaultOptions(url)
	o.BackoffBase = 10 * time.Millisecond
	o.BackoffMax = 50 * time.Millisecond
	o.HandshakeTimeout = 2 * time.Second
	o.CloseTimeout = time.Second
	return o
}

// dial connects to h with fastOptions adjusted by mod; the client is closed
// at the end of the test.
func dial(t testing.TB, h *testHub, mod func(*sentelite.Options)) *sentelite.Client {
	t.Helper()
	o := fastOptions(h.URL())
	if mod != nil {
		mod(&o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
	defer cancel()
	c, err := sentelite.Dial(ctx, o)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func ctxFor(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// collector records what a handler is called with.
type collector struct {
	mu   sync.Mutex
	msgs []sentelite.Message
}

func (c *collector) add(m sentelite.Message) {
	c.mu.Lock()
	c.msgs = append(c.msgs, m)
	c.mu.Unlock()
}

func (c *collector) all() []sentelite.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]sentelite.Message(nil), c.msgs...)
}

func (c *collector) len() int { return len(c.all()) }

func (c *collector) reset() {
	c.mu.Lock()
	c.msgs = nil
	c.mu.Unlock()
}

// ids lists the event ids collected, with "!err" for notifications.
func (c *collector) ids() []string {
	var out []string
	for _, m := range c.all() {
		if m.Err != nil {
			out = append(out, "!"+m.Err.Error())
		} else {
			out = append(out, string(m.Event.ID))
		}
	}
	return out
}
