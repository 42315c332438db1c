package e2e

import (
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sente-clj/sente/gateway"
	"github.com/sente-clj/sente/internal/peers"
	"github.com/sente-clj/sente/internal/testutil"
	"github.com/sente-clj/sente/nrepl"
)

// seedBundlePage behaves as sente-lite's published browser bundle
// (dist/sente-lite-nrepl.cljs with nrepl-sente.browser-adapter) does, written
// afresh from what it is observed to do, not copied:
//   - a fake window.ws_nrepl is installed before scittle.nrepl.js loads, so
//     scittle.nrepl.js attaches its onmessage to it and answers through its
//     send;
//   - the sente-lite client reads every frame as one event, (first v) the id
//     and (second v) the data, without unwrapping batches, and it asks for
//     none (no ?batch=1);
//   - an :nrepl/request is dispatched on (keyword (:op data)): describe and
//     clone are answered by the page itself, everything else is handed to
//     scittle.nrepl.js as (pr-str data) of the plain keys (:edn ignored);
//   - each answer scittle.nrepl.js sends is read back with read-string and
//     sent as [:nrepl/response answer], plain keys.
//
// With stringOp the page first turns :op into a string, as the gateway's
// plain keys used to carry it: scittle.nrepl.js then echoes the request back
// with unknown-op, which is what a runtime that does not understand a request
// looks like.
func seedBundlePage(chskAddr string, stringOp bool) string {
	return fmt.Sprintf(`<!doctype html><html><head>
<script src="/scittle/scittle.js"></script>
<script>
  // The stand-in socket scittle.nrepl.js talks to.
  window.ws_nrepl = {
    readyState: 1, onmessage: null, onerror: null, onclose: null, onopen: null,
    answer: null,
    send: function (text) { if (this.answer) { this.answer(text); } else { console.warn("no answer fn", text); } },
    close: function () {}
  };
</script>
<script src="/scittle/scittle.nrepl.js"></script>
<script type="application/x-scittle">
  (ns seed.bundle (:require [clojure.edn :as edn]))
  (def string-op? %[2]t)
  (def lost (atom 0))
  (def ws (js/WebSocket. "ws://%[1]s/chsk"))
  (defn send! [ev] (.send ws (pr-str ev)))
  (defn respond! [m] (send! [:nrepl/response m]))
  (set! (.-answer js/window.ws_nrepl) (fn [text] (respond! (edn/read-string text))))
  (defn on-request [data]
    (let [op (keyword (get data :op))]
      (cond
        (= op :describe)
        (respond! {:id (get data :id) :session (or (get data :session) "browser")
                   :ops {"eval" {} "info" {} "eldoc" {} "lookup" {} "complete" {} "close" {} "describe" {} "clone" {}}
                   :versions {:scittle {:major 0} :sci.nrepl {:major 0}}
                   :status ["done"]})
        (= op :clone)
        (respond! {:id (get data :id) :new-session (str "browser-" (random-uuid)) :status ["done"]})
        :else
        (let [data (if string-op? (assoc data :op (name (get data :op))) data)]
          (.onmessage js/window.ws_nrepl #js {:data (pr-str data)})))))
  (set! (.-onmessage ws)
        (fn [e]
          (let [v (edn/read-string (.-data e))
                id (first v)
                data (second v)]
            (cond
              (= id :chsk/handshake) (set! (.. js/document -body -dataset -state) "connected")
              (= id :chsk/ws-ping) (send! [:chsk/ws-pong])
              (= id :nrepl/request) (on-request data)
              (not (keyword? id)) (do (swap! lost inc)
                                      (set! (.. js/document -body -dataset -lost) (str @lost)))
              :else nil))))
</script>
</head><body data-state="connecting" data-lost="0"><h1>seed bundle</h1></body></html>`, chskAddr, stringOp)
}

// TestSeedBundleEvaluates: sente-lite's published browser bundle, as shipped, is a
// runtime editors evaluate in; one that does not understand the request ends
// the editor's request at once with an error and done, not at --eval-timeout
// (ten minutes here, far beyond the test's own bound).
func TestSeedBundleEvaluates(t *testing.T) {
	b := peers.StartBrowser(t)
	for _, tc := range []struct {
		name     string
		stringOp bool
		check    func(t *testing.T, g *gw, c *nrepl.Client)
	}{
		{"as shipped", false, func(t *testing.T, g *gw, c *nrepl.Client) {
			if res := eval(t, c, "", "(+ 1 2)", nil); !slices.Equal(res.Values, []string{"3"}) {
				t.Errorf("(+ 1 2) gave %v", res.Responses)
			}
			if res := eval(t, c, "", "(.-textContent (js/document.querySelector \"h1\"))", nil); !slices.Equal(res.Values, []string{`"seed bundle"`}) {
				t.Errorf("DOM read gave %v", res.Responses)
			}
			res := eval(t, c, "", "(throw (ex-info \"boom\" {}))", nil)
			// Through sente's REPL helper, as the JVM answers: eval-error, the message in err.
			if !slices.Contains(res.Status, "eval-error") || !strings.Contains(testutil.Joined(res.Responses, "err"), "boom") {
				t.Errorf("a throw gave %v", res.Responses)
			}
			// An op scittle.nrepl.js lacks: it echoes the request back.
			rs := testutil.Collect(t, c, nrepl.Msg{"op": "sente-test/no-such-op"}, evalBound)
			if st := statuses(rs); !slices.Contains(st, "unknown-op") || !slices.Contains(st, "done") {
				t.Errorf("an op the runtime lacks ended with %v", rs)
			}
			for _, r := range rs {
				if _, leaked := r["code"]; leaked {
					t.Errorf("the echoed request reached the editor: %v", r)
				}
			}
		}},
		{"a runtime that echoes the request", true, func(t *testing.T, g *gw, c *nrepl.Client) {
			start := time.Now()
			rs := testutil.Collect(t, c, nrepl.Msg{"op": "eval", "code": "(+ 1 2)"}, evalBound)
			st := statuses(rs)
			if !slices.Contains(st, "done") || !slices.Contains(st, "error") {
				t.Errorf("statuses %v, want done and error", st)
			}
			if err := testutil.Joined(rs, "err"); !strings.Contains(err, "echoed the request") {
				t.Errorf("err %q: want it to say the runtime echoed the request", err)
			}
			if slices.Contains(st, "timeout") {
				t.Errorf("ended by the timeout: %v", rs)
			}
			t.Logf("ended after %v: %v", time.Since(start).Round(time.Millisecond), rs)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := startGateway(t, func(c *gateway.Config) { c.EvalTimeout = 10 * time.Minute })
			ln, err := net.Listen("tcp", "localhost:0")
			if err != nil {
				t.Fatal(err)
			}
			srv := &http.Server{Handler: peers.ScittleHandler(t, seedBundlePage(g.HTTPAddr().String(), tc.stringOp)), ReadHeaderTimeout: 5 * time.Second}
			go func() { _ = srv.Serve(ln) }()
			t.Cleanup(func() { srv.Close() })

			before := len(g.Runtimes(t))
			p := openPage(t, b, "http://"+ln.Addr().String()+"/", "document.body.dataset.state === 'connected'")
			g.WaitRuntimes(t, before+1)
			// It did not ask for batches, so it gets none.
			g.Logs.WaitFor(t, "batches=false", evalBound)
			tc.check(t, g, g.Editor(t))
			raw, err := p.Eval(ctxFor(t, evalBound), "document.body.dataset.lost")
			if err != nil {
				t.Fatal(err)
			}
			if string(raw) != `"0"` {
				t.Errorf("the page lost %s frames it could not read as one event", raw)
			}
		})
	}
}

// TestScittleClientAsksForBatches: sente's own Scittle client (the gateway's
// page) connects with ?batch=1, so the hub may batch for it.
func TestScittleClientAsksForBatches(t *testing.T) {
	b := peers.StartBrowser(t)
	g := startGateway(t, nil)
	openRuntimePage(t, b, g, "/")
	g.Logs.WaitFor(t, "batches=true", evalBound)
	if strings.Contains(g.Logs.String(), "batches=false") {
		t.Errorf("a client of the page did not ask for batches:\n%s", g.Logs.String())
	}
}
