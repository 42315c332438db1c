package sentelite

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sente-clj/sente/wire"
)

// Errors a Client returns; test them with errors.Is, as most arrive wrapped.
var (
	// ErrClosed: Close was called, or the connection dropped without
	// Reconnect. Once handlers are told exactly ErrClosed when the
	// connection drops; Requests pending then fail with an error wrapping it.
	ErrClosed = errors.New("sentelite: connection closed")
	// ErrNotConnected: Send without a queue while the client is reconnecting.
	ErrNotConnected = errors.New("sentelite: not connected (reconnecting)")
	// ErrRejected: the send queue is full (backpressure); the frame was not
	// queued.
	ErrRejected = errors.New("sentelite: send queue full, frame rejected")
	// ErrTimeout: a once handler's Timeout passed before a matching event.
	ErrTimeout = errors.New("sentelite: timed out waiting for an event")
)

// Options configure a Client. Start from DefaultOptions; zero durations take
// the defaults listed below.
type Options struct {
	// URL of the server's sente-lite endpoint, e.g. ws://127.0.0.1:1340/chsk.
	// The client adds batch=1 to its query (unless the URL sets batch
	// itself): it unwraps batch frames, and sente's gateway sends them only
	// to clients that say so.
	URL string
	// Header is sent with the WebSocket upgrade request, e.g. Origin.
	Header http.Header
	// Dialer dials the WebSocket (TLS settings, proxies, buffer sizes); nil
	// means a dialer like websocket.DefaultDialer.
	Dialer *websocket.Dialer

	// Reconnect redials in the background after the connection drops.
	Reconnect bool
	// BackoffBase is the first reconnect delay, doubled after each failed
	// attempt up to BackoffMax (defaults 250ms and 10s); each delay is varied
	// by ±Jitter of itself (0 to 1; DefaultOptions sets 0.2).
	BackoffBase, BackoffMax time.Duration
	Jitter                  float64

	// HandshakeTimeout bounds dialling and waiting for :chsk/handshake
	// (default 10s).
	HandshakeTimeout time.Duration
	// PingInterval > 0 makes the client send [:chsk/ws-ping] when it has read
	// nothing for that long, and drop the connection (and reconnect, with
	// Reconnect) when it has read nothing for PingTimeout (default, and
	// at least, 2×PingInterval) with a ping unanswered for
	// PingTimeout-PingInterval. With 0 the client only answers the server's
	// pings.
	PingInterval, PingTimeout time.Duration
	// WriteTimeout bounds writing one frame (default 10s); a write that times
	// out drops the connection.
	WriteTimeout time.Duration
	// CloseTimeout bounds Close's wait for the send queue to drain and for
	// the server to acknowledge the close (default 2s).
	CloseTimeout time.Duration

	// SendQueue 0 means Send writes directly (serialized); > 0 is the
	// capacity of a queue drained by one writer goroutine, and Send returns
	// ErrRejected when it is full.
	SendQueue int

	// Limits bound frames read from the server; zero fields take
	// wire.DefaultLimits (1 MiB, depth 100).
	Limits wire.Limits

	// OnOpen is called after every handshake, the first and each reconnect,
	// from the goroutine that manages connections, while the connection is
	// already being read: it may call Subscribe or Request. Dial and Connect
	// return after the first OnOpen returns. The hooks run one at a time;
	// Close waits for them, so a hook that wants to stop the client calls
	// go c.Close(), not c.Close().
	OnOpen func(c *Client, h wire.Handshake)
	// OnReconnect is called after OnOpen for reconnects only.
	OnReconnect func(c *Client, h wire.Handshake)
	// OnClose is called once per connection when it is lost or closed, with
	// the cause (ErrClosed after Close).
	OnClose func(c *Client, err error)

	// Logger receives connection events; nil discards them.
	Logger *slog.Logger
}

// DefaultOptions returns the options for url with Reconnect on and the
// default backoff (250ms doubling to 10s, jitter 0.2) and timeouts.
func DefaultOptions(url string) Options {
	return Options{
		URL:              url,
		Reconnect:        true,
		BackoffBase:      250 * time.Millisecond,
		BackoffMax:       10 * time.Second,
		Jitter:           0.2,
		HandshakeTimeout: 10 * time.Second,
		WriteTimeout:     10 * time.Second,
		CloseTimeout:     2 * time.Second,
	}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions(o.URL)
	if o.BackoffBase <= 0 {
		o.BackoffBase = d.BackoffBase
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = d.BackoffMax
	}
	if o.BackoffMax < o.BackoffBase {
		o.BackoffMax = o.BackoffBase
	}
	o.Jitter = min(max(o.Jitter, 0), 1)
	if o.HandshakeTimeout <= 0 {
		o.HandshakeTimeout = d.HandshakeTimeout
	}
	if o.PingInterval > 0 && o.PingTimeout <= o.PingInterval {
		o.PingTimeout = 2 * o.PingInterval
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = d.WriteTimeout
	}
	if o.CloseTimeout <= 0 {
		o.CloseTimeout = d.CloseTimeout
	}
	if o.SendQueue < 0 {
		o.SendQueue = 0
	}
	if o.Limits.MaxBytes <= 0 {
		o.Limits.MaxBytes = wire.DefaultLimits().MaxBytes
	}
	if o.Limits.MaxDepth <= 0 {
		o.Limits.MaxDepth = wire.DefaultLimits().MaxDepth
	}
	return o
}

// Client is a sente-lite connection that survives reconnects. All methods
// are safe for concurrent use.
type Client struct {
	opts    Options
	dialURL string // opts.URL asking for batch frames
	log     *slog.Logger
	dialer  *websocket.Dialer

	ctx    context.Context // lives until Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // the connection manager goroutine

	// stateMu orders closed/dead against enqueueing and starting, so that
	// nothing is queued or started after Close has begun.
	stateMu sync.RWMutex
	closed  atomic.Bool // Close was called
	dead    atomic.Bool // the connection dropped for good (no Reconnect)
	started bool        // Connect succeeded

	mu   sync.Mutex // guards cur, hs, subs
	cur  *session
	hs   wire.Handshake
	subs []string

	writeMu sync.Mutex // serializes direct writes (SendQueue 0)
	wbuf    []byte     // reused encoding buffer for direct writes; writeMu

	queue                                        chan []byte
	depth, enqueued, sent, rejected, errs, drops atomic.Int64

	hmu         sync.Mutex // guards the handler registry
	handlers    []*handler // copy-on-write: a snapshot is never mutated
	nextHandler uint64
	noMore      bool // finished: new once handlers are told ErrClosed at once

	pmu         sync.Mutex // guards pending Requests
	pending     map[string]chan result
	pendingDone bool
	cbPrefix    string
	nextCB      atomic.Uint64
}

// New makes a Client without connecting, so that handlers registered with On
// before Connect see every event from the first frame on.
func New(opts Options) *Client {
	opts = opts.withDefaults()
	c := &Client{
		opts:    opts,
		dialURL: withBatchParam(opts.URL),
		log:     opts.Logger,
		dialer:  opts.Dialer,
		pending: map[string]chan result{},
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.log = c.log.With("url", opts.URL)
	if c.dialer == nil {
		c.dialer = &websocket.Dialer{Proxy: http.ProxyFromEnvironment}
	}
	if opts.SendQueue > 0 {
		c.queue = make(chan []byte, opts.SendQueue)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	c.cbPrefix = "sl-" + hex.EncodeToString(b[:]) + "-"
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c
}

// Dial is New followed by Connect: it connects, waits for the handshake and
// for the first OnOpen, and returns the Client, or an error naming the URL
// and the cause, e.g. "connect to ws://127.0.0.1:1340/chsk: connection
// refused". A failed Dial does not retry; with Reconnect, only drops after a
// successful Dial are retried, in the background.
func Dial(ctx context.Context, opts Options) (*Client, error) {
	c := New(opts)
	if err := c.Connect(ctx); err != nil {
		c.cancel()
		return nil, err
	}
	return c, nil
}

// Connect dials, waits for the handshake, starts the goroutines that serve
// the connection and returns after the first OnOpen. ctx bounds only the
// connecting; the connection lives until Close. A failed Connect may be
// retried; a second successful Connect is an error.
func (c *Client) Connect(ctx context.Context) error {
	if c.closed.Load() {
		return ErrClosed
	}
	c.stateMu.RLock()
	started := c.started
	c.stateMu.RUnlock()
	if started {
		return errors.New("sentelite: Connect called on a connected client")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(c.ctx, cancel) // Close aborts connecting
	defer stop()
	s, err := c.connect(ctx)
	if err != nil {
		return err
	}
	c.stateMu.Lock()
	if c.closed.Load() || c.started {
		again := c.started
		c.stateMu.Unlock()
		s.cancel()
		_ = s.conn.Close()
		if again {
			return errors.New("sentelite: Connect called on a connected client")
		}
		return ErrClosed
	}
	c.started = true
	c.wg.Add(1)
	c.stateMu.Unlock()
	opened := make(chan struct{})
	go c.run(s, opened)
	<-opened
	return nil
}

// UID is the uid from the latest handshake: the server's ephemeral id for the
// connection, new on every reconnect, never an identity.
func (c *Client) UID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hs.UID
}

// CSRFToken is the csrf token from the latest handshake ("" if none).
func (c *Client) CSRFToken() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hs.CSRFToken
}

// Handshake is the latest handshake.
func (c *Client) Handshake() wire.Handshake {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hs
}

// Connected reports whether a handshaken connection is up now.
func (c *Client) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur != nil
}

func (c *Client) current() *session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur
}

// Send sends ev. Without a queue it returns after writing, ErrNotConnected
// while reconnecting, or, when the write fails (which drops the
// connection), an error wrapping ErrClosed; with a queue it returns nil once
// the frame is queued, or ErrRejected when the queue is full. After Close
// (or a drop without Reconnect) it returns ErrClosed.
func (c *Client) Send(ev wire.Event) error {
	if c.queue == nil { // encode into the reused write buffer
		c.writeMu.Lock()
		defer c.writeMu.Unlock()
		b, err := wire.AppendEvent(c.wbuf[:0], ev)
		if err != nil {
			return fmt.Errorf("sentelite: send: %w", err)
		}
		if cap(b) <= maxKeptBuffer {
			c.wbuf = b[:0]
		}
		return c.writeDirectLocked(b)
	}
	b, err := wire.EncodeEvent(ev)
	if err != nil {
		return fmt.Errorf("sentelite: send: %w", err)
	}
	return c.sendFrame(b)
}

// maxKeptBuffer bounds the write buffer a Client keeps between Sends.
const maxKeptBuffer = 64 << 10

func (c *Client) sendFrame(b []byte) error {
	if c.queue != nil {
		c.stateMu.RLock()
		defer c.stateMu.RUnlock()
		if c.closed.Load() || c.dead.Load() {
			return ErrClosed
		}
		c.depth.Add(1)
		select {
		case c.queue <- b:
			c.enqueued.Add(1)
			return nil
		default:
			c.depth.Add(-1)
			c.rejected.Add(1)
			return ErrRejected
		}
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	return c.writeDirectLocked(b)
}

// ClosedError is ErrClosed with its cause: why the connection ended, for a
// caller that reports it. errors.Is(err, ErrClosed) holds for it; the cause
// is for reading, not in the chain.
type ClosedError struct {
	Cause error
}

func (e *ClosedError) Error() string { return ErrClosed.Error() + ": " + e.Cause.Error() }

// Unwrap is ErrClosed, so that errors.Is(err, ErrClosed) holds.
func (e *ClosedError) Unwrap() error { return ErrClosed }

// writeDirectLocked writes b on the current connection; writeMu is held.
func (c *Client) writeDirectLocked(b []byte) error {
	if c.closed.Load() || c.dead.Load() {
		return ErrClosed
	}
	s := c.current()
	if s == nil {
		return ErrNotConnected
	}
	if err := c.write(s, b); err != nil {
		c.errs.Add(1)
		return &ClosedError{Cause: fmt.Errorf("write failed: %v", err)}
	}
	c.sent.Add(1)
	return nil
}

// QueueStats counts frames sent through Send, Request and friends (not
// pings and pongs).
type QueueStats struct {
	Depth    int64 // queued or being written now
	Enqueued int64 // accepted into the queue
	Sent     int64 // written to the socket
	Rejected int64 // refused because the queue was full
	Errors   int64 // lost in a failed write
	Dropped  int64 // still queued when Close gave up draining
}

// QueueStats returns the send counters. Without a queue only Sent and Errors
// move.
func (c *Client) QueueStats() QueueStats {
	return QueueStats{
		Depth:    c.depth.Load(),
		Enqueued: c.enqueued.Load(),
		Sent:     c.sent.Load(),
		Rejected: c.rejected.Load(),
		Errors:   c.errs.Load(),
		Dropped:  c.drops.Load(),
	}
}

// Close drains the send queue (up to CloseTimeout), closes the connection
// with a WebSocket close handshake, stops reconnecting and waits for the
// client's goroutines to end. Every once handler still waiting is told
// ErrClosed and every pending Request fails. It returns an error only when
// queued frames had to be dropped; calling it again returns nil.
func (c *Client) Close() error {
	c.stateMu.Lock()
	if c.closed.Load() {
		c.stateMu.Unlock()
		return nil
	}
	c.closed.Store(true) // from here no frame is queued
	c.stateMu.Unlock()

	deadline := time.Now().Add(c.opts.CloseTimeout)
	if c.queue != nil {
		for c.depth.Load() > 0 && !c.dead.Load() && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	}
	if s := c.current(); s != nil {
		// The close handshake gets what is left of CloseTimeout, and at
		// least a moment.
		end := time.Now().Add(max(time.Until(deadline), 100*time.Millisecond))
		s.fail(ErrClosed)
		_ = s.conn.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseNormalClosure, "client closed"), end)
		t := time.NewTimer(time.Until(end))
		select { // the server echoes the close; the reader then ends
		case <-s.done:
		case <-t.C:
		}
		t.Stop()
	}
	c.cancel()
	c.wg.Wait()
	c.finish()

	var dropped int64
	if c.queue != nil {
	drain:
		for {
			select {
			case <-c.queue:
				dropped++
				c.depth.Add(-1)
			default:
				break drain
			}
		}
	}
	if dropped > 0 {
		c.drops.Add(dropped)
		return fmt.Errorf("sentelite: close: %d queued frames were not sent", dropped)
	}
	return nil
}

// finish is the end of the client: no more events will come, so every once
// handler and pending Request is told so, now and for any registered later.
func (c *Client) finish() {
	c.notifyOnceClosed(true)
	c.failPending(ErrClosed, true)
}

// newCallbackID makes an id no other client will use: a random prefix per
// Client and a counter.
func (c *Client) newCallbackID() string {
	return fmt.Sprintf("%s%d", c.cbPrefix, c.nextCB.Add(1))
}
