package gateway

import (
	"html/template"
	"net/http"
	"os"
	"strings"

	"github.com/sente-clj/sente/browser"
	"github.com/sente-clj/sente/internal/buildinfo"
)

// pageRoutes serves the pages, the sente-lite browser assets and, when --scittle
// is a directory, Scittle itself:
//
//	/                  the sente-lite page: a Scittle client on /chsk that is also
//	                   an nREPL runtime (stock scittle.nrepl.js behind nrepl-shim.js)
//	/stock             the stock page: scittle.nrepl.js on its own socket, /_nrepl
//	/sente-lite.cljs   namespace sente-lite.client, for pages of your own
//	/sente-nrepl.cljs  namespace sente-lite.nrepl
//	/nrepl-shim.js     load before scittle.nrepl.js to run nREPL over sente-lite
func (s *Server) pageRoutes(mux *http.ServeMux) error {
	base := strings.TrimRight(s.cfg.Scittle, "/")
	if fi, err := os.Stat(s.cfg.Scittle); err == nil && fi.IsDir() {
		mux.Handle("GET /scittle/", http.StripPrefix("/scittle/", http.FileServer(http.Dir(s.cfg.Scittle))))
		base = "/scittle"
	}
	d := pageData{ScittleBase: base, Port: s.cfg.HTTPPort, NREPLPort: s.cfg.NREPLPort, Version: buildinfo.Version}
	lite, err := render(litePageTemplate, d)
	if err != nil {
		return err
	}
	stock, err := render(pageTemplate, d)
	if err != nil {
		return err
	}
	mux.Handle("GET /{$}", htmlPage(lite))
	mux.Handle("GET /stock", htmlPage(stock))
	for _, a := range browser.Assets() {
		mux.Handle("GET /"+a.Name, a)
	}
	return nil
}

func htmlPage(page []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(page)
	})
}

type pageData struct {
	ScittleBase string
	Port        int
	NREPLPort   int
	Version     string
}

// pageTemplate is the stock page (/stock): scittle.nrepl.js on /_nrepl.
var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>sente runtime</title>
<style>
 body { font: 15px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 42rem; color: #222; }
 #state { font-weight: 600; padding: .1rem .5rem; border-radius: .3rem; background: #eee; }
 #state.connected { background: #c8f0c8; } #state.disconnected, #state.no-nrepl { background: #f6c6c6; }
 code { background: #f4f4f4; padding: 0 .25rem; }
</style>
<script>
// scittle.nrepl.js opens ws://HOST:PORT/_nrepl, which a page served over HTTPS
// may not open. Over HTTPS the page opens wss:// itself: scittle.nrepl.js uses a
// socket it finds at window.ws_nrepl. Requests that arrive before it attaches
// are kept and handed to it after.
if (location.protocol === 'https:') {
  (function () {
    var ws = new WebSocket('wss://' + location.host + '/_nrepl');
    var early = [];
    ws.onmessage = function (e) { early.push(e); };
    window.ws_nrepl = ws;
    window.senteEarlyFrames = early;
  })();
} else {
  window.SCITTLE_NREPL_WEBSOCKET_PORT = {{.Port}};
}
</script>
<script src="{{.ScittleBase}}/scittle.js"></script>
<script src="{{.ScittleBase}}/scittle.nrepl.js"></script>
<script>
(function () {
  var early = window.senteEarlyFrames, ws = window.ws_nrepl;
  window.senteEarlyFrames = null;
  if (early && ws && ws.onmessage) {
    early.forEach(function (e) { ws.onmessage(e); });
  }
})();
</script>
</head>
<body data-state="connecting">
<h1>sente runtime</h1>
<p>REPL connection: <span id="state">connecting</span></p>
<p>Connect your editor's nREPL client to port <code>{{.NREPLPort}}</code>
(CIDER: <code>cider-connect-clj</code>, Calva: <i>Connect to a Running REPL Server</i> then <i>Generic</i>, Conjure: <code>:ConjureConnect {{.NREPLPort}}</code>)
and evaluate: the code runs in this page.</p>
<p><small>sente {{.Version}}</small></p>
<script>
(function () {
  var el = document.getElementById('state');
  function show(s) { el.textContent = s; el.className = s; document.body.dataset.state = s; }
  var ws = window.ws_nrepl;
  if (!ws) { show('no-nrepl'); return; }
  show(ws.readyState === 1 ? 'connected' : 'connecting');
  ws.addEventListener('open', function () { show('connected'); });
  ws.addEventListener('close', function () { show('disconnected'); });
})();
</script>
</body>
</html>
`))

// litePageTemplate is the sente-lite page (/): one sente-lite socket on /chsk
// carries both the page's own events and nREPL. scittle.nrepl.js is loaded
// without SCITTLE_NREPL_WEBSOCKET_PORT, so it binds to nrepl-shim.js's stand-in
// socket, which sente-lite.nrepl connects to the client. body[data-state] is
// connecting, connected or disconnected (reconnecting).
var litePageTemplate = template.Must(template.New("lite").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>sente runtime</title>
<style>
 body { font: 15px/1.5 system-ui, sans-serif; margin: 2rem auto; max-width: 42rem; color: #222; }
 #state { font-weight: 600; padding: .1rem .5rem; border-radius: .3rem; background: #eee; }
 #state.connected { background: #c8f0c8; } #state.disconnected { background: #f6c6c6; }
 code { background: #f4f4f4; padding: 0 .25rem; }
</style>
<script src="{{.ScittleBase}}/scittle.js"></script>
<script src="/nrepl-shim.js"></script>
<script src="{{.ScittleBase}}/scittle.nrepl.js"></script>
<script type="application/x-scittle" src="/sente-lite.cljs"></script>
<script type="application/x-scittle" src="/sente-nrepl.cljs"></script>
</head>
<body data-state="connecting">
<h1>sente runtime</h1>
<p>sente-lite connection: <span id="state">connecting</span> <small id="detail"></small></p>
<p>Connect your editor's nREPL client to port <code>{{.NREPLPort}}</code>
(CIDER: <code>cider-connect-clj</code>, Calva: <i>Connect to a Running REPL Server</i> then <i>Generic</i>, Conjure: <code>:ConjureConnect {{.NREPLPort}}</code>)
and evaluate: the code runs in this page.</p>
<p><small>sente {{.Version}} &middot; sente-lite client <code>/sente-lite.cljs</code> &middot; <a href="/stock">stock scittle.nrepl.js page</a></small></p>
<script type="application/x-scittle">
(ns sente-lite.page
  (:require [sente-lite.client :as sl]
            [sente-lite.nrepl :as nrepl]))

(defn- show! [state detail]
  (let [el (.getElementById js/document "state")]
    (set! (.-textContent el) state)
    (set! (.-className el) state)
    (set! (.-textContent (.getElementById js/document "detail")) detail)
    (set! (.-state (.-dataset (.-body js/document))) state)))

(defn- render [s]
  (cond
    (= :connected (get s :state))
    ["connected" (str "as " (get s :uid)
                      (when (pos? (get s :reconnects)) (str ", reconnected " (get s :reconnects) "x")))]
    (get s :ever-connected?)
    ["disconnected" (if (= :closed (get s :state)) "closed" "reconnecting")]
    :else
    ["connecting" ""]))

(def url (str (if (= "https:" (.-protocol js/location)) "wss://" "ws://") (.-host js/location) "/chsk"))

(defonce client
  (sl/make-client! {:url url :reconnect? true :resubscribe? true}))

(defonce shown (atom nil))

(defn- refresh! [s]
  (let [view (render s)]
    (when (not= view @shown)
      (reset! shown view)
      (show! (first view) (second view)))))

(add-watch client ::page (fn [_ _ _ s] (refresh! s)))
(refresh! @client)

(defonce bridge (nrepl/start! client))
</script>
</body>
</html>
`))

func render(t *template.Template, d pageData) ([]byte, error) {
	var b strings.Builder
	if err := t.Execute(&b, d); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}
