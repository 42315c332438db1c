// Package simruntime is a minimal runtime that speaks stock scittle.nrepl.js's
// wire protocol on /_nrepl and answers at once. Gateway unit tests use it where
// a browser would only add seconds, and `sente bench` uses it to measure the
// gateway alone. End-to-end tests use real Chromium instead.
package simruntime

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"github.com/gorilla/websocket"

	"github.com/sente-clj/sente/nrepl"
	"github.com/sente-clj/sente/wire"
)

// Handler answers one request with the responses to send back, in order. The
// id and session are copied onto each response by the runtime.
type Handler func(req nrepl.Msg) []nrepl.Msg

// Echo answers eval with the code as the value, and anything else with done.
func Echo(req nrepl.Msg) []nrepl.Msg {
	if req.Str("op") == "eval" {
		return []nrepl.Msg{{"value": req.Str("code"), "ns": "user"}, {"status": []any{"done"}, "ns": "user"}}
	}
	return []nrepl.Msg{{"status": []any{"done"}}}
}

// Runtime is one connected simulated runtime.
type Runtime struct {
	conn    *websocket.Conn
	handler Handler
	writeMu sync.Mutex
	done    chan struct{}
	err     error
}

// Dial connects to ws://addr/_nrepl (addr is host:port) and serves requests with h
// until ctx is cancelled or Close is called.
func Dial(ctx context.Context, addr string, h Handler) (*Runtime, error) {
	return DialURL(ctx, websocket.DefaultDialer, "ws://"+addr+"/_nrepl", h)
}

// DialURL is Dial to a whole WebSocket URL with d, e.g. wss:// with TLS settings.
func DialURL(ctx context.Context, d *websocket.Dialer, wsURL string, h Handler) (*Runtime, error) {
	hdr := http.Header{"User-Agent": {"sente-simruntime"}}
	conn, _, err := d.DialContext(ctx, wsURL, hdr)
	if err != nil {
		return nil, fmt.Errorf("connect simulated runtime to %s: %w", wsURL, err)
	}
	r := &Runtime{conn: conn, handler: h, done: make(chan struct{})}
	go r.serve(ctx)
	return r, nil
}

func (r *Runtime) serve(ctx context.Context) {
	defer close(r.done)
	stop := context.AfterFunc(ctx, func() { _ = r.conn.Close() })
	defer stop()
	for {
		_, data, err := r.conn.ReadMessage()
		if err != nil {
			r.err = err
			return
		}
		v, err := wire.Parse(data, wire.DefaultLimits())
		if err != nil {
			r.err = fmt.Errorf("runtime got unreadable request: %w", err)
			return
		}
		req, err := nrepl.FromEDN(v)
		if err != nil {
			r.err = err
			return
		}
		for _, resp := range r.handler(req) {
			resp["id"] = req.Str("id")
			if s := req.Str("session"); s != "" {
				resp["session"] = s
			}
			if err := r.SendEDN(nrepl.ToEDN(resp)); err != nil {
				r.err = err
				return
			}
		}
	}
}

// SendEDN writes one EDN value as a text frame, as the browser would.
func (r *Runtime) SendEDN(v any) error {
	b, err := wire.Print(v)
	if err != nil {
		return err
	}
	return r.SendRaw(websocket.TextMessage, b)
}

// SendRaw writes any frame, for tests that feed the gateway bad input.
func (r *Runtime) SendRaw(typ int, b []byte) error {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	return r.conn.WriteMessage(typ, b)
}

// Close disconnects, as a closed browser tab would.
func (r *Runtime) Close() error {
	err := r.conn.Close()
	<-r.done
	return err
}

// Done is closed when the runtime's connection has ended.
func (r *Runtime) Done() <-chan struct{} { return r.done }
