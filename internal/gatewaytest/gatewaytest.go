// Package gatewaytest runs a real gateway inside a test of another package:
// free ports, no port file, a debug log kept in a buffer and shown when the
// test fails, and a shutdown that is checked at cleanup. The end-to-end,
// command and client tests share it, so a gateway under test starts one way.
package gatewaytest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sente-clj/sente/gateway"
	"github.com/sente-clj/sente/internal/simruntime"
	"github.com/sente-clj/sente/internal/testutil"
	"github.com/sente-clj/sente/nrepl"
)

// Logs collects the gateway's log from many goroutines.
type Logs = testutil.Buffer

// Config is the configuration tests start from: free ports, no port file, and
// a debug log into logs. Timeouts are long, so a done a test sees is never a
// timeout's unless the test asks for one.
func Config(logs *Logs) gateway.Config {
	cfg := gateway.DefaultConfig()
	cfg.NREPLPort, cfg.HTTPPort, cfg.PortFile = 0, 0, ""
	cfg.RuntimeWait = 10 * time.Second
	cfg.EvalTimeout = 2 * time.Minute
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return cfg
}

// Gateway is a running gateway.
type Gateway struct {
	*gateway.Server
	Logs *Logs
	// Stopped is how long Serve took to return once Stop asked it to.
	Stopped time.Duration

	cancel   context.CancelFunc
	served   chan error
	stopOnce sync.Once
}

// Start runs a gateway until the test ends or Stop is called; tweak adjusts the
// config. Listen is retried (up to testutil.Patience), so that a restart can
// take the ports of a gateway that has just stopped.
func Start(t testing.TB, tweak func(*gateway.Config)) *Gateway {
	t.Helper()
	logs := &Logs{}
	cfg := Config(logs)
	if tweak != nil {
		tweak(&cfg)
	}
	var srv *gateway.Server
	var err error
	listened := func() bool {
		srv, err = gateway.Listen(cfg)
		return err == nil
	}
	if !testutil.Poll(context.Background(), 0, listened) {
		t.Fatalf("gateway.Listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &Gateway{Server: srv, Logs: logs, cancel: cancel, served: make(chan error, 1)}
	go func() { g.served <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		g.Stop(t)
		if t.Failed() {
			t.Logf("gateway %s log:\n%s", srv.HTTPAddr(), tail(logs.String(), 400))
		}
	})
	return g
}

// Stop shuts the gateway down and waits for Serve to return; calling it again
// does nothing.
func (g *Gateway) Stop(t testing.TB) {
	t.Helper()
	g.stopOnce.Do(func() {
		start := time.Now()
		g.cancel()
		select {
		case err := <-g.served:
			if err != nil {
				t.Errorf("gateway Serve: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("gateway did not shut down within 20s")
		}
		g.Stopped = time.Since(start)
	})
}

// Editor dials the gateway's nREPL port as an editor does; the client is
// closed when the test ends.
func (g *Gateway) Editor(t testing.TB) *nrepl.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
	defer cancel()
	c, err := nrepl.Dial(ctx, g.NREPLAddr().String())
	if err != nil {
		t.Fatalf("dial the gateway's nREPL port: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// ChskURL is the sente-lite WebSocket address.
func (g *Gateway) ChskURL() string { return "ws://" + g.HTTPAddr().String() + "/chsk" }

// noKeepAlive leaves no idle connections, and so no goroutines, behind in the
// test process, whose goroutine count some tests check.
var noKeepAlive = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// GetJSON decodes one of the gateway's JSON endpoints into v.
func (g *Gateway) GetJSON(t testing.TB, path string, v any) {
	t.Helper()
	resp, err := noKeepAlive.Get("http://" + g.HTTPAddr().String() + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// tail keeps the last n lines of a long log.
func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) <= n {
		return s
	}
	return fmt.Sprintf("[... %d lines ...]\n%s", len(lines)-n, strings.Join(lines[len(lines)-n:], "\n"))
}

// Runtimes is the gateway's GET /runtimes list.
func (g *Gateway) Runtimes(t testing.TB) []gateway.RuntimeInfo {
	t.Helper()
	var body struct {
		Runtimes []gateway.RuntimeInfo `json:"runtimes"`
	}
	g.GetJSON(t, "/runtimes", &body)
	return body.Runtimes
}

// WaitRuntimes waits until /runtimes lists n runtimes.
func (g *Gateway) WaitRuntimes(t testing.TB, n int) {
	t.Helper()
	var got []gateway.RuntimeInfo
	if !testutil.Poll(context.Background(), 0, func() bool { got = g.Runtimes(t); return len(got) == n }) {
		t.Fatalf("gateway lists %d runtimes after %v, want %d: %+v", len(got), testutil.Patience, n, got)
	}
}

// Runtime connects a simulated runtime answering with h and waits until the
// gateway lists it; it is disconnected when the test ends.
func (g *Gateway) Runtime(t testing.TB, h simruntime.Handler) *simruntime.Runtime {
	t.Helper()
	before := len(g.Runtimes(t))
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	r, err := simruntime.Dial(ctx, g.HTTPAddr().String(), h)
	if err != nil {
		t.Fatal(err)
	}
	g.WaitRuntimes(t, before+1)
	return r
}
