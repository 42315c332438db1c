package sentelite

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"olympos.io/encoding/edn"

	"github.com/sente-clj/sente/wire"
)

// The heartbeat frames, as constants so that no package-level slice can be
// mutated.
const (
	pingFrame = "[:chsk/ws-ping]"
	pongFrame = "[:chsk/ws-pong]"
)

// session is one handshaken WebSocket. Its reader goroutine owns reading and
// ends the session; its context ends the writer and pinger.
type session struct {
	conn   *websocket.Conn
	hs     wire.Handshake
	early  []wire.Event // events that came in the handshake's frame
	ctx    context.Context
	cancel context.CancelFunc
	ctrl   chan []byte   // pings and pongs for the queue writer
	done   chan struct{} // closed when the reader has cleaned up

	lastRead atomic.Int64 // unix nanos

	errOnce sync.Once
	err     error // why the session ended; read after done
}

// fail records why the session ends; the first cause wins.
func (s *session) fail(err error) { s.errOnce.Do(func() { s.err = err }) }

// kill ends the session: closing the socket makes the reader return.
func (s *session) kill(err error) {
	s.fail(err)
	_ = s.conn.Close()
}

func (s *session) touch() { s.lastRead.Store(time.Now().UnixNano()) }

func (s *session) idle(now time.Time) time.Duration {
	return now.Sub(time.Unix(0, s.lastRead.Load()))
}

// connectError says which URL could not be reached and why, in words, and
// keeps the underlying error for errors.Is and errors.As.
type connectError struct {
	url, msg string
	err      error
}

func (e *connectError) Error() string { return "connect to " + e.url + ": " + e.msg }
func (e *connectError) Unwrap() error { return e.err }

func (c *Client) connectErr(err error, resp *http.Response) error {
	msg := err.Error()
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		msg = "connection refused"
	case errors.Is(err, websocket.ErrBadHandshake) && resp != nil:
		msg = fmt.Sprintf("server answered HTTP %s, not a WebSocket upgrade (wrong path, or the Origin was refused)", resp.Status)
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		msg = fmt.Sprintf("timed out (handshake timeout %v)", c.opts.HandshakeTimeout)
	case errors.Is(err, context.Canceled):
		msg = "canceled"
	}
	return &connectError{url: c.opts.URL, msg: msg, err: err}
}

// connect dials and reads the handshake, within ctx and HandshakeTimeout.
func (c *Client) connect(ctx context.Context) (*session, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.HandshakeTimeout)
	defer cancel()
	conn, resp, err := c.dialer.DialContext(ctx, c.dialURL, c.opts.Header)
	if err != nil {
		return nil, c.connectErr(err, resp)
	}
	conn.SetReadLimit(int64(c.opts.Limits.MaxBytes))
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetReadDeadline(dl)
	}
	hs, early, err := c.readHandshake(conn)
	if !stop() && err == nil { // ctx ended just now and closed the socket
		err = ctx.Err()
	}
	if err != nil {
		_ = conn.Close()
		var ne net.Error
		switch {
		case errors.Is(ctx.Err(), context.Canceled):
			err = fmt.Errorf("canceled while waiting for the handshake: %w", context.Canceled)
		case ctx.Err() != nil || (errors.As(err, &ne) && ne.Timeout()):
			err = fmt.Errorf("no [:chsk/handshake ...] from the server within %v: %w", c.opts.HandshakeTimeout, err)
		}
		return nil, &connectError{url: c.opts.URL, msg: err.Error(), err: err}
	}
	_ = conn.SetReadDeadline(time.Time{})
	s := &session{conn: conn, hs: hs, early: early, done: make(chan struct{})}
	if c.queue != nil {
		s.ctrl = make(chan []byte, 8)
	}
	s.ctx, s.cancel = context.WithCancel(c.ctx)
	s.touch()
	return s, nil
}

// withBatchParam adds ?batch=1 to a /chsk URL: this client unwraps Sente batch
// frames, and a server that batches only for clients that say so (sente's
// gateway) may then send them. Servers that do not know the parameter ignore
// it. A URL that does not parse is left for the dialer to report.
func withBatchParam(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	if q.Has("batch") {
		return raw // the caller chose
	}
	q.Set("batch", "1")
	u.RawQuery = q.Encode()
	return u.String()
}

// readHandshake reads the first frame, which must be the handshake (alone or
// first in a batch; events after it in the batch are returned).
func (c *Client) readHandshake(conn *websocket.Conn) (wire.Handshake, []wire.Event, error) {
	_, data, err := conn.ReadMessage()
	if err != nil {
		return wire.Handshake{}, nil, fmt.Errorf("reading the handshake: %w", err)
	}
	f, err := wire.DecodeFrame(data, c.opts.Limits)
	if err != nil {
		return wire.Handshake{}, nil, fmt.Errorf("reading the handshake: %w", err)
	}
	var evs []wire.Event
	switch f.Kind {
	case wire.KindEvent:
		evs = []wire.Event{f.Event}
	case wire.KindBatch:
		evs = f.Batch
	}
	if len(evs) == 0 || evs[0].ID != wire.EvHandshake {
		what := f.Kind.String()
		if len(evs) > 0 {
			what = ":" + string(evs[0].ID)
		}
		return wire.Handshake{}, nil, fmt.Errorf("expected [:chsk/handshake [uid csrf-token ...]] as the first frame, got %s (is this a sente-lite endpoint?)", what)
	}
	hs, err := wire.ParseHandshake(evs[0])
	if err != nil {
		return wire.Handshake{}, nil, err
	}
	return hs, evs[1:], nil
}

// run manages connections: it serves s, then redials after each drop while
// Reconnect is on and Close has not been called.
func (c *Client) run(s *session, opened chan struct{}) {
	defer c.wg.Done()
	reconnected := false
	for {
		c.serve(s, reconnected, opened)
		opened = nil
		if c.ctx.Err() != nil {
			return // Close finishes
		}
		if !c.opts.Reconnect {
			c.stateMu.Lock()
			c.dead.Store(true)
			c.stateMu.Unlock()
			c.finish()
			return
		}
		if s = c.redial(); s == nil {
			return
		}
		reconnected = true
	}
}

// redial tries to connect with backoff until it succeeds or Close is called.
func (c *Client) redial() *session {
	t := time.NewTimer(0)
	<-t.C
	defer t.Stop()
	for attempt := 0; ; attempt++ {
		d := c.backoff(attempt)
		c.log.Debug("reconnecting", "attempt", attempt+1, "in", d)
		t.Reset(d)
		select {
		case <-c.ctx.Done():
			return nil
		case <-t.C:
		}
		s, err := c.connect(c.ctx)
		if err == nil && c.ctx.Err() != nil { // Close won the race
			s.cancel()
			_ = s.conn.Close()
			return nil
		}
		if err == nil {
			return s
		}
		if c.ctx.Err() != nil {
			return nil
		}
		c.log.Info("reconnect failed", "attempt", attempt+1, "err", err)
	}
}

// backoff is BackoffBase·2^attempt capped at BackoffMax, ±Jitter.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.opts.BackoffBase
	for i := 0; i < attempt && d < c.opts.BackoffMax; i++ {
		if d > c.opts.BackoffMax/2 { // also keeps d from overflowing
			d = c.opts.BackoffMax
			break
		}
		d *= 2
	}
	d = min(d, c.opts.BackoffMax)
	if j := c.opts.Jitter; j > 0 {
		d = time.Duration(float64(d) * (1 + j*(2*rand.Float64()-1)))
	}
	return max(d, time.Millisecond)
}

// serve runs one session to its end.
func (c *Client) serve(s *session, reconnected bool, opened chan struct{}) {
	c.mu.Lock()
	c.cur, c.hs = s, s.hs
	c.mu.Unlock()
	c.log.Info("connected", "uid", s.hs.UID, "reconnect", reconnected)

	var wg sync.WaitGroup
	if c.queue != nil {
		wg.Add(1)
		go func() { defer wg.Done(); c.writeLoop(s) }()
	}
	if c.opts.PingInterval > 0 {
		wg.Add(1)
		go func() { defer wg.Done(); c.pingLoop(s) }()
	}
	go c.readLoop(s)

	if c.opts.OnOpen != nil {
		c.opts.OnOpen(c, s.hs)
	}
	if reconnected && c.opts.OnReconnect != nil {
		c.opts.OnReconnect(c, s.hs)
	}
	if opened != nil {
		close(opened)
	}
	<-s.ctx.Done() // the reader ended, or Close
	s.kill(ErrClosed)
	<-s.done
	wg.Wait()
	if errors.Is(s.err, ErrClosed) {
		c.log.Info("connection closed", "uid", s.hs.UID)
	} else {
		c.log.Warn("connection lost", "uid", s.hs.UID, "err", s.err)
	}
	if c.opts.OnClose != nil {
		c.opts.OnClose(c, s.err)
	}
}

// readLoop is the session's only reader: it decodes frames and dispatches
// events in order. On its way out it detaches the session and tells once
// handlers and pending Requests that the connection is gone.
func (c *Client) readLoop(s *session) {
	defer func() {
		s.cancel()
		_ = s.conn.Close()
		c.mu.Lock()
		if c.cur == s {
			c.cur = nil
		}
		c.mu.Unlock()
		c.notifyOnceClosed(false)
		c.failPending(s.err, false)
		close(s.done)
	}()
	for _, ev := range s.early {
		c.handleEvent(s, ev, 0)
	}
	s.early = nil
	for {
		typ, data, err := s.conn.ReadMessage()
		if err != nil {
			s.fail(err)
			return
		}
		s.touch()
		if typ != websocket.TextMessage {
			c.log.Warn("ignored a binary frame; sente-lite speaks EDN text frames", "bytes", len(data))
			continue
		}
		f, err := wire.DecodeFrame(data, c.opts.Limits)
		if err != nil {
			if !c.bareKeywordReply(data) {
				c.log.Warn("ignored an unreadable frame", "err", err)
			}
			continue
		}
		c.handleFrame(s, f)
	}
}

func (c *Client) handleFrame(s *session, f wire.Frame) {
	switch f.Kind {
	case wire.KindReply:
		if !c.deliver(f.CallbackID, result{v: f.Reply}) {
			c.log.Debug("ignored a reply to no pending request", "cb", f.CallbackID)
		}
	case wire.KindEvent:
		// [:a/b "cb"] is also the reply :a/b to callback "cb".
		if cb, ok := f.Event.Data.(string); ok && f.Event.HasData && c.deliver(cb, result{v: f.Event.ID}) {
			return
		}
		c.handleEvent(s, f.Event, 0)
	case wire.KindCallback:
		// [[:a/b 1] "cb"] is also the reply [:a/b 1] to callback "cb".
		if c.deliver(f.CallbackID, result{v: eventVector(f.Event)}) {
			return
		}
		c.log.Debug("the server asked for a reply; the client answers none", "event", string(f.Event.ID))
		c.handleEvent(s, f.Event, 0)
	case wire.KindBatch:
		for _, ev := range f.Batch {
			c.handleEvent(s, ev, 0)
		}
	}
}

// bareKeywordReply handles [:ok "cb"], which wire rejects (:ok is not
// namespaced) but a Sente server may send as a reply.
func (c *Client) bareKeywordReply(data []byte) bool {
	v, err := wire.Parse(data, c.opts.Limits)
	if err != nil {
		return false
	}
	vec, ok := v.([]any)
	if !ok || len(vec) != 2 {
		return false
	}
	cb, ok := vec[1].(string)
	return ok && c.deliver(cb, result{v: vec[0]})
}

func eventVector(ev wire.Event) []any {
	if ev.HasData || ev.Data != nil {
		return []any{ev.ID, ev.Data}
	}
	return []any{ev.ID}
}

// handleEvent answers system events and dispatches the rest.
func (c *Client) handleEvent(s *session, ev wire.Event, depth int) {
	switch ev.ID {
	case wire.EvPing:
		c.sendCtrl(s, []byte(pongFrame))
		c.dispatch(ev) // to handlers registered for it by id only
	case wire.EvPong:
		// liveness was recorded when the frame was read
		c.dispatch(ev)
	case wire.EvHandshake:
		c.log.Debug("ignored a handshake after the first")
		c.dispatch(ev)
	case wire.EvRecv:
		inner, ok := unwrapRecv(ev.Data)
		if !ok || depth > 0 {
			c.log.Warn("ignored a malformed :chsk/recv; its data must be an event [:ns/event data]")
			return
		}
		c.handleEvent(s, inner, depth+1)
	default:
		c.dispatch(ev)
	}
}

// unwrapRecv reads the event in [:chsk/recv [:ns/event data]].
func unwrapRecv(data any) (wire.Event, bool) {
	v, ok := data.([]any)
	if !ok || len(v) < 1 || len(v) > 2 {
		return wire.Event{}, false
	}
	id, ok := v[0].(edn.Keyword)
	if !ok {
		return wire.Event{}, false
	}
	ev := wire.Event{ID: id}
	if len(v) == 2 {
		ev.Data, ev.HasData = v[1], true
	}
	return ev, true
}

// write writes one frame; a failed write ends the session. Callers
// serialize writes (writeMu or the one writer goroutine).
func (c *Client) write(s *session, b []byte) error {
	_ = s.conn.SetWriteDeadline(time.Now().Add(c.opts.WriteTimeout))
	if err := s.conn.WriteMessage(websocket.TextMessage, b); err != nil {
		s.kill(fmt.Errorf("write failed: %w", err))
		return err
	}
	return nil
}

// sendCtrl sends a ping or pong ahead of queued frames; it never blocks on a
// full control queue (the next ping comes soon enough).
func (c *Client) sendCtrl(s *session, b []byte) {
	if c.queue != nil {
		select {
		case s.ctrl <- b:
		default:
		}
		return
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	if s.ctx.Err() == nil {
		_ = c.write(s, b)
	}
}

// writeLoop is the session's only writer when there is a send queue.
func (c *Client) writeLoop(s *session) {
	for {
		select { // control frames first
		case b := <-s.ctrl:
			if c.write(s, b) != nil {
				return
			}
			continue
		default:
		}
		select {
		case <-s.ctx.Done():
			return
		case b := <-s.ctrl:
			if c.write(s, b) != nil {
				return
			}
		case b := <-c.queue:
			err := c.write(s, b)
			c.depth.Add(-1)
			if err != nil {
				c.errs.Add(1)
				return
			}
			c.sent.Add(1)
		}
	}
}

// pingLoop pings a quiet server and drops a silent one: one that has sent
// nothing for PingTimeout although a ping has waited for an answer for
// PingTimeout-PingInterval, on two ticks in a row. The second condition
// keeps a client that was itself stalled (GC, a suspended laptop) from
// dropping a healthy connection before it has asked; the second tick lets
// the reader take in what arrived during such a stall.
func (c *Client) pingLoop(s *session) {
	iv, to := c.opts.PingInterval, c.opts.PingTimeout
	tick := max(iv/4, 5*time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	var lastPing, unanswered time.Time // unanswered: first ping since the last read
	var suspect time.Time              // when the server first looked dead
	for {
		select {
		case <-s.ctx.Done():
			return
		case now := <-t.C:
			lastRead := time.Unix(0, s.lastRead.Load())
			if lastRead.After(unanswered) {
				unanswered = time.Time{}
			}
			idle := now.Sub(lastRead)
			if idle >= to && !unanswered.IsZero() && now.Sub(unanswered) >= to-iv {
				if suspect.IsZero() {
					suspect = now
				} else if now.Sub(suspect) >= tick {
					s.kill(fmt.Errorf("sentelite: nothing from the server for %v (ping timeout %v)", idle.Round(time.Millisecond), to))
					return
				}
			} else {
				suspect = time.Time{}
			}
			if idle >= iv && now.Sub(lastPing) >= iv {
				lastPing = now
				if unanswered.IsZero() {
					unanswered = now
				}
				c.sendCtrl(s, []byte(pingFrame))
			}
		}
	}
}
