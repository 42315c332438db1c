package wsconn

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// wsReader reads a peer's WebSocket frames (RFC 6455 section 5) from the
// socket under gorilla's Conn, which is used only to upgrade and to write
// control frames. Reading here instead of through gorilla is what keeps an
// idle connection small:
//   - no read buffer while no bytes are waiting: one is borrowed from a pool
//     when the socket turns readable and given back once it is drained;
//   - the read loop waits for the socket in a shallow call chain (a raw
//     readiness wait, not gorilla's reader over bufio over net.Conn), so a
//     parked reader fits the smallest goroutine stack.
type wsReader struct {
	nc    net.Conn        // the socket (corkConn, or a *tls.Conn)
	raw   syscall.RawConn // for waiting until readable; nil behind TLS
	bufs  *sync.Pool      // of *[]byte, readChunk each; nil behind TLS
	own   *[]byte         // the buffer kept when there is no pool
	limit int64           // the largest message accepted; 0: no limit

	buf      *[]byte // bytes read and not yet used; nil when none
	pos, end int

	peek func(fd uintptr) bool // made once: a closure per wait would be garbage per message
	one  [1]byte
}

// readChunk is the buffer borrowed while reading.
const readChunk = 4 << 10

// readStep bounds how far a message's buffer grows ahead of the bytes read.
const readStep = 32 << 10

// errProtocol is a frame RFC 6455 forbids; the connection is closed.
var errProtocol = errors.New("websocket protocol error")

// init sets r up to read conn's socket.
func (r *wsReader) init(conn *websocket.Conn) {
	r.nc = conn.NetConn()
	under := r.nc
	if cc, ok := under.(*corkConn); ok {
		under, r.bufs = cc.Conn, cc.rbufs
	}
	if sc, ok := under.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			r.raw = raw
			r.peek = func(fd uintptr) bool {
				_, _, err := syscall.Recvfrom(int(fd), r.one[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
				return err != syscall.EAGAIN && err != syscall.EINTR
			}
		}
	}
}

// waitReadable parks until the socket has bytes (or the read deadline
// passes, or it closes) without a buffer and deep in nothing, unless bytes
// are buffered already. ReadMessage calls it first thing, so that a parked
// connection's stack is short.
func (r *wsReader) waitReadable() error {
	if r.raw == nil || r.pos < r.end {
		return nil
	}
	r.release()
	// A peer that closed reads as readable; the read that follows says so.
	return r.raw.Read(r.peek)
}

// fill makes sure some bytes are buffered.
func (r *wsReader) fill() error {
	if r.pos < r.end {
		return nil
	}
	r.release()
	b := r.getBuf()
	n, err := r.nc.Read((*b)[:cap(*b)])
	if n > 0 {
		r.buf, r.pos, r.end = b, 0, n
		return nil
	}
	r.putBuf(b)
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

func (r *wsReader) getBuf() *[]byte {
	if r.bufs != nil {
		return r.bufs.Get().(*[]byte)
	}
	if r.own == nil {
		b := make([]byte, readChunk)
		r.own = &b
	}
	return r.own
}

func (r *wsReader) putBuf(b *[]byte) {
	if r.bufs != nil {
		r.bufs.Put(b)
	}
}

func (r *wsReader) release() {
	if r.buf != nil {
		r.putBuf(r.buf)
		r.buf, r.pos, r.end = nil, 0, 0
	}
}

// readFull fills p from the buffer, then from the socket; a long p is read
// into directly.
func (r *wsReader) readFull(p []byte) error {
	for len(p) > 0 {
		if r.pos == r.end && len(p) >= readChunk {
			n, err := io.ReadFull(r.nc, p)
			if err != nil {
				if errors.Is(err, io.EOF) {
					return io.ErrUnexpectedEOF
				}
				return err
			}
			p = p[n:]
			continue
		}
		if err := r.fill(); err != nil {
			if errors.Is(err, io.EOF) {
				return io.ErrUnexpectedEOF
			}
			return err
		}
		n := copy(p, (*r.buf)[r.pos:r.end])
		r.pos += n
		p = p[n:]
		if r.pos == r.end {
			r.release()
		}
	}
	return nil
}

type frameHeader struct {
	fin    bool
	opcode int
	length int64
	mask   [4]byte
}

func (r *wsReader) readHeader() (frameHeader, error) {
	var b [8]byte
	if err := r.readFull(b[:2]); err != nil {
		return frameHeader{}, err
	}
	h := frameHeader{fin: b[0]&0x80 != 0, opcode: int(b[0] & 0x0f)}
	if b[0]&0x70 != 0 {
		return h, fmt.Errorf("%w: reserved bits set (no extension was agreed)", errProtocol)
	}
	if b[1]&0x80 == 0 {
		return h, fmt.Errorf("%w: a client frame must be masked", errProtocol)
	}
	switch n := b[1] & 0x7f; n {
	case 126:
		if err := r.readFull(b[:2]); err != nil {
			return h, err
		}
		h.length = int64(binary.BigEndian.Uint16(b[:2]))
	case 127:
		if err := r.readFull(b[:8]); err != nil {
			return h, err
		}
		v := binary.BigEndian.Uint64(b[:8])
		if v > 1<<62 {
			return h, fmt.Errorf("%w: frame length %d", errProtocol, v)
		}
		h.length = int64(v)
	default:
		h.length = int64(n)
	}
	if err := r.readFull(h.mask[:]); err != nil {
		return h, err
	}
	return h, nil
}

func unmask(p []byte, mask [4]byte, pos int) {
	for i := range p {
		p[i] ^= mask[(pos+i)&3]
	}
}

// AwaitMessage returns once bytes are there to read (or the read deadline
// passed, or the socket closed); called from a shallow read loop, it parks
// the connection's goroutine with little stack in use.
func (c *Conn) AwaitMessage() error { return c.rd.waitReadable() }

// ReadMessage reads the next data message, answering pings and noting pongs
// on the way (control frames may come between a message's fragments). A close
// frame is answered and returned as a *websocket.CloseError, a message over
// the limit as websocket.ErrReadLimit, as gorilla would.
func (c *Conn) ReadMessage() (int, []byte, error) {
	r := &c.rd
	typ := 0
	var msg []byte
	for {
		if err := r.waitReadable(); err != nil {
			return 0, nil, c.readFailed(err)
		}
		h, err := r.readHeader()
		if err != nil {
			return 0, nil, c.readFailed(err)
		}
		c.touch()
		if h.opcode >= 8 {
			if err := c.control(h); err != nil {
				return 0, nil, err
			}
			continue
		}
		switch {
		case h.opcode == 0 && typ == 0:
			return 0, nil, c.readFailed(fmt.Errorf("%w: continuation frame with no message to continue", errProtocol))
		case h.opcode != 0 && typ != 0:
			return 0, nil, c.readFailed(fmt.Errorf("%w: new message before the last one ended", errProtocol))
		case h.opcode == websocket.TextMessage, h.opcode == websocket.BinaryMessage:
			typ = h.opcode
		case h.opcode != 0:
			return 0, nil, c.readFailed(fmt.Errorf("%w: unknown opcode %d", errProtocol, h.opcode))
		}
		size := int64(len(msg)) + h.length
		if r.limit > 0 && size > r.limit {
			_ = c.conn.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseMessageTooBig, ""), time.Now().Add(time.Second))
			return 0, nil, websocket.ErrReadLimit
		}
		// The payload is read in steps, so that memory follows the bytes that
		// came, not the length a peer announced: a thousand peers announcing
		// frames at the limit and sending nothing cost little.
		for pos := 0; pos < int(h.length); {
			n := min(int(h.length)-pos, readStep)
			start := len(msg)
			msg = slices.Grow(msg, n)[:start+n]
			if err := r.readFull(msg[start:]); err != nil {
				return 0, nil, c.readFailed(err)
			}
			unmask(msg[start:], h.mask, pos)
			pos += n
		}
		if h.fin {
			return typ, msg, nil
		}
	}
}

// control serves a control frame: a ping is answered, a pong was noted (it
// is something read), a close ends the connection.
func (c *Conn) control(h frameHeader) error {
	if !h.fin || h.length > 125 {
		return c.readFailed(fmt.Errorf("%w: control frame fragmented or over 125 bytes", errProtocol))
	}
	var p [125]byte
	payload := p[:h.length]
	if err := c.rd.readFull(payload); err != nil {
		return c.readFailed(err)
	}
	unmask(payload, h.mask, 0)
	switch h.opcode {
	case websocket.PingMessage:
		_ = c.conn.WriteControl(websocket.PongMessage, payload, time.Now().Add(writeWait))
	case websocket.PongMessage:
	case websocket.CloseMessage:
		return c.peerClosed(payload)
	default:
		return c.readFailed(fmt.Errorf("%w: unknown control opcode %d", errProtocol, h.opcode))
	}
	return nil
}

// readFailed closes the connection on a protocol error (telling the peer
// why) and returns err.
func (c *Conn) readFailed(err error) error {
	c.rd.release()
	if errors.Is(err, errProtocol) {
		_ = c.conn.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseProtocolError, truncate(err.Error(), 120)), time.Now().Add(time.Second))
	}
	return err
}

// peerClosed answers a close frame with one and reports it as gorilla does.
func (c *Conn) peerClosed(payload []byte) error {
	c.rd.release()
	code, text := websocket.CloseNoStatusReceived, ""
	if len(payload) >= 2 {
		code = int(binary.BigEndian.Uint16(payload))
		text = string(payload[2:])
		if !utf8.ValidString(text) {
			text = ""
		}
	}
	reply := []byte{}
	if code != websocket.CloseNoStatusReceived {
		reply = websocket.FormatCloseMessage(code, "")
	}
	_ = c.conn.WriteControl(websocket.CloseMessage, reply, time.Now().Add(time.Second))
	return &websocket.CloseError{Code: code, Text: text}
}
