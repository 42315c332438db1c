package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sente-clj/sente/internal/simruntime"
	"github.com/sente-clj/sente/internal/testutil"
	"github.com/sente-clj/sente/nrepl"
)

type testGateway struct {
	*Server
	logs     *testutil.Buffer
	cancel   context.CancelFunc
	served   chan error
	stopOnce sync.Once
}

// startGateway runs a gateway on free ports; cfg tweaks the defaults.
func startGateway(t *testing.T, tweak func(*Config)) *testGateway {
	t.Helper()
	logs := &testutil.Buffer{}
	cfg := DefaultConfig()
	cfg.NREPLPort, cfg.HTTPPort = 0, 0
	cfg.PortFile = ""
	cfg.RuntimeWait = 2 * time.Second
	cfg.EvalTimeout = 10 * time.Second
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if tweak != nil {
		tweak(&cfg)
	}
	srv, err := Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &testGateway{Server: srv, logs: logs, cancel: cancel, served: make(chan error, 1)}
	go func() { g.served <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		g.stop(t)
		if t.Failed() {
			t.Logf("gateway log:\n%s", logs.String())
		}
	})
	return g
}

func (g *testGateway) stop(t *testing.T) {
	g.stopOnce.Do(func() {
		g.cancel()
		select {
		case <-g.served:
		case <-time.After(10 * time.Second):
			t.Error("gateway did not shut down within 10s")
		}
	})
}

func (g *testGateway) editor(t *testing.T) *nrepl.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
	defer cancel()
	c, err := nrepl.Dial(ctx, g.NREPLAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (g *testGateway) runtime(t *testing.T, h simruntime.Handler) *simruntime.Runtime {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	before := g.runtimes.count()
	r, err := simruntime.Dial(ctx, g.HTTPAddr().String(), h)
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 0, func() bool { return g.runtimes.count() > before }, "runtime registered")
	return r
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestDescribeAnswersWithoutRuntime(t *testing.T) {
	g := startGateway(t, nil)
	rs := testutil.Collect(t, g.editor(t), nrepl.Msg{"op": "describe", "id": "d1"}, 0)
	ops, _ := rs[0]["ops"].(map[string]any)
	for _, op := range []string{"eval", "load-file", "complete", "clone", "interrupt", "sente/runtimes", "sente/select-runtime"} {
		if _, ok := ops[op]; !ok {
			t.Errorf("describe ops lack %q: %v", op, ops)
		}
	}
	versions, _ := rs[0]["versions"].(map[string]any)
	if _, ok := versions["sente"]; !ok {
		t.Errorf("describe versions do not name sente: %v", versions)
	}
	if rs[0].Str("id") != "d1" {
		t.Errorf("id not echoed: %v", rs[0])
	}
}

func TestNoRuntimeEndsWithClearError(t *testing.T) {
	g := startGateway(t, func(c *Config) { c.RuntimeWait = 200 * time.Millisecond })
	// With no runtime coming only --runtime-wait ends the request: done
	// within Collect's bound is the proof.
	rs := testutil.Collect(t, g.editor(t), nrepl.Msg{"op": "eval", "code": "(+ 1 2)", "id": "e1"}, 0)
	if err := testutil.Joined(rs, "err"); !strings.Contains(err, "no browser runtime is connected") || !strings.Contains(err, g.PageURL()) {
		t.Errorf("err = %q, want it to say no runtime and where to open one", err)
	}
	if st := testutil.Statuses(rs); !slices.Contains(st, "error") {
		t.Errorf("statuses %v lack error", st)
	}
}

func TestRequestWaitsForRuntimeToConnect(t *testing.T) {
	g := startGateway(t, func(c *Config) { c.RuntimeWait = testutil.Patience })
	c := g.editor(t)
	ctx := ctxT(t)
	go func() {
		// Dial once the request is waiting, so that it is the arrival that
		// wakes it.
		waiting := func() bool { return strings.Contains(g.logs.String(), "request waits for a runtime to connect") }
		if !testutil.Poll(ctx, 0, waiting) {
			t.Error("the gateway never logged that the request waits for a runtime")
			return
		}
		if _, err := simruntime.Dial(ctx, g.HTTPAddr().String(), simruntime.Echo); err != nil {
			t.Error(err)
		}
	}()
	rs := testutil.Collect(t, c, nrepl.Msg{"op": "eval", "code": "waited", "id": "1"}, 0)
	if v := testutil.Joined(rs, "value"); v != "waited" {
		t.Fatalf("value = %q", v)
	}
}

func TestEvalRoutesValueAndRestoresIDs(t *testing.T) {
	g := startGateway(t, nil)
	g.runtime(t, simruntime.Echo)
	c := g.editor(t)
	sess, err := c.Clone(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	rs := testutil.Collect(t, c, nrepl.Msg{"op": "eval", "code": "(+ 1 2)", "id": "42", "session": sess}, 0)
	for _, r := range rs {
		if r.Str("id") != "42" || r.Str("session") != sess {
			t.Errorf("response %v does not carry the editor's id and session", r)
		}
	}
	if v := testutil.Joined(rs, "value"); v != "(+ 1 2)" {
		t.Errorf("value = %q", v)
	}
}

// Two editors use the same ids at the same moment; each must get exactly its own answers.
func TestCollidingIDsFromTwoEditors(t *testing.T) {
	g := startGateway(t, nil)
	g.runtime(t, simruntime.Echo)
	const n = 200
	var wg sync.WaitGroup
	for e := 0; e < 2; e++ {
		c := g.editor(t)
		wg.Add(1)
		go func(e int, c *nrepl.Client) {
			defer wg.Done()
			type call struct {
				id string
				ch <-chan nrepl.Msg
			}
			var calls []call
			for i := 0; i < n; i++ {
				id := fmt.Sprint(i)
				_, ch, err := c.Send(ctxT(t), nrepl.Msg{"op": "eval", "id": id, "code": fmt.Sprintf("editor-%d-%d", e, i)})
				if err != nil {
					t.Error(err)
					return
				}
				calls = append(calls, call{id, ch})
			}
			for i, cl := range calls {
				var got []nrepl.Msg
				for r := range cl.ch {
					got = append(got, r)
				}
				if v, want := testutil.Joined(got, "value"), fmt.Sprintf("editor-%d-%d", e, i); v != want {
					t.Errorf("editor %d id %s got value %q, want %q", e, cl.id, v, want)
				}
			}
		}(e, c)
	}
	wg.Wait()
	if n := g.bridge.pendingCount(); n != 0 {
		t.Errorf("%d once handlers left behind", n)
	}
}

func silent(nrepl.Msg) []nrepl.Msg { return nil }

func TestRuntimeGoneMidRequestEndsWithDone(t *testing.T) {
	g := startGateway(t, nil)
	rt := g.runtime(t, silent)
	c := g.editor(t)
	_, ch, err := c.Send(ctxT(t), nrepl.Msg{"op": "eval", "code": "(loop [] (recur))", "id": "x"})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 0, func() bool { return g.bridge.pendingCount() == 1 }, "request forwarded")
	rt.Close()
	var rs []nrepl.Msg
	for r := range ch {
		rs = append(rs, r)
	}
	if st := testutil.Statuses(rs); !slices.Contains(st, "done") || !slices.Contains(st, "runtime-gone") {
		t.Fatalf("statuses %v, want done and runtime-gone", st)
	}
	if !strings.Contains(testutil.Joined(rs, "err"), "disconnected") {
		t.Errorf("err %q does not say the runtime disconnected", testutil.Joined(rs, "err"))
	}
}

func TestEvalTimeoutDropsLateAnswer(t *testing.T) {
	release := make(chan struct{})
	late := func(req nrepl.Msg) []nrepl.Msg {
		if req.Str("code") == "slow" {
			<-release
		}
		return simruntime.Echo(req)
	}
	g := startGateway(t, func(c *Config) { c.EvalTimeout = 300 * time.Millisecond })
	g.runtime(t, late)
	c := g.editor(t)
	rs := testutil.Collect(t, c, nrepl.Msg{"op": "eval", "code": "slow", "id": "1"}, 0)
	if st := testutil.Statuses(rs); !slices.Contains(st, "timeout") {
		t.Fatalf("statuses %v, want timeout", st)
	}
	close(release)
	// The late answer to "slow" must not leak into the next request's responses.
	rs = testutil.Collect(t, c, nrepl.Msg{"op": "eval", "code": "next", "id": "2"}, 0)
	if v := testutil.Joined(rs, "value"); v != "next" {
		t.Fatalf("value = %q, want only the second request's answer", v)
	}
}

func TestInterruptAnsweredLocally(t *testing.T) {
	g := startGateway(t, nil)
	g.runtime(t, silent)
	c := g.editor(t)
	sess, _ := c.Clone(ctxT(t))
	_, ch, err := c.Send(ctxT(t), nrepl.Msg{"op": "eval", "code": "(forever)", "id": "7", "session": sess})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 0, func() bool { return g.bridge.pendingCount() == 1 }, "request forwarded")
	ir := testutil.Collect(t, c, nrepl.Msg{"op": "interrupt", "interrupt-id": "7", "session": sess, "id": "8"}, 0)
	if st := testutil.Statuses(ir); !slices.Contains(st, "done") {
		t.Fatalf("interrupt statuses %v", st)
	}
	var rs []nrepl.Msg
	for r := range ch {
		rs = append(rs, r)
	}
	if st := testutil.Statuses(rs); !slices.Contains(st, "interrupted") || !slices.Contains(st, "done") {
		t.Fatalf("interrupted eval statuses %v, want interrupted and done", st)
	}
	idle := testutil.Collect(t, c, nrepl.Msg{"op": "interrupt", "interrupt-id": "nothing", "session": sess, "id": "9"}, 0)
	if st := testutil.Statuses(idle); !slices.Contains(st, "session-idle") {
		t.Errorf("interrupting nothing: statuses %v", st)
	}
}

func TestOpsHandledOnTheWay(t *testing.T) {
	var mu sync.Mutex
	var seen []nrepl.Msg
	record := func(req nrepl.Msg) []nrepl.Msg {
		mu.Lock()
		seen = append(seen, req)
		mu.Unlock()
		if req.Str("op") == "frobnicate" {
			// What Scittle answers: the request merged with an error.
			resp := req.Clone()
			resp["status"], resp["err"] = []any{"error", "done"}, "unknown-op"
			return []nrepl.Msg{resp}
		}
		return simruntime.Echo(req)
	}
	g := startGateway(t, nil)
	g.runtime(t, record)
	c := g.editor(t)

	tests := []struct {
		name      string
		req       nrepl.Msg
		forwarded bool
		check     func(t *testing.T, rs []nrepl.Msg, fwd nrepl.Msg)
	}{
		{"load-file becomes eval of the file text", nrepl.Msg{"op": "load-file", "file": "(ns a.b)\n(def x 1)", "file-path": "a/b.cljs"}, true,
			func(t *testing.T, rs []nrepl.Msg, fwd nrepl.Msg) {
				if fwd.Str("op") != "eval" || fwd.Str("code") != "(ns a.b)\n(def x 1)" {
					t.Errorf("forwarded %v", fwd)
				}
			}},
		{"JVM setup code answered nil locally", nrepl.Msg{"op": "eval", "code": "(apply require clojure.main/repl-requires)"}, false,
			func(t *testing.T, rs []nrepl.Msg, _ nrepl.Msg) {
				if testutil.Joined(rs, "value") != "nil" {
					t.Errorf("value %q", testutil.Joined(rs, "value"))
				}
			}},
		{"complete with symbol gets a prefix", nrepl.Msg{"op": "complete", "symbol": "ma", "ns": "user"}, true,
			func(t *testing.T, rs []nrepl.Msg, fwd nrepl.Msg) {
				if fwd.Str("prefix") != "ma" {
					t.Errorf("forwarded %v", fwd)
				}
			}},
		{"unknown op reaches the runtime and its error the editor", nrepl.Msg{"op": "frobnicate", "code": "echoed"}, true,
			func(t *testing.T, rs []nrepl.Msg, _ nrepl.Msg) {
				if st := testutil.Statuses(rs); !slices.Contains(st, "unknown-op") || !slices.Contains(st, "done") {
					t.Errorf("statuses %v, want done and unknown-op", st)
				}
				if _, echoed := rs[0]["code"]; echoed {
					t.Errorf("the request's keys were echoed back: %v", rs[0])
				}
			}},
		{"eval with ns switches to it first", nrepl.Msg{"op": "eval", "code": "(f)", "ns": "my.app"}, true,
			func(t *testing.T, rs []nrepl.Msg, fwd nrepl.Msg) {
				if fwd.Str("code") != "(when (find-ns 'my.app) (in-ns 'my.app)) (f)" {
					t.Errorf("forwarded code %q", fwd.Str("code"))
				}
			}},
		{"a crafted ns is not spliced into code", nrepl.Msg{"op": "eval", "code": "(f)", "ns": "x) (js/alert 1"}, true,
			func(t *testing.T, rs []nrepl.Msg, fwd nrepl.Msg) {
				if fwd.Str("code") != "(f)" {
					t.Errorf("forwarded code %q", fwd.Str("code"))
				}
			}},
		{"stdin acknowledged", nrepl.Msg{"op": "stdin", "stdin": "x\n"}, false, nil},
		{"ls-sessions", nrepl.Msg{"op": "ls-sessions"}, false, func(t *testing.T, rs []nrepl.Msg, _ nrepl.Msg) {
			if _, ok := rs[0]["sessions"].([]any); !ok {
				t.Errorf("no sessions list: %v", rs[0])
			}
		}},
		{"request without op", nrepl.Msg{"code": "1"}, false, func(t *testing.T, rs []nrepl.Msg, _ nrepl.Msg) {
			if st := testutil.Statuses(rs); !slices.Contains(st, "error") {
				t.Errorf("statuses %v", st)
			}
		}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			before := len(seen)
			mu.Unlock()
			req := tc.req.Clone()
			req["id"] = fmt.Sprint("t", i)
			rs := testutil.Collect(t, c, req, 0)
			mu.Lock()
			var fwd nrepl.Msg
			if len(seen) > before {
				fwd = seen[len(seen)-1]
			}
			mu.Unlock()
			if (fwd != nil) != tc.forwarded {
				t.Fatalf("forwarded = %v, want %v", fwd != nil, tc.forwarded)
			}
			if tc.check != nil {
				tc.check(t, rs, fwd)
			}
		})
	}
}

func TestSelectRuntimePerSession(t *testing.T) {
	named := func(name string) simruntime.Handler {
		return func(req nrepl.Msg) []nrepl.Msg {
			return []nrepl.Msg{{"value": name}, {"status": []any{"done"}}}
		}
	}
	g := startGateway(t, nil)
	g.runtime(t, named("first"))
	g.runtime(t, named("second"))
	c := g.editor(t)
	s1, _ := c.Clone(ctxT(t))
	s2, _ := c.Clone(ctxT(t))

	list := testutil.Collect(t, c, nrepl.Msg{"op": "sente/runtimes", "session": s1}, 0)
	rts, _ := list[0]["runtimes"].([]any)
	if len(rts) != 2 {
		t.Fatalf("runtimes = %v", list[0])
	}
	firstID := rts[0].(map[string]any)["id"].(string)
	if st := testutil.Statuses(testutil.Collect(t, c, nrepl.Msg{"op": "sente/select-runtime", "session": s1, "runtime": firstID}, 0)); slices.Contains(st, "error") {
		t.Fatalf("select failed: %v", st)
	}
	if v := testutil.Joined(testutil.Collect(t, c, nrepl.Msg{"op": "eval", "code": "x", "session": s1}, 0), "value"); v != "first" {
		t.Errorf("selected session evaluated on %q", v)
	}
	if v := testutil.Joined(testutil.Collect(t, c, nrepl.Msg{"op": "eval", "code": "x", "session": s2}, 0), "value"); v != "second" {
		t.Errorf("default session evaluated on %q, want the newest runtime", v)
	}
	if st := testutil.Statuses(testutil.Collect(t, c, nrepl.Msg{"op": "sente/select-runtime", "session": s1, "runtime": "r999"}, 0)); !slices.Contains(st, "error") {
		t.Errorf("selecting an absent runtime: statuses %v", st)
	}
}

func TestBadFramesCloseOnlyThatRuntime(t *testing.T) {
	g := startGateway(t, func(c *Config) { c.MaxBadFrames = 3 })
	good := g.runtime(t, simruntime.Echo)
	_ = good
	bad := g.runtime(t, silent)
	c := g.editor(t)
	sess, _ := c.Clone(ctxT(t))
	badID := g.runtimes.list()[1].ID
	testutil.Collect(t, c, nrepl.Msg{"op": "sente/select-runtime", "session": sess, "runtime": badID}, 0)
	_, ch, _ := c.Send(ctxT(t), nrepl.Msg{"op": "eval", "code": "pending", "session": sess})
	testutil.Eventually(t, 0, func() bool { return g.bridge.pendingCount() == 1 }, "request forwarded")

	deep := strings.Repeat("[", 1_000_000)
	for _, frame := range []string{"{:value", deep, "not edn }", "[1 2"} {
		_ = bad.SendRaw(websocket.TextMessage, []byte(frame))
	}
	select {
	case <-bad.Done():
	case <-time.After(testutil.Patience):
		t.Fatal("runtime sending garbage was not closed")
	}
	var rs []nrepl.Msg
	for r := range ch {
		rs = append(rs, r)
	}
	if st := testutil.Statuses(rs); !slices.Contains(st, "done") {
		t.Fatalf("pending request on the bad runtime: statuses %v", st)
	}
	if !strings.Contains(g.logs.String(), "unreadable frame from runtime") {
		t.Error("log does not name the unreadable frames")
	}
	// The other runtime and the editor carry on.
	if v := testutil.Joined(testutil.Collect(t, c, nrepl.Msg{"op": "eval", "code": "still here"}, 0), "value"); v != "still here" {
		t.Errorf("canary eval got %q", v)
	}
}

func TestWebSocketOrigins(t *testing.T) {
	g := startGateway(t, func(c *Config) { c.AllowOrigins = []string{"https://*.example.org"} })
	url := "ws://" + g.HTTPAddr().String() + "/_nrepl"
	tests := []struct {
		origin string
		ok     bool
	}{
		{"", true},
		{"http://" + g.HTTPAddr().String(), true},
		{"http://localhost:3000", true},
		{"http://127.0.0.1:8080", true},
		{"http://[::1]:9", true},
		{"https://app.example.org", true},
		{"https://evil.example.com", false},
		{"http://localhost.evil.com", false},
		{"null", false},
	}
	for _, tc := range tests {
		t.Run(tc.origin, func(t *testing.T) {
			hdr := http.Header{}
			if tc.origin != "" {
				hdr.Set("Origin", tc.origin)
			}
			conn, resp, err := websocket.DefaultDialer.Dial(url, hdr)
			if conn != nil {
				conn.Close()
			}
			if tc.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.ok && (err == nil || resp == nil || resp.StatusCode != http.StatusForbidden) {
				t.Fatalf("accepted or not 403: err=%v resp=%v", err, resp)
			}
		})
	}
	if !strings.Contains(g.logs.String(), "refused a WebSocket from a foreign origin") {
		t.Error("refusal not logged")
	}
}

func TestUnreadableEditorInputClosesOnlyThatEditor(t *testing.T) {
	g := startGateway(t, func(c *Config) { c.MaxNREPLMessage = 1 << 20 })
	g.runtime(t, simruntime.Echo)
	canary := g.editor(t)
	inputs := map[string]string{
		"huge length prefix": "d4:code99999999999:",
		"not a dict":         "li1ei2ee",
		"garbage":            "\x00\x01hello",
		"deep nesting":       "d1:x" + strings.Repeat("l", 100000),
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			conn, err := net.Dial("tcp", g.NREPLAddr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_, _ = conn.Write([]byte(in))
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			reply, _ := io.ReadAll(conn) // the gateway says why, then closes
			if !bytes.Contains(reply, []byte("unreadable nREPL message")) {
				t.Errorf("reply %q does not explain the refusal", reply)
			}
			if v := testutil.Joined(testutil.Collect(t, canary, nrepl.Msg{"op": "eval", "code": "canary"}, 0), "value"); v != "canary" {
				t.Errorf("canary got %q", v)
			}
		})
	}
}

func TestShutdownEndsPendingAndRemovesPortFile(t *testing.T) {
	portFile := filepath.Join(t.TempDir(), ".nrepl-port")
	g := startGateway(t, func(c *Config) { c.PortFile = portFile })
	if b, err := os.ReadFile(portFile); err != nil || string(b) != fmt.Sprint(g.NREPLAddr().Port) {
		t.Fatalf("port file = %q, %v", b, err)
	}
	g.runtime(t, silent)
	c := g.editor(t)
	_, ch, _ := c.Send(ctxT(t), nrepl.Msg{"op": "eval", "code": "(forever)"})
	testutil.Eventually(t, 0, func() bool { return g.bridge.pendingCount() == 1 }, "request forwarded")
	g.stop(t)
	var rs []nrepl.Msg
	for r := range ch {
		rs = append(rs, r)
	}
	if st := testutil.Statuses(rs); !slices.Contains(st, "shutdown") {
		t.Fatalf("statuses %v, want the shutdown done", st)
	}
	if _, err := os.Stat(portFile); !os.IsNotExist(err) {
		t.Errorf("port file still there: %v", err)
	}
}

func TestHealthAndRuntimesJSON(t *testing.T) {
	g := startGateway(t, nil)
	g.runtime(t, simruntime.Echo)
	for _, path := range []string{"/health", "/runtimes"} {
		resp, err := http.Get("http://" + g.HTTPAddr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if path == "/runtimes" && !strings.Contains(string(body), `"scittle-nrepl"`) {
			t.Errorf("/runtimes = %s", body)
		}
	}
}

// Pages on other origins load the Scittle client through XHR, which needs CORS.
func TestBrowserAssetsLoadFromOtherOrigins(t *testing.T) {
	g := startGateway(t, nil)
	for _, path := range []string{"/sente-lite.cljs", "/sente-nrepl.cljs", "/nrepl-shim.js"} {
		req, _ := http.NewRequest("GET", "http://"+g.HTTPAddr().String()+path, nil)
		req.Header.Set("Origin", "https://app.example.org")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%s: %d, Access-Control-Allow-Origin %q", path, resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
		}
	}
}

// A burst of requests bigger than a runtime's queue refuses what does not fit,
// as runtime-busy; the runtime itself stays connected, unlike a pub/sub
// subscriber that stops reading.
func TestRuntimeQueueFullRefusesRequestsNotTheRuntime(t *testing.T) {
	g := startGateway(t, func(c *Config) { c.RuntimeQueue = 4 })
	// A runtime that never reads: its socket buffers fill, then its queue.
	conn, _, err := websocket.DefaultDialer.Dial("ws://"+g.HTTPAddr().String()+"/_nrepl", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	testutil.Eventually(t, 0, func() bool { return g.runtimes.count() == 1 }, "runtime registered")
	c := g.editor(t)
	big := strings.Repeat("x", 256<<10)
	var chans []<-chan nrepl.Msg
	for i := 0; i < 64; i++ {
		_, ch, err := c.Send(ctxT(t), nrepl.Msg{"op": "eval", "code": big})
		if err != nil {
			t.Fatal(err)
		}
		chans = append(chans, ch)
	}
	busy := 0
	for _, ch := range chans[len(chans)-8:] {
		var rs []nrepl.Msg
		for r := range ch {
			rs = append(rs, r)
		}
		if slices.Contains(testutil.Statuses(rs), "runtime-busy") {
			busy++
		}
	}
	if busy == 0 {
		t.Fatal("no request was refused as runtime-busy")
	}
	if n := g.runtimes.count(); n != 1 {
		t.Fatalf("%d runtimes after the burst, want the one still connected", n)
	}
}
