package wsconn

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sente-clj/sente/internal/testutil"
)

// waitBound is how long a test waits for something that should come at once.
const waitBound = testutil.Patience

// testServer serves one WebSocket on loopback, through a CorkListener when
// corked (as the gateway without TLS) or straight (as under TLS, where a
// Conn writes through gorilla), and hands the server side to serve.
func testServer(t *testing.T, corked bool, serve func(*websocket.Conn)) *websocket.Conn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if corked {
		ln = CorkListener(ln)
	}
	up := websocket.Upgrader{ReadBufferSize: 512, WriteBufferSize: 1024}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		go serve(conn)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	c, _, err := websocket.DefaultDialer.Dial("ws://"+ln.Addr().String()+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// serveConn makes a Conn of the server side with o and runs its read loop;
// the Conn comes out of the first channel, and why its read loop ended out
// of the second, once the owner has closed it as the gateway does.
func serveConn(t *testing.T, corked bool, o Options) (*websocket.Conn, <-chan *Conn, <-chan ended) {
	t.Helper()
	conns := make(chan *Conn, 1)
	ends := make(chan ended, 1)
	client := testServer(t, corked, func(conn *websocket.Conn) {
		c := New(conn, o)
		conns <- c
		for {
			err := c.AwaitMessage()
			if err == nil {
				_, _, err = c.ReadMessage()
			}
			if err != nil {
				state, reason := c.EndedBy(err)
				c.Close(state, reason)
				ends <- ended{state, reason}
				_ = conn.Close()
				return
			}
		}
	})
	return client, conns, ends
}

type ended struct {
	state  CloseState
	reason string
}

func receive[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitBound):
		t.Fatalf("no %s within %s", what, waitBound)
		panic("unreachable")
	}
}

var eventRE = regexp.MustCompile(`\[:t/n (\d+)\]`)

// TestConnOrder: frames sent from one goroutine, queued or written at once,
// single or joined into batch frames, arrive in the order sent, with the
// pings queued among them; only batchable frames are ever joined.
func TestConnOrder(t *testing.T) {
	const n, pingEvery = 3000, 100
	for _, tc := range []struct {
		name          string
		corked, batch bool
	}{
		{"corked", true, false},
		{"corked, batches", true, true},
		{"through gorilla", false, false},
		{"through gorilla, batches", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, conns, _ := serveConn(t, tc.corked, Options{ReadLimit: 1 << 20, MaxQueue: n + n/pingEvery, Batch: tc.batch, CloseWhenFull: true})
			var pings atomic.Int64
			client.SetPingHandler(func(string) error { pings.Add(1); return nil })
			c := receive(t, conns, "connection")
			sendErr := make(chan error, 1)
			go func() {
				for i := range n {
					frame := []byte(fmt.Sprintf("[:t/n %d]", i))
					var err error
					switch i % 4 {
					case 0:
						err = c.SendNow(frame)
					case 1, 2:
						err = c.Send(frame, true)
					default:
						err = c.Send(frame, false)
					}
					if err == nil && i%pingEvery == pingEvery/2 {
						err = c.Ping()
					}
					if err != nil {
						sendErr <- fmt.Errorf("frame %d: %w", i, err)
						return
					}
				}
				sendErr <- nil
			}()
			_ = client.SetReadDeadline(time.Now().Add(waitBound))
			next, batches := 0, 0
			for next < n {
				typ, data, err := client.ReadMessage()
				if err != nil {
					t.Fatalf("after %d events: %v", next, err)
				}
				if typ != websocket.TextMessage {
					t.Fatalf("frame type %d, want text", typ)
				}
				events := eventRE.FindAllStringSubmatch(string(data), -1)
				if batch := strings.HasPrefix(string(data), "[["); batch {
					batches++
					if !tc.batch {
						t.Fatalf("batch frame %.60q, but batches are off", data)
					}
					if len(events) < 2 {
						t.Fatalf("batch frame %.60q holds fewer than two events", data)
					}
				} else if len(events) != 1 || events[0][0] != string(data) {
					t.Fatalf("frame %.60q is not one event", data)
				}
				for _, ev := range events {
					i, _ := strconv.Atoi(ev[1])
					if i != next {
						t.Fatalf("event %d arrived where %d was due", i, next)
					}
					if len(events) > 1 && i%4 != 1 && i%4 != 2 {
						t.Fatalf("event %d was sent unbatchable but came in a batch", i)
					}
					next++
				}
			}
			if err := receive(t, sendErr, "end of sending"); err != nil {
				t.Fatal(err)
			}
			// Each ping was queued before the last event, so it was read before it.
			if got := pings.Load(); got != n/pingEvery {
				t.Errorf("%d pings read, want %d", got, n/pingEvery)
			}
			t.Logf("%d batch frames", batches)
		})
	}
}

// TestConnBatches: frames queued behind a busy writer go out as one batch
// frame per run of batchable frames, up to maxBatchBytes, when the
// connection batches, and one by one otherwise.
func TestConnBatches(t *testing.T) {
	type item struct {
		ev        string // "" for a ping
		batchable bool
	}
	big := func(c string) string { return "[:t/big " + strings.Repeat(c, 30<<10) + "]" }
	runs := []item{{"[:t/a]", true}, {"[:t/b]", true}, {"[:t/c]", true}, {"[:t/d]", false},
		{"[:t/e]", true}, {"", false}, {"[:t/f]", true}, {"[:t/g]", true}}
	bigs := []item{{big("x"), true}, {big("y"), true}, {big("z"), true}}
	for _, tc := range []struct {
		name   string
		batch  bool
		queued []item
		want   []string // frames the peer reads; "ping" for a ping
	}{
		{"runs between unbatchable frames and pings", true, runs,
			[]string{"[[:t/a] [:t/b] [:t/c]]", "[:t/d]", "[:t/e]", "ping", "[[:t/f] [:t/g]]"}},
		{"batches off", false, runs,
			[]string{"[:t/a]", "[:t/b]", "[:t/c]", "[:t/d]", "[:t/e]", "ping", "[:t/f]", "[:t/g]"}},
		{"a batch ends at its byte bound", true, bigs,
			[]string{"[" + big("x") + " " + big("y") + "]", big("z")}},
	} {
		for _, corked := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s, corked %t", tc.name, corked), func(t *testing.T) {
				client, conns, _ := serveConn(t, corked, Options{ReadLimit: 1 << 20, MaxQueue: 64, Batch: tc.batch})
				got := make(chan string, 2*len(tc.want))
				client.SetPingHandler(func(string) error { got <- "ping"; return nil })
				c := receive(t, conns, "connection")
				// As if a writer were busy: what is sent meanwhile waits in
				// the queue, and the writer started after takes it all at once.
				c.mu.Lock()
				c.writing = true
				c.mu.Unlock()
				for _, it := range tc.queued {
					var err error
					if it.ev == "" {
						err = c.Ping()
					} else {
						err = c.Send([]byte(it.ev), it.batchable)
					}
					if err != nil {
						t.Fatalf("queue %.20q: %v", it.ev, err)
					}
				}
				go c.writeLoop()
				go func() {
					_ = client.SetReadDeadline(time.Now().Add(waitBound))
					for {
						_, data, err := client.ReadMessage()
						if err != nil {
							return
						}
						got <- string(data)
					}
				}()
				for i, want := range tc.want {
					if frame := receive(t, got, "frame"); frame != want {
						t.Fatalf("frame %d: %.40q (%d bytes), want %.40q (%d bytes)", i, frame, len(frame), want, len(want))
					}
				}
			})
		}
	}
}

// TestConnQueueFull: a peer that stops reading fills its queue, by frames or
// by bytes. A subscriber's connection then closes as a slow consumer; a
// runtime's only refuses the send that did not fit, and delivers the rest in
// order once the peer reads again.
func TestConnQueueFull(t *testing.T) {
	const frameSize = 64 << 10
	frame := func(i int) []byte {
		b := make([]byte, frameSize)
		copy(b, fmt.Sprintf("%08d", i))
		return b
	}
	for _, tc := range []struct {
		name          string
		corked        bool
		maxQueue      int
		maxBytes      int64
		closeWhenFull bool
		wantReason    string // for a slow consumer
	}{
		{"slow consumer by frames, corked", true, 8, 0, true, "slow consumer: 8 frames (524288 bytes) queued and unread"},
		{"slow consumer by bytes, corked", true, 1000, 4 * frameSize, true, "slow consumer: 4 frames (262144 bytes) queued and unread"},
		{"slow consumer by frames, through gorilla", false, 8, 0, true, "slow consumer: 8 frames (524288 bytes) queued and unread"},
		{"runtime refuses the send, corked", true, 8, 0, false, ""},
		{"runtime refuses the send, through gorilla", false, 1000, 4 * frameSize, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, conns, ends := serveConn(t, tc.corked, Options{ReadLimit: 1 << 20, MaxQueue: tc.maxQueue, MaxQueueBytes: tc.maxBytes, CloseWhenFull: tc.closeWhenFull})
			c := receive(t, conns, "connection")
			// The client reads nothing: once the socket's buffers are full the
			// writer blocks, and the queue fills behind it.
			sent := 0
			var err error
			for ; sent < 10000; sent++ {
				if err = c.Send(frame(sent), false); err != nil {
					break
				}
			}
			if !errors.Is(err, ErrQueueFull) {
				t.Fatalf("after %d frames unread: %v, want ErrQueueFull", sent, err)
			}
			if tc.closeWhenFull {
				if err := c.Send(frame(sent), false); !errors.Is(err, ErrClosed) {
					t.Errorf("send after the overflow: %v, want ErrClosed", err)
				}
				if got := c.ClosedAs(); got != ClosedSlowConsumer {
					t.Errorf("closed as %d, want ClosedSlowConsumer", got)
				}
				// The read loop ends at once, without the peer's help.
				if got := receive(t, ends, "end of the read loop"); got != (ended{ClosedSlowConsumer, tc.wantReason}) {
					t.Errorf("read loop ended with %+v, want %q", got, tc.wantReason)
				}
				return
			}
			if got := c.ClosedAs(); got != StillOpen {
				t.Fatalf("closed as %d, want still open", got)
			}
			// The peer reads again: every accepted frame arrives, in order, and
			// the queue takes frames again once it has drained.
			_ = client.SetReadDeadline(time.Now().Add(waitBound))
			for i := range sent {
				_, data, err := client.ReadMessage()
				if err != nil {
					t.Fatalf("frame %d of %d: %v", i, sent, err)
				}
				if want := fmt.Sprintf("%08d", i); len(data) != frameSize || string(data[:8]) != want {
					t.Fatalf("frame %d: %d bytes starting %q", i, len(data), data[:8])
				}
			}
			testutil.Eventually(t, 0, func() bool { return c.Send([]byte("[:t/n 0]"), false) == nil }, "queue to take a frame again")
			if _, data, err := client.ReadMessage(); err != nil || string(data) != "[:t/n 0]" {
				t.Fatalf("frame after the drain: %.20q, %v", data, err)
			}
		})
	}
}

// TestConnCloseReasons: whoever ends a connection, its read loop ends with
// the state and reason the owner counts and logs, the peer is told why in a
// close frame, and sends fail from then on.
func TestConnCloseReasons(t *testing.T) {
	long := strings.Repeat("x", 200)
	for _, tc := range []struct {
		name       string
		readLimit  int64
		act        func(t *testing.T, c *Conn, client *websocket.Conn)
		want       ended
		wantPrefix bool // want.reason is only the start of the reason
		wantClose  *websocket.CloseError
	}{
		{"closed by the server", 0,
			func(t *testing.T, c *Conn, _ *websocket.Conn) { c.Close(ClosedByServer, "dropped by the test") },
			ended{ClosedByServer, "dropped by the test"}, false,
			&websocket.CloseError{Code: websocket.CloseGoingAway, Text: "dropped by the test"}},
		{"the first close is the one reported", 0,
			func(t *testing.T, c *Conn, _ *websocket.Conn) {
				c.Close(ClosedStale, "silent")
				c.Close(ClosedShutdown, "shutting down")
			},
			ended{ClosedStale, "silent"}, false,
			&websocket.CloseError{Code: websocket.CloseGoingAway, Text: "silent"}},
		{"a long reason is cut in the close frame", 0,
			func(t *testing.T, c *Conn, _ *websocket.Conn) { c.Close(ClosedShutdown, long) },
			ended{ClosedShutdown, long}, false,
			&websocket.CloseError{Code: websocket.CloseGoingAway, Text: long[:120]}},
		{"the peer closes with a reason", 0,
			func(t *testing.T, _ *Conn, client *websocket.Conn) {
				writeClient(t, client, websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"))
			},
			ended{ClosedByPeer, "closed by the peer (1000 bye)"}, false,
			&websocket.CloseError{Code: websocket.CloseNormalClosure}},
		{"the peer closes without one", 0,
			func(t *testing.T, _ *Conn, client *websocket.Conn) {
				writeClient(t, client, websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, ""))
			},
			ended{ClosedByPeer, "closed by the peer (1001)"}, false,
			&websocket.CloseError{Code: websocket.CloseGoingAway}},
		{"the peer sends a frame over the limit", 100,
			func(t *testing.T, _ *Conn, client *websocket.Conn) {
				writeClient(t, client, websocket.TextMessage, []byte(strings.Repeat("y", 101)))
			},
			ended{ClosedByPeer, "sent a frame over the 100-byte limit"}, false,
			&websocket.CloseError{Code: websocket.CloseMessageTooBig}},
		{"the connection is lost", 0,
			func(t *testing.T, _ *Conn, client *websocket.Conn) { _ = client.NetConn().Close() },
			ended{ClosedByPeer, "connection lost: "}, true, nil},
	} {
		for _, corked := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s, corked %t", tc.name, corked), func(t *testing.T) {
				client, conns, ends := serveConn(t, corked, Options{ReadLimit: tc.readLimit, MaxQueue: 16})
				c := receive(t, conns, "connection")
				tc.act(t, c, client)
				got := receive(t, ends, "end of the read loop")
				if got.state != tc.want.state || (tc.wantPrefix && !strings.HasPrefix(got.reason, tc.want.reason)) ||
					(!tc.wantPrefix && got.reason != tc.want.reason) {
					t.Errorf("read loop ended with %d %q, want %d %q", got.state, got.reason, tc.want.state, tc.want.reason)
				}
				if got := c.ClosedAs(); got != tc.want.state {
					t.Errorf("closed as %d, want %d", got, tc.want.state)
				}
				if err := c.Send([]byte("[:t/late]"), true); !errors.Is(err, ErrClosed) {
					t.Errorf("send after the close: %v, want ErrClosed", err)
				}
				if err := c.SendNow([]byte("[:t/late]")); !errors.Is(err, ErrClosed) {
					t.Errorf("SendNow after the close: %v, want ErrClosed", err)
				}
				if tc.wantClose == nil {
					return
				}
				_ = client.SetReadDeadline(time.Now().Add(waitBound))
				_, _, err := client.ReadMessage()
				var ce *websocket.CloseError
				if !errors.As(err, &ce) || *ce != *tc.wantClose {
					t.Errorf("the peer read %v, want close frame %d %q", err, tc.wantClose.Code, tc.wantClose.Text)
				}
			})
		}
	}
}

func writeClient(t *testing.T, client *websocket.Conn, typ int, data []byte) {
	t.Helper()
	_ = client.SetWriteDeadline(time.Now().Add(waitBound))
	if err := client.WriteMessage(typ, data); err != nil {
		t.Fatalf("client write: %v", err)
	}
}

// TestConnShutdownFlushes: closed for shutdown, a connection first writes
// what it had accepted, in order, and only then says goodbye; a peer that
// does not read cannot hold the shutdown up, it is cut after flushWait.
func TestConnShutdownFlushes(t *testing.T) {
	for _, corked := range []bool{true, false} {
		t.Run(fmt.Sprintf("a reading peer gets every frame, corked %t", corked), func(t *testing.T) {
			const n = 2000
			client, conns, ends := serveConn(t, corked, Options{MaxQueue: n, CloseWhenFull: true})
			c := receive(t, conns, "connection")
			for i := range n {
				if err := c.Send([]byte(fmt.Sprintf("[:t/n %d]", i)), true); err != nil {
					t.Fatalf("send %d: %v", i, err)
				}
			}
			c.Close(ClosedShutdown, "gateway shutting down")
			if err := c.Send([]byte("[:t/late]"), true); !errors.Is(err, ErrClosed) {
				t.Errorf("send after the close: %v, want ErrClosed", err)
			}
			_ = client.SetReadDeadline(time.Now().Add(waitBound))
			for i := range n {
				_, data, err := client.ReadMessage()
				if err != nil {
					t.Fatalf("frame %d of %d: %v", i, n, err)
				}
				if want := fmt.Sprintf("[:t/n %d]", i); string(data) != want {
					t.Fatalf("frame %d is %q, want %q", i, data, want)
				}
			}
			_, _, err := client.ReadMessage()
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway || ce.Text != "gateway shutting down" {
				t.Errorf("after the frames the peer read %v, want the close frame", err)
			}
			if got := receive(t, ends, "end of the read loop"); got.state != ClosedShutdown {
				t.Errorf("read loop ended as %d %q, want ClosedShutdown", got.state, got.reason)
			}
		})
		t.Run(fmt.Sprintf("a peer that does not read is cut, corked %t", corked), func(t *testing.T) {
			// Far more than loopback's socket buffers hold, so the writer blocks.
			const frames, size = 64, 256 << 10
			_, conns, ends := serveConn(t, corked, Options{MaxQueue: frames})
			c := receive(t, conns, "connection")
			big := []byte("\"" + strings.Repeat("x", size) + "\"")
			for i := range frames {
				if err := c.Send(big, false); err != nil {
					t.Fatalf("send %d: %v", i, err)
				}
			}
			c.Close(ClosedShutdown, "gateway shutting down")
			if got := receive(t, ends, "end of the read loop"); got.state != ClosedShutdown || got.reason != "gateway shutting down" {
				t.Errorf("read loop ended as %d %q, want ClosedShutdown", got.state, got.reason)
			}
		})
	}
}
