package wsconn

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sente-clj/sente/internal/testutil"
)

// corkServer serves one WebSocket through a CorkListener and hands the
// server side to serve.
func corkServer(t *testing.T, serve func(*websocket.Conn)) *websocket.Conn {
	t.Helper()
	return testServer(t, true, serve)
}

// TestCorkConnFrames: frames the writer appends itself, of every header size,
// and gorilla's own control frames written meanwhile from other goroutines,
// arrive whole and in order.
func TestCorkConnFrames(t *testing.T) {
	sizes := []int{0, 1, 125, 126, 127, 1000, 65535, 65536, 200000}
	for _, tc := range []struct {
		name  string
		pings bool
	}{{"frames alone", false}, {"with concurrent control frames", true}} {
		t.Run(tc.name, func(t *testing.T) {
			pingsSeen := 0
			var mu sync.Mutex
			c := corkServer(t, func(conn *websocket.Conn) {
				cork, ok := conn.NetConn().(*corkConn)
				if !ok {
					t.Errorf("NetConn is %T, want *corkConn", conn.NetConn())
					return
				}
				var wg sync.WaitGroup
				if tc.pings {
					wg.Go(func() {
						for i := range 200 {
							_ = conn.WriteControl(websocket.PingMessage, []byte(fmt.Sprint(i)), time.Now().Add(5*time.Second))
						}
					})
				}
				for round := range 20 {
					err := cork.appendFrames(time.Now().Add(5*time.Second), func(b []byte) []byte {
						for _, n := range sizes {
							msg := fmt.Sprintf("%d:%d:", round, n)
							msg += strings.Repeat("x", max(n-len(msg), 0))
							b = appendTextHeader(b, len(msg))
							b = append(b, msg...)
						}
						return b
					})
					if err != nil {
						t.Errorf("appendFrames: %v", err)
						return
					}
				}
				wg.Wait()
			})
			c.SetPingHandler(func(string) error { mu.Lock(); pingsSeen++; mu.Unlock(); return nil })
			_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
			for round := range 20 {
				for _, n := range sizes {
					typ, data, err := c.ReadMessage()
					if err != nil {
						t.Fatalf("round %d size %d: %v", round, n, err)
					}
					prefix := fmt.Sprintf("%d:%d:", round, n)
					if typ != websocket.TextMessage || !bytes.HasPrefix(data, []byte(prefix)) || len(data) != max(n, len(prefix)) {
						t.Fatalf("round %d size %d: got type %d, %d bytes starting %.20q", round, n, typ, len(data), data)
					}
				}
			}
			if tc.pings {
				// The pings are read along the way; wait for the last ones.
				go func() { _, _, _ = c.ReadMessage() }()
				testutil.Eventually(t, 0, func() bool { mu.Lock(); defer mu.Unlock(); return pingsSeen == 200 }, "200 pings")
			}
		})
	}
}
