package gateway

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/sente-clj/sente/nrepl"
)

// editorConn is one nREPL client on TCP: a read loop that hands requests to the
// bridge, and a write loop fed by a bounded queue, so a runtime delivering a
// response never waits on an editor's socket.
type editorConn struct {
	conn net.Conn
	log  *slog.Logger
	out  chan nrepl.Msg

	closeOnce sync.Once
	closed    chan struct{} // closed when the connection is finished with
	mu        sync.Mutex    // guards dead, so send never races close
	dead      bool
	stats     *stats
}

func (e *editorConn) String() string { return "editor " + e.conn.RemoteAddr().String() }

// send queues a response. An editor whose queue is full is too slow to serve:
// it is closed rather than allowed to stall every runtime that answers it.
func (e *editorConn) send(m nrepl.Msg) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.dead {
		return
	}
	select {
	case e.out <- m:
	default:
		e.dead = true
		e.stats.slowEditors.Add(1)
		e.log.Warn("closing an editor that does not read its responses", "editor", e.conn.RemoteAddr().String(), "queued", len(e.out))
		_ = e.conn.Close()
	}
}

func (e *editorConn) close() {
	e.closeOnce.Do(func() {
		e.mu.Lock()
		e.dead = true
		e.mu.Unlock()
		close(e.closed)
	})
}

// serveEditor runs one editor connection until it ends or ctx is cancelled.
func (s *Server) serveEditor(ctx context.Context, conn net.Conn) {
	e := &editorConn{
		conn: conn, log: s.log, out: make(chan nrepl.Msg, s.cfg.EditorQueue),
		closed: make(chan struct{}), stats: &s.stats,
	}
	s.stats.editors.Add(1)
	defer s.stats.editors.Add(-1)
	s.log.Info("editor connected", "editor", conn.RemoteAddr().String())

	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		e.writeLoop()
	}()
	// Shutdown unblocks the read loop by closing the socket under it.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Now()) })
	defer stop()

	err := e.readLoop(ctx, s.bridge, s.cfg)
	s.bridge.editorGone(e)
	e.close()
	<-writerDone
	_ = conn.Close()
	switch {
	case err == nil || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) || ctx.Err() != nil:
		// An editor killed or a laptop lid closed resets the connection: ordinary.
		s.log.Info("editor disconnected", "editor", conn.RemoteAddr().String())
	default:
		s.log.Warn("editor connection closed", "editor", conn.RemoteAddr().String(), "err", err)
	}
}

func (e *editorConn) readLoop(ctx context.Context, b *bridge, cfg Config) error {
	dec := nrepl.NewDecoder(e.conn, nrepl.Limits{MaxMessage: cfg.MaxNREPLMessage, MaxDepth: cfg.MaxNREPLDepth})
	for {
		req, err := dec.Decode()
		if err != nil {
			var fe *nrepl.FrameError
			if errors.As(err, &fe) {
				// The stream cannot be resynchronised after a framing error: say why, then close.
				e.send(nrepl.Msg{"err": "sente: unreadable nREPL message: " + err.Error() + "\n", "status": []any{"done", "error"}})
			}
			return err
		}
		e.stats.requests.Add(1)
		b.handle(ctx, e, req)
	}
}

// writeLoop encodes queued responses, flushing once the queue runs dry so that
// a burst of responses shares a few syscalls.
func (e *editorConn) writeLoop() {
	w := bufio.NewWriterSize(e.conn, 16<<10)
	var buf []byte
	write := func(m nrepl.Msg) bool {
		var err error
		buf, err = nrepl.AppendEncode(buf[:0], m)
		if err == nil {
			_, err = w.Write(buf)
		}
		if err == nil && len(e.out) == 0 {
			err = w.Flush()
		}
		if err != nil {
			e.log.Debug("editor write failed", "editor", e.conn.RemoteAddr().String(), "err", err)
			_ = e.conn.Close()
			return false
		}
		return true
	}
	for {
		select {
		case m := <-e.out:
			if !write(m) {
				return
			}
		case <-e.closed:
			// Whatever the bridge queued before the end (shutdown's done
			// responses above all) still goes out.
			_ = e.conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
			for {
				select {
				case m := <-e.out:
					if !write(m) {
						return
					}
				default:
					_ = w.Flush()
					return
				}
			}
		}
	}
}
