package peers_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sente-clj/sente/internal/peers"
	"github.com/sente-clj/sente/internal/testutil"
)

// evalScript is the reference nrepl.core client the gateway tests use: it evaluates
// (+ 1 2) on the server whose port is its first argument and prints the values.
const evalScript = `(require '[nrepl.core :as nrepl])
(with-open [conn (nrepl/connect :port (parse-long (first *command-line-args*)))]
  (let [c (nrepl/client conn 10000)]
    (prn (nrepl/response-values (nrepl/message c {:op "eval" :code "(+ 1 2)"})))))`

// scittlePage loads Scittle; with nrepl it also connects scittle.nrepl.js to
// ws://<this host>:<this port>/_nrepl.
func scittlePage(nrepl bool) string {
	s := `<!doctype html><html><head><meta charset="utf-8">
<script>var SCITTLE_NREPL_WEBSOCKET_PORT = Number(location.port);</script>
<script src="/scittle/scittle.js"></script>`
	if nrepl {
		s += `
<script src="/scittle/scittle.nrepl.js"></script>`
	}
	return s + `</head><body>sente peers test</body></html>`
}

type fakeTB struct {
	testing.TB
	fatal, skip string
}

func (f *fakeTB) Helper()                        {}
func (f *fakeTB) Fatalf(format string, a ...any) { f.fatal = fmt.Sprintf(format, a...) }
func (f *fakeTB) Skipf(format string, a ...any)  { f.skip = fmt.Sprintf(format, a...) }

func TestRequire(t *testing.T) {
	for _, ci := range []string{"true", ""} {
		t.Setenv("CI", ci)
		f := &fakeTB{TB: t}
		peers.Require(f, true, "thing", "apt-get install -y thing")
		if f.fatal != "" || f.skip != "" {
			t.Fatalf("CI=%q, ok=true: fatal=%q skip=%q", ci, f.fatal, f.skip)
		}
		peers.Require(f, false, "thing", "apt-get install -y thing")
		got, other := f.skip, f.fatal
		if ci == "true" {
			got, other = f.fatal, f.skip
		}
		if !strings.Contains(got, "thing") || !strings.Contains(got, "apt-get install -y thing") || other != "" {
			t.Fatalf("CI=%q: fatal=%q skip=%q", ci, f.fatal, f.skip)
		}
	}
}

func TestRootAndFreePort(t *testing.T) {
	t.Parallel()
	root := peers.Root(t)
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("Root %s: %v", root, err)
	}
	if _, err := os.Stat(filepath.Join(root, "internal", "peers", "browser.mjs")); err != nil {
		t.Fatalf("Root %s: %v", root, err)
	}
	// A port that was free a moment ago can be taken meanwhile by another
	// process's outgoing connection (test packages run in parallel), so
	// FreePort is best effort: one of a few tries must be bindable.
	var err error
	for try := 0; try < 5; try++ {
		port := peers.FreePort(t)
		var l net.Listener
		if l, err = net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			l.Close()
			return
		}
	}
	t.Fatalf("no port from FreePort was bindable: %v", err)
}

func TestBrowser(t *testing.T) {
	t.Parallel()
	b := peers.StartBrowser(t)
	srv := httptest.NewServer(peers.ScittleHandler(t, scittlePage(false)))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	open := func(t *testing.T) *peers.Page {
		t.Helper()
		p, err := b.Open(ctx, srv.URL+"/")
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("console of %v:\n%s", p, strings.Join(p.Console(), "\n"))
			}
		})
		return p
	}
	eval := func(t *testing.T, p *peers.Page, js string) string {
		t.Helper()
		v, err := p.Eval(ctx, js)
		if err != nil {
			t.Fatalf("eval %s: %v", js, err)
		}
		return string(v)
	}

	t.Run("scittle eval", func(t *testing.T) {
		p := open(t)
		if err := p.WaitFor(ctx, "window.scittle && scittle.core && scittle.core.eval_string"); err != nil {
			t.Fatal(err)
		}
		if got := eval(t, p, `scittle.core.eval_string("(+ 1 2)")`); got != "3" {
			t.Fatalf("(+ 1 2) = %s, want 3", got)
		}
		if got := eval(t, p, `scittle.core.eval_string("(pr-str {:a [1 2]})")`); got != `"{:a [1 2]}"` {
			t.Fatalf("pr-str = %s", got)
		}
		// println goes to the browser console, which Console reports.
		eval(t, p, `scittle.core.eval_string("(println \"hello-from-scittle\")")`)
		waitConsole(t, p, "hello-from-scittle")
	})

	t.Run("eval promise, console, errors", func(t *testing.T) {
		p := open(t)
		if got := eval(t, p, `new Promise(r => setTimeout(() => r({ok: [1, "two"]}), 20))`); got != `{"ok":[1,"two"]}` {
			t.Fatalf("promise = %s", got)
		}
		if got := eval(t, p, `undefined`); got != "null" {
			t.Fatalf("undefined = %s", got)
		}
		eval(t, p, `console.log("hello", 42)`)
		waitConsole(t, p, "log: hello 42")
		if _, err := p.Eval(ctx, `(() => { throw new Error("boom-123") })()`); err == nil || !strings.Contains(err.Error(), "boom-123") {
			t.Fatalf("throwing eval: err = %v", err)
		}
		eval(t, p, `setTimeout(() => { throw new Error("async-boom") }, 0)`)
		waitConsole(t, p, "pageerror: Error: async-boom")
		short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		if err := p.WaitFor(short, "false"); err == nil {
			t.Fatal("WaitFor(false) returned nil")
		}
		eval(t, p, `setTimeout(() => { window.flag = true }, 100)`)
		if err := p.WaitFor(ctx, "window.flag === true"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("close page mid-eval", func(t *testing.T) {
		p := open(t)
		errc := make(chan error, 1)
		go func() {
			_, err := p.Eval(ctx, `new Promise(() => { window.evalStarted = true })`) // never settles
			errc <- err
		}()
		if err := p.WaitFor(ctx, "window.evalStarted === true"); err != nil {
			t.Fatal(err)
		}
		if err := p.Close(ctx); err != nil {
			t.Fatalf("close: %v", err)
		}
		select {
		case err := <-errc:
			if err == nil {
				t.Fatal("pending eval succeeded on a closed page")
			}
		case <-time.After(20 * time.Second):
			t.Fatal("pending eval not failed 20s after the page closed")
		}
		if _, err := p.Eval(ctx, "1"); err == nil {
			t.Fatal("eval on a closed page succeeded")
		}
	})

	t.Run("crash", func(t *testing.T) {
		p := open(t)
		if err := b.Crash(ctx, p); err != nil {
			t.Fatalf("crash: %v", err)
		}
		if _, err := p.Eval(ctx, "1"); err == nil {
			t.Fatal("eval on a crashed page succeeded")
		}
		// The browser survives a crashed tab.
		q := open(t)
		if got := eval(t, q, "1 + 1"); got != "2" {
			t.Fatalf("1 + 1 = %s", got)
		}
	})
}

func waitConsole(t *testing.T, p *peers.Page, want string) {
	t.Helper()
	has := func() bool {
		return slices.ContainsFunc(p.Console(), func(line string) bool { return strings.Contains(line, want) })
	}
	if !testutil.Poll(context.Background(), 0, has) {
		t.Fatalf("console has no %q:\n%s", want, strings.Join(p.Console(), "\n"))
	}
}

// TestBrowserScittleNREPL checks the stock scittle.nrepl.js runtime as the
// gateway expects it to behave: it dials ws://host:port/_nrepl, answers an EDN eval request,
// and its socket closes when the tab closes.
func TestBrowserScittleNREPL(t *testing.T) {
	t.Parallel()
	b := peers.StartBrowser(t)
	conns := make(chan *websocket.Conn, 1)
	mux := http.NewServeMux()
	mux.Handle("/", peers.ScittleHandler(t, scittlePage(true)))
	mux.HandleFunc("/_nrepl", func(w http.ResponseWriter, r *http.Request) {
		c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			t.Errorf("upgrade: %v", err)
			return
		}
		conns <- c
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	p, err := b.Open(ctx, srv.URL+"/")
	if err != nil {
		t.Fatal(err)
	}
	var c *websocket.Conn
	select {
	case c = <-conns:
		defer c.Close()
	case <-time.After(30 * time.Second):
		t.Fatalf("scittle.nrepl.js did not connect; console:\n%s", strings.Join(p.Console(), "\n"))
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	req := `{:op :eval :code "(+ 1 2)" :id "1" :session "s"}`
	if err := c.WriteMessage(websocket.TextMessage, []byte(req)); err != nil {
		t.Fatal(err)
	}
	var frames []string
	for {
		_, msg, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("read after %q: %v; console:\n%s", frames, err, strings.Join(p.Console(), "\n"))
		}
		frames = append(frames, string(msg))
		if strings.Contains(string(msg), `:status ["done"]`) {
			break
		}
	}
	all := strings.Join(frames, "\n")
	if !strings.Contains(all, `:value "3"`) || !strings.Contains(all, `:id "1"`) {
		t.Fatalf("eval frames lack :value \"3\" / :id \"1\":\n%s", all)
	}
	t.Logf("scittle nREPL frames:\n%s", all)

	// Closing the tab closes the runtime's WebSocket.
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(15 * time.Second))
	if _, msg, err := c.ReadMessage(); err == nil {
		t.Fatalf("frame after tab close: %s", msg)
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("WebSocket still open 15s after tab close")
	}
}

func TestJVMClientJVMServer(t *testing.T) {
	t.Parallel()
	port := peers.StartJVMNREPLServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := peers.RunClojure(t, ctx, evalScript, strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(out); got != "[3]" {
		t.Fatalf("JVM client -> JVM server: got %q, want [3]", got)
	}
}

func TestJVMClientNbbServer(t *testing.T) {
	t.Parallel()
	port := peers.StartNbbNREPLServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := peers.RunClojure(t, ctx, evalScript, strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(out); got != "[3]" {
		t.Fatalf("JVM client -> nbb server: got %q, want [3]", got)
	}
}

func TestRunClojureErrors(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := peers.RunClojure(t, ctx, `(println (apply + (map parse-long *command-line-args*))) (flush) (throw (ex-info "bad-thing" {}))`, "4", "5")
	if err == nil || !strings.Contains(err.Error(), "bad-thing") || strings.TrimSpace(out) != "9" {
		t.Fatalf("out=%q err=%v", out, err)
	}
	short, cancel2 := context.WithTimeout(ctx, 3*time.Second)
	defer cancel2()
	start := time.Now()
	if _, err := peers.RunClojure(t, short, `(Thread/sleep 60000)`); err == nil {
		t.Fatal("sleeping script not stopped by its context")
	}
	if d := time.Since(start); d > testutil.Patience { // the script sleeps 60 s; the context ends it at 3 s
		t.Fatalf("context cancel took %v", d)
	}
}
