package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"olympos.io/encoding/edn"

	"github.com/sente-clj/sente/wire"
)

// seedClient reads /chsk the way sente-lite's published clients do (its
// Scittle and Babashka clients): every frame is read as one vector whose
// first element is the event id and second the data. A batch frame
// [[ev1 ...] [ev2 ...]] therefore reads as an event whose id is a vector,
// which no handler matches: its events are lost. The emulation records such
// a frame as lost instead of unwrapping it.
type seedClient struct {
	t    *testing.T
	conn *websocket.Conn
	uid  string
}

// seedEvent is one frame as sente-lite's published client sees it.
type seedEvent struct {
	id   any // edn.Keyword for a real event; a vector for a batch it lost
	data any
	raw  string
}

func dialSeedClient(t *testing.T, g *testGateway, query string) *seedClient {
	t.Helper()
	conn := dialChsk(t, g, query)
	c := &seedClient{t: t, conn: conn}
	ev := c.next()
	if ev.id != edn.Keyword(wire.EvHandshake) {
		t.Fatalf("first frame, as sente-lite's published client reads it, is %s: want the handshake alone", ev.raw)
	}
	uid, _ := ev.data.([]any)
	if len(uid) < 2 {
		t.Fatalf("handshake data %v", ev.data)
	}
	c.uid, _ = uid[0].(string)
	return c
}

// dialChsk opens /chsk+query on g: ws://, or wss:// trusting g's certificate
// when g serves TLS.
func dialChsk(t *testing.T, g *testGateway, query string) *websocket.Conn {
	t.Helper()
	d, scheme := websocket.DefaultDialer, "ws://"
	if g.tlsInfo != nil {
		pemBytes, err := os.ReadFile(g.tlsInfo.CertFile)
		if err != nil {
			t.Fatal(err)
		}
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(pemBytes)
		d, scheme = &websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: roots}}, "wss://"
	}
	conn, _, err := d.Dial(scheme+g.HTTPAddr().String()+"/chsk"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func (c *seedClient) send(s string) {
	c.t.Helper()
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

// next reads one frame as (first v) and (second v).
func (c *seedClient) next() seedEvent {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, data, err := c.conn.ReadMessage()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	v, err := wire.Parse(data, wire.DefaultLimits())
	if err != nil {
		c.t.Fatalf("sente-lite's published client could not read %q: %v", data, err)
	}
	vec, ok := v.([]any)
	if !ok || len(vec) == 0 {
		c.t.Fatalf("not an event vector: %q", data)
	}
	ev := seedEvent{id: vec[0], raw: string(data)}
	if len(vec) > 1 {
		ev.data = vec[1]
	}
	return ev
}

// nextApp skips what sente-lite's published client answers by itself or ignores: the
// gateway's nREPL probe (it has no handler) and pings.
func (c *seedClient) nextApp() seedEvent {
	c.t.Helper()
	for {
		ev := c.next()
		if _, isKw := ev.id.(edn.Keyword); !isKw {
			c.t.Fatalf("sente-lite's published client would lose this frame (its first element is not an event id): %.200s", ev.raw)
		}
		switch ev.id {
		case edn.Keyword(wire.EvNREPLRequest), edn.Keyword(wire.EvPing):
			continue
		}
		return ev
	}
}

// batchReader is a client that asked for batches and unwraps them.
type batchReader struct {
	t       *testing.T
	conn    *websocket.Conn
	pending []wire.Event
	frames  int
	batches int
}

func (b *batchReader) next() wire.Event {
	b.t.Helper()
	for len(b.pending) == 0 {
		_ = b.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, data, err := b.conn.ReadMessage()
		if err != nil {
			b.t.Fatalf("read: %v", err)
		}
		f, err := wire.DecodeFrame(data, wire.DefaultLimits())
		if err != nil {
			b.t.Fatalf("decode %q: %v", data, err)
		}
		b.frames++
		switch f.Kind {
		case wire.KindBatch:
			b.batches++
			b.pending = append(b.pending, f.Batch...)
		case wire.KindEvent:
			b.pending = append(b.pending, f.Event)
		}
	}
	ev := b.pending[0]
	b.pending = b.pending[1:]
	return ev
}

func (b *batchReader) nextApp() wire.Event {
	for {
		ev := b.next()
		if ev.ID != wire.EvNREPLRequest && ev.ID != wire.EvPing && ev.ID != wire.EvHandshake {
			return ev
		}
	}
}

// TestHubSeedClientLosesNothing: the hub sends batch frames only to clients
// that ask with ?batch=1; sente-lite's published clients, which read every frame as one
// event, get every event of a burst, one per frame and in order, whatever
// --batch says. Without TLS the writer frames through a wsconn.CorkListener; under TLS
// through gorilla into the *tls.Conn: both deliver the same.
func TestHubSeedClientLosesNothing(t *testing.T) {
	const burst = 100
	for _, tc := range []struct {
		name  string
		batch bool
		tls   bool
	}{
		{"batch on (the default)", true, false},
		{"batch off", false, false},
		{"batch on over TLS", true, true},
		{"batch off over TLS", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := startGateway(t, func(c *Config) {
				c.Batch = tc.batch
				if tc.tls {
					c.TLS = TLSConfig{SelfSigned: true, Dir: t.TempDir()}
				}
			})

			// Subscribe and two quick publishes, all pipelined on one seed
			// connection: three answers, each its own frame.
			self := dialSeedClient(t, g, "")
			self.send(`[:sente-lite/subscribe {:channel-id "quick"}]`)
			self.send(`[:sente-lite/publish {:channel-id "quick" :data 1}]`)
			self.send(`[:sente-lite/publish {:channel-id "quick" :data 2}]`)
			if ev := self.nextApp(); ev.id != edn.Keyword(wire.EvSubscribed) || wire.Get(ev.data, "success") != true {
				t.Fatalf("subscribe answered %s", ev.raw)
			}
			for want := int64(1); want <= 2; want++ {
				ev := self.nextApp()
				if ev.id != edn.Keyword(wire.EvChannelMsg) || wire.Get(ev.data, "data") != want {
					t.Fatalf("publish %d arrived as %s", want, ev.raw)
				}
			}

			seedSub := dialSeedClient(t, g, "")
			batchSub := &batchReader{t: t, conn: dialChsk(t, g, "?batch=1")}
			if ev := batchSub.next(); ev.ID != wire.EvHandshake {
				t.Fatalf("first event %v, want the handshake", ev.ID)
			}
			seedSub.send(`[:sente-lite/subscribe {:channel-id "burst"}]`)
			if ev := seedSub.nextApp(); ev.id != edn.Keyword(wire.EvSubscribed) {
				t.Fatalf("subscribe answered %s", ev.raw)
			}
			if err := batchSub.conn.WriteMessage(websocket.TextMessage, []byte(`[:sente-lite/subscribe {:channel-id "burst"}]`)); err != nil {
				t.Fatal(err)
			}
			if ev := batchSub.nextApp(); ev.ID != wire.EvSubscribed {
				t.Fatalf("subscribe answered %v", ev.ID)
			}

			pub := dialSeedClient(t, g, "")
			for i := range burst {
				pub.send(fmt.Sprintf(`[:sente-lite/publish {:channel-id "burst" :data {:seq %d}}]`, i))
			}
			for i := range burst {
				ev := seedSub.nextApp()
				if ev.id != edn.Keyword(wire.EvChannelMsg) || wire.Get(wire.Get(ev.data, "data"), "seq") != int64(i) {
					t.Fatalf("seed subscriber: message %d arrived as %.200s", i, ev.raw)
				}
			}
			for i := range burst {
				ev := batchSub.nextApp()
				if ev.ID != wire.EvChannelMsg || wire.Get(wire.Get(ev.Data, "data"), "seq") != int64(i) {
					t.Fatalf("batch subscriber: message %d arrived as %v %v", i, ev.ID, ev.Data)
				}
			}
			if !tc.batch && batchSub.batches > 0 {
				t.Errorf("--batch=false, yet a client that accepts batches got %d batch frames", batchSub.batches)
			}
			t.Logf("the client that accepts batches read %d frames, %d of them batches", batchSub.frames, batchSub.batches)
		})
	}
}

func TestAcceptsBatches(t *testing.T) {
	for _, tc := range []struct {
		query string
		want  bool
	}{
		{"", false},
		{"?batch=1", true},
		{"?batch=true", true},
		{"?x=y&batch=1", true},
		{"?batch=0", false},
		{"?batch=false", false},
		{"?batch=maybe", false},
		{"?batch", false},
	} {
		r, err := http.NewRequest("GET", "http://127.0.0.1/chsk"+tc.query, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := acceptsBatches(r); got != tc.want {
			t.Errorf("acceptsBatches(%q) = %v, want %v", tc.query, got, tc.want)
		}
	}
}

// TestHubPongsBesideFanout: pongs written at once by a client's read loop and
// channel messages queued by a publisher's read loop share one socket; both
// arrive whole, the messages in order, none lost.
func TestHubPongsBesideFanout(t *testing.T) {
	for _, query := range []string{"", "?batch=1"} {
		t.Run("query "+query, func(t *testing.T) {
			g := startGateway(t, nil)
			conn, _, err := websocket.DefaultDialer.Dial("ws://"+g.HTTPAddr().String()+"/chsk"+query, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { conn.Close() })
			sub := &batchReader{t: t, conn: conn}
			sub.next() // handshake
			if err := conn.WriteMessage(websocket.TextMessage, []byte(`[:sente-lite/subscribe {:channel-id "mix"}]`)); err != nil {
				t.Fatal(err)
			}
			if ev := sub.nextApp(); ev.ID != wire.EvSubscribed {
				t.Fatalf("subscribe answered %v", ev.ID)
			}
			pub := dialSeedClient(t, g, "")
			const n = 300
			done := make(chan error, 1)
			go func() {
				for range n {
					if err := conn.WriteMessage(websocket.TextMessage, []byte(`[:chsk/ws-ping]`)); err != nil {
						done <- err
						return
					}
				}
				done <- nil
			}()
			for i := range n {
				pub.send(fmt.Sprintf(`[:sente-lite/publish {:channel-id "mix" :data %d}]`, i))
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			pongs, msgs := 0, 0
			for pongs < n || msgs < n {
				ev := sub.next()
				switch ev.ID {
				case wire.EvPong:
					pongs++
				case wire.EvChannelMsg:
					if got := wire.Get(ev.Data, "data"); got != int64(msgs) {
						t.Fatalf("message %d arrived as %v", msgs, got)
					}
					msgs++
				case wire.EvNREPLRequest, wire.EvPing:
				default:
					t.Fatalf("unexpected %v %v", ev.ID, ev.Data)
				}
			}
		})
	}
}
