package gateway

import (
	"html/template"
	"net/http"
	"os"
	"strings"

	"github.com/sente-clj/sente/internal/buildinfo"
)

// pageRoutes serves the ready page and, when --scittle is a directory, Scittle itself.
func (s *Server) pageRoutes(mux *http.ServeMux) error {
	base := strings.TrimRight(s.cfg.Scittle, "/")
	if fi, err := os.Stat(s.cfg.Scittle); err == nil && fi.IsDir() {
		mux.Handle("GET /scittle/", http.StripPrefix("/scittle/", http.FileServer(http.Dir(s.cfg.Scittle))))
		base = "/scittle"
	}
	page, err := renderPage(pageData{ScittleBase: base, Port: s.cfg.HTTPPort, NREPLPort: s.cfg.NREPLPort, Version: buildinfo.Version})
	if err != nil {
		return err
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(page)
	})
	return nil
}

type pageData struct {
	ScittleBase string
	Port        int
	NREPLPort   int
	Version     string
}

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
<script>window.SCITTLE_NREPL_WEBSOCKET_PORT = {{.Port}};</script>
<script src="{{.ScittleBase}}/scittle.js"></script>
<script src="{{.ScittleBase}}/scittle.nrepl.js"></script>
</head>
<body data-state="connecting">
<h1>sente runtime</h1>
<p>REPL connection: <span id="state">connecting</span></p>
<p>Connect your editor's nREPL client to port <code>{{.NREPLPort}}</code>
(CIDER: <code>cider-connect-cljs</code>, Calva: <i>Connect to a running REPL</i>, Conjure: <code>:ConjureConnect {{.NREPLPort}}</code>)
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

func renderPage(d pageData) ([]byte, error) {
	var b strings.Builder
	if err := pageTemplate.Execute(&b, d); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}
