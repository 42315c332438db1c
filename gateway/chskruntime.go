package gateway

import (
	"errors"
	"fmt"
	"sort"

	"olympos.io/encoding/edn"

	"github.com/sente-clj/sente/nrepl"
	"github.com/sente-clj/sente/wire"
)

// nREPL runtimes over /chsk: a sente-lite client that answers the describe
// probe with :nrepl/response becomes a runtime editors can evaluate in.

// sendProbe asks a new client to describe itself; a client that answers nREPL
// becomes a runtime. Clients that do not speak nREPL ignore the event.
func (h *hub) sendProbe(c *chskConn) {
	_ = h.queueNREPL(c, nrepl.Msg{"op": "describe", "id": c.probeID})
}

// queueNREPL sends [:nrepl/request m] with both shapes found in the wild: the
// request as an EDN string under :edn, and the plain keys.
func (h *hub) queueNREPL(c *chskConn, m nrepl.Msg) error {
	asEDN := nrepl.ToEDN(m)
	// Scittle's nREPL dispatches on a keyword op.
	asEDN[edn.Keyword("op")] = edn.Keyword(m.Str("op"))
	text, err := wire.Print(asEDN)
	if err != nil {
		return fmt.Errorf("encode request for the runtime: %w", err)
	}
	plain := nrepl.ToEDN(m)
	plain[edn.Keyword("edn")] = string(text)
	frame, err := wire.EncodeEvent(wire.Event{ID: wire.EvNREPLRequest, Data: plain, HasData: true})
	if err != nil {
		return fmt.Errorf("encode request for the runtime: %w", err)
	}
	if err := c.ws.send(frame, false); err != nil {
		if errors.Is(err, errQueueFull) {
			return fmt.Errorf("runtime has %d frames queued and is not reading them", c.ws.maxQueue)
		}
		return err
	}
	h.stats.messagesOut.Add(1)
	return nil
}

// nreplResponse accepts a response in either shape; the first answer to the
// probe makes the client a runtime.
func (h *hub) nreplResponse(c *chskConn, data any) {
	msg, err := decodeNREPLResponse(data, wire.Limits{MaxBytes: h.s.cfg.MaxMessageBytes, MaxDepth: h.s.cfg.MaxFrameDepth})
	if err != nil {
		h.stats.parseErrors.Add(1)
		h.s.log.Warn("unreadable nREPL response from sente-lite client", "uid", c.uid, "err", err)
		h.sendError(c, "unreadable-nrepl-response", err.Error())
		return
	}
	if msg.Str("id") == c.probeID {
		if c.rt.Load() == nil {
			h.promote(c, msg)
		}
		return
	}
	rt := c.rt.Load()
	if rt == nil {
		h.s.log.Debug("nREPL response from a client that is not a runtime", "uid", c.uid)
		return
	}
	h.s.bridge.deliver(rt, msg)
}

func decodeNREPLResponse(data any, limits wire.Limits) (nrepl.Msg, error) {
	if text, ok := wire.GetString(data, "edn"); ok {
		v, err := wire.Parse([]byte(text), limits)
		if err != nil {
			return nil, fmt.Errorf(":edn is not readable: %w", err)
		}
		return nrepl.FromEDN(v)
	}
	return nrepl.FromEDN(data)
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
	rt := h.s.runtimes.add(KindSenteLite, c.userAgent, c.remote, ops, liteRuntime{h: h, c: c})
	c.rt.Store(rt)
	h.s.log.Info("runtime connected", "runtime", rt.ID, "kind", rt.Kind, "user-agent", rt.UserAgent, "remote", rt.Remote, "uid", c.uid)
}

// liteRuntime is the runtimeLink of a sente-lite client that answers nREPL.
type liteRuntime struct {
	h *hub
	c *chskConn
}

func (l liteRuntime) request(m nrepl.Msg) error { return l.h.queueNREPL(l.c, m) }
func (l liteRuntime) close(reason string)       { l.c.ws.close(reason) }
