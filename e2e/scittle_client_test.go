package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"olympos.io/encoding/edn"

	"github.com/gorilla/websocket"

	"github.com/sente-clj/sente/browser"
	"github.com/sente-clj/sente/gateway"
	"github.com/sente-clj/sente/internal/peers"
	"github.com/sente-clj/sente/internal/testutil"
	"github.com/sente-clj/sente/sentelite"
	"github.com/sente-clj/sente/wire"
)

// TestScittleClient drives the gateway's own page, /, which runs the sente-lite
// Scittle client (browser/sente-lite.cljs) on /chsk and makes the page an nREPL
// runtime over that same socket (browser/sente-nrepl.cljs behind
// browser/nrepl-shim.js and stock scittle.nrepl.js). Each group has its own
// gateway and tab: a gateway sends requests to its newest runtime, and Scittle
// keeps one current namespace per page.
func TestScittleClient(t *testing.T) {
	b := peers.StartBrowser(t)

	t.Run("page", func(t *testing.T) {
		t.Parallel()
		g := startGateway(t, nil)
		p := scittleClientOpen(t, b, g)
		t.Run("connects and is a sente-lite runtime", func(t *testing.T) { scittleClientTestConnects(t, g, p) })
		t.Run("assets", func(t *testing.T) { scittleClientTestAssets(t, g) })
		t.Run("nREPL from the Go client", func(t *testing.T) { scittleClientTestGoNREPL(t, g, p) })
		t.Run("nREPL from the JVM client", func(t *testing.T) { scittleClientTestJVM(t, g) })
		t.Run("send! take! on! off!", func(t *testing.T) { scittleClientTestAPI(t, p) })
		t.Run("pub/sub with a Go client", func(t *testing.T) { scittleClientTestPubSub(t, g, p) })
		t.Run("close!", func(t *testing.T) { scittleClientTestClose(t, g, p) })
		t.Run("against a bare server", func(t *testing.T) { scittleClientTestBareServer(t, p) })
	})
	t.Run("server heartbeat", func(t *testing.T) {
		t.Parallel()
		// The hub pings quiet clients with [:chsk/ws-ping] and closes those that
		// stay silent: the idle page must answer with [:chsk/ws-pong]s, which are
		// all the gateway reads from it meanwhile.
		g := startGateway(t, func(c *gateway.Config) {
			c.HeartbeatInterval, c.HeartbeatTimeout = 200*time.Millisecond, 5*time.Second
		})
		p := scittleClientOpen(t, b, g)
		// Fifteen pongs are about 3s of pings every 200ms.
		before := scittleClientMessagesIn(t, g)
		var pongs int64
		testutil.Poll(context.Background(), 0, func() bool { pongs = scittleClientMessagesIn(t, g) - before; return pongs >= 15 })
		t.Logf("the idle page sent %d frames (pongs) to pings every 200ms", pongs)
		if pongs < 3 {
			t.Errorf("the page answered %d pings", pongs)
		}
		if st := scittleClientEval(t, p, "(pr-str (select-keys (sl/status c) [:state :reconnects]))"); st != "{:state :connected, :reconnects 0}" {
			t.Errorf("after %d heartbeats: %s", pongs, st)
		}
		if strings.Contains(g.Logs.String(), "silent for") {
			t.Errorf("the gateway closed the page for silence")
		}
	})
	t.Run("gateway restart", func(t *testing.T) {
		t.Parallel()
		scittleClientTestRestart(t, b)
	})
	t.Run("stock page", func(t *testing.T) {
		t.Parallel()
		g := startGateway(t, nil)
		openPage(t, b, scittleClientURL(g, "/stock"), "document.body.dataset.state === 'connected'")
		scittleClientWaitRuntime(t, g, gateway.KindScittleNREPL, 1)
		res := eval(t, g.Editor(t), "", "(+ 20 22)", nil)
		if !slices.Equal(res.Values, []string{"42"}) || !slices.Contains(res.Status, "done") {
			t.Errorf("eval on /stock: %v", res.Responses)
		}
	})
}

// --- helpers -------------------------------------------------------------

// scittleClientNS starts every snippet the tests evaluate in the page: the page
// has one sente-lite client, sente-lite.page/client, bound here to c.
const scittleClientNS = `(ns e2e.scittle-client (:require [sente-lite.client :as sl])) (def c sente-lite.page/client) `

func scittleClientURL(g *gw, path string) string {
	return "http://" + g.HTTPAddr().String() + path
}

// scittleClientOpen opens the gateway's / page and waits until its sente-lite
// socket is connected and the gateway lists it as a sente-lite runtime.
func scittleClientOpen(t *testing.T, b *peers.Browser, g *gw) *peers.Page {
	t.Helper()
	before := len(g.Runtimes(t))
	p := openPage(t, b, g.PageURL(), "document.body.dataset.state === 'connected'")
	scittleClientWaitRuntime(t, g, gateway.KindSenteLite, before+1)
	return p
}

// scittleClientWaitRuntime polls /runtimes until it lists n runtimes, the
// newest of kind; it returns that one.
func scittleClientWaitRuntime(t *testing.T, g *gw, kind string, n int) gateway.RuntimeInfo {
	t.Helper()
	var got []gateway.RuntimeInfo
	if !testutil.Poll(context.Background(), 0, func() bool { got = g.Runtimes(t); return len(got) == n && got[n-1].Kind == kind }) {
		t.Fatalf("gateway lists %+v after %v, want %d runtimes, the newest %s", got, testutil.Patience, n, kind)
	}
	return got[n-1]
}

func scittleClientJS(code string) string {
	q, _ := json.Marshal(scittleClientNS + code)
	return "scittle.core.eval_string(" + string(q) + ")"
}

// scittleClientEval evaluates ClojureScript in the page with Scittle (not over
// nREPL) and returns its value, which must be a string (wrap it in pr-str).
func scittleClientEval(t *testing.T, p *peers.Page, code string) string {
	t.Helper()
	raw, err := p.Eval(ctxFor(t, evalBound), scittleClientJS(code))
	if err != nil {
		t.Fatalf("page eval %s: %v", code, err)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("page eval %s: value %s is not a string", code, raw)
	}
	return s
}

// scittleClientEDN is scittleClientEval of (pr-str code), read back as EDN and
// normalised by plain (keywords become names, maps map[string]any).
func scittleClientEDN(t *testing.T, p *peers.Page, code string) any {
	t.Helper()
	s := scittleClientEval(t, p, "(pr-str "+code+")")
	var v any
	if err := edn.UnmarshalString(s, &v); err != nil {
		t.Fatalf("page value of %s is not EDN: %q: %v", code, s, err)
	}
	return plain(v)
}

// scittleClientWait polls the ClojureScript condition in the page until it is true.
func scittleClientWait(t *testing.T, p *peers.Page, cond string, within time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	if err := p.WaitFor(ctx, scittleClientJS("(true? "+cond+")")+" === true"); err != nil {
		t.Fatalf("page: %s not true within %v: %v", cond, within, err)
	}
}

// scittleClientMessagesIn is the hub's count of events read from clients.
func scittleClientMessagesIn(t *testing.T, g *gw) int64 {
	t.Helper()
	resp, err := http.Get(scittleClientURL(g, "/stats"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Lite struct {
			MessagesIn int64 `json:"messages-in"`
		} `json:"sente-lite"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body.Lite.MessagesIn
}

func scittleClientGo(t *testing.T, g *gw) *sentelite.Client {
	t.Helper()
	opts := sentelite.DefaultOptions("ws://" + g.HTTPAddr().String() + "/chsk")
	opts.Reconnect = false
	c, err := sentelite.Dial(ctxFor(t, evalBound), opts)
	if err != nil {
		t.Fatalf("sentelite.Dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// --- the page group ------------------------------------------------------

func scittleClientTestConnects(t *testing.T, g *gw, p *peers.Page) {
	st := scittleClientEDN(t, p, "(sl/status c)")
	uid := str(get(st, ":uid"))
	if get(st, ":state") != "connected" || len(uid) != 32 || fmt.Sprint(get(st, ":reconnects")) != "0" {
		t.Errorf("status %v", st)
	}
	if got := scittleClientEval(t, p, "(sl/uid c)"); got != uid {
		t.Errorf("uid %q, status says %q", got, uid)
	}
	if csrf := scittleClientEval(t, p, "(sl/csrf-token c)"); len(csrf) != 32 {
		t.Errorf("csrf-token %q", csrf)
	}
	raw, err := p.Eval(ctxFor(t, evalBound), "[document.body.textContent.includes("+strconv.Quote(uid)+"), window.ws_nrepl.senteShim === true, window.ws_nrepl.senteAttached(), typeof window.SCITTLE_NREPL_WEBSOCKET_PORT]")
	if err != nil {
		t.Fatal(err)
	}
	if string(raw) != `[true,true,true,"undefined"]` {
		t.Errorf("page shows uid, shim in place and attached, no SCITTLE_NREPL_WEBSOCKET_PORT: got %s", raw)
	}
	rts := g.Runtimes(t)
	if len(rts) != 1 || rts[0].Kind != gateway.KindSenteLite {
		t.Errorf("runtimes %+v, want one sente-lite runtime (and no /_nrepl socket)", rts)
	}
	// The bridge answers describe itself, with the ops scittle.nrepl.js has.
	d := scittleClientEDN(t, p, `(#'sente-lite.nrepl/describe-reply {:id "d1" :session "s1"})`)
	for _, op := range []string{"eval", "complete", "info", "eldoc", "lookup"} {
		if ops, _ := get(d, ":ops").(map[string]any); ops == nil || ops[":"+op] == nil {
			t.Errorf("describe lacks op %s: %v", op, d)
		}
	}
	if get(d, ":id") != "d1" || get(d, ":session") != "s1" || fmt.Sprint(get(d, ":status")) != "[done]" {
		t.Errorf("describe reply %v", d)
	}
}

func scittleClientTestAssets(t *testing.T, g *gw) {
	for _, a := range browser.Assets() {
		resp, err := http.Get(scittleClientURL(g, "/"+a.Name))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		etag := resp.Header.Get("ETag")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != a.ContentType || etag == "" || string(body) != string(a.Data) {
			t.Errorf("GET /%s: %d %q etag %q, %d bytes", a.Name, resp.StatusCode, resp.Header.Get("Content-Type"), etag, len(body))
		}
		req, _ := http.NewRequest("GET", scittleClientURL(g, "/"+a.Name), nil)
		req.Header.Set("If-None-Match", etag)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotModified {
			t.Errorf("GET /%s with its ETag: %d, want 304", a.Name, resp.StatusCode)
		}
	}
	for path, want := range map[string][2]string{
		"/":      {"/nrepl-shim.js", "SCITTLE_NREPL_WEBSOCKET_PORT"},
		"/stock": {"SCITTLE_NREPL_WEBSOCKET_PORT", "/nrepl-shim.js"},
	} {
		resp, err := http.Get(scittleClientURL(g, path))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), want[0]) || strings.Contains(string(body), want[1]) {
			t.Errorf("GET %s: want %q and no %q in:\n%s", path, want[0], want[1], body)
		}
	}
}

func scittleClientTestGoNREPL(t *testing.T, g *gw, p *peers.Page) {
	c := g.Editor(t)
	session, err := c.Clone(ctxFor(t, evalBound))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res := eval(t, c, session, "(+ 1 2)", nil)
	t.Logf("first eval over sente-lite in %v: %v", time.Since(start).Round(time.Millisecond), res.Responses)
	if !slices.Equal(res.Values, []string{"3"}) || res.Err != "" || res.NS != "user" {
		t.Errorf("(+ 1 2): %v", res.Responses)
	}
	for _, r := range res.Responses {
		if r.Str("session") != session {
			t.Errorf("response %v lacks session %s", r, session)
		}
	}
	// It ran in this page.
	eval(t, c, session, `(set! (.-e2eLiteMarker js/window) "here")`, nil)
	if raw, err := p.Eval(ctxFor(t, evalBound), "window.e2eLiteMarker"); err != nil || string(raw) != `"here"` {
		t.Errorf("window.e2eLiteMarker = %s, %v", raw, err)
	}

	res = eval(t, c, session, `(throw (ex-info "lite-boom" {:k 1}))`, nil)
	if !strings.Contains(res.Err, "lite-boom") || !hasAll(res.Status, "eval-error", "done") || len(res.Values) != 0 {
		t.Errorf("ex-info: %v", res.Responses)
	}

	res = eval(t, c, session, "(ns my.lite)", nil)
	if res.NS != "my.lite" {
		t.Errorf("(ns my.lite): %v", res.Responses)
	}
	eval(t, c, session, "(def here 7)", nil)
	res = eval(t, c, session, "[(str *ns*) (* here 6)]", nil)
	if !slices.Equal(res.Values, []string{`["my.lite" 42]`}) || res.NS != "my.lite" {
		t.Errorf("ns persistence: %v", res.Responses)
	}
	if res := eval(t, c, session, "(ns user)", nil); res.NS != "user" {
		t.Errorf("(ns user): %v", res.Responses)
	}

	got, err := c.Complete(ctxFor(t, evalBound), session, "ma", "user")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, cm := range got {
		if cm.Candidate == "map" && cm.NS == "clojure.core" {
			found = true
		}
	}
	if !found {
		t.Errorf("complete ma lacks clojure.core/map: %v", got)
	}

	// A 200 KB value comes back through the sente-lite socket in one piece.
	res = eval(t, c, session, `(apply str (repeat 200000 "y"))`, nil)
	if len(res.Values) != 1 || res.Values[0] != `"`+strings.Repeat("y", 200000)+`"` {
		t.Errorf("200000-char value: %d values of lengths %v", len(res.Values), lengths(res.Values))
	}
}

// scittleClientJVMScript is the reference client (nrepl.core) against the
// gateway whose nREPL port is its first argument, printing [check value] lines
// for jvmResults.
const scittleClientJVMScript = `(require '[nrepl.core :as nrepl] '[clojure.walk :as walk])

(defn norm [x]
  (walk/postwalk (fn [v] (cond (keyword? v) (name v)
                               (set? v) (vec (sort (map str v)))
                               :else v))
                 x))

(defn out! [check v] (prn [check (norm v)]) (flush))

(with-open [conn (nrepl/connect :host "127.0.0.1" :port (parse-long (first *command-line-args*)))]
  (let [c (nrepl/client conn 20000)
        s (nrepl/new-session c)
        msg (fn [m] (dissoc (nrepl/combine-responses (nrepl/message c (assoc m :session s))) :id :session))]
    (out! "value" (msg {:op "eval" :code "(+ 1 2)"}))
    (out! "error" (msg {:op "eval" :code "(throw (ex-info \"jvm-lite-boom\" {}))"}))
    (out! "ns" (msg {:op "eval" :code "(ns jvm.lite)"}))
    (out! "def" (msg {:op "eval" :code "(def answer 42)"}))
    (out! "in-ns" (msg {:op "eval" :code "[(str *ns*) answer]"}))
    (out! "back" (msg {:op "eval" :code "(ns user)"}))
    (out! "complete" (msg {:op "complete" :prefix "ma" :ns "user"}))))
`

func scittleClientTestJVM(t *testing.T, g *gw) {
	ctx, cancel := context.WithTimeout(context.Background(), jvmBound)
	defer cancel()
	start := time.Now()
	stdout, err := peers.RunClojure(t, ctx, scittleClientJVMScript, strconv.Itoa(g.NREPLAddr().Port))
	if err != nil {
		t.Fatalf("reference client: %v", err)
	}
	t.Logf("JVM client ran in %v", time.Since(start).Round(time.Millisecond))
	res := jvmResults(t, stdout)
	if v := res["value"]; !slices.Equal(strs(get(v, "value")), []string{"3"}) || !slices.Equal(strs(get(v, "status")), []string{"done"}) || str(get(v, "ns")) != "user" {
		t.Errorf("value: %v", v)
	}
	if v := res["error"]; !strings.Contains(str(get(v, "err")), "jvm-lite-boom") || !hasAll(strs(get(v, "status")), "done", "eval-error") || get(v, "value") != nil {
		t.Errorf("error: %v", v)
	}
	if v := res["ns"]; str(get(v, "ns")) != "jvm.lite" {
		t.Errorf("(ns jvm.lite): %v", v)
	}
	if v := res["in-ns"]; !slices.Equal(strs(get(v, "value")), []string{`["jvm.lite" 42]`}) || str(get(v, "ns")) != "jvm.lite" {
		t.Errorf("ns persistence: %v", v)
	}
	if v := res["back"]; str(get(v, "ns")) != "user" {
		t.Errorf("(ns user): %v", v)
	}
	v := res["complete"]
	var names []string
	list, _ := get(v, "completions").([]any)
	for _, e := range list {
		names = append(names, str(get(e, "candidate")))
	}
	if !slices.Contains(names, "map") || !slices.Contains(strs(get(v, "status")), "done") {
		t.Errorf("complete ma: %v", v)
	}
}

func scittleClientTestAPI(t *testing.T, p *peers.Page) {
	scittleClientEval(t, p, `(defonce box (atom {})) (reset! box {}) ""`)
	base, _ := strconv.Atoi(scittleClientEval(t, p, "(str (sl/handler-count c))"))

	t.Run("send! with a callback gets the echo reply", func(t *testing.T) {
		start := time.Now()
		if got := scittleClientEval(t, p, `(pr-str (sl/send! c [:e2e/ask {:n 7}] {:timeout-ms 5000 :callback (fn [r] (swap! box assoc :reply r))}))`); got != "true" {
			t.Fatalf("send! returned %s", got)
		}
		scittleClientWait(t, p, "(contains? @box :reply)", evalBound)
		t.Logf("callback reply in %v", time.Since(start).Round(time.Millisecond))
		r := scittleClientEDN(t, p, "(get @box :reply)")
		if get(r, ":original-event-id") != "e2e/ask" || fmt.Sprint(get(r, ":original-data", ":n")) != "7" ||
			get(r, ":conn-id") != scittleClientEval(t, p, "(sl/uid c)") {
			t.Errorf("reply %v", r)
		}
		if got := scittleClientEval(t, p, "(pr-str (:pending-callbacks (sl/status c)))"); got != "0" {
			t.Errorf("%s callbacks still pending", got)
		}
	})
	t.Run("take! gets the next matching event once", func(t *testing.T) {
		id := scittleClientEval(t, p, `(sl/take! c {:event-id :sente-lite/echo
		                                           :pred (fn [m] (= :e2e/hello (get-in m [:data :original-event-id])))
		                                           :timeout-ms 5000
		                                           :callback (fn [m] (swap! box update :took (fnil conj []) m))})`)
		if !strings.HasPrefix(id, "h") {
			t.Errorf("take! returned %q, want a handler id", id)
		}
		scittleClientEval(t, p, `(sl/send! c [:e2e/other 0]) (sl/send! c [:e2e/hello 1]) (sl/send! c [:e2e/hello 2]) ""`)
		// The second echo of :e2e/hello is the marker that both have arrived.
		scittleClientEval(t, p, `(sl/take! c {:event-id :sente-lite/echo :pred (fn [m] (= 3 (get-in m [:data :original-data])))
		                                      :callback (fn [m] (swap! box assoc :done true))}) (sl/send! c [:e2e/hello 3]) ""`)
		scittleClientWait(t, p, "(:done @box)", evalBound)
		took := scittleClientEDN(t, p, "(get @box :took)")
		l, _ := took.([]any)
		if len(l) != 1 || get(l[0], ":event-id") != "sente-lite/echo" || fmt.Sprint(get(l[0], ":data", ":original-data")) != "1" {
			t.Errorf("take! got %v, want only the echo of [:e2e/hello 1]", took)
		}
	})
	t.Run("take! times out", func(t *testing.T) {
		scittleClientEval(t, p, `(sl/take! c {:event-id :e2e/never :timeout-ms 150 :callback (fn [m] (swap! box assoc :timeout m))}) ""`)
		scittleClientWait(t, p, "(contains? @box :timeout)", evalBound)
		if r := scittleClientEDN(t, p, "(get @box :timeout)"); get(r, ":error") != "timeout" {
			t.Errorf("timed-out take! got %v", r)
		}
	})
	t.Run("on! with pred, then off! by id and by event", func(t *testing.T) {
		id := scittleClientEval(t, p, `(sl/on! c {:event-id :sente-lite/echo
		                                         :pred (fn [m] (let [d (get-in m [:data :original-data])] (and (number? d) (even? d) (< d 100))))
		                                         :callback (fn [m] (swap! box update :evens (fnil conj []) (get-in m [:data :original-data])))})`)
		other := scittleClientEval(t, p, `(sl/on! c {:event-id :e2e/custom :callback (fn [m] nil)})`)
		scittleClientEval(t, p, `(doseq [i (range 1 7)] (sl/send! c [:e2e/n i])) ""`)
		scittleClientWait(t, p, "(= [2 4 6] (:evens @box))", evalBound)
		if n := scittleClientEval(t, p, fmt.Sprintf("(pr-str (sl/off! c %q))", id)); n != "1" {
			t.Errorf("off! by id removed %s", n)
		}
		if n := scittleClientEval(t, p, "(pr-str (sl/off! c {:event-id :e2e/custom}))"); n != "1" {
			t.Errorf("off! {:event-id :e2e/custom} (%s) removed %s", other, n)
		}
		// Sequenced by a take! registered after: it fires after the old handler would have.
		scittleClientEval(t, p, `(sl/take! c {:event-id :sente-lite/echo :pred (fn [m] (= 8 (get-in m [:data :original-data])))
		                                      :callback (fn [m] (swap! box assoc :after-off true))}) (sl/send! c [:e2e/n 8]) ""`)
		scittleClientWait(t, p, "(:after-off @box)", evalBound)
		if got := scittleClientEval(t, p, "(pr-str (:evens @box))"); got != "[2 4 6]" {
			t.Errorf("after off! the handler still ran: %s", got)
		}
	})
	t.Run("handlers are cleaned up", func(t *testing.T) {
		if got, _ := strconv.Atoi(scittleClientEval(t, p, "(str (sl/handler-count c))")); got != base {
			t.Errorf("%d handlers, %d before the tests", got, base)
		}
	})
	t.Run("bad event is refused", func(t *testing.T) {
		got := scittleClientEval(t, p, `(try (sl/send! c [:no-namespace 1]) "sent" (catch :default e (ex-message e)))`)
		if !strings.Contains(got, "[:ns/event-id") {
			t.Errorf("send! of an event without a namespace: %q", got)
		}
	})
}

func scittleClientTestPubSub(t *testing.T, g *gw, p *peers.Page) {
	goc := scittleClientGo(t, g)
	fromBrowser := make(chan sentelite.ChannelMessage, 16)
	goc.OnChannel("room", func(m sentelite.ChannelMessage) { fromBrowser <- m })
	if err := goc.Subscribe(ctxFor(t, evalBound), "room"); err != nil {
		t.Fatal(err)
	}

	scittleClientEval(t, p, `(defonce room (atom [])) (reset! room [])
	  (defonce room-handler (sl/on! c {:event-id :sente-lite/channel-msg
	                                   :pred (fn [m] (= "room" (get-in m [:data :channel-id])))
	                                   :callback (fn [m] (swap! room conj (get m :data)))}))
	  (sl/subscribe! c "room" {:callback (fn [r] (swap! box assoc :subscribed r))}) ""`)
	scittleClientWait(t, p, "(true? (get-in @box [:subscribed :success]))", evalBound)
	browserUID := scittleClientEval(t, p, "(sl/uid c)")

	start := time.Now()
	if err := goc.Publish("room", map[any]any{edn.Keyword("text"): "from go", edn.Keyword("n"): int64(1)}, true); err != nil {
		t.Fatal(err)
	}
	scittleClientWait(t, p, "(= 1 (count @room))", evalBound)
	t.Logf("Go -> browser in %v", time.Since(start).Round(time.Millisecond))
	m := scittleClientEDN(t, p, "(first @room)")
	if get(m, ":data", ":text") != "from go" || get(m, ":from") != goc.UID() || get(m, ":channel-id") != "room" {
		t.Errorf("browser got %v, want {:text \"from go\"} from %s", m, goc.UID())
	}

	start = time.Now()
	if got := scittleClientEval(t, p, `(pr-str (sl/publish! c "room" {:text "from browser" :v [1 2]} {:exclude-sender? true}))`); got != "true" {
		t.Fatalf("publish! returned %s", got)
	}
	select {
	case m := <-fromBrowser:
		t.Logf("browser -> Go in %v", time.Since(start).Round(time.Millisecond))
		if m.Channel != "room" || m.From != browserUID || wire.Get(m.Data, "text") != "from browser" {
			t.Errorf("Go got %+v, want text \"from browser\" from %s", m, browserUID)
		}
	case <-time.After(evalBound):
		t.Fatal("Go client got nothing from the browser's publish!")
	}
	// exclude-sender? kept it from the browser itself.
	if got := scittleClientEval(t, p, "(pr-str (count @room))"); got != "1" {
		t.Errorf("browser has %s room messages, want only Go's (it excluded itself)", got)
	}

	// After unsubscribe! the browser gets no more; a publish with a callback
	// says how many were delivered.
	scittleClientEval(t, p, `(sl/unsubscribe! c "room" {:callback (fn [r] (swap! box assoc :unsubscribed r))}) ""`)
	scittleClientWait(t, p, "(contains? @box :unsubscribed)", evalBound)
	scittleClientEval(t, p, `(sl/publish! c "room" {:text "again"} {:callback (fn [r] (swap! box assoc :published r))}) ""`)
	scittleClientWait(t, p, "(contains? @box :published)", evalBound)
	if r := scittleClientEDN(t, p, "(get @box :published)"); fmt.Sprint(get(r, ":delivered")) != "1" {
		t.Errorf("publish after unsubscribe!: %v, want delivered 1 (the Go client)", r)
	}
	select {
	case m := <-fromBrowser:
		if wire.Get(m.Data, "text") != "again" {
			t.Errorf("Go got %+v", m)
		}
	case <-time.After(evalBound):
		t.Fatal("Go client got nothing from the second publish!")
	}
	if got := scittleClientEval(t, p, "(pr-str (count @room))"); got != "1" {
		t.Errorf("browser has %s room messages after unsubscribe!", got)
	}
}

// scittleClientTestClose: a second client in the page, closed with close!: its
// once handlers and callbacks hear {:error :closed}, and it does not reconnect.
func scittleClientTestClose(t *testing.T, g *gw, p *peers.Page) {
	before := len(g.Runtimes(t))
	scittleClientEval(t, p, `(defonce closed (atom {}))
	  (def c2 (sl/make-client! {:url sente-lite.page/url
	                            :on-close (fn [info] (swap! closed assoc :on-close info))}))
	  ""`)
	scittleClientWait(t, p, "(sl/connected? c2)", evalBound)
	scittleClientEval(t, p, `(sl/take! c2 {:event-id :e2e/never :callback (fn [m] (swap! closed assoc :take m))})
	  (def c2-ws (:ws @c2))
	  (sl/close! c2) ""`)
	scittleClientWait(t, p, "(contains? @closed :take)", evalBound)
	scittleClientEval(t, p, `(sl/take! c2 {:event-id :e2e/later :callback (fn [m] (swap! closed assoc :take-after m))}) ""`)
	scittleClientWait(t, p, "(= :closed (get-in @closed [:take-after :error]))", evalBound)
	got := scittleClientEDN(t, p, "[(get @closed :take) (get-in @closed [:on-close :will-reconnect?]) (:state (sl/status c2)) (sl/send! c2 [:e2e/late 1])]")
	l, _ := got.([]any)
	if len(l) != 4 || get(l[0], ":error") != "closed" || l[1] != false || l[2] != "closed" || l[3] != false {
		t.Errorf("after close!: [take! on-close will-reconnect? state send!] = %v", got)
	}
	// A reconnect is scheduled when the socket's close event comes, and a
	// scheduled one counts an attempt at once. So once c2's socket is closed
	// (the close event came in the same task) and the gateway saw it go, a
	// client that is still :closed with no attempts will not reconnect.
	scittleClientWait(t, p, "(= 3 (.-readyState c2-ws))", evalBound)
	var conns float64
	if !testutil.Poll(context.Background(), evalBound, func() bool { conns, _ = g.health(t)["connections"].(float64); return conns == 1 }) {
		t.Fatalf("gateway has %v sente-lite connections, want 1 (the page's own client)", conns)
	}
	if st := scittleClientEDN(t, p, "((juxt :state :attempts) (sl/status c2))"); fmt.Sprint(st) != "[closed 0]" {
		t.Errorf("closed client: [state attempts] = %v, want [closed 0]", st)
	}
	// c2 answered no probe (no bridge), so it never was a runtime.
	if n := len(g.Runtimes(t)); n != before {
		t.Errorf("%d runtimes, want %d", n, before)
	}
}

// --- gateway restart ------------------------------------------------------

// scittleClientStartOn runs a gateway on the given ports (0 = any) until stop
// is called or the test ends.
func scittleClientStartOn(t *testing.T, httpPort, nreplPort int) (g *gw, stop func()) {
	t.Helper()
	g = startGateway(t, func(cfg *gateway.Config) { cfg.HTTPPort, cfg.NREPLPort = httpPort, nreplPort })
	return g, func() { g.Stop(t) }
}

func scittleClientTestRestart(t *testing.T, b *peers.Browser) {
	g1, stop1 := scittleClientStartOn(t, 0, 0)
	httpPort, nreplPort := g1.HTTPAddr().Port, g1.NREPLAddr().Port
	p := scittleClientOpen(t, b, g1)
	c1 := g1.Editor(t)
	if res := eval(t, c1, "", "(def survivor 6)", nil); !slices.Equal(res.Values, []string{"#'user/survivor"}) {
		t.Fatalf("def before restart: %v", res.Responses)
	}
	oldUID := scittleClientEval(t, p, "(sl/uid c)")
	// The page subscribes (its client re-subscribes after reconnects) and waits
	// for something that will never come: the drop must end that wait.
	scittleClientEval(t, p, `(defonce restart (atom {}))
	  (sl/on! c {:event-id :sente-lite/channel-msg :callback (fn [m] (swap! restart update :msgs (fnil conj []) (get-in m [:data :data])))})
	  (sl/subscribe! c "lobby" {:callback (fn [r] (swap! restart assoc :subscribed r))})
	  (sl/take! c {:event-id :e2e/never :callback (fn [m] (swap! restart assoc :take m))})
	  ""`)
	scittleClientWait(t, p, "(contains? @restart :subscribed)", evalBound)

	start := time.Now()
	stop1()
	ctx, cancel := context.WithTimeout(context.Background(), evalBound)
	defer cancel()
	if err := p.WaitFor(ctx, "document.body.dataset.state === 'disconnected'"); err != nil {
		t.Fatalf("page did not show disconnected after the gateway stopped: %v", err)
	}
	t.Logf("page showed disconnected %v after stop began", time.Since(start).Round(time.Millisecond))
	dropped := scittleClientEDN(t, p, "[(get @restart :take) (sl/uid c) (:state (sl/status c))]")
	if l, _ := dropped.([]any); len(l) != 3 || get(l[0], ":error") != "closed" || get(l[0], ":reason") != "disconnected" || l[1] != nil || l[2] != "connecting" {
		t.Errorf("after the drop [take! uid state] = %v, want [{:error :closed :reason :disconnected} nil :connecting]", dropped)
	}

	restart := time.Now()
	g2, _ := scittleClientStartOn(t, httpPort, nreplPort)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel2()
	if err := p.WaitFor(ctx2, "document.body.dataset.state === 'connected'"); err != nil {
		t.Fatalf("page did not reconnect to the new gateway within 30s: %v", err)
	}
	rt := scittleClientWaitRuntime(t, g2, gateway.KindSenteLite, 1)
	t.Logf("page reconnected %v after the new gateway started (down for %v); runtime %s",
		time.Since(restart).Round(time.Millisecond), restart.Sub(start).Round(time.Millisecond), rt.ID)
	st := scittleClientEDN(t, p, "(sl/status c)")
	if uid := str(get(st, ":uid")); uid == "" || uid == oldUID || fmt.Sprint(get(st, ":reconnects")) != "1" {
		t.Errorf("status after the restart %v, want a new uid (old %s) and 1 reconnect", st, oldUID)
	}

	// A new editor connection on the same port evaluates in the same page: no reload.
	c2 := g2.Editor(t)
	res := eval(t, c2, "", "(* survivor 7)", nil)
	if !slices.Equal(res.Values, []string{"42"}) {
		t.Errorf("eval after the restart: %v", res.Responses)
	}
	if raw, err := p.Eval(ctxFor(t, evalBound), "performance.getEntriesByType('navigation').length"); err != nil || string(raw) != "1" {
		t.Errorf("navigations: %s %v", raw, err)
	}

	// The page re-subscribed to lobby on the new gateway (:resubscribe? true).
	goc := scittleClientGo(t, g2)
	var raw json.RawMessage
	var err error
	landed := func() bool {
		// Publish until the re-subscription has landed.
		_ = goc.Publish("lobby", "after restart", false)
		raw, err = p.Eval(ctxFor(t, evalBound), scittleClientJS(`(pr-str (:msgs @restart))`))
		return err == nil && strings.Contains(string(raw), "after restart")
	}
	if !testutil.Poll(context.Background(), evalBound, landed) {
		t.Fatalf("no lobby message reached the page after the restart: %s %v", raw, err)
	}
}

// --- against a bare server -------------------------------------------------

// scittleClientBare is a minimal sente-lite server for what the gateway never
// does: it handshakes, sends a batch with a [:chsk/recv ...] push, a v1 map, a
// frame that is not EDN and an unknown tagged literal, answers callback requests with a bare keyword [:ok "cb"], and never answers
// pings.
type scittleClientBare struct {
	srv   *httptest.Server
	mu    sync.Mutex
	conns int
	in    []string
}

func scittleClientBareServer(t *testing.T) *scittleClientBare {
	bs := &scittleClientBare{}
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	bs.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		bs.mu.Lock()
		bs.conns++
		n := bs.conns
		bs.mu.Unlock()
		for _, f := range []string{
			fmt.Sprintf(`[:chsk/handshake ["bare-%d" "bare-csrf" {:v 1} true]]`, n),
			`[[:e2e/a 1] [:e2e/b "two"] [:chsk/recv [:e2e/c {:n 3}]]]`,
			`{:type :v1-welcome}`,
			`[:e2e/broken`,
			`[:e2e/d #e2e/tagged [1 2]]`,
		} {
			if err := conn.WriteMessage(websocket.TextMessage, []byte(f)); err != nil {
				return
			}
		}
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				return
			}
			bs.mu.Lock()
			bs.in = append(bs.in, string(data))
			bs.mu.Unlock()
			f, err := wire.DecodeFrame(data, wire.Limits{MaxBytes: 1 << 20, MaxDepth: 100})
			if err == nil && f.Kind == wire.KindCallback {
				reply, _ := json.Marshal(f.CallbackID) // a JSON string of ASCII is an EDN string
				_ = conn.WriteMessage(websocket.TextMessage, []byte("[:ok "+string(reply)+"]"))
			}
		}
	}))
	t.Cleanup(bs.srv.Close)
	return bs
}

func (bs *scittleClientBare) url() string {
	return "ws" + strings.TrimPrefix(bs.srv.URL, "http") + "/chsk"
}

func (bs *scittleClientBare) snapshot() (int, []string) {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	return bs.conns, append([]string(nil), bs.in...)
}

func scittleClientTestBareServer(t *testing.T, p *peers.Page) {
	bs := scittleClientBareServer(t)
	scittleClientEval(t, p, fmt.Sprintf(`(defonce bare (atom {}))
	  (def c3 (sl/make-client! {:url %q :ping-interval-ms 0
	                            :on-message (fn [ev data] (swap! bare update :msgs (fnil conj []) [ev data]))}))
	  ""`, bs.url()))
	scittleClientWait(t, p, "(= 4 (count (:msgs @bare)))", evalBound)
	if got := scittleClientEval(t, p, "(pr-str (:msgs @bare))"); got != `[[:e2e/a 1] [:e2e/b "two"] [:e2e/c {:n 3}] [:e2e/d {:tag e2e/tagged, :value [1 2]}]]` {
		t.Errorf("batch, :chsk/recv, an unreadable frame and a tagged literal gave %s", got)
	}
	if got := scittleClientEval(t, p, "(pr-str [(sl/uid c3) (sl/csrf-token c3)])"); got != `["bare-1" "bare-csrf"]` {
		t.Errorf("[uid csrf] = %s", got)
	}
	waitConsole(t, p, "retired v1 format")
	waitConsole(t, p, "unreadable frame")

	// A reply whose data is a keyword reads like an event by shape; it answers the
	// pending callback all the same.
	scittleClientEval(t, p, `(sl/send! c3 [:e2e/q 1] {:callback (fn [r] (swap! bare assoc :reply r))}) ""`)
	scittleClientWait(t, p, "(contains? @bare :reply)", evalBound)
	if got := scittleClientEval(t, p, "(pr-str (:reply @bare))"); got != ":ok" {
		t.Errorf("reply %s, want :ok", got)
	}
	scittleClientEval(t, p, "(sl/close! c3) \"\"")

	// A server that never answers pings: the client pings after the interval,
	// gives up after the pong timeout and reconnects.
	start := time.Now()
	scittleClientEval(t, p, fmt.Sprintf(`(def c4 (sl/make-client! {:url %q :ping-interval-ms 300 :pong-timeout-ms 300 :backoff-base-ms 50
	                                                             :on-close (fn [info] (swap! bare update :c4-close (fnil conj []) info))}))
	  ""`, bs.url()))
	scittleClientWait(t, p, "(pos? (:reconnects (sl/status c4)))", evalBound)
	t.Logf("unanswered ping: reconnected after %v", time.Since(start).Round(time.Millisecond))
	scittleClientEval(t, p, "(sl/close! c4) \"\"")
	conns, in := bs.snapshot()
	if conns != 3 || !slices.Contains(in, "[:chsk/ws-ping]") {
		t.Errorf("bare server saw %d connections (want 3: c3, c4, c4 again) and frames %q (want a ping)", conns, in)
	}
	got := scittleClientEval(t, p, "(pr-str (mapv (fn [i] (select-keys i [:code :will-reconnect?])) (:c4-close @bare)))")
	if got != "[{:code 4001, :will-reconnect? true} {:code 1000, :will-reconnect? false}]" {
		t.Errorf("c4's on-close got %s, want the heartbeat drop then close!", got)
	}
}
