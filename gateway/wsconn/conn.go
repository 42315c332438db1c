package wsconn

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// ErrClosed is returned for a send to a connection that has been closed.
var ErrClosed = errors.New("connection is closed")

// ErrQueueFull is returned for a send that did not fit the connection's
// queue: the peer is not reading. With Options.CloseWhenFull the connection
// is closed as a slow consumer, and only the send that overflowed says so.
var ErrQueueFull = errors.New("send queue is full")

// writeWait bounds one write to a peer: a peer that takes longer is not
// reading, and the write fails.
const writeWait = 10 * time.Second

// flushWait bounds how long a connection closed for shutdown spends writing
// what was queued for it before it is cut: the gateway's shutdown waits for
// its connections, and a peer that does not read must not hold it up.
const flushWait = 2 * time.Second

// outFrame is one queued frame. batchable frames are single events that may be
// sent together as one sente batch vector, [[ev1 ...] [ev2 ...]].
type outFrame struct {
	data      []byte
	batchable bool
	ping      bool // a WebSocket ping control frame
}

// Conn is one WebSocket: the owner runs the single read loop, and a writer
// goroutine drains a bounded queue. Unlike the chat example's permanent write
// loop, the writer only runs while frames are queued, so an idle connection
// costs one parked reader (on the smallest stack, with no read buffer: see
// wsReader) and a few small structs — this is what keeps 5,000 idle
// connections in a few KiB each. Behind a CorkListener the writer frames and
// sends many frames per system call itself.
type Conn struct {
	conn     *websocket.Conn // upgrades and writes control frames; rd reads
	rd       wsReader        // by value: one allocation less per connection
	maxQueue int             // frames
	maxBytes int64           // bytes in queued frames: large frames fill a queue long before its count does
	batch    bool            // join queued batchable frames into one sente batch frame
	// closeWhenFull ends the connection when its queue overflows: right for a
	// subscriber that stopped reading. A runtime's queue is filled by editors'
	// requests instead, so there only the request that does not fit is refused.
	closeWhenFull bool

	mu          sync.Mutex
	queue       []outFrame
	spare       []outFrame // the writer's last batch, emptied, for the next queue
	queuedBytes int64
	writing     bool
	closed      bool
	flushing    bool        // closed for shutdown: the writer sends the close frame once the queue is written
	cutFlush    func() bool // stops the timer that cuts a flush short
	state       CloseState
	reason      string

	lastRead atomic.Int64 // unix nanos of the last frame or pong read
	sent     atomic.Int64 // frames written
}

// Options are a connection's limits and manners.
type Options struct {
	ReadLimit     int64 // the largest message read; 0: no bound
	MaxQueue      int   // frames queued and not yet written
	MaxQueueBytes int64 // bytes in those frames; 0: no bound
	// Batch joins queued batchable frames into one sente batch frame
	// [[ev1 ...] [ev2 ...]]; only for a peer that said it unwraps them.
	Batch bool
	// CloseWhenFull closes the connection as a slow consumer when a send
	// overflows its queue; without it only that send is refused.
	CloseWhenFull bool
}

// New takes over an upgraded connection. The caller then runs the read loop
// (AwaitMessage, ReadMessage) and sends from any goroutine.
func New(conn *websocket.Conn, o Options) *Conn {
	c := &Conn{conn: conn, maxQueue: o.MaxQueue, maxBytes: o.MaxQueueBytes, batch: o.Batch, closeWhenFull: o.CloseWhenFull}
	c.rd.init(conn)
	// wsReader enforces the limit; gorilla's reader is not used, but is told
	// too, so that nothing reads past it.
	conn.SetReadLimit(o.ReadLimit)
	c.rd.limit = o.ReadLimit
	c.touch()
	return c
}

// MaxQueue is how many frames the connection queues before a send is refused.
func (c *Conn) MaxQueue() int { return c.maxQueue }

func (c *Conn) touch() { c.lastRead.Store(time.Now().UnixNano()) }

// idleFor is how long ago the peer last sent anything.
func (c *Conn) idleFor(now time.Time) time.Duration {
	return now.Sub(time.Unix(0, c.lastRead.Load()))
}

// enqueue queues a frame without blocking. A full queue means the peer is not
// reading: the caller decides whether that closes the connection.
func (c *Conn) enqueue(f outFrame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if len(c.queue) >= c.maxQueue || (c.maxBytes > 0 && c.queuedBytes+int64(len(f.data)) > c.maxBytes) {
		if !c.closeWhenFull {
			return ErrQueueFull
		}
		// From here on the connection is finished: later sends see it closed, so
		// an overflow is reported (and counted) exactly once.
		c.closed, c.state = true, ClosedSlowConsumer
		c.reason = fmt.Sprintf("slow consumer: %d frames (%d bytes) queued and unread", len(c.queue), c.queuedBytes)
		c.queue, c.queuedBytes = nil, 0
		// The owner cleans up (unsubscribes) at once; the close frame may wait on
		// the congested socket, so it goes out from its own goroutine, if at all.
		_ = c.conn.SetReadDeadline(time.Now())
		go c.shutdownIO(c.reason)
		return ErrQueueFull
	}
	if c.queue == nil {
		// A burst usually follows: skip the smallest growth steps.
		c.queue = make([]outFrame, 0, 16)
	}
	c.queue = append(c.queue, f)
	c.queuedBytes += int64(len(f.data))
	if !c.writing {
		c.writing = true
		go c.writeLoop()
	}
	return nil
}

// SendNow writes data at once from the caller's goroutine when nothing is
// queued or being written, sparing a writer goroutine's start and wake-up:
// for the read loop answering its own peer (a pong, a reply) that is most of
// a round trip's cost. Otherwise data is queued behind the rest, in order.
// The caller takes the writer's role for the write, so gorilla's one writer
// at a time still holds.
func (c *Conn) SendNow(data []byte) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	if c.writing || len(c.queue) > 0 {
		c.mu.Unlock()
		return c.enqueue(outFrame{data: data})
	}
	c.writing = true
	c.mu.Unlock()

	_ = c.conn.SetWriteDeadline(time.Now().Add(writeWait))
	err := c.conn.WriteMessage(websocket.TextMessage, data)

	if err != nil {
		c.writeFailed(err)
		return fmt.Errorf("%w: write failed: %v", ErrClosed, err)
	}
	c.mu.Lock()
	c.sent.Add(1)
	if len(c.queue) > 0 && (!c.closed || c.flushing) {
		go c.writeLoop() // frames queued meanwhile: the writer takes over
		c.mu.Unlock()
		return nil
	}
	c.writing = false
	flushed := c.takeFlushing()
	c.mu.Unlock()
	if flushed {
		c.shutdownIO(c.reason)
	}
	return nil
}

// Send queues data as one text frame without blocking. A batchable frame is
// a single event that may go out in one batch frame with others.
func (c *Conn) Send(data []byte, batchable bool) error {
	return c.enqueue(outFrame{data: data, batchable: batchable})
}

// Ping queues a WebSocket ping control frame; the pong is read as liveness.
func (c *Conn) Ping() error { return c.enqueue(outFrame{ping: true}) }

// CloseState says why a connection closed, as nats-server's ClosedState does:
// the owner counts by it, and the reason text beside it is for people.
type CloseState uint8

// The states a connection closes in; StillOpen until it does.
const (
	StillOpen          CloseState = iota
	ClosedByPeer                  // the peer closed, went away, or sent a frame over the limit
	ClosedBadFrames               // too many unreadable frames
	ClosedStale                   // silent past the heartbeat timeout
	ClosedSlowConsumer            // its queue overflowed
	ClosedWriteError              // a write to it failed
	ClosedShutdown                // the gateway is shutting down
	ClosedByServer                // the gateway dropped it for another reason
)

// Close ends the connection, telling the peer reason in a close frame: the
// read loop returns and the owner cleans up. The first state and reason given
// are the ones reported. Sends fail from here on.
//
// Closed as ClosedShutdown, the connection first writes what is queued, for
// at most flushWait, so that what the gateway accepted for the peer (a
// published message, a reply) reaches it. Any other state means the peer is
// gone, broken or not reading, and the queue is dropped.
func (c *Conn) Close(state CloseState, reason string) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed, c.state, c.reason = true, state, reason
	if state == ClosedShutdown && c.writing {
		c.flushing = true
		// A peer that does not read loses the rest: cutting the socket fails
		// the write, and the writer then unblocks the read loop.
		c.cutFlush = time.AfterFunc(flushWait, func() { _ = c.conn.NetConn().Close() }).Stop
		c.mu.Unlock()
		return
	}
	c.queue, c.queuedBytes = nil, 0
	c.mu.Unlock()
	c.shutdownIO(reason)
}

// takeFlushing ends a shutdown flush, when one is under way, and reports
// whether it was; the caller then sends the close frame. The writer calls it,
// with mu held, once it has nothing more to write.
func (c *Conn) takeFlushing() bool {
	if !c.flushing {
		return false
	}
	c.flushing = false
	c.cutFlush()
	c.cutFlush = nil
	return true
}

// writeFailed ends the connection after a failed write. Closed already for
// shutdown, it only ends the flush: the state stays ClosedShutdown.
func (c *Conn) writeFailed(err error) {
	c.mu.Lock()
	c.writing = false
	c.queue, c.queuedBytes = nil, 0
	flushed := c.takeFlushing()
	c.mu.Unlock()
	if flushed {
		c.shutdownIO(c.reason)
		return
	}
	c.Close(ClosedWriteError, "write failed: "+err.Error())
}

// shutdownIO tells the peer why, then unblocks the owner's read loop.
func (c *Conn) shutdownIO(reason string) {
	_ = c.conn.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseGoingAway, truncate(reason, 120)), time.Now().Add(time.Second))
	_ = c.conn.SetReadDeadline(time.Now()) // unblocks the owner's read loop
}

// EndedBy says why the connection ended, given the error that ended its
// read loop: the state and reason it was closed with, or else the peer's
// doing (a close frame, a frame over the read limit, a lost connection).
func (c *Conn) EndedBy(readErr error) (CloseState, string) {
	c.mu.Lock()
	state, reason := c.state, c.reason
	c.mu.Unlock()
	if reason != "" {
		return state, reason
	}
	return ClosedByPeer, peerCloseReason(readErr, c.rd.limit)
}

// ClosedAs is the state the connection was closed in, StillOpen before that.
func (c *Conn) ClosedAs() CloseState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

func (c *Conn) writeLoop() {
	cork, _ := c.conn.NetConn().(*corkConn) // nil behind TLS: frame by frame through gorilla
	var batch []byte
	for {
		c.mu.Lock()
		if len(c.queue) == 0 || (c.closed && !c.flushing) {
			c.writing = false
			c.queue, c.spare = nil, nil // let an idle connection drop its backing arrays
			flushed := c.takeFlushing()
			c.mu.Unlock()
			if flushed {
				c.shutdownIO(c.reason)
			}
			return
		}
		frames := c.queue
		c.queue, c.spare = c.spare, nil
		// The budget is for frames waiting; those taken here are being written.
		c.queuedBytes = 0
		c.mu.Unlock()

		var err error
		if cork != nil {
			err = c.writeCorked(cork, frames)
		} else {
			err = c.writeEach(frames, &batch)
		}
		if err != nil {
			c.writeFailed(err)
			return
		}
		clear(frames) // the frames' bytes are garbage now
		c.mu.Lock()
		c.spare = frames[:0]
		c.mu.Unlock()
	}
}

// maxBatchBytes bounds one batch frame, well under the 1 MiB clients accept.
const maxBatchBytes = 64 << 10

// batchEnd is where the batch starting at frames[i] ends: a run of batchable
// frames up to maxBatchBytes (at least two frames, or i+1: no batch).
func (c *Conn) batchEnd(frames []outFrame, i int) int {
	if !c.batch || !frames[i].batchable {
		return i + 1
	}
	j, n := i, 0
	for j < len(frames) && frames[j].batchable && (j == i || n+len(frames[j].data) < maxBatchBytes) {
		n += len(frames[j].data) + 1
		j++
	}
	return j
}

// writeCorked writes the frames itself, many per system call (corkConn).
func (c *Conn) writeCorked(cork *corkConn, frames []outFrame) error {
	deadline := time.Now().Add(writeWait)
	for i := 0; i < len(frames); {
		written := 0
		err := cork.appendFrames(deadline, func(b []byte) []byte {
			for start := len(b); i < len(frames) && len(b)-start < corkChunk; written++ {
				f := frames[i]
				if f.ping {
					b = appendPing(b)
					i++
					continue
				}
				end := c.batchEnd(frames, i)
				if end == i+1 {
					b = appendTextHeader(b, len(f.data))
					b = append(b, f.data...)
					i++
					continue
				}
				// Several events waiting: one frame [ev1 ev2 ...].
				n := 1
				for _, g := range frames[i:end] {
					n += len(g.data) + 1
				}
				b = appendTextHeader(b, n)
				b = append(b, '[')
				for k, g := range frames[i:end] {
					if k > 0 {
						b = append(b, ' ')
					}
					b = append(b, g.data...)
				}
				b = append(b, ']')
				i = end
			}
			return b
		})
		if err != nil {
			return err
		}
		c.sent.Add(int64(written))
	}
	return nil
}

// writeEach writes the frames through gorilla, one system call each.
func (c *Conn) writeEach(frames []outFrame, batch *[]byte) error {
	for i := 0; i < len(frames); {
		f := frames[i]
		var err error
		deadline := time.Now().Add(writeWait)
		end := i + 1
		switch {
		case f.ping:
			err = c.conn.WriteControl(websocket.PingMessage, nil, deadline)
		default:
			if end = c.batchEnd(frames, i); end > i+1 {
				b := append((*batch)[:0], '[')
				for k, g := range frames[i:end] {
					if k > 0 {
						b = append(b, ' ')
					}
					b = append(b, g.data...)
				}
				*batch = append(b, ']')
				_ = c.conn.SetWriteDeadline(deadline)
				err = c.conn.WriteMessage(websocket.TextMessage, *batch)
				break
			}
			_ = c.conn.SetWriteDeadline(deadline)
			err = c.conn.WriteMessage(websocket.TextMessage, f.data)
		}
		if err != nil {
			return err
		}
		c.sent.Add(1)
		i = end
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// peerCloseReason turns a read error into words for the log.
func peerCloseReason(err error, limit int64) string {
	if errors.Is(err, websocket.ErrReadLimit) {
		return fmt.Sprintf("sent a frame over the %d-byte limit", limit)
	}
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		if ce.Text != "" {
			return fmt.Sprintf("closed by the peer (%d %s)", ce.Code, ce.Text)
		}
		return fmt.Sprintf("closed by the peer (%d)", ce.Code)
	}
	return "connection lost: " + err.Error()
}
