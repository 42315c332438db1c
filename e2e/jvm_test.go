package e2e

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sente-clj/sente/internal/peers"
	"github.com/sente-clj/sente/nrepl"
)

// jvmScript is the reference client (nrepl.core 1.0 on the JVM) talking to the
// gateway whose nREPL port is its first argument. It prints one [check value]
// line per check, with keywords turned into names and sets into sorted vectors,
// so the Go side can read them. The last check sends ids "1".."50" three times,
// each batch fully pipelined, while Go editors use the same ids on their own
// connections.
const jvmScript = `(require '[nrepl.core :as nrepl] '[clojure.walk :as walk])

(defn norm [x]
  (walk/postwalk (fn [v] (cond (keyword? v) (name v)
                               (set? v) (vec (sort (map str v)))
                               :else v))
                 x))

(defn out! [check v] (prn [check (norm v)]) (flush))

(defn until-done [rs]
  (let [[before after] (split-with #(not (some #{"done"} (:status %))) rs)]
    (concat before (take 1 after))))

(with-open [conn (nrepl/connect :host "127.0.0.1" :port (parse-long (first *command-line-args*)))]
  (let [c (nrepl/client conn 20000)
        msg (fn [m] (nrepl/combine-responses (nrepl/message c m)))]
    (out! "value" (msg {:op "eval" :code "(+ 1 2)"}))
    (out! "response-values" (nrepl/response-values (nrepl/message c {:op "eval" :code "(+ 1 2)"})))
    (out! "error" (msg {:op "eval" :code "(throw (ex-info \"jvm-boom\" {}))"}))
    (out! "println" (msg {:op "eval" :code "(do (println \"jvm-println-marker\") 42)"}))
    (out! "several-forms" (msg {:op "eval" :code "(def ja 1) (def jb 2) (+ ja jb)"}))
    (out! "describe" (msg {:op "describe"}))
    (out! "complete" (msg {:op "complete" :prefix "ma" :ns "user"}))
    (let [s (nrepl/new-session c)]
      (out! "session-id" s)
      (out! "session-eval" (msg {:op "eval" :code "(* 6 7)" :session s}))
      (let [session-fn (nrepl/client-session c :session s)]
        (out! "client-session" (nrepl/combine-responses
                                 (until-done (session-fn {:op "eval" :code "(str \"in-\" \"session\")"})))))
      (out! "ls-sessions" (msg {:op "ls-sessions"}))
      (out! "close" (msg {:op "close" :session s})))
    (out! "collide"
          (vec (for [round (range 3)]
                 (let [sent (doall (for [i (range 1 51)]
                                     [i (nrepl/message c {:op "eval" :id (str i)
                                                          :code (str "(str \"J\" " i ")")})]))]
                   (vec (for [[i rs] sent]
                          (let [m (nrepl/combine-responses rs)]
                            [(str i) (:id m) (:value m) (:status m)])))))))))
`

// testJVMAndCollidingIDs runs the reference client once, for all its checks,
// while two Go editors keep sending requests with ids "1".."50" on their own
// connections; everyone must get exactly their own answers.
func testJVMAndCollidingIDs(t *testing.T, g *gw, p *peers.Page) {
	ctx, cancel := context.WithTimeout(context.Background(), jvmBound)
	defer cancel()

	jvmDone := make(chan struct{})
	var (
		maxEditors atomic.Int64
		wg         sync.WaitGroup
		rounds     [2]atomic.Int64
	)
	// Watch /health: the JVM editor and both Go editors must be connected at once.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			if h := g.health(t); h != nil {
				if n, ok := h["editors"].(float64); ok && int64(n) > maxEditors.Load() {
					maxEditors.Store(int64(n))
				}
			}
			select {
			case <-jvmDone:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	for k, tag := range []string{"A", "B"} {
		c := g.Editor(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Rounds of 50 concurrent requests until the JVM client has finished
			// (at least one round; a bound keeps a broken run short).
			for r := 0; r < 2000; r++ {
				if !collideRound(ctx, t, c, tag) {
					return
				}
				rounds[k].Add(1)
				select {
				case <-jvmDone:
					return
				default:
				}
			}
		}()
	}

	start := time.Now()
	stdout, err := peers.RunClojure(t, ctx, jvmScript, strconv.Itoa(g.NREPLAddr().Port))
	jvmTook := time.Since(start)
	close(jvmDone)
	wg.Wait()
	if err != nil {
		t.Fatalf("reference client: %v", err)
	}
	t.Logf("JVM client ran in %v; meanwhile Go editors A and B did %d and %d rounds of 50; at most %d editors were connected at once",
		jvmTook.Round(time.Millisecond), rounds[0].Load(), rounds[1].Load(), maxEditors.Load())
	if maxEditors.Load() < 3 {
		t.Errorf("never saw the JVM editor and both Go editors connected at once (max %d)", maxEditors.Load())
	}
	res := jvmResults(t, stdout)

	t.Run("value", func(t *testing.T) {
		v := res["value"]
		if got := strs(get(v, "value")); !slices.Equal(got, []string{"3"}) {
			t.Errorf("combine-responses of (+ 1 2): %v", v)
		}
		if st := strs(get(v, "status")); !slices.Equal(st, []string{"done"}) {
			t.Errorf("status %q, want [done]", st)
		}
		if ns := str(get(v, "ns")); ns != "user" {
			t.Errorf("ns %q, want user", ns)
		}
		if got := fmt.Sprint(res["response-values"]); got != "[3]" {
			t.Errorf("response-values = %s, want [3]", got)
		}
	})
	t.Run("error", func(t *testing.T) {
		v := res["error"]
		if st := strs(get(v, "status")); !hasAll(st, "done", "eval-error") {
			t.Errorf("status %q, want done and eval-error, as the JVM answers: %v", st, v)
		}
		if e := str(get(v, "err")); !strings.Contains(e, "jvm-boom") {
			t.Errorf("err %q lacks jvm-boom: %v", e, v)
		}
		if get(v, "ex") == nil || get(v, "value") != nil {
			t.Errorf("want ex and no value: %v", v)
		}
	})
	t.Run("out", func(t *testing.T) {
		// Printed output reaches the editor as out, and the browser console.
		v := res["println"]
		if got := strs(get(v, "value")); !slices.Equal(got, []string{"42"}) || get(v, "out") != "jvm-println-marker\n" {
			t.Errorf("println eval: %v, want value 42 and out", v)
		}
		waitConsole(t, p, "jvm-println-marker")
	})
	t.Run("several forms", func(t *testing.T) {
		if got := strs(get(res["several-forms"], "value")); !slices.Equal(got, []string{"#'user/ja", "#'user/jb", "3"}) {
			t.Errorf("several forms: %v, want one value per form, as on the JVM", res["several-forms"])
		}
	})
	t.Run("describe", func(t *testing.T) {
		v := res["describe"]
		ops, _ := get(v, "ops").(map[string]any)
		for _, op := range []string{"eval", "describe", "clone", "close", "load-file", "complete", "interrupt", "info", "eldoc", "lookup", "ls-sessions"} {
			if _, ok := ops[op]; !ok {
				t.Errorf("describe ops lack %s: %v", op, v)
			}
		}
		for _, k := range []string{"major", "minor", "incremental"} {
			if str(get(v, "versions", "sente", k)) == "" {
				t.Errorf("describe versions.sente.%s missing: %v", k, get(v, "versions"))
			}
		}
		if st := strs(get(v, "status")); !slices.Equal(st, []string{"done"}) {
			t.Errorf("describe status %q", st)
		}
	})
	t.Run("complete", func(t *testing.T) {
		v := res["complete"]
		list, _ := get(v, "completions").([]any)
		var names []string
		for _, e := range list {
			names = append(names, str(get(e, "candidate")))
		}
		if !slices.Contains(names, "map") || !slices.Contains(strs(get(v, "status")), "done") {
			t.Errorf("complete ma: %v", v)
		}
	})
	t.Run("session", func(t *testing.T) {
		s := str(res["session-id"])
		if s == "" {
			t.Fatalf("new-session gave %v", res["session-id"])
		}
		v := res["session-eval"]
		if got := strs(get(v, "value")); !slices.Equal(got, []string{"42"}) {
			t.Errorf("eval in session: %v", v)
		}
		if got := strs(get(v, "session")); !slices.Equal(got, []string{s}) {
			t.Errorf("responses carry sessions %q, want only %s", got, s)
		}
		v = res["client-session"]
		if got := strs(get(v, "value")); !slices.Equal(got, []string{`"in-session"`}) || !slices.Equal(strs(get(v, "session")), []string{s}) {
			t.Errorf("client-session eval: %v", v)
		}
		if got := strs(get(res["ls-sessions"], "sessions")); !slices.Contains(got, s) {
			t.Errorf("ls-sessions %v lacks %s", res["ls-sessions"], s)
		}
		if st := strs(get(res["close"], "status")); !hasAll(st, "done", "session-closed") {
			t.Errorf("close: %v", res["close"])
		}
	})
	t.Run("colliding ids", func(t *testing.T) {
		batches, _ := res["collide"].([]any)
		if len(batches) != 3 {
			t.Fatalf("collide: %d batches, want 3: %v", len(batches), res["collide"])
		}
		for b, batch := range batches {
			entries, _ := batch.([]any)
			if len(entries) != 50 {
				t.Errorf("batch %d: %d answers, want 50", b, len(entries))
			}
			for _, e := range entries {
				f, _ := e.([]any)
				if len(f) != 4 {
					t.Errorf("batch %d: bad entry %v", b, e)
					continue
				}
				i := str(f[0])
				if str(f[1]) != i || !slices.Equal(strs(f[2]), []string{`"J` + i + `"`}) || !hasAll(strs(f[3]), "done") {
					t.Errorf("batch %d id %s: got id %v value %v status %v, want its own value \"J%s\" and done", b, i, f[1], f[2], f[3], i)
				}
			}
		}
	})
}

// collideRound sends ids "1".."50" at once, each evaluating (str TAG i), and checks
// that every answer is this editor's own. It reports whether to go on.
func collideRound(ctx context.Context, t *testing.T, c *nrepl.Client, tag string) bool {
	type sent struct {
		i  int
		ch <-chan nrepl.Msg
	}
	var all []sent
	for i := 1; i <= 50; i++ {
		_, ch, err := c.Send(ctx, nrepl.Msg{"op": "eval", "id": strconv.Itoa(i), "code": fmt.Sprintf(`(str %q %d)`, tag, i)})
		if err != nil {
			t.Errorf("editor %s: send %d: %v", tag, i, err)
			return false
		}
		all = append(all, sent{i, ch})
	}
	ok := true
	for _, s := range all {
		var values []string
		var rs []nrepl.Msg
		for r := range s.ch {
			rs = append(rs, r)
			if v, has := r["value"].(string); has {
				values = append(values, v)
			}
		}
		want := fmt.Sprintf(`"%s%d"`, tag, s.i)
		if len(rs) == 0 || !rs[len(rs)-1].HasStatus("done") || !slices.Equal(values, []string{want}) {
			t.Errorf("editor %s id %d: got %v, want exactly value %s then done", tag, s.i, rs, want)
			ok = false
		}
		for _, r := range rs {
			if r.Str("id") != strconv.Itoa(s.i) {
				t.Errorf("editor %s id %d: response with id %q: %v", tag, s.i, r.Str("id"), r)
				ok = false
			}
		}
	}
	return ok
}
