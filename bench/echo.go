package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
)

// EchoReadyPrefix starts the one line the echo server prints, followed by the
// host:port it listens on.
const EchoReadyPrefix = "sente bench echo-server: listening on "

// ServeEcho is the floor the gateway is compared with: a bare loopback
// WebSocket server, with the gateway's buffer sizes, that writes every frame
// back as it is. It listens on a free port of 127.0.0.1, prints
// EchoReadyPrefix+addr to ready, and serves until ctx ends.
func ServeEcho(ctx context.Context, ready io.Writer) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	up := websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 1024}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		stop := context.AfterFunc(ctx, func() { _ = c.Close() })
		defer stop()
		for {
			t, m, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(t, m); err != nil {
				return
			}
		}
	})}
	if _, err := fmt.Fprintln(ready, EchoReadyPrefix+ln.Addr().String()); err != nil {
		ln.Close()
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		_ = srv.Close()
		return nil
	case err := <-errc:
		return err
	}
}

// dialEcho connects to the echo server at addr, to send it frame and wait
// for it to come back. The connection closes when ctx ends.
func dialEcho(ctx context.Context, addr string, frame []byte) (*side, error) {
	conn, err := dial(ctx, newDialer(1024), addr, "/")
	if err != nil {
		return nil, setupErr("echo server: %v", err)
	}
	context.AfterFunc(ctx, func() { _ = conn.Close() })
	return &side{conn: conn, frames: &frameReader{conn: conn}, frame: frame,
		isAnswer: func(b []byte) bool { return len(b) == len(frame) }}, nil
}

// roundTrip writes frame and reads frames until one satisfies isAnswer.
func roundTrip(conn *websocket.Conn, r *frameReader, frame []byte, isAnswer func([]byte) bool) error {
	if err := conn.WriteMessage(websocket.TextMessage, frame); err != nil {
		return err
	}
	for {
		got, err := r.next()
		if err != nil {
			return err
		}
		if isAnswer(got) {
			return nil
		}
	}
}
