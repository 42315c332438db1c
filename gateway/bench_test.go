package gateway

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sente-clj/sente/internal/simruntime"
	"github.com/sente-clj/sente/internal/testutil"
	"github.com/sente-clj/sente/nrepl"
)

// TestMain lets the idle-memory benchmark re-run this test binary as a separate
// client process, so the clients' own memory is not counted as the gateway's.
func TestMain(m *testing.M) {
	if addr := os.Getenv("SENTE_BENCH_IDLE_CLIENTS"); addr != "" {
		os.Exit(holdIdleRuntimes(addr))
	}
	os.Exit(m.Run())
}

// holdIdleRuntimes opens N /_nrepl connections, says "ready", and holds them
// until stdin closes. Each connection only has the dialer's buffers, no goroutine.
func holdIdleRuntimes(spec string) int {
	addr, nstr, _ := strings.Cut(spec, ",")
	n, _ := strconv.Atoi(nstr)
	var conns []*websocket.Conn
	d := websocket.Dialer{ReadBufferSize: 256, WriteBufferSize: 256}
	for i := 0; i < n; i++ {
		c, _, err := d.Dial("ws://"+addr+"/_nrepl", nil)
		if err != nil {
			fmt.Println("error:", err)
			return 1
		}
		conns = append(conns, c)
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
	return 0
}

func quietGateway(b *testing.B) *Server {
	cfg := DefaultConfig()
	cfg.NREPLPort, cfg.HTTPPort, cfg.PortFile = 0, 0, ""
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := Listen(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = srv.Serve(ctx); close(done) }()
	b.Cleanup(func() { cancel(); <-done })
	return srv
}

// latencies records per-request round trips across goroutines.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d []time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d...)
	l.mu.Unlock()
}

func (l *latencies) report(b *testing.B, elapsed time.Duration) {
	slices.Sort(l.d)
	if len(l.d) == 0 {
		return
	}
	pct := func(p float64) float64 { return float64(l.d[int(float64(len(l.d)-1)*p)].Microseconds()) }
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	b.ReportMetric(float64(len(l.d))/elapsed.Seconds(), "evals/s")
}

// BenchmarkEvalRoundTrip measures editor → gateway → runtime → gateway → editor
// with a runtime that answers at once, so what remains is the gateway's cost.
func BenchmarkEvalRoundTrip(b *testing.B) {
	for _, editors := range []int{1, 16} {
		b.Run(fmt.Sprintf("editors=%d", editors), func(b *testing.B) {
			srv := quietGateway(b)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if _, err := simruntime.Dial(ctx, srv.HTTPAddr().String(), simruntime.Echo); err != nil {
				b.Fatal(err)
			}
			testutil.Eventually(b, 0, func() bool { return srv.runtimes.count() > 0 }, "the runtime to register")
			clients := make([]*nrepl.Client, editors)
			for i := range clients {
				c, err := nrepl.Dial(ctx, srv.NREPLAddr().String())
				if err != nil {
					b.Fatal(err)
				}
				defer c.Close()
				clients[i] = c
			}
			var lat latencies
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for i, c := range clients {
				n := b.N / editors
				if i < b.N%editors {
					n++
				}
				wg.Add(1)
				go func(c *nrepl.Client, n int) {
					defer wg.Done()
					own := make([]time.Duration, 0, n)
					for j := 0; j < n; j++ {
						t0 := time.Now()
						_, ch, err := c.Send(ctx, nrepl.Msg{"op": "eval", "code": "(+ 1 2)"})
						if err != nil {
							b.Error(err)
							return
						}
						for range ch {
						}
						own = append(own, time.Since(t0))
					}
					lat.add(own)
				}(c, n)
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			lat.report(b, elapsed)
		})
	}
}

// BenchmarkWebSocketEcho is the floor: one text frame out and back over a bare
// loopback WebSocket, with no gateway in between.
func BenchmarkWebSocketEcho(b *testing.B) {
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			t, m, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(t, m); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	msg := []byte(`{:op :eval :code "(+ 1 2)" :id "s1" :session "x"}`)
	var lat latencies
	own := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if err := c.WriteMessage(websocket.TextMessage, msg); err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.ReadMessage(); err != nil {
			b.Fatal(err)
		}
		own = append(own, time.Since(t0))
	}
	elapsed := time.Since(start)
	b.StopTimer()
	lat.add(own)
	lat.report(b, elapsed)
}

// BenchmarkIdleRuntimeMemory reports the gateway's memory per idle runtime
// connection, with the 1,000 clients held by a separate process.
func BenchmarkIdleRuntimeMemory(b *testing.B) {
	const n = 1000
	srv := quietGateway(b)
	before := liveBytes()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SENTE_BENCH_IDLE_CLIENTS="+srv.HTTPAddr().String()+","+strconv.Itoa(n))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { stdin.Close(); _ = cmd.Wait() }()
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		b.Fatalf("client process: %q", line)
	}
	testutil.Eventually(b, 0, func() bool { return srv.runtimes.count() >= n }, "%d idle runtimes to register", n)
	for i := 0; i < b.N; i++ {
		// The figure is a state, not a rate; the loop only satisfies the harness.
		_ = i
	}
	after := liveBytes()
	b.ReportMetric(float64(after-before)/n, "bytes/idle-runtime")
}

// liveBytes is the heap in use plus goroutine stacks, after a full collection.
func liveBytes() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse + ms.StackInuse)
}
