package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"olympos.io/encoding/edn"

	"github.com/sente-clj/sente/gateway/wsconn"
	"github.com/sente-clj/sente/internal/buildinfo"
	"github.com/sente-clj/sente/wire"
)

// hub is the sente-lite server on /chsk: handshake, heartbeat, pub/sub, replies
// to callback events and echo of other events. A client that answers nREPL
// becomes a runtime over the same socket: that part is chskruntime.go. Its
// lock guards maps only; frames are queued, never written, under it.
type hub struct {
	hubDeps
	csrf  string
	stats *hubStats
	ping  []byte // [:chsk/ws-ping], encoded once for every connection
	pong  []byte // [:chsk/ws-pong], likewise

	mu       sync.RWMutex
	conns    map[*chskConn]struct{}
	channels map[string]map[*chskConn]struct{}
}

// hubStats are the /stats counters for the sente-lite side.
type hubStats struct {
	connections    atomic.Int64 // open now
	messagesIn     atomic.Int64 // events read (a batch counts each event)
	messagesOut    atomic.Int64 // frames queued to clients
	dropped        atomic.Int64 // frames not queued because the client was full or gone
	parseErrors    atomic.Int64 // frames that could not be read
	rejectedConns  atomic.Int64 // upgrades refused: connection limit
	slowConsumers  atomic.Int64 // connections closed because they did not read
	heartbeatFails atomic.Int64 // connections closed for silence
}

// chskConn is one sente-lite client.
type chskConn struct {
	uid       string
	ws        *wsconn.Conn
	userAgent string
	remote    string
	connected time.Time

	subs map[string]struct{}     // guarded by hub.mu
	rt   atomic.Pointer[Runtime] // set once it answered the probe
}

// hubDeps is what the hub is given: its limits, and the parts of the server
// it works with, each no more than it uses.
type hubDeps struct {
	cfg      hubConfig
	log      *slog.Logger
	upgrader *websocket.Upgrader
	live     *wsconn.Liveness // pings the hub's connections and reaps silent ones
	goConn   func(func())     // runs a connection's goroutine; shutdown waits for it
	bus      channelBus       // nil: channels stay in this process
	runtimes runtimeRegistry  // chskruntime.go
	bridge   runtimeBridge    // chskruntime.go
}

// hubConfig is the part of Config the hub enforces.
type hubConfig struct {
	csrfToken        string // "": one is made at start
	maxMessageBytes  int
	maxFrameDepth    int
	maxBadFrames     int
	maxConnections   int
	maxSubscriptions int
	maxSubscribers   int
	clientQueue      int
	clientQueueBytes int64
	batch            bool
	nreplProbe       bool
}

func hubConfigOf(c Config) hubConfig {
	return hubConfig{csrfToken: c.CSRFToken, maxMessageBytes: c.MaxMessageBytes, maxFrameDepth: c.MaxFrameDepth,
		maxBadFrames: c.MaxBadFrames, maxConnections: c.MaxConnections, maxSubscriptions: c.MaxSubscriptions,
		maxSubscribers: c.MaxSubscribers, clientQueue: c.ClientQueue, clientQueueBytes: c.ClientQueueBytes,
		batch: c.Batch, nreplProbe: c.NREPLProbe}
}

// channelBus shares channels with other gateways (bus.go, with --nats). The
// hub tells it when a channel gains its first local subscriber and loses its
// last, under the hub's lock so that they follow in order, and hands it every
// message published here.
type channelBus interface {
	interest(channel string)
	noInterest(channel string)
	publish(channel string, frame []byte)
}

// localOnly is the bus without --nats: channels stay in this process.
type localOnly struct{}

func (localOnly) interest(string)        {}
func (localOnly) noInterest(string)      {}
func (localOnly) publish(string, []byte) {}

func newHub(d hubDeps) *hub {
	if d.bus == nil {
		d.bus = localOnly{}
	}
	csrf := d.cfg.csrfToken
	if csrf == "" {
		csrf = randomToken()
	}
	ping, _ := wire.EncodeEvent(wire.Event{ID: wire.EvPing})
	pong, _ := wire.EncodeEvent(wire.Event{ID: wire.EvPong})
	return &hub{hubDeps: d, csrf: csrf, stats: &hubStats{}, ping: ping, pong: pong,
		conns: map[*chskConn]struct{}{}, channels: map[string]map[*chskConn]struct{}{}}
}

// randomToken is 128 bits from the system's CSPRNG: unguessable, never reused.
func randomToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

var (
	kwChannelID = edn.Keyword("channel-id")
	kwData      = edn.Keyword("data")
	kwFrom      = edn.Keyword("from")
	kwSuccess   = edn.Keyword("success")
	kwError     = edn.Keyword("error")
)

// serveChsk accepts one sente-lite client.
func (h *hub) serveChsk(w http.ResponseWriter, r *http.Request) {
	if max := h.cfg.maxConnections; max > 0 && h.stats.connections.Load() >= int64(max) {
		h.stats.rejectedConns.Add(1)
		h.log.Warn("refused a sente-lite connection: connection limit reached", "limit", max, "remote", r.RemoteAddr)
		http.Error(w, fmt.Sprintf("sente: connection limit (%d) reached; raise --max-connections", max), http.StatusServiceUnavailable)
		return
	}
	conn, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	batch := h.cfg.batch && acceptsBatches(r)
	c := &chskConn{uid: randomToken(), ws: wsconn.New(conn, wsconn.Options{ReadLimit: int64(h.cfg.maxMessageBytes),
		MaxQueue: h.cfg.clientQueue, MaxQueueBytes: h.cfg.clientQueueBytes, Batch: batch, CloseWhenFull: true}),
		userAgent: r.UserAgent(), remote: r.RemoteAddr, connected: time.Now()}
	if !h.live.Add(c.ws, func() error { return c.ws.Send(h.ping, false) }) {
		c.ws.Close(wsconn.ClosedShutdown, "gateway shutting down")
		_ = conn.Close()
		return
	}
	h.stats.connections.Add(1)
	h.mu.Lock()
	h.conns[c] = struct{}{}
	h.mu.Unlock()

	hs := wire.HandshakeEvent(wire.Handshake{UID: c.uid, CSRFToken: h.csrf, First: true,
		Data: map[any]any{edn.Keyword("sente-lite-version"): "2.0.0", edn.Keyword("server"): "sente " + buildinfo.Version}})
	// Written from this goroutine, which is about to end anyway: a new
	// connection starts no writer goroutine of its own.
	if frame, err := wire.EncodeEvent(hs); err == nil {
		h.answerNow(c, frame)
	}
	if h.cfg.nreplProbe {
		h.sendProbe(c)
	}
	h.log.Debug("sente-lite client connected", "uid", c.uid, "remote", c.remote, "batches", batch)

	h.goConn(func() {
		state, reason := h.readLoop(c)
		rt := h.runtimeLeaving(c)
		c.ws.Close(state, reason)
		h.live.Remove(c.ws)
		_ = conn.Close()
		h.runtimeLeft(rt, reason)
		if c.ws.ClosedAs() == wsconn.ClosedStale {
			h.stats.heartbeatFails.Add(1)
		}
		// Logged and counted before the connection leaves /stats, so that an
		// operator who sees it gone finds why in the log.
		h.log.Debug("sente-lite client disconnected", "uid", c.uid, "reason", reason)
		h.drop(c)
	})
}

// BatchParam is the query parameter by which a /chsk client says it unwraps
// Sente batch frames [[ev1 ...] [ev2 ...]], e.g. ws://host:port/chsk?batch=1.
// Only such clients get batches (and only with --batch); every other client
// gets one event per frame, because sente-lite's published clients read a
// batch's first element as the event id and silently lose every event in it.
const BatchParam = "batch"

// acceptsBatches reports whether the client asked for batch frames.
func acceptsBatches(r *http.Request) bool {
	v, err := strconv.ParseBool(r.URL.Query().Get(BatchParam))
	return err == nil && v
}

// drop forgets a connection and its subscriptions.
func (h *hub) drop(c *chskConn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.conns, c)
	for ch := range c.subs {
		if subs := h.channels[ch]; subs != nil {
			delete(subs, c)
			if len(subs) == 0 {
				delete(h.channels, ch)
				h.bus.noInterest(ch)
			}
		}
	}
	c.subs = nil
	h.stats.connections.Add(-1)
}

// readLoop reads c until it ends, and says why it did. It keeps few locals: its
// frame is on the stack of every parked connection, and the work per frame is
// in readFrame.
func (h *hub) readLoop(c *chskConn) (wsconn.CloseState, string) {
	bad := 0
	for {
		// Parked here, between messages, a connection's stack is a few
		// frames deep: an idle one keeps the smallest goroutine stack.
		err := c.ws.AwaitMessage()
		var typ int
		var data []byte
		if err == nil {
			typ, data, err = c.ws.ReadMessage()
		}
		if err != nil {
			return c.ws.EndedBy(err)
		}
		if reason := h.readFrame(c, typ, data, &bad); reason != "" {
			return wsconn.ClosedBadFrames, reason
		}
	}
}

// readFrame serves one frame; a reason to close the connection ends it.
func (h *hub) readFrame(c *chskConn, typ int, data []byte, bad *int) string {
	if typ == websocket.TextMessage && string(data) == pingText {
		// The heartbeat, read without the parser and answered from this
		// goroutine: a round trip with no other goroutine to wake.
		h.stats.messagesIn.Add(1)
		h.answerNow(c, h.pong)
		return ""
	}
	var f wire.Frame
	var err error
	if typ != websocket.TextMessage {
		err = errors.New("binary frame; sente-lite speaks EDN text frames")
	} else {
		f, err = wire.DecodeFrame(data, wire.Limits{MaxBytes: h.cfg.maxMessageBytes, MaxDepth: h.cfg.maxFrameDepth})
	}
	if err != nil {
		*bad++
		h.stats.parseErrors.Add(1)
		h.log.Warn("unreadable frame from sente-lite client", "uid", c.uid, "remote", c.remote, "err", err, "bad-frames", *bad)
		h.sendError(c, "unreadable-frame", err.Error())
		if *bad >= h.cfg.maxBadFrames {
			return fmt.Sprintf("closed after %d unreadable frames", *bad)
		}
		return ""
	}
	switch f.Kind {
	case wire.KindEvent:
		h.handle(c, f.Event, "")
	case wire.KindCallback:
		h.handle(c, f.Event, f.CallbackID)
	case wire.KindBatch:
		for _, ev := range f.Batch {
			h.handle(c, ev, "")
		}
	case wire.KindReply:
		// The hub asks clients nothing with a callback, so a reply answers nothing.
		h.stats.messagesIn.Add(1)
		h.log.Debug("ignored a reply to no callback", "uid", c.uid, "cb", f.CallbackID)
	}
	return ""
}

// pingText is [:chsk/ws-ping] as every client of sente-lite and of sente sends it.
const pingText = "[:" + string(wire.EvPing) + "]"

// answerNow sends c its own answer from c's read loop, written at once when c
// has nothing queued.
func (h *hub) answerNow(c *chskConn, frame []byte) {
	if err := c.ws.SendNow(frame); err != nil {
		h.stats.dropped.Add(1)
		if errors.Is(err, wsconn.ErrQueueFull) {
			h.stats.slowConsumers.Add(1)
			h.log.Warn("closed a slow consumer", "uid", c.uid, "remote", c.remote, "queued", c.ws.MaxQueue())
		}
		return
	}
	h.stats.messagesOut.Add(1)
}

// handle serves one event; cb is set for the callback form, which is answered
// with a reply [data cb] instead of an event.
func (h *hub) handle(c *chskConn, ev wire.Event, cb string) {
	h.stats.messagesIn.Add(1)
	switch ev.ID {
	case wire.EvPing:
		if cb == "" {
			h.answerNow(c, h.pong)
			return
		}
		h.answer(c, cb, wire.Event{ID: wire.EvPong}, nil)
	case wire.EvPong:
		// Liveness was recorded when the frame was read.
	case wire.EvSubscribe:
		h.answer(c, cb, wire.Event{}, h.subscribe(c, ev.Data))
	case wire.EvUnsubscribe:
		h.answer(c, cb, wire.Event{}, h.unsubscribe(c, ev.Data))
	case wire.EvPublish:
		res := h.publish(c, ev.Data)
		if cb != "" {
			h.reply(c, cb, res)
		} else if res[kwSuccess] == false {
			h.sendEvent(c, wire.Event{ID: wire.EvError, Data: res, HasData: true})
		}
	case wire.EvNREPLResponse:
		h.nreplResponse(c, ev.Data)
	default:
		echo := map[any]any{
			edn.Keyword("original-event-id"): ev.ID,
			edn.Keyword("original-data"):     ev.Data,
			edn.Keyword("conn-id"):           c.uid,
			edn.Keyword("timestamp"):         time.Now().UnixMilli(),
		}
		if cb != "" {
			h.reply(c, cb, echo)
			return
		}
		h.sendEvent(c, wire.Event{ID: wire.EvEcho, Data: echo, HasData: true})
	}
}

// answer sends ev, or for a subscription result the :sente-lite/subscribed
// event, or with a callback the reply form.
func (h *hub) answer(c *chskConn, cb string, ev wire.Event, result map[any]any) {
	if result != nil {
		ev = wire.Event{ID: wire.EvSubscribed, Data: result, HasData: true}
	}
	if cb != "" {
		// A bare keyword reply would read as an event, so dataless answers say true.
		var data any = true
		if ev.HasData {
			data = ev.Data
		}
		h.reply(c, cb, data)
		return
	}
	h.sendEvent(c, ev)
}

func channelOf(data any) (string, bool) {
	ch, ok := wire.GetString(data, "channel-id")
	return ch, ok && ch != ""
}

func subResult(ch string, ok bool, why string) map[any]any {
	m := map[any]any{kwChannelID: ch, kwSuccess: ok}
	if why != "" {
		m[kwError] = why
	}
	return m
}

func (h *hub) subscribe(c *chskConn, data any) map[any]any {
	ch, ok := channelOf(data)
	if !ok {
		return subResult("", false, "subscribe needs {:channel-id \"name\"}")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, already := c.subs[ch]; already {
		return subResult(ch, true, "")
	}
	if max := h.cfg.maxSubscriptions; max > 0 && len(c.subs) >= max {
		return subResult(ch, false, fmt.Sprintf("subscription limit (%d per connection) reached", max))
	}
	subs := h.channels[ch]
	if max := h.cfg.maxSubscribers; max > 0 && len(subs) >= max {
		return subResult(ch, false, fmt.Sprintf("channel has the maximum of %d subscribers", max))
	}
	if subs == nil {
		subs = map[*chskConn]struct{}{}
		h.channels[ch] = subs
		h.bus.interest(ch)
	}
	subs[c] = struct{}{}
	if c.subs == nil {
		c.subs = map[string]struct{}{}
	}
	c.subs[ch] = struct{}{}
	return subResult(ch, true, "")
}

func (h *hub) unsubscribe(c *chskConn, data any) map[any]any {
	ch, ok := channelOf(data)
	if !ok {
		return subResult("", false, "unsubscribe needs {:channel-id \"name\"}")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	_, was := c.subs[ch]
	delete(c.subs, ch)
	if subs := h.channels[ch]; subs != nil {
		delete(subs, c)
		if len(subs) == 0 {
			delete(h.channels, ch)
			h.bus.noInterest(ch)
		}
	}
	res := subResult(ch, true, "")
	// sente-lite's published server acknowledges with :sente-lite/subscribed
	// too; this says which way.
	res[edn.Keyword("subscribed")] = false
	if !was {
		res[kwError] = "was not subscribed"
	}
	return res
}

// publish encodes the channel message once and queues the same bytes to every
// subscriber, in the order publishes are read. A subscriber whose queue is full
// is closed as a slow consumer; nobody else waits for it.
func (h *hub) publish(c *chskConn, data any) map[any]any {
	ch, ok := channelOf(data)
	if !ok {
		return subResult("", false, "publish needs {:channel-id \"name\" :data ...}")
	}
	frame, err := wire.EncodeEvent(wire.Event{ID: wire.EvChannelMsg, HasData: true, Data: map[any]any{
		kwChannelID: ch, kwData: wire.Get(data, "data"), kwFrom: c.uid,
	}})
	if err != nil {
		return subResult(ch, false, "cannot encode the message: "+err.Error())
	}
	exclude := wire.GetBool(data, "exclude-sender?")
	delivered := 0
	h.mu.RLock()
	for sub := range h.channels[ch] {
		if exclude && sub == c {
			continue
		}
		if h.queue(sub, frame, true) {
			delivered++
		}
	}
	h.mu.RUnlock()
	h.bus.publish(ch, frame) // other instances, with --nats (bus.go)
	res := subResult(ch, true, "")
	res[edn.Keyword("delivered")] = int64(delivered)
	return res
}

// queue hands a frame to a client's writer; it reports whether it was queued.
func (h *hub) queue(c *chskConn, frame []byte, batchable bool) bool {
	err := c.ws.Send(frame, batchable)
	if err == nil {
		h.stats.messagesOut.Add(1)
		return true
	}
	h.stats.dropped.Add(1)
	if errors.Is(err, wsconn.ErrQueueFull) {
		h.stats.slowConsumers.Add(1)
		h.log.Warn("closed a slow consumer", "uid", c.uid, "remote", c.remote, "queued", c.ws.MaxQueue())
	}
	return false
}

func (h *hub) sendEvent(c *chskConn, ev wire.Event) {
	frame, err := wire.EncodeEvent(ev)
	if err != nil {
		h.log.Error("cannot encode an event", "event", string(ev.ID), "err", err)
		return
	}
	h.queue(c, frame, true)
}

func (h *hub) reply(c *chskConn, cb string, data any) {
	frame, err := wire.EncodeReply(data, cb)
	if err != nil {
		h.log.Error("cannot encode a reply", "err", err)
		return
	}
	h.queue(c, frame, false)
}

func (h *hub) sendError(c *chskConn, kind, text string) {
	h.sendEvent(c, wire.Event{ID: wire.EvError, HasData: true, Data: map[any]any{
		edn.Keyword("error"): edn.Keyword(kind), edn.Keyword("reason"): text,
	}})
}

// channelCounts is subscriber counts per channel, for /stats and /channels.
func (h *hub) channelCounts() map[string]int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make(map[string]int, len(h.channels))
	for ch, subs := range h.channels {
		out[ch] = len(subs)
	}
	return out
}

func (h *hub) snapshot() SenteLiteStats {
	st := h.stats
	return SenteLiteStats{
		Connections:        st.connections.Load(),
		MessagesIn:         st.messagesIn.Load(),
		MessagesOut:        st.messagesOut.Load(),
		Dropped:            st.dropped.Load(),
		ParseErrors:        st.parseErrors.Load(),
		RejectedConns:      st.rejectedConns.Load(),
		SlowConsumerCloses: st.slowConsumers.Load(),
		HeartbeatCloses:    st.heartbeatFails.Load(),
		Channels:           h.channelCounts(),
	}
}
