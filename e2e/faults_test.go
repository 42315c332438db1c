package e2e

// Fault tests: the gateway restarted under load, editors vanishing mid-stream,
// runtimes coming and going under 100 parallel editors, and a browser tab
// crashing while three editors wait on it. Every case checks the one promise
// editors depend on: each request ends with exactly one done, at the editor
// that asked.
//
// Identifiers here start with fault (package-level) so that other files in
// e2e can grow independently; abuse_test.go reuses the helpers below.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sente-clj/sente/gateway"
	"github.com/sente-clj/sente/internal/gatewaytest"
	"github.com/sente-clj/sente/internal/peers"
	"github.com/sente-clj/sente/internal/simruntime"
	"github.com/sente-clj/sente/internal/testutil"
	"github.com/sente-clj/sente/nrepl"
)

// --- harness shared with abuse_test.go ---

// faultGW is an in-process gateway (see internal/gatewaytest) that a test can
// stop, and restart on the same ports, itself. The page is never opened, so
// Scittle stays the default URL and no npm package is needed.
type faultGW struct {
	*gatewaytest.Gateway
}

func faultStart(t *testing.T, tweak func(*gateway.Config)) *faultGW {
	t.Helper()
	return &faultGW{gatewaytest.Start(t, func(cfg *gateway.Config) {
		cfg.RuntimeWait = 5 * time.Second
		if tweak != nil {
			tweak(cfg)
		}
	})}
}

func (g *faultGW) stop(t *testing.T) { g.Stop(t) }

// faultTail keeps the last n lines of a long log.
func faultTail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) <= n {
		return s
	}
	return fmt.Sprintf("[... %d lines ...]\n%s", len(lines)-n, strings.Join(lines[len(lines)-n:], "\n"))
}

// faultHTTP never keeps connections alive, so polling /health leaves no
// goroutines behind in the test process (the goroutine checks count them).
var faultHTTP = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// getJSON fetches one of the gateway's JSON endpoints.
func (g *faultGW) getJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	var body map[string]any
	g.GetJSON(t, path, &body)
	return body
}

// healthNum reads one number from /health.
func (g *faultGW) healthNum(t *testing.T, key string) int {
	t.Helper()
	v, ok := g.getJSON(t, "/health")[key].(float64)
	if !ok {
		t.Fatalf("/health has no number %q", key)
	}
	return int(v)
}

// waitHealth polls /health until key has the value want.
func (g *faultGW) waitHealth(t *testing.T, key string, want int, within time.Duration) {
	t.Helper()
	var got int
	if !testutil.Poll(context.Background(), within, func() bool { got = g.healthNum(t, key); return got == want }) {
		t.Fatalf("/health %s = %d after %v, want %d", key, got, within, want)
	}
}

// runtimeIDs lists the ids on /runtimes, oldest first.
func (g *faultGW) runtimeIDs(t *testing.T) []string {
	t.Helper()
	list, _ := g.getJSON(t, "/runtimes")["runtimes"].([]any)
	var ids []string
	for _, r := range list {
		if m, ok := r.(map[string]any); ok {
			ids = append(ids, fmt.Sprint(m["id"]))
		}
	}
	return ids
}

// dialRuntime connects a simulated runtime and waits until the gateway lists
// it; it returns the runtime and its gateway id.
func (g *faultGW) dialRuntime(t *testing.T, h simruntime.Handler) (*simruntime.Runtime, string) {
	t.Helper()
	before := g.runtimeIDs(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	rt, err := simruntime.Dial(ctx, g.HTTPAddr().String(), h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	var id string
	testutil.Eventually(t, 0, func() bool {
		for _, got := range g.runtimeIDs(t) {
			if !slices.Contains(before, got) {
				id = got
				return true
			}
		}
		return false
	}, "the gateway to register the simulated runtime")
	return rt, id
}

// logLines returns the log lines containing every one of parts.
func faultLogLines(log string, parts ...string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		ok := l != ""
		for _, p := range parts {
			ok = ok && strings.Contains(l, p)
		}
		if ok {
			out = append(out, l)
		}
	}
	return out
}

// faultAlarming is what an operator must never see for a routine event: an
// error, a panic, a data race report, or (unless allowed) a warning.
func faultAlarming(log string, allowWarn ...string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		switch {
		case strings.Contains(l, "level=ERROR"), strings.Contains(l, "panic"), strings.Contains(l, "DATA RACE"):
			out = append(out, l)
		case strings.Contains(l, "level=WARN"):
			allowed := false
			for _, a := range allowWarn {
				allowed = allowed || strings.Contains(l, a)
			}
			if !allowed {
				out = append(out, l)
			}
		}
	}
	return out
}

// faultWaitGoroutines waits until the process is back to at most base+slack
// goroutines; on failure it prints them all.
func faultWaitGoroutines(t *testing.T, base, slack int, within time.Duration) int {
	t.Helper()
	var n int
	if !testutil.Poll(context.Background(), within, func() bool { n = runtime.NumGoroutine(); return n <= base+slack }) {
		var buf bytes.Buffer
		_ = pprof.Lookup("goroutine").WriteTo(&buf, 1)
		t.Fatalf("%d goroutines %v after everything closed, baseline %d (+%d slack):\n%s", n, within, base, slack, buf.String())
	}
	return n
}

// faultCanary is an editor that evaluates against a healthy runtime every
// ~10 ms for as long as a test runs; every eval must come back right and in time.
type faultCanary struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	failures   []string
	stopCh     chan struct{}
	done       chan struct{}
}

// startCanary starts the canary; a non-empty runtimeID pins its session to
// that runtime (abusive runtimes connect later and would be the default).
// Echo-like handlers answer its code as the value.
func faultStartCanary(t *testing.T, g *faultGW, runtimeID string) *faultCanary {
	t.Helper()
	c := g.Editor(t)
	session, err := c.Clone(ctxFor(t, evalBound))
	if err != nil {
		t.Fatal(err)
	}
	if runtimeID != "" {
		rs := testutil.Collect(t, c, nrepl.Msg{"op": "sente/select-runtime", "session": session, "runtime": runtimeID}, 0)
		if slices.Contains(statuses(rs), "error") {
			t.Fatalf("canary could not select runtime %s: %v", runtimeID, rs)
		}
	}
	k := &faultCanary{stopCh: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(k.done)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-k.stopCh:
				return
			case <-tick.C:
			}
			code := fmt.Sprintf("(canary %d)", i)
			// Generous for a loaded 2-core machine under -race; a healthy eval
			// takes about a millisecond, and a hang or a wrong answer still fails.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			start := time.Now()
			res, err := c.Eval(ctx, session, code, nil)
			cancel()
			switch {
			case err != nil:
				k.fail(fmt.Sprintf("%s: %v after %v", code, err, time.Since(start)))
			case !slices.Equal(res.Values, []string{code}) || slices.Contains(res.Status, "error") || !slices.Contains(res.Status, "done"):
				k.fail(fmt.Sprintf("%s: %v", code, res.Responses))
			default:
				k.ok.Add(1)
			}
		}
	}()
	t.Cleanup(k.stop)
	return k
}

func (k *faultCanary) fail(s string) {
	k.failed.Add(1)
	k.mu.Lock()
	if len(k.failures) < 10 {
		k.failures = append(k.failures, s)
	}
	k.mu.Unlock()
}

func (k *faultCanary) stop() {
	select {
	case <-k.stopCh:
	default:
		close(k.stopCh)
	}
	<-k.done
}

// check fails the test if any canary eval failed, and reports how many passed.
func (k *faultCanary) check(t *testing.T, when string) {
	t.Helper()
	if n := k.failed.Load(); n > 0 {
		k.mu.Lock()
		defer k.mu.Unlock()
		t.Errorf("%s: %d canary evals failed (%d passed): %s", when, n, k.ok.Load(), strings.Join(k.failures, "; "))
	}
}

// waitEvals waits until the canary has passed n more evals than before, so a
// check covers time the canary really spent evaluating.
func (k *faultCanary) waitEvals(t *testing.T, n int64) {
	t.Helper()
	want := k.ok.Load() + n
	testutil.Poll(context.Background(), 0, func() bool { return k.ok.Load() >= want || k.failed.Load() > 0 })
	if k.ok.Load() < want {
		k.check(t, "waiting for the canary")
		t.Fatalf("canary passed %d evals, want %d", k.ok.Load(), want)
	}
}

// --- 1. restart ---

// faultRedialer is a runtime that comes back: whenever its connection ends it
// dials again every 20 ms, as a page with a reconnecting client would.
type faultRedialer struct {
	dials atomic.Int64
	cur   atomic.Pointer[simruntime.Runtime]
	done  chan struct{}
}

func faultRedial(ctx context.Context, addr string, h simruntime.Handler) *faultRedialer {
	r := &faultRedialer{done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for ctx.Err() == nil {
			rt, err := simruntime.Dial(ctx, addr, h)
			if err == nil {
				r.cur.Store(rt)
				r.dials.Add(1)
				<-rt.Done()
			}
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return r
}

// faultForever never answers code starting with "(forever"; everything else is echoed.
func faultForever(req nrepl.Msg) []nrepl.Msg {
	if strings.HasPrefix(req.Str("code"), "(forever") {
		return nil
	}
	return simruntime.Echo(req)
}

// TestFaultGatewayRestart: a gateway with runtimes and editors connected and
// requests pending is stopped. Every pending request gets its done (status
// shutdown) before the editors' sockets close, the port file goes away, and a
// new gateway on the same ports gets the redialing runtimes and the editors back.
func TestFaultGatewayRestart(t *testing.T) {
	portFile := filepath.Join(t.TempDir(), ".nrepl-port")
	first := faultStart(t, func(c *gateway.Config) { c.PortFile = portFile })
	nreplPort, httpPort := first.NREPLAddr().Port, first.HTTPAddr().Port
	faultPortFile(t, portFile, nreplPort)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const nRuntimes, nEditors, perEditor = 2, 3, 2
	var redialers []*faultRedialer
	for i := 0; i < nRuntimes; i++ {
		redialers = append(redialers, faultRedial(ctx, first.HTTPAddr().String(), faultForever))
	}
	defer func() {
		cancel()
		for _, r := range redialers {
			<-r.done
		}
	}()
	first.waitHealth(t, "runtimes", nRuntimes, testutil.Patience)

	type pendingEval struct {
		editor int
		id     string
		ch     <-chan nrepl.Msg
	}
	var editors []*nrepl.Client
	var pending []pendingEval
	for e := 0; e < nEditors; e++ {
		c := first.Editor(t)
		editors = append(editors, c)
		if res := eval(t, c, "", fmt.Sprintf("(warm-up %d)", e), nil); len(res.Values) != 1 {
			t.Fatalf("warm-up eval: %v", res.Responses)
		}
		for i := 0; i < perEditor; i++ {
			id := fmt.Sprintf("forever-%d-%d", e, i)
			_, ch, err := c.Send(ctxFor(t, 30*time.Second), nrepl.Msg{"op": "eval", "id": id, "code": "(forever)"})
			if err != nil {
				t.Fatal(err)
			}
			pending = append(pending, pendingEval{e, id, ch})
		}
	}
	first.waitHealth(t, "pending", nEditors*perEditor, testutil.Patience)

	first.stop(t)
	t.Logf("first gateway stopped in %v", first.Stopped.Round(time.Millisecond))
	for _, p := range pending {
		var rs []nrepl.Msg
		for r := range p.ch {
			rs = append(rs, r)
		}
		st := statuses(rs)
		// nrepl.Client makes up a "disconnected" done when the socket closes
		// first: a shutdown done proves the gateway's came before the close.
		if !hasAll(st, "done", "error", "shutdown") || slices.Contains(st, "disconnected") {
			t.Errorf("editor %d request %s: statuses %q, want the gateway's shutdown done before the socket closed: %v", p.editor, p.id, st, rs)
		}
		if e := testutil.Joined(rs, "err"); !strings.Contains(e, "shutting down") {
			t.Errorf("editor %d request %s: err %q does not say the gateway is shutting down", p.editor, p.id, e)
		}
		if n := faultCountDone(rs); n != 1 {
			t.Errorf("editor %d request %s: %d dones: %v", p.editor, p.id, n, rs)
		}
		for _, r := range rs {
			if r.Str("id") != p.id {
				t.Errorf("editor %d: response %v carries another id than %s", p.editor, r, p.id)
			}
		}
	}
	// Then the sockets closed: the old connections are finished.
	for e, c := range editors {
		if _, err := c.Eval(ctxFor(t, evalBound), "", "(after shutdown)", nil); !errors.Is(err, nrepl.ErrClosed) {
			t.Errorf("editor %d: eval on the stopped gateway: err %v, want the connection closed", e, err)
		}
	}
	if _, err := os.Stat(portFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("port file after shutdown: %v, want it removed", err)
	}
	if !strings.Contains(first.Logs.String(), "shutting down") {
		t.Error("the first gateway did not log its shutdown")
	}
	if w := faultLogLines(first.Logs.String(), "did not finish within"); len(w) > 0 {
		t.Errorf("shutdown waited for connections: %v", w)
	}

	// The same ports again, as `sente gateway` restarted by hand or by a supervisor.
	second := faultStart(t, func(c *gateway.Config) {
		c.NREPLPort, c.HTTPPort, c.PortFile = nreplPort, httpPort, portFile
	})
	faultPortFile(t, portFile, nreplPort)
	// Editors reconnect at once; their evals wait (--runtime-wait) for a runtime.
	var wg sync.WaitGroup
	for e := 0; e < nEditors; e++ {
		wg.Add(1)
		go func(e int) {
			defer wg.Done()
			c, err := faultDialRetry(second.NREPLAddr().String(), 5*time.Second)
			if err != nil {
				t.Errorf("editor %d could not reconnect: %v", e, err)
				return
			}
			defer c.Close()
			code := fmt.Sprintf("(again %d)", e)
			res, err := c.Eval(ctxFor(t, 15*time.Second), "", code, nil)
			if err != nil || !slices.Equal(res.Values, []string{code}) || slices.Contains(res.Status, "error") {
				t.Errorf("editor %d after the restart: %v %v", e, err, res.Responses)
			}
		}(e)
	}
	wg.Wait()
	second.waitHealth(t, "runtimes", nRuntimes, testutil.Patience)
	// The gateway lists a runtime during its upgrade, a moment before the
	// runtime's Dial returns and counts: poll.
	for i, r := range redialers {
		if !testutil.Poll(context.Background(), 0, func() bool { return r.dials.Load() >= 2 }) {
			t.Errorf("runtime %d dialed %d times, want a reconnect to the new gateway", i, r.dials.Load())
		}
	}
	second.stop(t)
	if _, err := os.Stat(portFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("port file after the second shutdown: %v", err)
	}
}

func faultPortFile(t *testing.T, path string, port int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil || string(b) != strconv.Itoa(port) {
		t.Fatalf("port file %s = %q, %v; want %d", path, b, err, port)
	}
}

func faultDialRetry(addr string, within time.Duration) (*nrepl.Client, error) {
	var c *nrepl.Client
	var err error
	testutil.Poll(context.Background(), within, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		c, err = nrepl.Dial(ctx, addr)
		return err == nil
	})
	return c, err
}

func faultCountDone(rs []nrepl.Msg) int {
	n := 0
	for _, r := range rs {
		if r.HasStatus("done") {
			n++
		}
	}
	return n
}

// faultKnownShutdownRace skips TestFaultRuntimeDialsDuringShutdown while a
// gateway bug stands: a WebSocket upgrade that completes after shutdown's
// closeSockets (gateway/server.go shutdown) registers its connection with
// nobody left to close it, so Serve waits the full 5 s ("some connections did
// not finish within 5s of shutdown") and returns with that socket still open
// and its runtime still registered. Reproduced in 3 of 5 rounds below.
const faultKnownShutdownRace = false

// TestFaultRuntimeDialsDuringShutdown: runtimes and sente-lite clients
// (re)connecting while the gateway stops must not delay the stop nor outlive it.
func TestFaultRuntimeDialsDuringShutdown(t *testing.T) {
	if faultKnownShutdownRace {
		t.Skip("known gateway bug (faultKnownShutdownRace): a WebSocket accepted during shutdown stays open and delays it by 5s")
	}
	for round := 0; round < 5; round++ {
		g := faultStart(t, nil)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		var mu sync.Mutex
		var conns []*websocket.Conn
		for i := 0; i < 4; i++ {
			path := []string{"/_nrepl", "/chsk"}[i%2]
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					c, _, err := websocket.DefaultDialer.DialContext(ctx, "ws://"+g.HTTPAddr().String()+path, nil)
					if err == nil {
						mu.Lock()
						conns = append(conns, c)
						mu.Unlock()
					}
				}
			}()
		}
		// Stop once the dialers are connecting: a few are in already.
		testutil.Eventually(t, 0, func() bool { mu.Lock(); defer mu.Unlock(); return len(conns) >= 4 }, "the dialers to connect")
		g.stop(t)
		cancel()
		wg.Wait()
		// A socket accepted during the shutdown that nobody closes makes it
		// give up after 5 s and say so (see faultKnownShutdownRace).
		if strings.Contains(g.Logs.String(), "did not finish within 5s of shutdown") {
			t.Errorf("round %d: shutdown waited for connections with clients connecting (stopped in %v)", round, g.Stopped)
		}
		open := 0
		for _, c := range conns {
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					var ne net.Error
					if errors.As(err, &ne) && ne.Timeout() {
						open++
					}
					break
				}
			}
			c.Close()
		}
		if open > 0 {
			t.Errorf("round %d: %d of %d sockets still open after Serve returned", round, open, len(conns))
		}
	}
}

// --- 2. an editor vanishing mid-stream ---

// faultStreamer answers "(stream)" with 50 out responses 5 ms apart, then a
// value and done, from its own goroutine (as a busy page would); anything else
// is echoed at once.
type faultStreamer struct {
	rt      atomic.Pointer[simruntime.Runtime]
	ready   chan struct{}
	started atomic.Int64
	sent    atomic.Int64
	wg      sync.WaitGroup
}

const faultStreamLen = 50

func (s *faultStreamer) handle(req nrepl.Msg) []nrepl.Msg {
	if req.Str("code") != "(stream)" {
		return simruntime.Echo(req)
	}
	s.started.Add(1)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		<-s.ready
		rt := s.rt.Load()
		send := func(m nrepl.Msg) {
			m["id"] = req.Str("id")
			if rt.SendEDN(nrepl.ToEDN(m)) == nil {
				s.sent.Add(1)
			}
		}
		for i := 0; i < faultStreamLen; i++ {
			send(nrepl.Msg{"out": fmt.Sprintf("line %d\n", i)})
			time.Sleep(5 * time.Millisecond)
		}
		send(nrepl.Msg{"value": "nil", "ns": "user"})
		send(nrepl.Msg{"status": []any{"done"}})
	}()
	return nil
}

// faultKnownResetWarn tolerates the gateway logging an editor's connection
// reset (RST) at WARN; see gateway/editor.go serveEditor. Set it to false once
// ECONNRESET counts as an ordinary disconnect.
const faultKnownResetWarn = false

// TestFaultEditorVanishesMidStream: an editor's TCP connection ends (FIN, or
// RST as from a killed process with unread data) while a runtime is still
// streaming its answer. The gateway forgets the request (/health pending 0),
// drops the rest of the stream quietly, and another editor keeps evaluating.
func TestFaultEditorVanishesMidStream(t *testing.T) {
	g := faultStart(t, nil)
	s := &faultStreamer{ready: make(chan struct{})}
	rt, rtID := g.dialRuntime(t, s.handle)
	s.rt.Store(rt)
	close(s.ready)
	canary := faultStartCanary(t, g, rtID)
	canary.waitEvals(t, 5)

	for _, how := range []string{"close", "reset"} {
		t.Run(how, func(t *testing.T) {
			logStart := len(g.Logs.String())
			for v := 0; v < 3; v++ {
				conn, err := net.Dial("tcp", g.NREPLAddr().String())
				if err != nil {
					t.Fatal(err)
				}
				id := fmt.Sprintf("victim-%s-%d", how, v)
				msg, _ := nrepl.AppendEncode(nil, nrepl.Msg{"op": "eval", "id": id, "code": "(stream)"})
				if _, err := conn.Write(msg); err != nil {
					t.Fatal(err)
				}
				// Read a few responses, then vanish with the stream in full flow.
				dec := nrepl.NewDecoder(conn, nrepl.DefaultLimits())
				_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
				for i := 0; i < 5; i++ {
					r, err := dec.Decode()
					if err != nil {
						t.Fatalf("victim read %d: %v", i, err)
					}
					if r.Str("id") != id || r.Str("out") == "" {
						t.Fatalf("victim got %v", r)
					}
				}
				if how == "reset" {
					_ = conn.(*net.TCPConn).SetLinger(0) // close sends RST
				}
				_ = conn.Close()
				g.waitHealth(t, "pending", 0, testutil.Patience)
			}
			s.wg.Wait() // the runtime finished streaming into the void
			g.waitHealth(t, "pending", 0, testutil.Patience)
			g.waitHealth(t, "editors", 1, testutil.Patience) // the canary only
			canary.waitEvals(t, 5)
			canary.check(t, "while editors vanished")
			log := g.Logs.String()[logStart:]
			if n := len(faultLogLines(log, "dropped a response nobody waits for")); n == 0 {
				t.Errorf("no late response was dropped; the runtime sent %d", s.sent.Load())
			}
			// A reset is how an editor killed with unread responses leaves. The
			// gateway logs it at WARN (gateway/editor.go treats only EOF and
			// ErrClosed as a normal end): tolerated as a known finding, but
			// nothing else may be alarming.
			var allow []string
			if how == "reset" && faultKnownResetWarn {
				allow = []string{`msg="editor connection closed"`}
				for _, l := range faultLogLines(log, "level=WARN") {
					if !strings.Contains(l, "connection reset by peer") {
						t.Errorf("a reset editor warned about something else: %s", l)
					}
				}
			}
			if a := faultAlarming(log, allow...); len(a) > 0 {
				t.Errorf("an editor leaving is routine, but the gateway logged:\n%s", strings.Join(a, "\n"))
			}
		})
	}
	canary.stop()
	canary.check(t, "end")
	t.Logf("canary: %d evals passed while 6 editors vanished mid-stream", canary.ok.Load())
}

// --- 3. 100 editors x 200 evals while runtimes come and go ---

// faultRawEditor is an nREPL editor on a bare socket that records every
// response, so a second done or a stranger's response would be seen (the
// nrepl.Client drops strays after done by design).
type faultRawEditor struct {
	n    int
	conn net.Conn
	wmu  sync.Mutex
	wbuf []byte

	mu      sync.Mutex
	got     map[string][]nrepl.Msg
	waiting map[string]chan struct{}
	readErr error
	done    chan struct{}
}

func faultDialRaw(addr string, n int) (*faultRawEditor, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	e := &faultRawEditor{n: n, conn: conn, got: map[string][]nrepl.Msg{},
		waiting: map[string]chan struct{}{}, done: make(chan struct{})}
	go e.readLoop()
	return e, nil
}

func (e *faultRawEditor) readLoop() {
	defer close(e.done)
	dec := nrepl.NewDecoder(e.conn, nrepl.DefaultLimits())
	for {
		m, err := dec.Decode()
		if err != nil {
			e.mu.Lock()
			e.readErr = err
			e.mu.Unlock()
			return
		}
		id := m.Str("id")
		e.mu.Lock()
		e.got[id] = append(e.got[id], m)
		if ch := e.waiting[id]; ch != nil && m.HasStatus("done") {
			close(ch)
			delete(e.waiting, id)
		}
		e.mu.Unlock()
	}
}

// request sends m and waits for its first done.
func (e *faultRawEditor) request(m nrepl.Msg, within time.Duration) error {
	id := m.Str("id")
	ch := make(chan struct{})
	e.mu.Lock()
	e.waiting[id] = ch
	e.mu.Unlock()
	e.wmu.Lock()
	var err error
	e.wbuf, err = nrepl.AppendEncode(e.wbuf[:0], m)
	if err == nil {
		_, err = e.conn.Write(e.wbuf)
	}
	e.wmu.Unlock()
	if err != nil {
		return err
	}
	select {
	case <-ch:
		return nil
	case <-e.done:
		return fmt.Errorf("connection ended before done for %s: %v", id, e.readErr)
	case <-time.After(within):
		return fmt.Errorf("no done for %s within %v", id, within)
	}
}

func (e *faultRawEditor) close() {
	_ = e.conn.Close()
	<-e.done
}

// faultAsyncRuntime echoes evals after 0-2 ms from a goroutine per request, so
// one runtime serves many editors at once, as a page evaluating promises does.
type faultAsyncRuntime struct {
	rt    *simruntime.Runtime
	ready chan struct{}
	wg    *sync.WaitGroup
}

func faultDialAsync(ctx context.Context, addr string, wg *sync.WaitGroup) (*simruntime.Runtime, error) {
	a := &faultAsyncRuntime{ready: make(chan struct{}), wg: wg}
	rt, err := simruntime.Dial(ctx, addr, func(req nrepl.Msg) []nrepl.Msg {
		if req.Str("op") != "eval" {
			return simruntime.Echo(req)
		}
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			<-a.ready
			time.Sleep(time.Duration(rand.IntN(2001)) * time.Microsecond)
			for _, m := range simruntime.Echo(req) {
				m["id"] = req.Str("id")
				if a.rt.SendEDN(nrepl.ToEDN(m)) != nil {
					return // the runtime was closed: its requests end runtime-gone
				}
			}
		}()
		return nil
	})
	if err != nil {
		return nil, err
	}
	a.rt = rt
	close(a.ready)
	return rt, nil
}

// faultKnownBusyMislabel tolerates a gateway bug: a request that picks a
// runtime whose socket closed a moment earlier (gateway/bridge.go send: the
// link's request fails with "connection is closed" before runtimeGone marked
// the runtime gone) ends with status runtime-busy instead of runtime-gone. It
// still ends with exactly one done and an err text, which is what editors need.
// Set it to false once bridge.send maps a closed link to runtime-gone.
const faultKnownBusyMislabel = false

// TestFaultEditorsWhileRuntimesChurn: 100 editors evaluate 200 times each in
// parallel while runtimes connect and disconnect every ~20 ms. Every request
// ends with exactly one done; errors only say a runtime left (or none was
// there), with text; no response reaches the wrong editor; nothing is left
// pending, and the process's goroutines return to their baseline.
func TestFaultEditorsWhileRuntimesChurn(t *testing.T) {
	nEditors, nEvals := 100, 200
	if testing.Short() {
		nEditors, nEvals = 20, 50
	}
	baseline := runtime.NumGoroutine()
	start := time.Now()
	g := faultStart(t, nil)
	addr := g.HTTPAddr().String()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// 3-5 runtimes; a churner kills a random one and dials a new one every ~20 ms.
	var answers sync.WaitGroup
	var rmu sync.Mutex
	var live []*simruntime.Runtime
	for i := 0; i < 4; i++ {
		rt, err := faultDialAsync(ctx, addr, &answers)
		if err != nil {
			t.Fatal(err)
		}
		live = append(live, rt)
	}
	g.waitHealth(t, "runtimes", 4, testutil.Patience)
	var kills, dials atomic.Int64
	churnStop, churnDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(churnDone)
		for {
			select {
			case <-churnStop:
				return
			case <-time.After(time.Duration(15+rand.IntN(11)) * time.Millisecond):
			}
			rmu.Lock()
			if len(live) > 3 || (len(live) == 3 && rand.IntN(2) == 0) {
				i := rand.IntN(len(live))
				victim := live[i]
				live = slices.Delete(live, i, i+1)
				rmu.Unlock()
				victim.Close()
				kills.Add(1)
				rmu.Lock()
			}
			if len(live) < 5 {
				rmu.Unlock()
				rt, err := faultDialAsync(ctx, addr, &answers)
				rmu.Lock()
				if err == nil {
					live = append(live, rt)
					dials.Add(1)
				}
			}
			rmu.Unlock()
		}
	}()

	var wg sync.WaitGroup
	type tally struct{ values, gone, noRuntime, busyGone int }
	results := make([]tally, nEditors)
	editors := make([]*faultRawEditor, nEditors)
	for e := range editors {
		ed, err := faultDialRaw(g.NREPLAddr().String(), e)
		if err != nil {
			t.Fatal(err)
		}
		editors[e] = ed
	}
	evalStart := time.Now()
	for e, ed := range editors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 1; i <= nEvals; i++ {
				// Ids collide across editors on purpose, as real clients' do.
				req := nrepl.Msg{"op": "eval", "id": strconv.Itoa(i), "code": fmt.Sprintf("(editor %d request %d)", e, i)}
				if err := ed.request(req, 30*time.Second); err != nil {
					t.Errorf("editor %d: %v", e, err)
					return
				}
			}
			// A local op after the last eval: it is queued behind every response
			// the gateway had for this editor, so late strays would show up.
			if err := ed.request(nrepl.Msg{"op": "describe", "id": "barrier"}, 10*time.Second); err != nil {
				t.Errorf("editor %d: %v", e, err)
			}
		}()
	}
	wg.Wait()
	evalTime := time.Since(evalStart)
	close(churnStop)
	<-churnDone

	// Every request: one done; values only its own; errors only about runtimes.
	var bad []string
	report := func(f string, a ...any) {
		if len(bad) < 20 {
			bad = append(bad, fmt.Sprintf(f, a...))
		}
	}
	for e, ed := range editors {
		ed.mu.Lock()
		for id, rs := range ed.got {
			n, err := strconv.Atoi(id)
			if id != "barrier" && (err != nil || n < 1 || n > nEvals) {
				report("editor %d got responses for an id it never sent: %v", e, rs)
				continue
			}
			if d := faultCountDone(rs); d != 1 {
				report("editor %d request %s: %d dones: %v", e, id, d, rs)
			}
			if id == "barrier" {
				continue
			}
			want := fmt.Sprintf("(editor %d request %d)", e, n)
			st := statuses(rs)
			errText := testutil.Joined(rs, "err")
			if v := testutil.Joined(rs, "value"); v != "" && v != want {
				report("editor %d request %s got value %q, want %q (someone else's answer): %v", e, id, v, want, rs)
				continue
			}
			switch {
			case !slices.Contains(st, "error"):
				if testutil.Joined(rs, "value") != want {
					report("editor %d request %s: done without its value or an error: %v", e, id, rs)
				}
				results[e].values++
			// A runtime that left after sending the value but before done: the
			// value is this request's own, and the done says what happened.
			case hasAll(st, "done", "error", "runtime-gone") && strings.Contains(errText, "disconnected"):
				results[e].gone++
			case hasAll(st, "done", "error", "no-runtime") && strings.Contains(errText, "no browser runtime"):
				results[e].noRuntime++
			case faultKnownBusyMislabel && hasAll(st, "done", "error", "runtime-busy") && strings.Contains(errText, "connection is closed"):
				results[e].busyGone++
			default:
				report("editor %d request %s: neither its value nor a runtime-gone/no-runtime error: %v", e, id, rs)
			}
		}
		if len(ed.got) != nEvals+1 {
			report("editor %d has answers for %d ids, want %d", e, len(ed.got), nEvals+1)
		}
		ed.mu.Unlock()
	}
	if len(bad) > 0 {
		t.Errorf("%d problems, first ones:\n%s", len(bad), strings.Join(bad, "\n"))
	}
	var sum tally
	for _, r := range results {
		sum.values += r.values
		sum.gone += r.gone
		sum.noRuntime += r.noRuntime
		sum.busyGone += r.busyGone
	}
	g.waitHealth(t, "pending", 0, testutil.Patience)
	t.Logf("%d editors x %d evals in %v: %d values, %d runtime-gone, %d no-runtime, %d runtime-busy for a closed runtime; %d runtimes killed, %d dialed",
		nEditors, nEvals, evalTime.Round(time.Millisecond), sum.values, sum.gone, sum.noRuntime, sum.busyGone, kills.Load(), dials.Load())
	if sum.busyGone > 0 {
		t.Logf("GATEWAY BUG (tolerated, see faultKnownBusyMislabel): %d requests to a runtime whose socket had just closed ended runtime-busy, not runtime-gone", sum.busyGone)
	}
	if total := sum.values + sum.gone + sum.noRuntime + sum.busyGone; total != nEditors*nEvals {
		t.Errorf("%d requests accounted for, want %d", total, nEditors*nEvals)
	}
	if a := faultAlarming(g.Logs.String()); len(a) > 0 {
		t.Errorf("the gateway logged alarms under churn:\n%s", strings.Join(a[:min(len(a), 20)], "\n"))
	}

	// Close everything; the goroutines must go with it.
	for _, ed := range editors {
		ed.close()
	}
	rmu.Lock()
	for _, rt := range live {
		rt.Close()
	}
	live = nil
	rmu.Unlock()
	answers.Wait()
	g.stop(t)
	cancel()
	n := faultWaitGoroutines(t, baseline, 5, 20*time.Second)
	t.Logf("goroutines: baseline %d, after %d; whole test %v", baseline, n, time.Since(start).Round(time.Millisecond))
}

// --- 4. a browser tab crashing under three editors ---

// TestFaultBrowserCrashThreeEditors: browser_test.go's testRuntimeLeavesMidEval
// covers one editor and a crashed tab; here three editors each wait on a
// never-settling promise when the renderer crashes, and all three get done.
// Both kinds of browser runtime: the gateway's sente-lite page (/chsk) and the
// stock page (/_nrepl).
func TestFaultBrowserCrashThreeEditors(t *testing.T) {
	t.Parallel()
	b := peers.StartBrowser(t)
	for _, page := range []struct{ name, path string }{
		{"sente-lite page", "/"},
		{"stock page", "/stock"},
	} {
		t.Run(page.name, func(t *testing.T) {
			t.Parallel()
			faultCrashUnderThree(t, b, page.path)
		})
	}
}

func faultCrashUnderThree(t *testing.T, b *peers.Browser, path string) {
	g := startGateway(t, nil)
	p := openRuntimePage(t, b, g, path)

	type waiting struct {
		id string
		ch <-chan nrepl.Msg
	}
	var ws []waiting
	for e := 0; e < 3; e++ {
		c := g.Editor(t)
		if res := eval(t, c, "", fmt.Sprintf("(+ %d 1)", e), nil); !slices.Equal(res.Values, []string{strconv.Itoa(e + 1)}) {
			t.Fatalf("editor %d warm-up: %v", e, res.Responses)
		}
		id := fmt.Sprintf("crash-%d", e)
		_, ch, err := c.Send(ctxFor(t, 2*time.Minute), nrepl.Msg{"op": "eval", "id": id, "code": "(js/Promise. (fn [_ _]))"})
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, waiting{id, ch})
	}
	// The page holds all three promises, unanswered (each must end below
	// with runtime-gone, not a value).
	g.waitPending(t, 3)

	start := time.Now()
	if err := b.Crash(ctxFor(t, goneBound), p); err != nil {
		t.Fatalf("crash the page: %v", err)
	}
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var rs []nrepl.Msg
			timeout := time.After(goneBound)
			for {
				select {
				case r, ok := <-w.ch:
					if !ok {
						if st := statuses(rs); !hasAll(st, "done", "error", "runtime-gone") || faultCountDone(rs) != 1 {
							t.Errorf("%s: statuses %q, want one done with runtime-gone: %v", w.id, st, rs)
						}
						if !strings.Contains(testutil.Joined(rs, "err"), "disconnected before answering") {
							t.Errorf("%s: err %q does not say the runtime left", w.id, testutil.Joined(rs, "err"))
						}
						for _, r := range rs {
							if r.Str("id") != w.id {
								t.Errorf("%s got a response for %s: %v", w.id, r.Str("id"), r)
							}
						}
						t.Logf("%s: done %v after the crash began", w.id, time.Since(start).Round(time.Millisecond))
						return
					}
					rs = append(rs, r)
				case <-timeout:
					t.Errorf("%s: no done %v after the crash: %v", w.id, goneBound, rs)
					return
				}
			}
		}()
	}
	wg.Wait()
	g.WaitRuntimes(t, 0)
	if n := g.health(t)["pending"]; n != float64(0) {
		t.Errorf("/health pending = %v after the crash", n)
	}
}
