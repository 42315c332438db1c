package gateway

import (
	"errors"
	"fmt"
	"sort"

	"olympos.io/encoding/edn"

	"github.com/sente-clj/sente/gateway/wsconn"
	"github.com/sente-clj/sente/nrepl"
	"github.com/sente-clj/sente/wire"
)

// nREPL runtimes over /chsk: a sente-lite client that answers the describe
// probe with :nrepl/response becomes a runtime editors can evaluate in. All
// of the hub's nREPL is here; hub.go calls in to probe a new client, to hand
// over :nrepl/response events, and when a client leaves.

// runtimeRegistry lists the runtimes editors can pick (runtimes.go).
type runtimeRegistry interface {
	add(kind, userAgent, remote string, ops []string, link runtimeLink) *Runtime
	// remove reports whether rt was still listed.
	remove(rt *Runtime) bool
}

// runtimeBridge takes a runtime's answers to the editors that asked, and
// ends what they wait for when it cannot (bridge.go).
type runtimeBridge interface {
	deliver(rt *Runtime, m nrepl.Msg)
	endFrom(rt *Runtime, gid, text string, statuses ...string)
	runtimeGone(rt *Runtime, reason string)
}

// probeID is the id of the describe probe that tells whether c answers nREPL;
// made when needed, not kept, as every idle connection would keep it.
func (c *chskConn) probeID() string { return probePrefix + c.uid[:12] }

func (c *chskConn) isProbe(id string) bool {
	return len(id) == len(probePrefix)+12 && id[:len(probePrefix)] == probePrefix && id[len(probePrefix):] == c.uid[:12]
}

const probePrefix = "probe-"

// sendProbe asks a new client to describe itself; a client that answers nREPL
// becomes a runtime. Clients that do not speak nREPL ignore the event.
func (h *hub) sendProbe(c *chskConn) {
	if frame, err := encodeNREPLRequest(nrepl.Msg{"op": "describe", "id": c.probeID()}); err == nil {
		h.answerNow(c, frame)
	}
}

// queueNREPL sends [:nrepl/request m] with both shapes found in the wild, and
// a keyword :op in both, since scittle.nrepl.js dispatches on a keyword:
//   - the plain keys, which sente-lite's published browser bundle hands to
//     scittle.nrepl.js as (pr-str data) and its Babashka/nbb peers read;
//   - the request as an EDN string under :edn, which sente-lite's nREPL module
//     source and sente's own bundle read.
func (h *hub) queueNREPL(c *chskConn, m nrepl.Msg) error {
	frame, err := encodeNREPLRequest(m)
	if err != nil {
		return err
	}
	if err := c.ws.Send(frame, false); err != nil {
		if errors.Is(err, wsconn.ErrQueueFull) {
			return fmt.Errorf("runtime has %d frames queued and is not reading them", c.ws.MaxQueue())
		}
		return err
	}
	h.stats.messagesOut.Add(1)
	return nil
}

func encodeNREPLRequest(m nrepl.Msg) ([]byte, error) {
	req := nrepl.ToEDN(m)
	req[kwOp] = edn.Keyword(m.Str("op"))
	text, err := wire.Print(req)
	if err != nil {
		return nil, fmt.Errorf("encode request for the runtime: %w", err)
	}
	req[kwEDN] = string(text)
	frame, err := wire.EncodeEvent(wire.Event{ID: wire.EvNREPLRequest, Data: req, HasData: true})
	if err != nil {
		return nil, fmt.Errorf("encode request for the runtime: %w", err)
	}
	return frame, nil
}

var (
	kwOp  = edn.Keyword("op")
	kwEDN = edn.Keyword("edn")
	kwID  = edn.Keyword("id")
)

// nreplResponse accepts a response in either shape; the first answer to the
// probe makes the client a runtime. A response that is not an answer (an echo
// of the request, or one sente cannot read) ends the editor's request at once
// with an error, instead of leaving it to --eval-timeout.
func (h *hub) nreplResponse(c *chskConn, data any) {
	msg, id, err := decodeNREPLResponse(data, wire.Limits{MaxBytes: h.cfg.maxMessageBytes, MaxDepth: h.cfg.maxFrameDepth})
	rt := c.rt.Load()
	if err != nil {
		h.stats.parseErrors.Add(1)
		h.log.Warn("unreadable nREPL response from sente-lite client", "uid", c.uid, "id", id, "err", err)
		h.sendError(c, "unreadable-nrepl-response", err.Error())
		if rt != nil && id != "" {
			h.bridge.endFrom(rt, id, fmt.Sprintf("runtime %s answered with something that is not an nREPL response (%v); the request ends here", rt.ID, err), "runtime-error")
		}
		return
	}
	if c.isProbe(id) {
		if rt == nil {
			h.promote(c, msg)
		}
		return
	}
	if rt == nil {
		h.log.Debug("nREPL response from a client that is not a runtime", "uid", c.uid)
		return
	}
	if text, statuses, ok := notAnAnswer(rt, msg); !ok {
		h.log.Warn("runtime sent something that is not an nREPL response", "runtime", rt.ID, "uid", c.uid, "id", id, "why", text)
		h.bridge.endFrom(rt, id, text, statuses...)
		return
	}
	h.bridge.deliver(rt, msg)
}

// notAnAnswer tells a response apart from what a runtime sends when it did
// not understand the request: scittle.nrepl.js answers an op it cannot
// dispatch (a string :op, say) by echoing the whole request back with an
// error status; and a message with nothing but its id answers nothing. ok is
// true for a real answer; otherwise text and statuses end the request.
func notAnAnswer(rt *Runtime, m nrepl.Msg) (text string, statuses []string, ok bool) {
	if op, echoed := m["op"]; echoed {
		if m.Str("err") == "unknown-op" {
			return fmt.Sprintf("runtime %s does not know the op %q: it echoed the request back with unknown-op (a runtime behind sente-lite must read :op as a keyword)", rt.ID, fmt.Sprint(op)), []string{"unknown-op"}, false
		}
		return fmt.Sprintf("runtime %s echoed the request (op %q) back instead of answering it", rt.ID, fmt.Sprint(op)), []string{"runtime-error"}, false
	}
	for k := range m {
		if k != "id" && k != "session" {
			return "", nil, true
		}
	}
	return fmt.Sprintf("runtime %s answered with an empty response", rt.ID), []string{"runtime-error"}, false
}

// decodeNREPLResponse reads the data of [:nrepl/response data]. The plain keys
// (sente-lite's published runtimes: {:value "3" :status [:done] :id ...}) win over an :edn
// string (the wrapped shape {:edn "{...}"}), so that a runtime that echoes a
// request, :edn and all, is read by its plain :status and not as the
// request. id is the response's id as far as it could be read, also when err
// says the rest could not.
func decodeNREPLResponse(data any, limits wire.Limits) (msg nrepl.Msg, id string, err error) {
	m, isMap := data.(map[any]any)
	if !isMap {
		return nil, "", fmt.Errorf(":nrepl/response data must be a map, got %s", ednKind(data))
	}
	id, _ = m[kwID].(string)
	text, hasEDN := m[kwEDN].(string)
	plain := !hasEDN
	for k := range m {
		if k != kwEDN && k != kwID && k != edn.Keyword("session") {
			plain = true
			break
		}
	}
	if plain {
		msg, err = nrepl.FromEDN(m)
		delete(msg, "edn")
		return msg, id, err
	}
	v, err := wire.Parse([]byte(text), limits)
	if err != nil {
		return nil, id, fmt.Errorf(":edn is not readable: %w", err)
	}
	if msg, err = nrepl.FromEDN(v); err != nil {
		return nil, id, fmt.Errorf(":edn: %w", err)
	}
	if s := msg.Str("id"); s != "" {
		id = s
	}
	return msg, id, nil
}

func ednKind(v any) string {
	switch v.(type) {
	case nil:
		return "nil"
	case string:
		return "a string"
	case []any:
		return "a vector"
	case edn.Keyword:
		return "a keyword"
	}
	return fmt.Sprintf("%T", v)
}

// endFrom ends the pending request gid with an error, if runtime rt holds it:
// a runtime cannot end another runtime's requests. When gid is the
// installation of sente's REPL helper (jobs.go), no editor waits on it: the
// runtime is taken not to run the helper, and the requests waiting for it pass
// through as they came, each to its own answer.
func (b *bridge) endFrom(rt *Runtime, gid, text string, statuses ...string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if rt.bootGID != "" && gid == rt.bootGID {
		st := []any{"done", "error"}
		for _, s := range statuses {
			st = append(st, s)
		}
		b.bootAnswerLocked(rt, nrepl.Msg{"id": gid, "err": text, "status": st})
		return
	}
	p := b.pending[gid]
	if p == nil || p.rt != rt {
		b.log.Debug("dropped a response nobody waits for", "runtime", rt.ID, "id", gid)
		return
	}
	b.unlink(p)
	b.endLocked(p, text, statuses...)
}

func (h *hub) promote(c *chskConn, describe nrepl.Msg) {
	ops := scittleOps
	if m, ok := describe["ops"].(map[string]any); ok && len(m) > 0 {
		ops = make([]string, 0, len(m))
		for op := range m {
			ops = append(ops, op)
		}
		sort.Strings(ops)
	}
	rt := h.runtimes.add(KindSenteLite, c.userAgent, c.remote, ops, liteRuntime{h: h, c: c})
	c.rt.Store(rt)
	h.log.Info("runtime connected", "runtime", rt.ID, "kind", rt.Kind, "user-agent", rt.UserAgent, "remote", rt.Remote, "uid", c.uid)
}

// runtimeLeaving unlists c's runtime, if c is one, as its connection ends:
// first, so that no new request picks a runtime that is leaving.
func (h *hub) runtimeLeaving(c *chskConn) *Runtime {
	rt := c.rt.Load()
	if rt != nil {
		h.runtimes.remove(rt)
	}
	return rt
}

// runtimeLeft ends, once c's connection is closed, what editors still wait
// for from its runtime rt (nil when c was none).
func (h *hub) runtimeLeft(rt *Runtime, reason string) {
	if rt == nil {
		return
	}
	h.bridge.runtimeGone(rt, reason)
	h.log.Info("runtime disconnected", "runtime", rt.ID, "reason", reason)
}

// liteRuntime is the runtimeLink of a sente-lite client that answers nREPL.
type liteRuntime struct {
	h *hub
	c *chskConn
}

func (l liteRuntime) request(m nrepl.Msg) error { return l.h.queueNREPL(l.c, m) }
func (l liteRuntime) close(reason string)       { l.c.ws.Close(wsconn.ClosedByServer, reason) }
