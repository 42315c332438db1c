package gateway

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gorilla/websocket"
	"olympos.io/encoding/edn"

	"github.com/sente-clj/sente/gateway/wsconn"
	"github.com/sente-clj/sente/nrepl"
	"github.com/sente-clj/sente/wire"
)

// scittleOps are the ops stock scittle.nrepl.js answers (Scittle 0.8.33).
var scittleOps = []string{"eval", "complete", "info", "eldoc", "lookup"}

// scittleRuntime is one stock scittle.nrepl.js connection on /_nrepl.
type scittleRuntime struct {
	ws *wsconn.Conn
}

func (sr *scittleRuntime) request(m nrepl.Msg) error {
	msg := nrepl.ToEDN(m)
	// scittle.nrepl.js dispatches on (= :eval (:op msg)): the op must be a keyword.
	msg[edn.Keyword("op")] = edn.Keyword(m.Str("op"))
	frame, err := wire.Print(msg)
	if err != nil {
		return fmt.Errorf("encode request for the runtime: %w", err)
	}
	if err := sr.ws.Send(frame, false); err != nil {
		if errors.Is(err, wsconn.ErrQueueFull) {
			return fmt.Errorf("runtime has %d requests queued and is not reading them", sr.ws.MaxQueue())
		}
		return err
	}
	return nil
}

func (sr *scittleRuntime) close(reason string) { sr.ws.Close(wsconn.ClosedByServer, reason) }

// serveScittle accepts a stock Scittle nREPL runtime. The read loop runs on a
// fresh goroutine so that the HTTP server's (larger) goroutine can end.
func (s *Server) serveScittle(w http.ResponseWriter, r *http.Request) {
	conn, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered the client already
	}
	sr := &scittleRuntime{ws: wsconn.New(conn, wsconn.Options{ReadLimit: s.cfg.MaxNREPLMessage,
		MaxQueue: s.cfg.RuntimeQueue, MaxQueueBytes: s.cfg.RuntimeQueueBytes})}
	if !s.live.Add(sr.ws, sr.ws.Ping) {
		sr.ws.Close(wsconn.ClosedShutdown, "gateway shutting down")
		_ = conn.Close()
		return
	}
	rt := s.runtimes.add(KindScittleNREPL, r.UserAgent(), r.RemoteAddr, scittleOps, sr)
	s.log.Info("runtime connected", "runtime", rt.ID, "kind", rt.Kind, "user-agent", rt.UserAgent, "remote", rt.Remote)
	s.goConn(func() {
		state, reason := s.scittleReadLoop(rt, sr)
		// Unregistered first, so no new request picks a runtime that is leaving.
		s.runtimes.remove(rt)
		sr.ws.Close(state, reason)
		s.live.Remove(sr.ws)
		_ = conn.Close()
		s.bridge.runtimeGone(rt, reason)
		s.log.Info("runtime disconnected", "runtime", rt.ID, "reason", reason)
	})
}

// scittleReadLoop reads responses until the socket ends; it returns why.
func (s *Server) scittleReadLoop(rt *Runtime, sr *scittleRuntime) (wsconn.CloseState, string) {
	limits := wire.Limits{MaxBytes: int(s.cfg.MaxNREPLMessage), MaxDepth: s.cfg.MaxFrameDepth}
	bad := 0
	for {
		typ, data, err := sr.ws.ReadMessage()
		if err != nil {
			return sr.ws.EndedBy(err)
		}
		s.stats.runtimeFrames.Add(1)
		msg, err := decodeRuntimeFrame(typ, data, limits)
		if err != nil {
			bad++
			s.stats.runtimeBadFrames.Add(1)
			s.log.Warn("unreadable frame from runtime", "runtime", rt.ID, "user-agent", rt.UserAgent, "err", err, "bad-frames", bad)
			if bad >= s.cfg.MaxBadFrames {
				return wsconn.ClosedBadFrames, fmt.Sprintf("closed after %d unreadable frames", bad)
			}
			continue
		}
		s.bridge.deliver(rt, msg)
	}
}

func decodeRuntimeFrame(typ int, data []byte, limits wire.Limits) (nrepl.Msg, error) {
	if typ != websocket.TextMessage {
		return nil, errors.New("binary frame; runtimes send EDN text frames")
	}
	v, err := wire.Parse(data, limits)
	if err != nil {
		return nil, err
	}
	return nrepl.FromEDN(v)
}
