package gateway

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"olympos.io/encoding/edn"

	"github.com/sente-clj/sente/internal/testutil"
	"github.com/sente-clj/sente/nrepl"
	"github.com/sente-clj/sente/wire"
)

// fakeHelper is a runtime that runs a stand-in for sente.repl: it answers the
// helper's installation, and each (sente.repl/run sid ns code …) from a tiny
// script: "boom" throws, (println "x") prints, (ns x) switches, anything else
// is its own value, prefixed with the namespace it ran in. What e2e checks
// with Scittle in Chromium, this checks fast for the gateway's part alone.
type fakeHelper struct {
	mu   sync.Mutex
	seen []string // the helper calls, as sent
}

func (f *fakeHelper) handle(req nrepl.Msg) []nrepl.Msg {
	code := req.Str("code")
	done := nrepl.Msg{"status": []any{"done"}}
	if strings.Contains(code, "(ns sente.repl)") {
		return []nrepl.Msg{{"value": helperMarker}, done}
	}
	f.mu.Lock()
	f.seen = append(f.seen, code)
	f.mu.Unlock()
	v, err := wire.Parse([]byte(code), wire.DefaultLimits())
	call, ok := v.([]any)
	if err != nil || !ok || len(call) < 3 {
		return []nrepl.Msg{{"err": "fake: not a helper call"}, {"status": []any{"done", "error"}}}
	}
	arg := func(i int) string { s, _ := call[i].(string); return s }
	var answer string
	switch call[0] {
	case edn.Symbol("sente.repl/run"):
		ns, form := arg(2), arg(3)
		if ns == "nope" && len(call) > 7 && call[7] == "user" {
			ns = "user" // the session's ns, which this page does not know
		}
		switch {
		case ns == "nope":
			answer = `{:no-ns true}`
		case form == "boom":
			answer = fmt.Sprintf(`{:err "Execution error (ExceptionInfo) at %s (REPL:1).\nboom\n" :ex "class cljs.core/ExceptionInfo" :root-ex "class cljs.core/ExceptionInfo" :ns %q :out ""}`, ns, ns)
		case strings.HasPrefix(form, "(println "):
			answer = fmt.Sprintf(`{:value "nil" :ns %q :out "hi\n"}`, ns)
		case strings.HasPrefix(form, "(ns "):
			next := strings.TrimSuffix(strings.TrimPrefix(form, "(ns "), ")")
			answer = fmt.Sprintf(`{:value "nil" :ns %q :out ""}`, next)
		default:
			answer = fmt.Sprintf(`{:value %q :ns %q :out ""}`, ns+":"+form, ns)
		}
	case edn.Symbol("sente.repl/info"):
		if arg(2) == "greet" {
			answer = `{:ns "user" :name "greet" :doc "Says hello." :arglists-str "([who])" :eldoc [["who"]] :type "function"}`
		} else {
			answer = "nil"
		}
	case edn.Symbol("sente.repl/complete"):
		answer = fmt.Sprintf(`[{:candidate "greet" :ns "user" :type "function"} {:candidate %q :type "namespace"}]`, arg(2)+"-prefix")
	default:
		answer = "nil"
	}
	return []nrepl.Msg{{"value": answer, "ns": "user"}, done}
}

func TestJobsThroughTheHelper(t *testing.T) {
	type step struct {
		req   nrepl.Msg
		check func(t *testing.T, rs []nrepl.Msg)
	}
	valuesOf := func(rs []nrepl.Msg) []string {
		var v []string
		for _, r := range rs {
			if s, ok := r["value"].(string); ok {
				v = append(v, s)
			}
		}
		return v
	}
	wantValues := func(want ...string) func(t *testing.T, rs []nrepl.Msg) {
		return func(t *testing.T, rs []nrepl.Msg) {
			t.Helper()
			if got := valuesOf(rs); !slices.Equal(got, want) {
				t.Errorf("values %q, want %q: %v", got, want, rs)
			}
		}
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"one value per top-level form", []step{
			{nrepl.Msg{"op": "eval", "code": "(def a 1) (+ a 2)\n:k"}, wantValues("user:(def a 1)", "user:(+ a 2)", "user::k")},
		}},
		{"output before its value", []step{
			{nrepl.Msg{"op": "eval", "code": `(println "hi") 5`}, func(t *testing.T, rs []nrepl.Msg) {
				if len(rs) < 3 || rs[0].Str("out") != "hi\n" || rs[1].Str("value") != "nil" || rs[2].Str("value") != "user:5" {
					t.Errorf("want out, its value, the next value: %v", rs)
				}
			}},
		}},
		{"errors as on the JVM, the next form still runs", []step{
			{nrepl.Msg{"op": "eval", "code": "boom 7"}, func(t *testing.T, rs []nrepl.Msg) {
				if !strings.HasSuffix(testutil.Joined(rs, "err"), "boom\n") || !slices.Contains(testutil.Statuses(rs), "eval-error") || slices.Contains(testutil.Statuses(rs), "error") {
					t.Errorf("want err text and eval-error: %v", rs)
				}
				if rs[1].Str("ex") != "class cljs.core/ExceptionInfo" || rs[1].Str("root-ex") == "" {
					t.Errorf("want ex and root-ex with eval-error: %v", rs[1])
				}
				if got := valuesOf(rs); !slices.Equal(got, []string{"user:7"}) {
					t.Errorf("values %q after the error", got)
				}
			}},
		}},
		{"the session keeps its namespace", []step{
			{nrepl.Msg{"op": "eval", "code": "(ns my.app)"}, wantValues("nil")},
			{nrepl.Msg{"op": "eval", "code": "x"}, wantValues("my.app:x")},
			{nrepl.Msg{"op": "eval", "code": "y", "ns": "other"}, wantValues("other:y")},
			{nrepl.Msg{"op": "eval", "code": "z"}, wantValues("other:z")},
			// load-file runs in the session's ns and answers only the last value.
			{nrepl.Msg{"op": "load-file", "file": "(ns loaded) w", "file-path": "/tmp/l.cljs"}, wantValues("loaded:w")},
			{nrepl.Msg{"op": "eval", "code": "v"}, wantValues("other:v")},
		}},
		{"a session's ns the page lost (reloaded) falls back to user", []step{
			{nrepl.Msg{"op": "eval", "code": "(ns nope)"}, wantValues("nil")},
			{nrepl.Msg{"op": "eval", "code": "x"}, wantValues("user:x")},
		}},
		{"unknown ns is namespace-not-found", []step{
			{nrepl.Msg{"op": "eval", "code": "1", "ns": "nope"}, func(t *testing.T, rs []nrepl.Msg) {
				if !slices.Contains(testutil.Statuses(rs), "namespace-not-found") || len(valuesOf(rs)) != 0 {
					t.Errorf("want namespace-not-found and no value: %v", rs)
				}
			}},
		}},
		{"unreadable input: the reader's error after the forms before it", []step{
			{nrepl.Msg{"op": "eval", "code": "1 (+ 1"}, func(t *testing.T, rs []nrepl.Msg) {
				if got := valuesOf(rs); !slices.Equal(got, []string{"user:1"}) || !strings.Contains(testutil.Joined(rs, "err"), "EOF while reading") ||
					!slices.Contains(testutil.Statuses(rs), "eval-error") {
					t.Errorf("want the value of 1, then EOF and eval-error: %v", rs)
				}
			}},
		}},
		{"info, eldoc and lookup take sym or symbol, in nREPL's shapes", []step{
			{nrepl.Msg{"op": "info", "symbol": "greet", "ns": "user"}, func(t *testing.T, rs []nrepl.Msg) {
				if rs[0].Str("doc") != "Says hello." || rs[0].Str("arglists-str") != "([who])" {
					t.Errorf("info: %v", rs)
				}
			}},
			{nrepl.Msg{"op": "lookup", "sym": "greet", "ns": "user"}, func(t *testing.T, rs []nrepl.Msg) {
				info, _ := rs[0]["info"].(map[string]any)
				if info["doc"] != "Says hello." {
					t.Errorf("lookup: want {info {doc …}}: %v", rs)
				}
			}},
			{nrepl.Msg{"op": "eldoc", "sym": "greet", "ns": "user"}, func(t *testing.T, rs []nrepl.Msg) {
				if fmt.Sprint(rs[0]["eldoc"]) != "[[who]]" || rs[0].Str("docstring") != "Says hello." {
					t.Errorf("eldoc: %v", rs)
				}
			}},
			{nrepl.Msg{"op": "info", "sym": "nothing", "ns": "user"}, func(t *testing.T, rs []nrepl.Msg) {
				if !slices.Contains(testutil.Statuses(rs), "no-info") {
					t.Errorf("unknown symbol: %v", rs)
				}
			}},
		}},
		{"complete takes prefix or symbol; completions too", []step{
			{nrepl.Msg{"op": "complete", "symbol": "gr", "ns": "user"}, func(t *testing.T, rs []nrepl.Msg) {
				if !strings.Contains(fmt.Sprint(rs[0]["completions"]), "gr-prefix") {
					t.Errorf("complete with symbol: %v", rs)
				}
			}},
			{nrepl.Msg{"op": "completions", "prefix": "gr", "ns": "user"}, func(t *testing.T, rs []nrepl.Msg) {
				if !strings.Contains(fmt.Sprint(rs[0]["completions"]), "greet") {
					t.Errorf("completions: %v", rs)
				}
			}},
		}},
	}
	g := startGateway(t, nil)
	f := &fakeHelper{}
	g.runtime(t, f.handle)
	c := g.editor(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := testutil.Collect(t, c, nrepl.Msg{"op": "clone"}, 0)[0].Str("new-session")
			for _, st := range tc.steps {
				req := st.req.Clone()
				req["session"] = s
				rs := testutil.Collect(t, c, req, 0)
				for _, r := range rs {
					if r.Str("session") != s {
						t.Errorf("response %v lacks the session", r)
					}
				}
				st.check(t, rs)
			}
		})
	}
}

func TestDescribeSaysWhatTheRuntimeIs(t *testing.T) {
	g := startGateway(t, nil)
	rs := testutil.Collect(t, g.editor(t), nrepl.Msg{"op": "describe"}, 0)
	versions, _ := rs[0]["versions"].(map[string]any)
	for _, k := range []string{"scittle-nrepl", "nrepl", "sente"} {
		if v, ok := versions[k].(map[string]any); !ok || v["major"] == nil {
			t.Errorf("versions lack %s: %v", k, versions)
		}
	}
	ops, _ := rs[0]["ops"].(map[string]any)
	for op := range g.bridge.ops {
		if _, ok := ops[op]; !ok {
			t.Errorf("describe lacks %s, which the gateway serves", op)
		}
	}
	for _, op := range []string{"completions", "lookup", "info", "eldoc", "complete", "load-file", "interrupt"} {
		if _, ok := ops[op]; !ok {
			t.Errorf("describe lacks %s", op)
		}
	}
}
