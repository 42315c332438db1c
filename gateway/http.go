package gateway

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"time"

	"github.com/sente-clj/sente/internal/buildinfo"
)

func (s *Server) routes() (http.Handler, error) {
	mux := http.NewServeMux()
	if err := s.pageRoutes(mux); err != nil {
		return nil, err
	}
	mux.HandleFunc("GET /health", s.health)
	mux.HandleFunc("GET /runtimes", s.listRuntimesJSON)
	mux.HandleFunc("GET /_nrepl", s.serveScittle)
	mux.HandleFunc("GET /chsk", s.hub.serveChsk)
	mux.HandleFunc("GET /stats", s.statsJSON)
	mux.HandleFunc("GET /channels", func(w http.ResponseWriter, r *http.Request) {
		m := map[string]any{"channels": s.hub.channelCounts()}
		if s.bus != nil {
			m["nats"] = s.bus.channels()
		}
		writeJSON(w, m)
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

// upgradeError answers a request to a WebSocket path that cannot be upgraded,
// saying what the path is for; the refused origin case was logged already.
func (s *Server) upgradeError(w http.ResponseWriter, r *http.Request, status int, reason error) {
	if status != http.StatusForbidden {
		s.log.Info("refused a request to a WebSocket path", "path", r.URL.Path, "method", r.Method,
			"remote", r.RemoteAddr, "status", status, "reason", reason)
	}
	msg := fmt.Sprintf("sente: %s is a WebSocket endpoint (%v)\n", r.URL.Path, reason)
	if status == http.StatusForbidden {
		msg = fmt.Sprintf("sente: WebSocket origin %q is not allowed; start the gateway with --allow-origin %s\n", r.Header.Get("Origin"), r.Header.Get("Origin"))
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Sec-Websocket-Version", "13")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg))
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	h := Health{
		Status:        "ok",
		Version:       buildinfo.Version,
		UptimeSeconds: int64(time.Since(s.started).Seconds()),
		NREPL:         s.NREPLAddr().String(),
		HTTP:          s.HTTPAddr().String(),
		Runtimes:      int64(s.runtimes.count()),
		Editors:       s.stats.editors.Load(),
		Connections:   s.hub.stats.connections.Load(),
		Pending:       int64(s.bridge.pendingCount()),
	}
	if s.bus != nil {
		h.NATS = s.bus.health()
	}
	writeJSON(w, h)
}

func (s *Server) statsJSON(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("gc") == "1" {
		// ?gc=1: the steady state a long-running gateway settles into, which
		// reads compare well: garbage collected, and free memory handed back
		// to the OS as the scavenger would in time (sente bench idle).
		debug.FreeOSMemory()
	}
	st := Stats{
		UptimeSeconds: int64(time.Since(s.started).Seconds()),
		Memory:        memorySnapshot(),
		SenteLite:     s.hub.snapshot(),
		NREPL: NREPLStats{
			Editors:           s.stats.editors.Load(),
			Requests:          s.stats.requests.Load(),
			Pending:           int64(s.bridge.pendingCount()),
			SlowEditorCloses:  s.stats.slowEditors.Load(),
			Runtimes:          int64(s.runtimes.count()),
			RuntimeFrames:     s.stats.runtimeFrames.Load(),
			RuntimeBadFrames:  s.stats.runtimeBadFrames.Load(),
			RejectedWSOrigins: s.stats.rejectedOrigins.Load(),
		},
	}
	if s.bus != nil {
		st.NATS = s.bus.snapshot()
	}
	writeJSON(w, st)
}

func (s *Server) listRuntimesJSON(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, map[string]any{"runtimes": s.runtimes.list()})
}

// memorySnapshot is what an operator (and sente bench) needs to see the
// gateway's footprint without a profiler.
func memorySnapshot() Memory {
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
		{Name: "/memory/classes/heap/stacks:bytes"},
		{Name: "/memory/classes/total:bytes"},
		{Name: "/sched/goroutines:goroutines"},
		{Name: "/memory/classes/heap/released:bytes"},
	}
	metrics.Read(samples)
	v := func(i int) int64 {
		if samples[i].Value.Kind() == metrics.KindUint64 {
			return int64(samples[i].Value.Uint64())
		}
		return 0
	}
	return Memory{
		HeapObjectsBytes: v(0),
		HeapInuseBytes:   v(0) + v(1),
		StackBytes:       v(2),
		// Mapped minus what was given back to the OS: what the process holds.
		TotalBytes: v(3) - v(5),
		Goroutines: v(4),
	}
}

// HostIsLoopback reports whether a --host value only accepts local connections.
func HostIsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
