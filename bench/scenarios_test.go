package bench

import (
	"bufio"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sente-clj/sente/gateway"
	"github.com/sente-clj/sente/internal/gatewaytest"
	"github.com/sente-clj/sente/internal/testutil"
)

// startGateway runs a gateway in this process, without a connection limit,
// and attaches to it as --target would.
func startGateway(t *testing.T) *Gateway {
	t.Helper()
	srv := gatewaytest.Start(t, func(cfg *gateway.Config) { cfg.MaxConnections = 0 })
	g, err := AttachGateway(context.Background(), "http://"+srv.HTTPAddr().String(), "")
	if err != nil {
		t.Fatal(err)
	}
	if g.NREPL != srv.NREPLAddr().String() {
		t.Fatalf("nREPL address from /health = %q, want %q", g.NREPL, srv.NREPLAddr())
	}
	return g
}

// startEcho runs the echo server in this process and returns its address.
func startEcho(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- ServeEcho(ctx, pw) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("echo server: %v", err)
		}
	})
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, EchoReadyPrefix) {
		t.Fatalf("echo server said %q, %v", line, err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	return strings.TrimSpace(strings.TrimPrefix(line, EchoReadyPrefix))
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// checkClean fails the test unless the report measured want operations
// without an error or a lost message and read the gateway's memory.
func checkClean(t *testing.T, r *Report, want int64) {
	t.Helper()
	if !r.OK() || r.Errors != 0 {
		t.Errorf("errors %d %q, lost %v", r.Errors, r.ErrorSamples, r.Lost)
	}
	if r.Operations != want {
		t.Errorf("%d %s measured, want %d", r.Operations, r.Unit, want)
	}
	if r.Latency.Samples == 0 || r.Latency.P50 <= 0 || r.Latency.Max < r.Latency.P99 {
		t.Errorf("latency %+v", r.Latency)
	}
	if r.Throughput <= 0 || r.Elapsed <= 0 {
		t.Errorf("throughput %v over %v", r.Throughput, r.Elapsed)
	}
	if r.MemoryBefore.TotalBytes == 0 || r.MemoryAfter.Goroutines == 0 {
		t.Errorf("memory not read: %+v → %+v", r.MemoryBefore, r.MemoryAfter)
	}
	var text strings.Builder
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", text.String())
}

func TestEvalScenario(t *testing.T) {
	g := startGateway(t)
	echo := startEcho(t)
	for _, tt := range []struct {
		kind              string
		runtimes, editors int
	}{{RuntimeNREPL, 1, 1}, {RuntimeChsk, 1, 1}, {RuntimeNREPL, 2, 4}, {RuntimeChsk, 3, 4}} {
		t.Run(tt.kind, func(t *testing.T) {
			r, err := Eval(testCtx(t), Env{Gateway: g}, EvalConfig{Limits: Limits{Count: 200, Warmup: 20},
				Runtimes: tt.runtimes, RuntimeKind: tt.kind, Editors: tt.editors, Code: "(+ 1 2)", EchoAddr: echo})
			if err != nil {
				t.Fatal(err)
			}
			checkClean(t, r, 200)
			if r.Floor == nil || r.Floor.Latency.Samples == 0 || r.Floor.Ratio <= 0 {
				t.Errorf("echo floor %+v", r.Floor)
			}
			if n, _ := r.Figure("gateway-requests"); n < 220 {
				t.Errorf("the gateway counted %v nREPL requests, want at least 220", n)
			}
		})
	}
}

func TestEvalDurationBound(t *testing.T) {
	g := startGateway(t)
	start := time.Now()
	r, err := Eval(testCtx(t), Env{Gateway: g}, EvalConfig{Limits: Limits{Duration: 200 * time.Millisecond},
		Runtimes: 1, RuntimeKind: RuntimeNREPL, Editors: 2, Code: "1"})
	if err != nil {
		t.Fatal(err)
	}
	// Only a run that ignores its duration takes this long (testCtx would
	// end it at 60 s); a busy machine under -race stays far below.
	if d := time.Since(start); d > testutil.Patience {
		t.Errorf("a 200ms run took %v", d)
	}
	if r.Operations == 0 || r.Errors != 0 || r.Floor != nil {
		t.Errorf("operations %d errors %d floor %v", r.Operations, r.Errors, r.Floor)
	}
}

func TestFanoutScenario(t *testing.T) {
	g := startGateway(t)
	for _, tt := range []struct {
		name string
		cfg  FanoutConfig
	}{
		{"windowed", FanoutConfig{Limits: Limits{Count: 200, Warmup: 10}, Subscribers: 40, Window: 50, Payload: 64}},
		{"rate", FanoutConfig{Limits: Limits{Count: 50}, Subscribers: 5, Window: 1000, Rate: 2000}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Concurrency = 8
			r, err := Fanout(testCtx(t), Env{Gateway: g}, tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			checkClean(t, r, tt.cfg.Count*int64(tt.cfg.Subscribers))
			if r.Lost == nil || *r.Lost != 0 {
				t.Errorf("lost %v", r.Lost)
			}
			if n, _ := r.Figure("published"); n != float64(tt.cfg.Count) {
				t.Errorf("published %v, want %d", n, tt.cfg.Count)
			}
			// Every sampled subscriber saw every measured message.
			if want := tt.cfg.Count * int64(min(tt.cfg.Subscribers, latencySubscribers)); r.Latency.Samples != want {
				t.Errorf("%d latency samples, want %d", r.Latency.Samples, want)
			}
		})
	}
}

func TestConnectScenario(t *testing.T) {
	g := startGateway(t)
	r, err := Connect(testCtx(t), Env{Gateway: g}, ConnectConfig{Limits: Limits{Count: 100, Warmup: 10}, Concurrency: 10})
	if err != nil {
		t.Fatal(err)
	}
	checkClean(t, r, 100)
	if n, _ := r.Figure("connections-left-open"); n != 0 {
		t.Errorf("%v connections left open", n)
	}
}

func TestIdleScenario(t *testing.T) {
	for _, path := range []string{"/chsk", "/_nrepl"} {
		t.Run(path, func(t *testing.T) {
			// A gateway each: the goroutine figures compare with a baseline that
			// another run's connections, still winding down, would inflate.
			g := startGateway(t)
			r, err := Idle(testCtx(t), Env{Gateway: g}, IdleConfig{Limits: Limits{Count: 100}, Path: path, Concurrency: 10})
			if err != nil {
				t.Fatal(err)
			}
			checkClean(t, r, 100)
			for _, k := range []string{"total-bytes-per-conn", "heap-inuse-bytes-per-conn", "stack-bytes-per-conn", "goroutines-per-conn"} {
				if _, ok := r.Figure(k); !ok {
					t.Errorf("no figure %s", k)
				}
			}
			// Each connection is held by one read loop in the gateway.
			if n, _ := r.Figure("goroutines-per-conn"); n < 0.9 || n > 1.5 {
				t.Errorf("%v goroutines per idle connection", n)
			}
			// Closed at the end: the gateway counts none.
			if err := waitFor(testCtx(t), 10*time.Second, func() (bool, error) {
				s, err := g.Stats(context.Background(), false)
				return err == nil && s.SenteLite.Connections == 0 && s.NREPL.Runtimes == 0, err
			}); err != nil {
				t.Errorf("idle connections still open after the run: %v", err)
			}
		})
	}
}

func TestPingScenario(t *testing.T) {
	g := startGateway(t)
	echo := startEcho(t)
	r, err := Ping(testCtx(t), Env{Gateway: g}, PingConfig{Limits: Limits{Count: 250, Warmup: 10}, EchoAddr: echo})
	if err != nil {
		t.Fatal(err)
	}
	checkClean(t, r, 250)
	if r.Floor == nil || r.Floor.Latency.Samples != 250 || r.Floor.Ratio <= 0 {
		t.Errorf("echo floor %+v", r.Floor)
	}
}

func TestUnreachableGatewayIsSetupError(t *testing.T) {
	_, err := AttachGateway(testCtx(t), "http://127.0.0.1:1", "")
	if err == nil || !strings.Contains(err.Error(), "cannot reach a sente gateway") {
		t.Fatalf("err = %v", err)
	}
	if _, err := AttachGateway(testCtx(t), "ftp://x", ""); err == nil {
		t.Fatal("ftp:// accepted")
	}
}
