package wsconn

import (
	"net"
	"sync"
	"time"
)

// CorkListener wraps ln so that the Conns made on connections it accepts
// write many frames in one system call, and read with a buffer borrowed only
// while bytes wait. Each accepted connection borrows its buffers from the
// listener's pools. It is for plain TCP: under TLS the socket gets records,
// not frames, and a Conn writes frame by frame through gorilla instead.
func CorkListener(ln net.Listener) net.Listener {
	return corkListener{Listener: ln,
		bufs:  &sync.Pool{New: func() any { b := make([]byte, 0, corkChunk+1024); return &b }},
		rbufs: &sync.Pool{New: func() any { b := make([]byte, readChunk); return &b }},
	}
}

// corkListener hands out corkConns.
type corkListener struct {
	net.Listener
	bufs  *sync.Pool // of *[]byte, for writes
	rbufs *sync.Pool // of *[]byte, readChunk each, for wsReader
}

func (l corkListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &corkConn{Conn: c, bufs: l.bufs, rbufs: l.rbufs}, nil
}

// corkChunk is about how many bytes a writer gathers before a write: big
// enough that a burst of small frames costs few system calls, small enough
// that a buffer is cheap to keep in the pool.
const corkChunk = 32 << 10

// maxPooledBuffer bounds the buffers returned to the pool: one huge frame
// should not pin its buffer forever.
const maxPooledBuffer = 256 << 10

// corkConn is a net.Conn through which gorilla/websocket writes (its handshake
// and control frames) and through which Conn's writer appends whole frames
// of its own (appendFrames), many at a time, sent in one write. Writes that
// arrive while another goroutine is writing to the socket are appended and
// sent by that goroutine right after, so bytes leave in the order they were
// written and frames never interleave.
//
// Write deadlines are recorded and set on the socket just before a write:
// gorilla sets one per frame, which would otherwise cost a timer update each.
type corkConn struct {
	net.Conn
	bufs  *sync.Pool
	rbufs *sync.Pool // lent to the connection's wsReader

	mu       sync.Mutex
	buf      *[]byte // bytes waiting; borrowed from bufs only while there are some
	writing  bool    // a goroutine is writing to the socket; others append
	err      error   // the first write error; every later write returns it
	deadline int64   // unix nanos, 0 for none: smaller than a time.Time
	applied  int64   // the write deadline set on the socket
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// SetWriteDeadline records t for the next write. A write in progress gets an
// earlier deadline at once, so that closing a connection is not held up by a
// peer that stopped reading.
func (c *corkConn) SetWriteDeadline(t time.Time) error {
	n := nanos(t)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = n
	if c.writing && n != 0 && (c.applied == 0 || n < c.applied) {
		c.applied = n
		return c.Conn.SetWriteDeadline(t)
	}
	return nil
}

func (c *corkConn) SetDeadline(t time.Time) error {
	if err := c.Conn.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

// Write sends p, after whatever is waiting; when another goroutine is
// writing, p is appended and sent by it.
func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	if c.writing || c.buf != nil {
		c.hold(p)
		if c.writing {
			return len(p), nil
		}
		return len(p), c.drainLocked()
	}
	c.writing = true
	n, err := c.writeLocked(p)
	if err == nil {
		err = c.drainLocked()
	}
	c.writing = false
	return n, err
}

// appendFrames lets build append frames to the bytes waiting, then sends
// them, unless another goroutine is writing and will. deadline bounds the
// write.
func (c *corkConn) appendFrames(deadline time.Time, build func([]byte) []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	if c.buf == nil {
		c.buf = c.bufs.Get().(*[]byte)
	}
	*c.buf = build(*c.buf)
	c.deadline = nanos(deadline)
	if c.writing {
		return nil
	}
	c.writing = true
	err := c.drainLocked()
	c.writing = false
	return err
}

func (c *corkConn) hold(p []byte) {
	if c.buf == nil {
		c.buf = c.bufs.Get().(*[]byte)
	}
	*c.buf = append(*c.buf, p...)
}

// drainLocked writes what is waiting until nothing is; c.mu is held and
// c.writing set by the caller.
func (c *corkConn) drainLocked() error {
	for c.buf != nil {
		b := c.buf
		c.buf = nil
		_, err := c.writeLocked(*b)
		if cap(*b) <= maxPooledBuffer {
			*b = (*b)[:0]
			c.bufs.Put(b)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// writeLocked writes p to the socket without holding c.mu, so that other
// goroutines can append meanwhile.
func (c *corkConn) writeLocked(p []byte) (int, error) {
	var err error
	if c.deadline != c.applied {
		err = c.Conn.SetWriteDeadline(fromNanos(c.deadline))
		c.applied = c.deadline
	}
	n := 0
	if err == nil {
		c.mu.Unlock()
		n, err = c.Conn.Write(p)
		c.mu.Lock()
	}
	if err != nil && c.err == nil {
		c.err = err
		if c.buf != nil {
			c.buf = nil // nothing more will be written
		}
	}
	return n, err
}

// appendTextHeader appends the header of one unmasked, unfragmented WebSocket
// text frame of n bytes (RFC 6455 section 5.2), as a server sends it.
func appendTextHeader(b []byte, n int) []byte {
	// Events are mostly under 64 KiB; the 64-bit form is for the large
	// ones a message limit allows.
	const fin, text = 0x80, 0x1
	switch {
	case n <= 125:
		return append(b, fin|text, byte(n))
	case n <= 0xFFFF:
		return append(b, fin|text, 126, byte(n>>8), byte(n))
	default:
		return append(b, fin|text, 127, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32),
			byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

// appendPing appends an empty WebSocket ping control frame.
func appendPing(b []byte) []byte { return append(b, 0x89, 0x00) }
