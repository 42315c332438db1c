package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sente-clj/sente/gateway"
	"github.com/sente-clj/sente/internal/peers"
	"github.com/sente-clj/sente/internal/testutil"
	"github.com/sente-clj/sente/nrepl"
)

// TestScittleInChromium drives one headless Chromium for every check that needs a
// browser runtime. Each group below has its own gateway and its own tab, because a
// gateway sends requests to its newest runtime and Scittle keeps one current
// namespace per page; the groups run in parallel.
func TestScittleInChromium(t *testing.T) {
	b := peers.StartBrowser(t)
	// Both kinds of runtime get the whole suite: the gateway's own page (the
	// sente-lite client with scittle.nrepl.js behind it, on /chsk) and the stock
	// page (scittle.nrepl.js on its own socket, /_nrepl).
	for _, page := range []struct{ name, path string }{
		{"sente-lite page", "/"},
		{"stock page", "/stock"},
	} {
		t.Run(page.name, func(t *testing.T) {
			t.Parallel()
			t.Run("shared page", func(t *testing.T) {
				t.Parallel()
				g := startGateway(t, nil)
				p := openRuntimePage(t, b, g, page.path)
				t.Run("evaluations", func(t *testing.T) { testEvaluations(t, g, p) })
				t.Run("complete", func(t *testing.T) { testComplete(t, g) })
				t.Run("load-file", func(t *testing.T) { testLoadFile(t, g) })
				t.Run("info", func(t *testing.T) { testInfo(t, g) })
				t.Run("large messages", func(t *testing.T) { testLargeMessages(t, g) })
				t.Run("interrupt", func(t *testing.T) { testInterrupt(t, g) })
				t.Run("unknown op", func(t *testing.T) { testUnknownOp(t, g) })
				t.Run("JVM client and colliding ids", func(t *testing.T) { testJVMAndCollidingIDs(t, g, p) })
			})
			t.Run("ns persists across evals", func(t *testing.T) {
				t.Parallel()
				testNSPersists(t, b, page.path)
			})
			t.Run("page closed mid-eval", func(t *testing.T) {
				t.Parallel()
				testRuntimeLeavesMidEval(t, b, page.path, "close")
			})
			t.Run("tab crashed mid-eval", func(t *testing.T) {
				t.Parallel()
				testRuntimeLeavesMidEval(t, b, page.path, "crash")
			})
		})
	}
	t.Run("foreign origin", func(t *testing.T) {
		t.Parallel()
		testForeignOrigin(t, b)
	})
}

// testEvaluations: values, errors and several forms in one eval, from the Go
// client, in a cloned session whose id every response carries back.
func testEvaluations(t *testing.T, g *gw, p *peers.Page) {
	c := g.Editor(t)
	session, err := c.Clone(ctxFor(t, evalBound))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, code string
		values     []string // exactly these values
		errHas     string   // err contains this ("" = no err at all)
		status     []string // status includes these
	}{
		{name: "value", code: "(+ 1 2)", values: []string{"3"}, status: []string{"done"}},
		{name: "string value is pr-str", code: `(str "x" 1)`, values: []string{`"x1"`}, status: []string{"done"}},
		{name: "map value", code: `{:a [1 2]}`, values: []string{"{:a [1 2]}"}, status: []string{"done"}},
		{name: "nil", code: "nil", values: []string{"nil"}, status: []string{"done"}},
		{name: "non-ASCII and escapes", code: `(str "h\u00e9llo ☃ 😀 \"q\" \\ \n")`, values: []string{`"héllo ☃ 😀 \"q\" \\ \n"`}, status: []string{"done"}},
		// Errors as the JVM nREPL answers them: status eval-error (no "error").
		{name: "ex-info", code: `(throw (ex-info "boom" {:k 1}))`, errHas: "boom", status: []string{"eval-error", "done"}},
		{name: "unresolved symbol", code: "(nil-fn)", errHas: "nil-fn", status: []string{"eval-error", "done"}},
		{name: "reader error", code: "(+ 1", errHas: "EOF", status: []string{"eval-error", "done"}},
		// One value per top-level form, as on the JVM.
		{name: "several forms", code: "(def a 1) (def b 2) (+ a b)", values: []string{"#'user/a", "#'user/b", "3"}, status: []string{"done"}},
		{name: "defs persist", code: "(* 10 (+ a b))", values: []string{"30"}, status: []string{"done"}},
		// A returned promise is awaited and printed as #<Promise value>.
		{name: "promise", code: "(js/Promise.resolve 5)", values: []string{"#<Promise 5>"}, status: []string{"done"}},
		{name: "rejected promise", code: `(js/Promise.reject (js/Error. "nope"))`, errHas: "nope", status: []string{"eval-error", "done"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			res := eval(t, c, session, tc.code, nil)
			t.Logf("%s -> %v in %v", tc.code, res.Responses, time.Since(start).Round(time.Millisecond))
			if !slices.Equal(res.Values, tc.values) {
				t.Errorf("values = %q, want %q", res.Values, tc.values)
			}
			if tc.errHas == "" && res.Err != "" {
				t.Errorf("unexpected err %q", res.Err)
			}
			if tc.errHas != "" && !strings.Contains(res.Err, tc.errHas) {
				t.Errorf("err = %q, want it to contain %q", res.Err, tc.errHas)
			}
			if !hasAll(res.Status, tc.status...) {
				t.Errorf("status = %q, want it to include %q", res.Status, tc.status)
			}
			if tc.errHas == "" && slices.Contains(res.Status, "error") {
				t.Errorf("status %q has error", res.Status)
			}
			for _, r := range res.Responses {
				if r.Str("session") != session {
					t.Errorf("response %v does not carry session %s", r, session)
				}
			}
			if last := res.Responses[len(res.Responses)-1]; !last.HasStatus("done") {
				t.Errorf("last response %v is not done", last)
			}
		})
	}

	// println runs in the browser: its text reaches the editor as out (through
	// the gateway's sente.repl helper) and the browser console still shows it.
	t.Run("println goes to the editor and the browser console", func(t *testing.T) {
		res := eval(t, c, session, `(do (println "e2e-println-marker") 42)`, nil)
		if !slices.Equal(res.Values, []string{"42"}) || res.Out != "e2e-println-marker\n" {
			t.Errorf("values %q out %q, want [42] and the printed line", res.Values, res.Out)
		}
		waitConsole(t, p, "e2e-println-marker")
	})
}

func waitConsole(t *testing.T, p *peers.Page, want string) {
	t.Helper()
	if !testutil.Poll(context.Background(), evalBound, func() bool {
		return slices.ContainsFunc(p.Console(), func(line string) bool { return strings.Contains(line, want) })
	}) {
		t.Fatalf("browser console has no %q:\n%s", want, strings.Join(p.Console(), "\n"))
	}
}

// testComplete: the complete op reaches Scittle and its candidates come back.
func testComplete(t *testing.T, g *gw) {
	c := g.Editor(t)
	start := time.Now()
	got, err := c.Complete(ctxFor(t, evalBound), "", "ma", "user")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, cm := range got {
		names = append(names, cm.Candidate)
	}
	t.Logf("complete ma: %d candidates in %v, first %q", len(names), time.Since(start).Round(time.Millisecond), names[:min(len(names), 12)])
	if !slices.Contains(names, "map") {
		t.Fatalf("candidates for ma lack map: %q", names)
	}
	for _, cm := range got {
		if cm.Candidate == "map" && cm.NS != "clojure.core" {
			t.Errorf("map's ns = %q, want clojure.core", cm.NS)
		}
	}

	// The reference nrepl key is "prefix"; "symbol" alone is what some editors
	// send. Both must reach the runtime as a query.
	for _, key := range []string{"prefix", "symbol"} {
		rs := testutil.Collect(t, c, nrepl.Msg{"op": "complete", key: "mapc", "ns": "user"}, evalBound)
		found := false
		for _, r := range rs {
			list, _ := r["completions"].([]any)
			for _, e := range list {
				if d, ok := e.(map[string]any); ok && d["candidate"] == "mapcat" {
					found = true
				}
			}
		}
		if !found || !hasAll(statuses(rs), "done") {
			t.Errorf("complete with only %q=mapc: no mapcat / done: %v", key, rs)
		}
	}
}

// testLoadFile: load-file is turned into an eval of the file's text by the gateway
// (Scittle has no load-file op); the fn it defines can then be called.
func testLoadFile(t *testing.T, g *gw) {
	c := g.Editor(t)
	file := "(ns user)\n(defn e2e-twice [x] (* 2 x))\n(defn e2e-greet [s] (str \"hello \" s))\n"
	rs := testutil.Collect(t, c, nrepl.Msg{"op": "load-file", "id": "lf-1", "file": file,
		"file-path": "/tmp/e2e/user.cljs", "file-name": "user.cljs"}, evalBound)
	t.Logf("load-file -> %v", rs)
	if st := statuses(rs); !slices.Contains(st, "done") || slices.Contains(st, "error") {
		t.Fatalf("load-file status %q: %v", st, rs)
	}
	if v := testutil.Joined(rs, "value"); v != "#'user/e2e-greet" {
		t.Errorf("load-file value = %q, want the last form's var #'user/e2e-greet", v)
	}
	for _, r := range rs {
		if r.Str("id") != "lf-1" {
			t.Errorf("response %v lacks id lf-1", r)
		}
	}
	res := eval(t, c, "", `[(e2e-twice 21) (e2e-greet "e2e")]`, nil)
	if !slices.Equal(res.Values, []string{`[42 "hello e2e"]`}) {
		t.Errorf("calling loaded fns: %v", res.Responses)
	}

	// A file that fails to load ends in err + done, not in silence.
	rs = testutil.Collect(t, c, nrepl.Msg{"op": "load-file", "file": "(defn broken [] (undefined-thing))"}, evalBound)
	if st := statuses(rs); !hasAll(st, "eval-error", "done") || !strings.Contains(testutil.Joined(rs, "err"), "undefined-thing") {
		t.Errorf("broken load-file: %v", rs)
	}
}

// testNSPersists: (ns my.app) in one eval stays the namespace of the next evals,
// and responses report it in :ns.
func testNSPersists(t *testing.T, b *peers.Browser, path string) {
	g := startGateway(t, nil)
	openRuntimePage(t, b, g, path)
	c := g.Editor(t)
	session, err := c.Clone(ctxFor(t, evalBound))
	if err != nil {
		t.Fatal(err)
	}
	if res := eval(t, c, session, "(str *ns*)", nil); res.NS != "user" || !slices.Equal(res.Values, []string{`"user"`}) {
		t.Fatalf("fresh page: %v, want ns user", res.Responses)
	}
	res := eval(t, c, session, "(ns my.app)", nil)
	if res.NS != "my.app" || !slices.Equal(res.Values, []string{"nil"}) {
		t.Fatalf("(ns my.app): %v, want value nil and ns my.app", res.Responses)
	}
	for _, tc := range []struct{ code, want string }{
		{"(str *ns*)", `"my.app"`},
		{"(namespace ::x)", `"my.app"`},
		{"(def here 1) (str (symbol (resolve 'here)))", `"my.app/here"`},
	} {
		res := eval(t, c, session, tc.code, nil)
		if len(res.Values) == 0 || res.Values[len(res.Values)-1] != tc.want || res.NS != "my.app" {
			t.Errorf("%s: %v, want value %s and ns my.app", tc.code, res.Responses, tc.want)
		}
		for _, r := range res.Responses {
			if r.Str("ns") != "my.app" {
				t.Errorf("%s: response %v has ns %q, want my.app", tc.code, r, r.Str("ns"))
			}
		}
	}

	// Scittle keeps one current namespace per page, so another editor connection
	// sees my.app too.
	other := g.Editor(t)
	res = eval(t, other, "", "(str *ns*)", nil)
	t.Logf("a second editor connection evaluates in %v (ns %q)", res.Values, res.NS)

	// Scittle ignores an eval's :ns; the gateway switches to it first, as editors
	// expect when they send the buffer's namespace with every eval.
	if res := eval(t, c, session, "(str *ns*)", nrepl.Msg{"ns": "user"}); !slices.Equal(res.Values, []string{`"user"`}) || res.NS != "user" {
		t.Errorf("eval with :ns user: %v", res.Responses)
	}
	if res := eval(t, c, session, "(defn in-app [] :yes) (str *ns*)", nrepl.Msg{"ns": "my.app"}); !slices.Equal(res.Values, []string{"#'my.app/in-app", `"my.app"`}) {
		t.Errorf("eval with :ns my.app: %v", res.Responses)
	}
	if res := eval(t, c, session, "(my.app/in-app)", nrepl.Msg{"ns": "user"}); !slices.Equal(res.Values, []string{":yes"}) {
		t.Errorf("the fn defined under :ns my.app is not my.app/in-app: %v", res.Responses)
	}
	// A namespace the runtime does not know (yet) is answered as the JVM nREPL
	// answers it: namespace-not-found, nothing evaluated.
	if res := eval(t, c, session, "(str *ns*)", nrepl.Msg{"ns": "not.yet.loaded"}); len(res.Values) != 0 || !hasAll(res.Status, "namespace-not-found", "error", "done") {
		t.Errorf("eval with an absent :ns: %v", res.Responses)
	}

	// Switching back works the same way.
	if res := eval(t, c, session, "(ns user) (str *ns*)", nil); res.NS != "user" || !slices.Equal(res.Values, []string{"nil", `"user"`}) {
		t.Errorf("(ns user): %v", res.Responses)
	}
}

// testRuntimeLeavesMidEval: a request the runtime is still working on when its tab
// closes (how == "close") or its renderer crashes (how == "crash") ends with err
// and done for the editor, promptly.
func testRuntimeLeavesMidEval(t *testing.T, b *peers.Browser, path, how string) {
	// The eval sent after the page left waits (--runtime-wait) for the tab
	// opened next, which on a busy machine takes as long as any page: up to
	// pageReady, not the harness's 10 s.
	g := startGateway(t, func(c *gateway.Config) { c.RuntimeWait = pageReady })
	p := openRuntimePage(t, b, g, path)
	c := g.Editor(t)
	if res := eval(t, c, "", "(+ 1 2)", nil); !slices.Equal(res.Values, []string{"3"}) {
		t.Fatalf("warm-up eval: %v", res.Responses)
	}

	// A promise that never settles: scittle.nrepl.js answers a promise when it
	// settles, so this request stays pending in the page.
	ctx := ctxFor(t, 2*time.Minute)
	_, ch, err := c.Send(ctx, nrepl.Msg{"op": "eval", "id": "pending-1", "code": "(js/Promise. (fn [_ _]))"})
	if err != nil {
		t.Fatal(err)
	}
	// The page holds it when it leaves (it must end below with
	// runtime-gone, not a value).
	g.waitPending(t, 1)

	start := time.Now()
	actx, cancel := context.WithTimeout(context.Background(), goneBound)
	defer cancel()
	switch how {
	case "close":
		err = p.Close(actx)
	case "crash":
		err = b.Crash(actx, p)
	}
	if err != nil {
		t.Fatalf("%s the page: %v", how, err)
	}
	acted := time.Since(start)

	var rs []nrepl.Msg
	timeout := time.After(goneBound)
wait:
	for {
		select {
		case r, ok := <-ch:
			if !ok {
				break wait
			}
			rs = append(rs, r)
		case <-timeout:
			t.Fatalf("no done %v after the page %s (responses so far %v); the gateway pings every 30s and waits 75s for a pong",
				goneBound, how, rs)
		}
	}
	took := time.Since(start)
	t.Logf("page %s took %v; the editor had done %v after it began: %v", how, acted.Round(time.Millisecond), took.Round(time.Millisecond), rs)
	if len(rs) == 0 || !rs[len(rs)-1].HasStatus("done") {
		t.Fatalf("responses end without done: %v", rs)
	}
	if st := statuses(rs); !hasAll(st, "done", "error", "runtime-gone") {
		t.Errorf("status %q, want done, error, runtime-gone", st)
	}
	if e := testutil.Joined(rs, "err"); !strings.Contains(e, "disconnected before answering") {
		t.Errorf("err %q does not say the runtime left", e)
	}
	for _, r := range rs {
		if r.Str("id") != "pending-1" {
			t.Errorf("response %v lacks the editor's id pending-1", r)
		}
	}
	g.WaitRuntimes(t, 0)
	g.Logs.WaitFor(t, "runtime disconnected", goneBound)

	// With the runtime gone, the next request waits for a new one and gets it:
	// a reloaded tab picks up where the editor left off.
	again := make(chan nrepl.EvalResult, 1)
	actx2 := ctxFor(t, pageReady)
	go func() {
		res, _ := c.Eval(actx2, "", "(+ 2 3)", nil)
		again <- res
	}()
	openRuntimePage(t, b, g, path)
	select {
	case res := <-again:
		if !slices.Equal(res.Values, []string{"5"}) {
			t.Errorf("eval after a new tab connected: %v", res.Responses)
		}
	case <-time.After(pageReady):
		t.Fatal("eval waiting for a runtime was not answered by the new tab")
	}
}

// testInfo: info, eldoc and lookup are answered from var metadata through the
// gateway's sente.repl helper, in nREPL's shapes: info flat, eldoc as lists of
// argument names, lookup under "info". Scittle 0.8.33's core vars carry no
// metadata, so for clojure.core's map only its name and namespace are known.
func testInfo(t *testing.T, g *gw) {
	c := g.Editor(t)
	eval(t, c, "", `(defn e2e-documented "Doc here." [x y] x)`, nil)
	for _, op := range []string{"info", "eldoc", "lookup"} {
		rs := testutil.Collect(t, c, nrepl.Msg{"op": op, "sym": "e2e-documented", "ns": "user"}, evalBound)
		t.Logf("%s e2e-documented -> %v", op, rs)
		if st := statuses(rs); !slices.Equal(st, []string{"done"}) {
			t.Errorf("%s: status %q, want [done]", op, st)
		}
		m := map[string]any(rs[0])
		if inner, ok := m["info"].(map[string]any); ok && op == "lookup" {
			m = inner
		}
		name, _ := m["name"].(string)
		doc, _ := m["doc"].(string)
		args, _ := m["arglists-str"].(string)
		if op == "eldoc" {
			doc, _ = m["docstring"].(string)
			args = fmt.Sprint(m["eldoc"])
		}
		if name != "e2e-documented" || doc != "Doc here." || (args != "([x y])" && args != "[[x y]]") {
			t.Errorf("%s: want name, doc and arglists of e2e-documented: %v", op, rs)
		}
		rs = testutil.Collect(t, c, nrepl.Msg{"op": op, "sym": "map", "ns": "user"}, evalBound)
		if st := statuses(rs); !slices.Contains(st, "done") || !strings.Contains(fmt.Sprint(rs), "clojure.core") {
			t.Errorf("%s map: want done and namespace clojure.core: %v", op, rs)
		}
	}
}

// testLargeMessages: a 200 KB request and a 200 KB value cross both hops intact.
func testLargeMessages(t *testing.T, g *gw) {
	c := g.Editor(t)
	big := strings.Repeat("x", 200_000)
	if res := eval(t, c, "", `(count "`+big+`")`, nil); !slices.Equal(res.Values, []string{"200000"}) {
		t.Errorf("count of a 200000-char literal: %v", res.Values)
	}
	res := eval(t, c, "", `(apply str (repeat 200000 "x"))`, nil)
	if len(res.Values) != 1 || res.Values[0] != `"`+big+`"` {
		t.Errorf("a 200000-char value came back as %d values of lengths %v", len(res.Values), lengths(res.Values))
	}
}

func lengths(ss []string) []int {
	var out []int
	for _, s := range ss {
		out = append(out, len(s))
	}
	return out
}

// testInterrupt: a request the browser will never answer (a promise that never
// settles) is ended by interrupt, and the runtime keeps serving.
func testInterrupt(t *testing.T, g *gw) {
	c := g.Editor(t)
	session, err := c.Clone(ctxFor(t, evalBound))
	if err != nil {
		t.Fatal(err)
	}
	_, ch, err := c.Send(ctxFor(t, evalBound), nrepl.Msg{"op": "eval", "id": "never", "session": session, "code": "(js/Promise. (fn [_ _]))"})
	if err != nil {
		t.Fatal(err)
	}
	// The page holds it, unanswered, when the interrupt comes.
	g.waitPending(t, 1)
	reply, err := c.Interrupt(ctxFor(t, evalBound), session, "never")
	if err != nil {
		t.Fatal(err)
	}
	if !reply.HasStatus("done") || !reply.HasStatus("interrupted") {
		t.Errorf("interrupt reply %v", reply)
	}
	var rs []nrepl.Msg
	for r := range ch {
		rs = append(rs, r)
	}
	if st := statuses(rs); !hasAll(st, "interrupted", "done") || slices.ContainsFunc(rs, func(r nrepl.Msg) bool { _, ok := r["value"]; return ok }) {
		t.Errorf("interrupted request ended with %v", rs)
	}
	if res := eval(t, c, session, "(+ 40 2)", nil); !slices.Equal(res.Values, []string{"42"}) {
		t.Errorf("eval after interrupt: %v", res.Responses)
	}
}

// testUnknownOp: the nREPL protocol says an unknown op ends in done with status
// ["done" "error" "unknown-op"]. The gateway forwards ops it does not know to the
// runtime, and stock Scittle answers them with {:err "unknown-op" :status ["error"
// "done"]} merged into a copy of the request, so the gateway has to supply the
// unknown-op status itself.
func testUnknownOp(t *testing.T, g *gw) {
	c := g.Editor(t)
	rs := testutil.Collect(t, c, nrepl.Msg{"op": "e2e-frobnicate", "id": "u1"}, evalBound)
	t.Logf("unknown op -> %v", rs)
	if st := statuses(rs); !hasAll(st, "done", "error", "unknown-op") {
		t.Errorf("unknown op ended with status %q, want done, error and unknown-op, as the nREPL protocol has it", st)
	}
	for _, r := range rs {
		if r.Str("id") != "u1" {
			t.Errorf("response %v lacks id u1", r)
		}
	}
}
