package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sente-clj/sente/wire"
)

// userAgent names the benchmark's WebSocket clients in the gateway's logs and
// on /runtimes.
const userAgent = "sente-bench"

// handshakeTimeout bounds dialling and the wait for :chsk/handshake.
const handshakeTimeout = 10 * time.Second

// newDialer returns a WebSocket dialer with buf-byte read and write buffers;
// small buffers keep thousands of client connections cheap.
func newDialer(buf int) *websocket.Dialer {
	return &websocket.Dialer{ReadBufferSize: buf, WriteBufferSize: buf, HandshakeTimeout: handshakeTimeout}
}

// wsURL is ws://, or wss:// for a dialer with TLS settings.
func wsURL(d *websocket.Dialer, httpAddr, path string) string {
	if d.TLSClientConfig != nil {
		return "wss://" + httpAddr + path
	}
	return "ws://" + httpAddr + path
}

// dial opens a WebSocket to the gateway's path.
func dial(ctx context.Context, d *websocket.Dialer, httpAddr, path string) (*websocket.Conn, error) {
	conn, resp, err := d.DialContext(ctx, wsURL(d, httpAddr, path), http.Header{"User-Agent": {userAgent}})
	if err != nil {
		if resp != nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			resp.Body.Close()
			return nil, fmt.Errorf("connect to %s: %s %s", wsURL(d, httpAddr, path), resp.Status, string(body))
		}
		return nil, fmt.Errorf("connect to %s: %w", wsURL(d, httpAddr, path), err)
	}
	return conn, nil
}

// frameReader reads whole WebSocket messages into one reused buffer, so a
// client that reads millions of frames allocates (almost) nothing per frame.
type frameReader struct {
	conn *websocket.Conn
	buf  []byte
}

// next returns the next message; the bytes are valid until the next call.
func (r *frameReader) next() ([]byte, error) {
	_, rd, err := r.conn.NextReader()
	if err != nil {
		return nil, err
	}
	r.buf = r.buf[:0]
	for {
		if len(r.buf) == cap(r.buf) {
			r.buf = append(r.buf, 0)[:len(r.buf)]
		}
		n, err := rd.Read(r.buf[len(r.buf):cap(r.buf)])
		r.buf = r.buf[:len(r.buf)+n]
		if errors.Is(err, io.EOF) {
			return r.buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// dialChsk opens a sente-lite connection and waits for the handshake, which
// must be the first frame. It returns the connection, ready to use.
func dialChsk(ctx context.Context, d *websocket.Dialer, httpAddr, path string) (*websocket.Conn, *frameReader, error) {
	conn, err := dial(ctx, d, httpAddr, path)
	if err != nil {
		return nil, nil, err
	}
	r := &frameReader{conn: conn}
	_ = conn.SetReadDeadline(time.Now().Add(handshakeTimeout))
	frame, err := r.next()
	if err == nil {
		err = checkHandshake(frame)
	}
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("sente-lite handshake on %s: %w", wsURL(d, httpAddr, path), err)
	}
	_ = conn.SetReadDeadline(time.Time{})
	return conn, r, nil
}

// checkHandshake accepts a frame that is [:chsk/handshake [uid ...]], alone or
// first in a batch.
func checkHandshake(frame []byte) error {
	f, err := wire.DecodeFrame(frame, wire.DefaultLimits())
	if err != nil {
		return err
	}
	ev := f.Event
	if f.Kind == wire.KindBatch {
		ev = f.Batch[0]
	}
	if f.Kind != wire.KindEvent && f.Kind != wire.KindBatch {
		return fmt.Errorf("first frame is a %s, not the handshake event", f.Kind)
	}
	h, err := wire.ParseHandshake(ev)
	if err != nil {
		return fmt.Errorf("first frame is not the handshake: %w", err)
	}
	if h.UID == "" {
		return errors.New("handshake without a uid")
	}
	return nil
}

// closeWS says goodbye with a close frame, as a browser closing its tab does,
// then drops the connection.
func closeWS(conn *websocket.Conn) {
	_ = conn.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	_ = conn.Close()
}

// encode is wire.EncodeEvent for events the benchmark builds itself, which
// always encode.
func encode(ev wire.Event) []byte {
	b, err := wire.EncodeEvent(ev)
	if err != nil {
		panic(err)
	}
	return b
}
