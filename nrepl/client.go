package nrepl

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrClosed is wrapped by errors from a Client whose connection has ended.
var ErrClosed = errors.New("nrepl: connection closed")

// ClosedError is the error of a request on a Client whose connection has
// ended, once the reason is known; errors.Is(err, ErrClosed) holds for it.
type ClosedError struct {
	Reason string // "server closed the connection", "client closed", "send failed: ..."
}

func (e *ClosedError) Error() string { return ErrClosed.Error() + ": " + e.Reason }

// Is makes a ClosedError match ErrClosed.
func (e *ClosedError) Is(target error) bool { return target == ErrClosed }

// Client is an nREPL client over one connection. It is safe for concurrent
// use: requests are told apart by id, and one goroutine reads responses and
// hands each to the request that owns its id.
type Client struct {
	conn net.Conn
	dec  *Decoder

	wmu  sync.Mutex // serializes whole messages on the wire
	bw   *bufio.Writer
	wbuf []byte

	mu       sync.Mutex // guards the fields below; never held across I/O
	calls    map[string]*call
	closed   bool         // no new requests; set before the read goroutine notices
	reason   string       // why the connection ended, once known
	closeErr *ClosedError // reason, for later Sends

	seq  atomic.Uint64
	done chan struct{} // closed when the read goroutine has finished
}

// call is one in-flight request. The read goroutine appends to queue and never
// blocks on a slow consumer; a per-call goroutine moves the queue to out.
type call struct {
	id   string
	out  chan Msg
	wake chan struct{} // capacity 1: "queue changed"

	mu    sync.Mutex
	queue []Msg
	final bool // the message ending the request is queued
}

func (cl *call) push(m Msg, final bool) {
	cl.mu.Lock()
	cl.queue = append(cl.queue, m)
	cl.final = cl.final || final
	cl.mu.Unlock()
	select {
	case cl.wake <- struct{}{}:
	default:
	}
}

// Dial connects to an nREPL server at addr ("host:port").
func Dial(ctx context.Context, addr string) (*Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, &dialError{addr: addr, err: err}
	}
	return NewClient(conn), nil
}

// dialError prints the cause the way a user wants to read it ("connection
// refused") while keeping the full *net.OpError reachable for errors.As.
type dialError struct {
	addr string
	err  error
}

func (e *dialError) Error() string {
	cause := e.err
	var op *net.OpError
	if errors.As(cause, &op) && op.Err != nil {
		cause = op.Err
	}
	var sc *os.SyscallError
	if errors.As(cause, &sc) && sc.Err != nil {
		cause = sc.Err
	}
	return "connect to nREPL at " + e.addr + ": " + cause.Error()
}

func (e *dialError) Unwrap() error { return e.err }

// NewClient starts a client on an established connection. The Client owns
// conn from now on; Close it with Client.Close.
func NewClient(conn net.Conn) *Client {
	conn = quickAck(conn)
	c := &Client{
		conn:  conn,
		dec:   NewDecoder(conn, DefaultLimits()),
		bw:    bufio.NewWriter(conn),
		calls: make(map[string]*call),
		done:  make(chan struct{}),
	}
	go c.readLoop()
	return c
}

func (c *Client) readLoop() {
	defer close(c.done)
	var err error
	for {
		var m Msg
		if m, err = c.dec.Decode(); err != nil {
			break
		}
		id := m.Str("id")
		if id == "" {
			continue
		}
		final := m.HasStatus("done")
		c.mu.Lock()
		cl := c.calls[id]
		if cl != nil && final {
			// Forget the id now so it can be reused at once and so later
			// strays with the same id are not delivered after "done".
			delete(c.calls, id)
		}
		c.mu.Unlock()
		if cl != nil {
			cl.push(m, final)
		}
	}
	c.conn.Close()

	reason := err.Error()
	if err == io.EOF {
		reason = "server closed the connection"
	}
	c.shut(reason)
	c.mu.Lock()
	reason = c.reason
	calls := c.calls
	c.calls = nil
	c.mu.Unlock()

	for id, cl := range calls {
		cl.push(Msg{
			"id":     id,
			"status": []any{"done", "error", "disconnected"},
			"err":    "connection closed: " + reason,
		}, true)
	}
}

// shut stops new requests and records why, unless a reason is already known:
// the first cause (Close, a failed write) explains the read error it provokes.
func (c *Client) shut(reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed = true
	c.reason = reason
	c.closeErr = &ClosedError{Reason: reason}
}

// Send sends m (assigning a fresh unique "id" when m has none) and returns a
// channel that receives every response with that id and is closed after the
// response whose status has "done". If the connection ends first, the channel
// receives a synthesized Msg{"id":..,"status":["done","error","disconnected"],
// "err":"connection closed: ..."} and is closed — a caller never hangs.
// Cancelling ctx stops waiting (the channel is closed) but doesn't send
// interrupt.
//
// The caller must read the channel until it is closed or cancel ctx; the
// goroutine feeding it waits for one of the two. m itself is not modified.
func (c *Client) Send(ctx context.Context, m Msg) (id string, responses <-chan Msg, err error) {
	if err := ctx.Err(); err != nil {
		return "", nil, fmt.Errorf("nrepl: send: %w", err)
	}
	m = m.Clone()
	switch v := m["id"].(type) {
	case nil:
		id = "sente-" + strconv.FormatUint(c.seq.Add(1), 10)
		m["id"] = id
	case string:
		id = v
	default:
		return "", nil, fmt.Errorf("nrepl: send: id must be a string, got %T", v)
	}
	if id == "" {
		return "", nil, errors.New("nrepl: send: empty id")
	}

	cl := &call{id: id, out: make(chan Msg, 8), wake: make(chan struct{}, 1)}
	c.mu.Lock()
	if c.closed {
		err := c.closeErr
		c.mu.Unlock()
		return "", nil, fmt.Errorf("nrepl: send: %w", err)
	}
	if _, busy := c.calls[id]; busy {
		c.mu.Unlock()
		return "", nil, fmt.Errorf("nrepl: send: request id %q is already in flight", id)
	}
	// Registered before writing: a fast server may answer before Write returns.
	c.calls[id] = cl
	c.mu.Unlock()

	if err := c.write(ctx, m); err != nil {
		c.forget(cl)
		return "", nil, err
	}
	go c.pump(ctx, cl)
	return id, cl.out, nil
}

// forget removes cl from the dispatch table unless it was already replaced or
// removed, so late responses for it are dropped.
func (c *Client) forget(cl *call) {
	c.mu.Lock()
	if c.calls[cl.id] == cl {
		delete(c.calls, cl.id)
	}
	c.mu.Unlock()
}

func (c *Client) pump(ctx context.Context, cl *call) {
	defer close(cl.out)
	for {
		cl.mu.Lock()
		batch, final := cl.queue, cl.final
		cl.queue = nil
		cl.mu.Unlock()
		for _, m := range batch {
			select {
			case cl.out <- m:
			case <-ctx.Done():
				c.forget(cl)
				return
			}
		}
		if final {
			return
		}
		select {
		case <-cl.wake:
		case <-ctx.Done():
			c.forget(cl)
			return
		}
	}
}

// longAgo is a deadline in the past, used to abort a blocked write.
var longAgo = time.Unix(1, 0)

func (c *Client) write(ctx context.Context, m Msg) (err error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wbuf, err = AppendEncode(c.wbuf[:0], m)
	if err != nil {
		// Nothing reached the wire, so the connection is still good.
		return fmt.Errorf("nrepl: send: %w", err)
	}
	// Only ctx's cancellation moves the deadline (below), so a failed write
	// can always be blamed on ctx.Err(); clear what an earlier call left.
	c.conn.SetWriteDeadline(time.Time{})
	if ctx.Done() != nil {
		fired := make(chan struct{})
		stop := context.AfterFunc(ctx, func() {
			c.conn.SetWriteDeadline(longAgo)
			close(fired)
		})
		// Wait for a deadline change already in progress so it cannot hit the
		// next writer's message.
		defer func() {
			if !stop() {
				<-fired
			}
		}()
	}
	if _, err = c.bw.Write(c.wbuf); err == nil {
		err = c.bw.Flush()
	}
	if cap(c.wbuf) > keepScratch {
		c.wbuf = nil
	}
	if err != nil {
		// A partial message has corrupted the stream for everyone; ending the
		// connection lets every waiter get its "disconnected" done.
		if ctxErr := ctx.Err(); ctxErr != nil {
			c.shut("send cancelled: " + ctxErr.Error())
			c.conn.Close()
			return fmt.Errorf("nrepl: send: %w", ctxErr)
		}
		c.shut("send failed: " + err.Error())
		c.conn.Close()
		// The connection is gone (often the server closed it just before this
		// write): callers test for that with errors.Is(err, ErrClosed).
		return fmt.Errorf("nrepl: send: %w (%w)", ErrClosed, err)
	}
	return nil
}

// Close closes the connection and waits for the read goroutine to finish;
// requests still in flight receive their synthesized "disconnected" done.
func (c *Client) Close() error {
	c.shut("client closed")
	err := c.conn.Close()
	<-c.done
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("nrepl: close: %w", err)
	}
	return nil
}

// request sends m and collects every response until done, calling each (when
// non-nil) as they arrive. Protocol-level failures (status "error", "ex") are
// left to the caller; only a lost connection or ctx produce an error.
func (c *Client) request(ctx context.Context, m Msg, each func(Msg)) (string, []Msg, error) {
	id, ch, err := c.Send(ctx, m)
	if err != nil {
		return "", nil, err
	}
	var got []Msg
	for r := range ch {
		got = append(got, r)
		if each != nil {
			each(r)
		}
		if r.HasStatus("done") {
			if r.HasStatus("disconnected") {
				return id, got, fmt.Errorf("nrepl: %s: %w", opName(m), c.closedErr())
			}
			return id, got, nil
		}
	}
	// The channel closed without done: only ctx does that.
	if err := ctx.Err(); err != nil {
		return id, got, fmt.Errorf("nrepl: %s: %w", opName(m), err)
	}
	return id, got, fmt.Errorf("nrepl: %s: %w", opName(m), ErrClosed)
}

// Err is nil while the connection is open; after it has ended, a
// *ClosedError saying why.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeErr == nil {
		return nil
	}
	return c.closeErr
}

func (c *Client) closedErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeErr != nil {
		return c.closeErr
	}
	return ErrClosed
}

func opName(m Msg) string {
	if op := m.Str("op"); op != "" {
		return op
	}
	return "request"
}

// merge folds responses into one message; later keys win except "status",
// whose entries are collected in order without duplicates.
func merge(rs []Msg) Msg {
	out := Msg{}
	var status []string
	for _, r := range rs {
		for k, v := range r {
			if k != "status" {
				out[k] = v
			}
		}
		status = addStatus(status, r.Status())
	}
	if status != nil {
		st := make([]any, len(status))
		for i, s := range status {
			st[i] = s
		}
		out["status"] = st
	}
	return out
}

func addStatus(acc, more []string) []string {
	for _, s := range more {
		if !containsString(acc, s) {
			acc = append(acc, s)
		}
	}
	return acc
}

func containsString(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// Clone asks the server for a new session and returns its id.
func (c *Client) Clone(ctx context.Context) (session string, err error) {
	_, rs, err := c.request(ctx, Msg{"op": "clone"}, nil)
	if err != nil {
		return "", err
	}
	if s := merge(rs).Str("new-session"); s != "" {
		return s, nil
	}
	return "", fmt.Errorf("nrepl: clone: server answered without new-session (status %s)", strings.Join(merge(rs).Status(), ", "))
}

// Describe returns the server's describe reply (ops, versions, aux), merged
// across responses.
func (c *Client) Describe(ctx context.Context) (Msg, error) {
	_, rs, err := c.request(ctx, Msg{"op": "describe"}, nil)
	if err != nil {
		return nil, err
	}
	return merge(rs), nil
}

// EvalResult gathers the responses to one eval.
type EvalResult struct {
	Values    []string // every "value", in order
	Out, Err  string   // concatenated "out" and "err"
	Ex        string   // the last "ex", if evaluation threw
	NS        string   // the last "ns"
	Status    []string // every status seen, in order, without duplicates
	Responses []Msg    // everything received, in order
}

func (r *EvalResult) add(m Msg) {
	r.Responses = append(r.Responses, m)
	if v, ok := m["value"].(string); ok {
		r.Values = append(r.Values, v)
	}
	r.Out += m.Str("out")
	r.Err += m.Str("err")
	if ex := m.Str("ex"); ex != "" {
		r.Ex = ex
	}
	if ns := m.Str("ns"); ns != "" {
		r.NS = ns
	}
	r.Status = addStatus(r.Status, m.Status())
}

// Eval evaluates code in session (the server's ephemeral session when empty)
// and collects responses until done. extra adds keys such as "ns", "file" or
// "line"; it cannot override op, code or session. A thrown exception is a
// result (Ex, Status "eval-error"), not an error: err reports only a lost
// connection or ctx.
func (c *Client) Eval(ctx context.Context, session, code string, extra Msg) (EvalResult, error) {
	_, res, err := c.EvalStream(ctx, session, code, extra, nil)
	return res, err
}

// EvalStream is Eval that also calls each (when non-nil) with every response
// as it arrives, from the caller's goroutine. id lets the caller Interrupt.
func (c *Client) EvalStream(ctx context.Context, session, code string, extra Msg, each func(Msg)) (id string, res EvalResult, err error) {
	m := extra.Clone()
	m["op"] = "eval"
	m["code"] = code
	if session != "" {
		m["session"] = session
	}
	id, _, err = c.request(ctx, m, func(r Msg) {
		res.add(r)
		if each != nil {
			each(r)
		}
	})
	return id, res, err
}

// Completion is one candidate from a complete request.
type Completion struct {
	Candidate, NS, Type string
}

// Complete asks for completions of prefix in namespace ns (the session's
// current namespace when empty). It sends the prefix as both "prefix" and
// "symbol" because servers disagree on the key.
func (c *Client) Complete(ctx context.Context, session, prefix, ns string) ([]Completion, error) {
	m := Msg{"op": "complete", "prefix": prefix, "symbol": prefix}
	if session != "" {
		m["session"] = session
	}
	if ns != "" {
		m["ns"] = ns
	}
	_, rs, err := c.request(ctx, m, nil)
	if err != nil {
		return nil, err
	}
	var out []Completion
	for _, r := range rs {
		list, _ := r["completions"].([]any)
		for _, e := range list {
			d, ok := e.(map[string]any)
			if !ok {
				continue
			}
			cm := Msg(d)
			out = append(out, Completion{Candidate: cm.Str("candidate"), NS: cm.Str("ns"), Type: cm.Str("type")})
		}
	}
	return out, nil
}

// Interrupt asks the server to interrupt request interruptID in session and
// returns its merged reply; statuses such as "session-idle" are left to the
// caller.
func (c *Client) Interrupt(ctx context.Context, session, interruptID string) (Msg, error) {
	m := Msg{"op": "interrupt"}
	if session != "" {
		m["session"] = session
	}
	if interruptID != "" {
		m["interrupt-id"] = interruptID
	}
	_, rs, err := c.request(ctx, m, nil)
	if err != nil {
		return nil, err
	}
	return merge(rs), nil
}

// CloseSession closes session on the server.
func (c *Client) CloseSession(ctx context.Context, session string) error {
	_, rs, err := c.request(ctx, Msg{"op": "close", "session": session}, nil)
	if err != nil {
		return err
	}
	if r := merge(rs); r.HasStatus("error") || r.HasStatus("unknown-session") {
		return fmt.Errorf("nrepl: close session %s: server answered %s", session, strings.Join(r.Status(), ", "))
	}
	return nil
}
