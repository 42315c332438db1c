package e2e

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sente-clj/sente/gateway"
	"github.com/sente-clj/sente/internal/peers"
	"github.com/sente-clj/sente/internal/testutil"
	"github.com/sente-clj/sente/nrepl"
	"github.com/sente-clj/sente/repl"
)

// These tests replay what CIDER, Calva and Conjure send (as read from
// their sources) against the gateway with a real Chromium page of each
// kind, and against the reference JVM nREPL as the baseline: every check
// below holds on all three targets, except where the comment says a browser
// cannot do what the JVM does.

// wireConn is an editor's raw nREPL connection: requests exactly as given (with
// or without id), every response kept, in order.
type wireConn struct {
	t    *testing.T
	conn net.Conn
	dec  *nrepl.Decoder
	mu   sync.Mutex
	got  []nrepl.Msg
	seq  int
	uuid bool
}

func dialWire(t *testing.T, addr string, uuidIDs bool) *wireConn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	w := &wireConn{t: t, conn: conn, dec: nrepl.NewDecoder(bufio.NewReader(conn), nrepl.DefaultLimits()), uuid: uuidIDs}
	t.Cleanup(func() { conn.Close() })
	go func() {
		for {
			m, err := w.dec.Decode()
			if err != nil {
				return
			}
			w.mu.Lock()
			w.got = append(w.got, m)
			w.mu.Unlock()
		}
	}()
	return w
}

// nextID is an id as the editor makes them: numbers (CIDER, Calva) or uuids (Conjure).
func (w *wireConn) nextID() string {
	w.seq++
	if w.uuid {
		var b [16]byte
		_, _ = rand.Read(b[:])
		h := hex.EncodeToString(b[:])
		return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	}
	return strconv.Itoa(w.seq)
}

func (w *wireConn) write(m nrepl.Msg) {
	w.t.Helper()
	b, err := nrepl.AppendEncode(nil, m)
	if err != nil {
		w.t.Fatalf("encode %v: %v", m, err)
	}
	_ = w.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := w.conn.Write(b); err != nil {
		w.t.Fatalf("write %v: %v", m, err)
	}
}

// until waits for the responses to id (id "" matches responses without an id)
// up to their done, and removes them from what is kept.
func (w *wireConn) until(id string, within time.Duration) []nrepl.Msg {
	w.t.Helper()
	var mine []nrepl.Msg
	if !testutil.Poll(context.Background(), within, func() bool { mine = w.take(id); return mine != nil }) {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.t.Fatalf("no done for id %q within %v; responses so far: %v", id, within, w.got)
	}
	return mine
}

// take removes and returns the responses to id up to its done; nil while the
// done has not come.
func (w *wireConn) take(id string) []nrepl.Msg {
	w.mu.Lock()
	defer w.mu.Unlock()
	to := func(m nrepl.Msg) bool {
		_, has := m["id"]
		return id == "" && !has || has && m.Str("id") == id
	}
	end := slices.IndexFunc(w.got, func(m nrepl.Msg) bool { return to(m) && m.HasStatus("done") })
	if end < 0 {
		return nil
	}
	var mine, rest []nrepl.Msg
	for i, m := range w.got {
		if i <= end && to(m) {
			mine = append(mine, m)
		} else {
			rest = append(rest, m)
		}
	}
	w.got = rest
	return mine
}

// do sends m with a fresh id and returns its responses up to done.
func (w *wireConn) do(m nrepl.Msg) []nrepl.Msg {
	w.t.Helper()
	m = m.Clone()
	id := w.nextID()
	m["id"] = id
	w.write(m)
	return w.until(id, evalBound)
}

// waitOut waits for an out response carrying text under id (output that
// arrives after the request's done, as nREPL sends output from other threads).
func (w *wireConn) waitOut(id, text string, within time.Duration) bool {
	return testutil.Poll(context.Background(), within, func() bool {
		w.mu.Lock()
		defer w.mu.Unlock()
		return slices.ContainsFunc(w.got, func(m nrepl.Msg) bool { return m.Str("id") == id && strings.Contains(m.Str("out"), text) })
	})
}

// target is one nREPL server the conversations run against.
type target struct {
	name    string
	addr    string
	browser bool
	// busy is code that keeps the runtime busy long enough to be interrupted:
	// a browser cannot stop running JavaScript, so there it is a bounded spin.
	busy string
	// busyStarted waits until the busy evaluation with that id is under way,
	// so that the interrupt finds it running.
	busyStarted func(t *testing.T, w *wireConn, id string)
	// later prints tick-marker a moment after its evaluation has ended.
	later string
	// laterWithNextEval: such output reaches the editor with the session's
	// next evaluation (stock pages have no channel of their own for it),
	// not at once under the id of the evaluation that started it.
	laterWithNextEval bool
}

// editorProfile is how one editor words the same requests.
type editorProfile struct {
	name     string
	uuidIDs  bool
	connect  func(t *testing.T, w *wireConn, tg target) (session string)
	complete func(ops map[string]any, prefix, ns string) nrepl.Msg
	docs     func(ops map[string]any, sym, ns string) nrepl.Msg // nil: the editor sends nothing
	loadFile func(text, path string) nrepl.Msg
	evalKeys nrepl.Msg // sent with every buffer eval besides ns/file/line/column
}

var ciderPrint = nrepl.Msg{
	"nrepl.middleware.print/print":       "cider.nrepl.pprint/pprint",
	"nrepl.middleware.print/stream?":     "1",
	"nrepl.middleware.print/quota":       int64(1048576),
	"nrepl.middleware.print/buffer-size": int64(4096),
	"nrepl.middleware.print/options":     map[string]any{"right-margin": int64(80)},
}

func withKeys(m nrepl.Msg, extra nrepl.Msg) nrepl.Msg {
	m = m.Clone()
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func opsOf(t *testing.T, rs []nrepl.Msg) map[string]any {
	t.Helper()
	for _, r := range rs {
		if ops, ok := r["ops"].(map[string]any); ok {
			return ops
		}
	}
	t.Fatalf("describe answered no ops: %v", rs)
	return nil
}

func has(ops map[string]any, op string) bool { _, ok := ops[op]; return ok }

func checkDone(t *testing.T, what string, rs []nrepl.Msg) {
	t.Helper()
	if len(rs) == 0 || !rs[len(rs)-1].HasStatus("done") {
		t.Errorf("%s: no done: %v", what, rs)
	}
	for _, r := range rs {
		if e := r.Str("err"); e != "" {
			t.Errorf("%s: err %q (responses %v)", what, e, rs)
		}
	}
}

func values(rs []nrepl.Msg) []string {
	var out []string
	for _, r := range rs {
		if v, ok := r["value"].(string); ok {
			out = append(out, v)
		}
	}
	return out
}

// checkVersions is what CIDER reads from describe to decide what the REPL is
// (cider-runtime): scittle-nrepl makes the gateway a ClojureScript REPL.
func checkVersions(t *testing.T, tg target, rs []nrepl.Msg) {
	t.Helper()
	var versions map[string]any
	for _, r := range rs {
		if v, ok := r["versions"].(map[string]any); ok {
			versions = v
		}
	}
	want := []string{"nrepl", "clojure"}
	if tg.browser {
		want = []string{"nrepl", "scittle-nrepl", "sente"}
	}
	for _, k := range want {
		v, ok := versions[k].(map[string]any)
		if !ok || v["major"] == nil {
			t.Errorf("describe versions lack %s with major: %v", k, versions)
		}
	}
	wantRuntime := "clojure"
	if tg.browser {
		wantRuntime = "scittle" // which has the cljs capability: .cljs buffers
	}
	if got := ciderRuntime(versions); got != wantRuntime {
		t.Errorf("CIDER would take this REPL for %s, want %s: versions %v", got, wantRuntime, versions)
	}
}

// ciderRuntime is CIDER 2's cider-runtime (cider-session.el): the first of
// these version keys that describe has names the REPL; none makes it generic.
func ciderRuntime(versions map[string]any) string {
	for _, k := range []struct{ key, runtime string }{
		{"clojure", "clojure"}, {"babashka", "babashka"}, {"nbb-nrepl", "nbb"}, {"scittle-nrepl", "scittle"},
	} {
		if _, ok := versions[k.key]; ok {
			return k.runtime
		}
	}
	return "generic"
}

var profiles = []editorProfile{
	{
		name: "CIDER",
		connect: func(t *testing.T, w *wireConn, tg target) string {
			main := w.do(nrepl.Msg{"op": "clone", "client-name": "CIDER", "client-version": "2.0.1"})
			tooling := w.do(nrepl.Msg{"op": "clone", "client-name": "CIDER", "client-version": "2.0.1"})
			s := main[0].Str("new-session")
			if s == "" || tooling[0].Str("new-session") == "" {
				t.Fatalf("clone: %v %v", main, tooling)
			}
			d := w.do(nrepl.Msg{"op": "describe", "session": s})
			checkVersions(t, tg, d)
			init := w.do(withKeys(nrepl.Msg{"op": "eval", "session": s,
				"code":                     "(when-let [requires (resolve 'clojure.main/repl-requires)]\n  (clojure.core/apply clojure.core/require @requires))",
				"inhibit-cider-middleware": "true", "file": "*cider-repl*", "line": int64(1), "column": int64(1)}, ciderPrint))
			checkDone(t, "CIDER init eval", init)
			return s
		},
		complete: func(ops map[string]any, prefix, ns string) nrepl.Msg {
			if has(ops, "complete") {
				return nrepl.Msg{"op": "complete", "prefix": prefix, "ns": ns, "context": ":same", "sort-order": "by-name"}
			}
			return nrepl.Msg{"op": "completions", "prefix": prefix, "ns": ns}
		},
		docs: func(ops map[string]any, sym, ns string) nrepl.Msg {
			if has(ops, "info") {
				return nrepl.Msg{"op": "info", "sym": sym, "ns": ns}
			}
			return nrepl.Msg{"op": "lookup", "sym": sym, "ns": ns}
		},
		loadFile: func(text, path string) nrepl.Msg {
			return nrepl.Msg{"op": "load-file", "file": text, "file-path": path, "file-name": path[strings.LastIndex(path, "/")+1:]}
		},
		evalKeys: withKeys(ciderPrint, nrepl.Msg{"content-type": "text/plain"}),
	},
	{
		name: "Calva",
		connect: func(t *testing.T, w *wireConn, tg target) string {
			first := w.do(nrepl.Msg{"op": "eval", "code": "*ns*"})
			if len(first) == 0 || first[0].Str("ns") != "user" {
				t.Errorf("Calva's first eval: want a response with ns user first, got %v", first)
			}
			c := w.do(nrepl.Msg{"op": "clone"})
			s := c[0].Str("new-session")
			if s == "" {
				t.Fatalf("clone: %v", c)
			}
			checkVersions(t, tg, w.do(nrepl.Msg{"op": "describe", "verbose": "true", "session": s}))
			return s
		},
		complete: func(ops map[string]any, prefix, ns string) nrepl.Msg {
			if !has(ops, "complete") {
				return nil
			}
			return nrepl.Msg{"op": "complete", "symbol": prefix, "ns": ns, "context": ""}
		},
		docs: func(ops map[string]any, sym, ns string) nrepl.Msg {
			if !has(ops, "info") {
				return nil
			}
			return nrepl.Msg{"op": "info", "symbol": sym, "ns": ns}
		},
		loadFile: func(text, path string) nrepl.Msg {
			name := path[strings.LastIndex(path, "/")+1:]
			return nrepl.Msg{"op": "load-file", "file": text, "file-path": path, "file-name": name, "fileName": name, "filePath": path}
		},
		evalKeys: nrepl.Msg{"pprint": "false"},
	},
	{
		name:    "Conjure",
		uuidIDs: true,
		connect: func(t *testing.T, w *wireConn, tg target) string {
			checkVersions(t, tg, w.do(nrepl.Msg{"op": "describe"}))
			ls := w.do(nrepl.Msg{"op": "ls-sessions"})
			checkDone(t, "ls-sessions", ls)
			c := w.do(nrepl.Msg{"op": "clone", "client-name": "Conjure"})
			s := c[0].Str("new-session")
			if s == "" {
				t.Fatalf("clone: %v", c)
			}
			probe := w.do(nrepl.Msg{"op": "eval", "session": s, "code": "#?(:clj 'clj :cljs 'cljs :cljr 'cljr :default 'unknown)"})
			want := "clj"
			if tg.browser {
				want = "cljs"
			}
			if v := values(probe); !slices.Equal(v, []string{want}) {
				t.Errorf("Conjure's platform probe: values %v, want [%s]", v, want)
			}
			pre := w.do(nrepl.Msg{"op": "eval", "session": s,
				"code": "(ns conjure.internal)\n(defn bounded-conj [queue x limit] (->> x (conj queue) (take limit)))\n(def tap-queue! (atom nil))"})
			checkDone(t, "Conjure preamble", pre)
			return s
		},
		complete: func(ops map[string]any, prefix, ns string) nrepl.Msg {
			if has(ops, "complete") {
				return nrepl.Msg{"op": "complete", "symbol": prefix, "ns": ns, "extra-metadata": []any{"arglists", "doc"}}
			}
			return nrepl.Msg{"op": "completions", "prefix": prefix, "ns": ns}
		},
		docs: func(ops map[string]any, sym, ns string) nrepl.Msg {
			if has(ops, "info") {
				return nrepl.Msg{"op": "info", "symbol": sym, "ns": ns}
			}
			return nrepl.Msg{"op": "lookup", "sym": sym, "ns": ns}
		},
		loadFile: func(text, path string) nrepl.Msg {
			return nrepl.Msg{"op": "load-file", "file": text, "file-path": path, "file-name": path[strings.LastIndex(path, "/")+1:]}
		},
		evalKeys: nrepl.Msg{"nrepl.middleware.print/print": "conjure.internal/pprint"},
	},
}

// docsOf finds doc and arglists in an info (flat) or lookup ({"info" {…}}) answer.
func docsOf(rs []nrepl.Msg) (doc, arglists string) {
	for _, r := range rs {
		m := map[string]any(r)
		if inner, ok := r["info"].(map[string]any); ok {
			m = inner
		}
		if d, ok := m["doc"].(string); ok {
			doc = d
		}
		if a, ok := m["arglists-str"].(string); ok {
			arglists = a
		}
	}
	return doc, arglists
}

func candidates(rs []nrepl.Msg) []string {
	var out []string
	for _, r := range rs {
		l, _ := r["completions"].([]any)
		for _, c := range l {
			if m, ok := c.(map[string]any); ok {
				out = append(out, fmt.Sprint(m["candidate"]))
			}
		}
	}
	return out
}

// converse runs one editor's session against one target.
func converse(t *testing.T, tg target, ed editorProfile) {
	w := dialWire(t, tg.addr, ed.uuidIDs)
	s := ed.connect(t, w, tg)
	ops := opsOf(t, w.do(nrepl.Msg{"op": "describe", "session": s}))
	ns := "demo." + strings.ToLower(ed.name)
	file := "/tmp/" + strings.ToLower(ed.name) + "/demo.cljs"
	buffer := func(code string, line int) []nrepl.Msg {
		return w.do(withKeys(nrepl.Msg{"op": "eval", "session": s, "code": code, "ns": ns,
			"file": file, "line": int64(line), "column": int64(1)}, ed.evalKeys))
	}
	repl := func(code string) []nrepl.Msg {
		return w.do(nrepl.Msg{"op": "eval", "session": s, "code": code})
	}

	// The buffer's ns form, evaluated without ns, as CIDER and Conjure do first.
	rs := w.do(nrepl.Msg{"op": "eval", "session": s, "code": "(ns " + ns + ")"})
	checkDone(t, "ns form", rs)
	if got := rs[0].Str("ns"); got != ns {
		t.Errorf("after (ns %s): ns %q (%v)", ns, got, rs)
	}

	rs = buffer("(defn greet\n  \"Says hello.\"\n  [who]\n  (println \"hello\" who)\n  (str \"hi \" who))", 3)
	checkDone(t, "defn", rs)
	if v := values(rs); len(v) != 1 || v[0] != "#'"+ns+"/greet" {
		t.Errorf("defn: values %v", v)
	}

	// println reaches the editor as out, before the value.
	rs = buffer(`(greet "ada")`, 9)
	outAt, valAt := -1, -1
	for i, r := range rs {
		if strings.Contains(r.Str("out"), "hello ada") && outAt < 0 {
			outAt = i
		}
		if r.Str("value") == `"hi ada"` {
			valAt = i
		}
	}
	if outAt < 0 || valAt < 0 || outAt > valAt {
		t.Errorf("println: want out \"hello ada\" before value \"hi ada\": %v", rs)
	}
	if testutil.Joined(rs, "out") != "hello ada\n" {
		t.Errorf("println: out %q, want %q", testutil.Joined(rs, "out"), "hello ada\n")
	}

	// The session stays where the buffer eval left it; *1 follows its values.
	if v := values(repl("(str *ns*)")); !slices.Equal(v, []string{`"` + ns + `"`}) {
		t.Errorf("REPL eval after a buffer eval in %s: values %v", ns, v)
	}
	repl("(* 6 7)")
	if v := values(repl("*1")); !slices.Equal(v, []string{"42"}) {
		t.Errorf("*1: values %v, want [42]", v)
	}

	// One value per top-level form.
	if v := values(repl("(def x1 1) (def x2 2) (+ x1 x2)")); !slices.Equal(v, []string{"#'" + ns + "/x1", "#'" + ns + "/x2", "3"}) {
		t.Errorf("several forms: values %v", v)
	}

	// Errors: eval-error (what pops CIDER's error buffer), ex and root-ex, and
	// readable err text ending in a newline.
	rs = buffer(`(throw (ex-info "boom" {:code 7}))`, 12)
	st := statuses(rs)
	if !hasAll(st, "eval-error", "done") {
		t.Errorf("error: statuses %v, want eval-error and done: %v", st, rs)
	}
	var ex, rootEx string
	for _, r := range rs {
		if r.Str("ex") != "" {
			ex, rootEx = r.Str("ex"), r.Str("root-ex")
		}
	}
	if !strings.HasPrefix(ex, "class ") || !strings.Contains(ex, "ExceptionInfo") || !strings.HasPrefix(rootEx, "class ") {
		t.Errorf("error: ex %q root-ex %q", ex, rootEx)
	}
	errText := testutil.Joined(rs, "err")
	if !strings.Contains(errText, "boom") || !strings.HasSuffix(errText, "\n") || strings.HasPrefix(errText, `"`) || strings.Contains(errText, "#error") {
		t.Errorf("error: err %q is not readable text ending in a newline", errText)
	}
	if v := values(repl("(ex-message *e)")); !slices.Equal(v, []string{`"boom"`}) {
		t.Errorf("*e: (ex-message *e) values %v", v)
	}

	// load-file answers the last form's value.
	lf := ed.loadFile("(ns demo.loaded)\n(defn twice [x] (* 2 x))\n(twice 21)\n", "/tmp/demo/loaded.cljs")
	lf["session"] = s
	rs = w.do(lf)
	checkDone(t, "load-file", rs)
	if v := values(rs); !slices.Equal(v, []string{"42"}) {
		t.Errorf("load-file: values %v, want [42]", v)
	}

	// Completion: prefix matches, the buffer's own var among them.
	if req := ed.complete(ops, "gre", ns); req != nil {
		req["session"] = s
		rs = w.do(req)
		cs := candidates(rs)
		if !slices.Contains(cs, "greet") {
			t.Errorf("completion of gre: %v lacks greet (%v)", cs, rs)
		}
		for _, c := range cs {
			if !strings.HasPrefix(c, "gre") {
				t.Errorf("completion of gre: %q does not start with the prefix", c)
			}
		}
		rs = w.do(withKeys(req, nrepl.Msg{"prefix": "ad", "symbol": "ad"}))
		if cs := candidates(rs); len(cs) == 0 || !strings.HasPrefix(cs[0], "ad") {
			t.Errorf("completion of ad: %v", cs)
		}
	}

	// Docs: hover, K, cider-doc.
	if req := ed.docs(ops, "greet", ns); req != nil {
		req["session"] = s
		rs = w.do(req)
		doc, arglists := docsOf(rs)
		if doc != "Says hello." || !strings.Contains(arglists, "who") {
			t.Errorf("%s greet: doc %q arglists %q (%v)", req.Str("op"), doc, arglists, rs)
		}
	}
	if ed.name == "CIDER" && has(ops, "eldoc") {
		rs = w.do(nrepl.Msg{"op": "eldoc", "sym": "greet", "ns": ns, "session": s})
		if l, _ := rs[0]["eldoc"].([]any); len(l) != 1 || fmt.Sprint(l[0]) != "[who]" {
			t.Errorf("eldoc greet: %v", rs)
		}
	}

	// Interrupt: the evaluation ends at once with interrupted and done.
	busyID := w.nextID()
	w.write(nrepl.Msg{"op": "eval", "session": s, "code": tg.busy, "id": busyID})
	tg.busyStarted(t, w, busyID)
	irs := w.do(nrepl.Msg{"op": "interrupt", "session": s, "interrupt-id": busyID})
	checkDone(t, "interrupt", irs)
	brs := w.until(busyID, evalBound)
	if !hasAll(statuses(brs), "interrupted", "done") {
		t.Errorf("interrupted eval: statuses %v (%v), interrupt answered %v", statuses(brs), brs, irs)
	}

	// js/console.log during an evaluation reaches the editor too (the console
	// keeps it); the JVM has no console.
	if tg.browser {
		rs = repl(`(do (js/console.log "clog-marker" 1) 2)`)
		if testutil.Joined(rs, "out") != "clog-marker 1\n" || !slices.Equal(values(rs), []string{"2"}) {
			t.Errorf("console.log during an eval: out %q values %v", testutil.Joined(rs, "out"), values(rs))
		}
	}

	// Output printed after the evaluation ended (a timer, a future) reaches the
	// editor that evaluated.
	laterID := w.nextID()
	w.write(nrepl.Msg{"op": "eval", "session": s, "code": tg.later, "id": laterID})
	w.until(laterID, evalBound)
	if tg.laterWithNextEval {
		found := func() bool { return strings.Contains(testutil.Joined(repl(":poll"), "out"), "tick-marker") }
		if !testutil.Poll(context.Background(), evalBound, found) {
			t.Errorf("output printed after an evaluation never reached the editor with a later one")
		}
	} else if !w.waitOut(laterID, "tick-marker", evalBound) {
		t.Errorf("output printed after the evaluation did not reach the editor under id %s", laterID)
	}

	// A second session: its own ns and its own *1.
	c := w.do(nrepl.Msg{"op": "clone", "session": s})
	s2 := c[0].Str("new-session")
	if v := values(w.do(nrepl.Msg{"op": "eval", "session": s2, "code": "(str *ns*)"})); !slices.Equal(v, []string{`"user"`}) {
		t.Errorf("second session: ns %v, want user", v)
	}
	if v := values(w.do(nrepl.Msg{"op": "eval", "session": s2, "code": "*1"})); !slices.Equal(v, []string{`"user"`}) {
		t.Errorf("second session: *1 %v, want its own last value", v)
	}
	if v := values(repl("(str *ns*)")); !slices.Equal(v, []string{`"` + ns + `"`}) {
		t.Errorf("first session after the second evaluated: ns %v", v)
	}

	// A request without id is answered without one.
	w.write(nrepl.Msg{"op": "eval", "code": "(+ 1 1)", "session": s})
	for _, r := range w.until("", evalBound) {
		if _, ok := r["id"]; ok {
			t.Errorf("request without id answered with id: %v", r)
		}
	}
}

func TestEditorConversations(t *testing.T) {
	jvmPort := peers.StartJVMNREPLServer(t)
	g := startGateway(t, nil)
	b := peers.StartBrowser(t)
	targets := []struct {
		tg   target
		page string
	}{
		{target{name: "jvm", addr: "127.0.0.1:" + strconv.Itoa(jvmPort),
			busy: `(do (println "busy-started") (Thread/sleep 30000))`, busyStarted: jvmBusyStarted,
			later: `(future (Thread/sleep 100) (println "tick-marker"))`}, ""},
		{target{name: "sente-page", addr: g.NREPLAddr().String(), browser: true,
			busy: browserBusy, busyStarted: g.browserBusyStarted, later: browserLater}, "/"},
		{target{name: "stock-page", addr: g.NREPLAddr().String(), browser: true,
			busy: browserBusy, busyStarted: g.browserBusyStarted, later: browserLater, laterWithNextEval: true}, "/stock"},
	}
	for _, tc := range targets {
		t.Run(tc.tg.name, func(t *testing.T) {
			if tc.page != "" {
				p := openRuntimePage(t, b, g, tc.page)
				t.Cleanup(func() {
					_ = p.Close(ctxFor(t, 10*time.Second))
					g.WaitRuntimes(t, 0)
				})
			}
			for _, ed := range profiles {
				t.Run(ed.name, func(t *testing.T) { converse(t, tc.tg, ed) })
			}
		})
	}
}

const browserLater = `(js/setTimeout (fn [] (println "tick-marker")) 100)`

// jvmBusyStarted waits for the line the JVM's busy code prints before it
// sleeps: nREPL sends output while the evaluation runs.
func jvmBusyStarted(t *testing.T, w *wireConn, id string) {
	t.Helper()
	if !w.waitOut(id, "busy-started", evalBound) {
		t.Fatalf("the busy evaluation %s printed nothing within %v", id, evalBound)
	}
}

// browserBusyStarted waits until the gateway has handed the busy evaluation to
// the page (it is pending there); the page cannot say so itself while it spins.
func (g *gw) browserBusyStarted(t *testing.T, _ *wireConn, _ string) {
	t.Helper()
	g.waitPending(t, 1)
}

// browserBusy spins for a second and a half: long enough to interrupt, short
// enough that the page is usable again soon (JavaScript cannot be stopped).
const browserBusy = "(let [end (+ (js/Date.now) 1500)] (while (< (js/Date.now) end)) :spun)"

// TestSessionsAcrossPageReloadAndEditorExit: a session whose namespace the page
// lost by reloading evaluates in user again (not namespace-not-found), and an
// editor that leaves while its page keeps printing costs the others nothing.
func TestSessionsAcrossPageReloadAndEditorExit(t *testing.T) {
	g := startGateway(t, nil)
	b := peers.StartBrowser(t)
	for _, path := range []string{"/", "/stock"} {
		t.Run(path, func(t *testing.T) {
			p := openRuntimePage(t, b, g, path)
			t.Cleanup(func() {
				_ = p.Close(ctxFor(t, 10*time.Second))
				g.WaitRuntimes(t, 0)
			})
			w := dialWire(t, g.NREPLAddr().String(), false)
			s := w.do(nrepl.Msg{"op": "clone"})[0].Str("new-session")
			w.do(nrepl.Msg{"op": "eval", "session": s, "code": "(ns reload.me) (def kept 1)"})

			// The editor that leaves: its page prints every 20 ms from a timer.
			leaver := dialWire(t, g.NREPLAddr().String(), false)
			ls := leaver.do(nrepl.Msg{"op": "clone"})[0].Str("new-session")
			leaver.do(nrepl.Msg{"op": "eval", "session": ls,
				"code": `(def ticker (js/setInterval (fn [] (println "tick")) 20))`})
			leaver.conn.Close()
			if v := values(w.do(nrepl.Msg{"op": "eval", "session": s, "code": "(+ kept 1)"})); !slices.Equal(v, []string{"2"}) {
				t.Errorf("after another editor left: values %v", v)
			}
			w.do(nrepl.Msg{"op": "eval", "session": s, "code": "(js/clearInterval user/ticker)"})

			before := g.Runtimes(t)
			if _, err := p.Eval(ctxFor(t, evalBound), "setTimeout(function () { location.reload(); }, 0)"); err != nil {
				t.Fatal(err)
			}
			var now []gateway.RuntimeInfo
			if !testutil.Poll(context.Background(), pageReady, func() bool {
				now = g.Runtimes(t)
				return len(now) == 1 && len(before) == 1 && now[0].ID != before[0].ID
			}) {
				t.Fatalf("the reloaded page did not come back as a new runtime: %v", now)
			}
			rs := w.do(nrepl.Msg{"op": "eval", "session": s, "code": "(str *ns*)"})
			if v := values(rs); !slices.Equal(v, []string{`"user"`}) {
				t.Errorf("after a reload the session evaluates in %v, want user: %v", v, rs)
			}
			// A request naming the lost ns is answered as the JVM would.
			rs = w.do(nrepl.Msg{"op": "eval", "session": s, "code": "1", "ns": "reload.me"})
			if !slices.Contains(statuses(rs), "namespace-not-found") {
				t.Errorf("eval naming the lost ns: %v", rs)
			}
		})
	}
}

// TestTerminalShowsOutputAndErrors: what sente repl and sente eval print
// (repl.Printer) for output, values and an error from a real page: the
// output, each value on its line, and the error as readable text.
func TestTerminalShowsOutputAndErrors(t *testing.T) {
	g := startGateway(t, nil)
	b := peers.StartBrowser(t)
	for _, path := range []string{"/", "/stock"} {
		t.Run(path, func(t *testing.T) {
			p := openRuntimePage(t, b, g, path)
			t.Cleanup(func() {
				_ = p.Close(ctxFor(t, 10*time.Second))
				g.WaitRuntimes(t, 0)
			})
			c := g.Editor(t)
			var out, errOut strings.Builder
			pr := &repl.Printer{Out: &out, Err: &errOut}
			_, res, err := c.EvalStream(ctxFor(t, evalBound), "",
				`(println "hi") (print "no newline") 42 (throw (ex-info "boom" {:a 1}))`, nil, pr.Print)
			if err != nil {
				t.Fatal(err)
			}
			pr.Finish(res)
			// One value per form, each after the output its form printed.
			if want := "hi\nnil\nno newline\nnil\n42\n"; out.String() != want {
				t.Errorf("stdout %q, want %q", out.String(), want)
			}
			if want := "Execution error (ExceptionInfo) at user (REPL:1).\nboom\n{:a 1}\n"; errOut.String() != want {
				t.Errorf("stderr %q, want %q", errOut.String(), want)
			}
		})
	}
}
