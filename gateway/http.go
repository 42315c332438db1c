package gateway

import (
	"encoding/json"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	"github.com/sente-clj/sente/internal/buildinfo"
)

func (s *Server) routes() (http.Handler, error) {
	mux := http.NewServeMux()
	base := strings.TrimRight(s.cfg.Scittle, "/")
	if fi, err := os.Stat(s.cfg.Scittle); err == nil && fi.IsDir() {
		mux.Handle("GET /scittle/", http.StripPrefix("/scittle/", http.FileServer(http.Dir(s.cfg.Scittle))))
		base = "/scittle"
	}
	page, err := renderPage(pageData{ScittleBase: base, Port: s.cfg.HTTPPort, NREPLPort: s.cfg.NREPLPort, Version: buildinfo.Version})
	if err != nil {
		return nil, err
	}
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(page)
	})
	mux.HandleFunc("GET /health", s.health)
	mux.HandleFunc("GET /runtimes", s.listRuntimesJSON)
	mux.HandleFunc("GET /_nrepl", s.serveScittle)
	mux.HandleFunc("GET /chsk", s.hub.serveChsk)
	mux.HandleFunc("GET /stats", s.statsJSON)
	mux.HandleFunc("GET /channels", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"channels": s.hub.channelCounts()})
	})
	return mux, nil
}

// checkOrigin lets a WebSocket in from the gateway's own page, from pages on
// this machine, from non-browser clients (no Origin), and from --allow-origin.
// Any web page can open ws://127.0.0.1:PORT, so everything else is refused.
func (s *Server) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || originAllowed(origin, r.Host, s.cfg.AllowOrigins) {
		return true
	}
	s.stats.rejectedOrigins.Add(1)
	s.log.Warn("refused a WebSocket from a foreign origin", "origin", origin, "path", r.URL.Path,
		"remote", r.RemoteAddr, "hint", "allow it with --allow-origin")
	return false
}

func originAllowed(origin, host string, patterns []string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, host) {
		return true
	}
	switch strings.ToLower(u.Hostname()) {
	case "localhost", "127.0.0.1", "::1":
		return true
	}
	for _, p := range patterns {
		if p == origin {
			return true
		}
		if ok, err := path.Match(p, origin); err == nil && ok {
			return true
		}
	}
	return false
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, map[string]any{
		"status":         "ok",
		"version":        buildinfo.Version,
		"uptime-seconds": int64(time.Since(s.started).Seconds()),
		"nrepl":          s.NREPLAddr().String(),
		"http":           s.HTTPAddr().String(),
		"runtimes":       s.runtimes.count(),
		"editors":        s.stats.editors.Load(),
		"connections":    s.hub.stats.connections.Load(),
		"pending":        s.bridge.pendingCount(),
	})
}

func (s *Server) statsJSON(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, map[string]any{
		"uptime-seconds": int64(time.Since(s.started).Seconds()),
		"sente-lite":     s.hub.snapshot(),
		"nrepl": map[string]any{
			"editors":             s.stats.editors.Load(),
			"requests":            s.stats.requests.Load(),
			"pending":             s.bridge.pendingCount(),
			"slow-editor-closes":  s.stats.slowEditors.Load(),
			"runtimes":            s.runtimes.count(),
			"runtime-frames":      s.stats.runtimeFrames.Load(),
			"runtime-bad-frames":  s.stats.runtimeBadFrames.Load(),
			"rejected-ws-origins": s.stats.rejectedOrigins.Load(),
		},
	})
}

func (s *Server) listRuntimesJSON(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, map[string]any{"runtimes": s.runtimes.list()})
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

// HostIsLoopback reports whether a --host value only accepts local connections.
func HostIsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
