package bench

import (
	"context"
	"fmt"
	"sync"

	"github.com/gorilla/websocket"
	"olympos.io/encoding/edn"

	"github.com/sente-clj/sente/nrepl"
	"github.com/sente-clj/sente/wire"
)

// chskRuntime is a minimal runtime of kind sente-lite: a /chsk client that
// answers [:nrepl/request ...] as sente-lite's published browser bundle does. It reads the
// request from :edn (or from the plain keys), answers eval with the code as
// the value and everything else (the gateway's describe probe included) with
// done, each as [:nrepl/response {:edn "..."}] carrying the request's id.
type chskRuntime struct {
	conn   *websocket.Conn
	frames *frameReader
	done   chan struct{}

	mu  sync.Mutex
	err error
}

// startChskRuntime connects one runtime and serves requests until ctx ends or
// close is called.
func startChskRuntime(ctx context.Context, d *websocket.Dialer, httpAddr string) (*chskRuntime, error) {
	conn, frames, err := dialChsk(ctx, d, httpAddr, "/chsk")
	if err != nil {
		return nil, err
	}
	r := &chskRuntime{conn: conn, frames: frames, done: make(chan struct{})}
	go r.serve(ctx)
	return r, nil
}

func (r *chskRuntime) serve(ctx context.Context) {
	defer close(r.done)
	stop := context.AfterFunc(ctx, func() { _ = r.conn.Close() })
	defer stop()
	var out []byte
	for {
		frame, err := r.frames.next()
		if err != nil {
			r.fail(err)
			return
		}
		f, err := wire.DecodeFrame(frame, wire.DefaultLimits())
		if err != nil {
			r.fail(fmt.Errorf("runtime got an unreadable frame: %w", err))
			return
		}
		events := f.Batch
		if f.Kind == wire.KindEvent {
			events = []wire.Event{f.Event}
		}
		for _, ev := range events {
			if out, err = r.handle(ev, out); err != nil {
				r.fail(err)
				return
			}
		}
	}
}

func (r *chskRuntime) fail(err error) {
	r.mu.Lock()
	if r.err == nil {
		r.err = err
	}
	r.mu.Unlock()
}

const kwEDN edn.Keyword = "edn"

// handle answers one event; out is a scratch buffer, returned for reuse.
func (r *chskRuntime) handle(ev wire.Event, out []byte) ([]byte, error) {
	switch ev.ID {
	case wire.EvPing:
		return out, r.conn.WriteMessage(websocket.TextMessage, []byte(pongFrame))
	case wire.EvNREPLRequest:
	default:
		return out, nil
	}
	req, err := requestOf(ev.Data)
	if err != nil {
		return out, err
	}
	for _, resp := range answer(req) {
		resp["id"] = req.Str("id")
		if s := req.Str("session"); s != "" {
			resp["session"] = s
		}
		text, err := wire.Print(nrepl.ToEDN(resp))
		if err != nil {
			return out, err
		}
		out, err = wire.AppendEvent(out[:0], wire.Event{ID: wire.EvNREPLResponse, HasData: true,
			Data: map[any]any{kwEDN: string(text)}})
		if err != nil {
			return out, err
		}
		if err := r.conn.WriteMessage(websocket.TextMessage, out); err != nil {
			return out, err
		}
	}
	return out, nil
}

// requestOf reads an :nrepl/request's data in either shape found in the wild.
func requestOf(data any) (nrepl.Msg, error) {
	if text, ok := wire.GetString(data, "edn"); ok {
		v, err := wire.Parse([]byte(text), wire.DefaultLimits())
		if err != nil {
			return nil, fmt.Errorf("runtime got an unreadable :edn request: %w", err)
		}
		return nrepl.FromEDN(v)
	}
	return nrepl.FromEDN(data)
}

// answer is what the simulated runtime replies: eval's code as its value,
// done for everything else.
func answer(req nrepl.Msg) []nrepl.Msg {
	if req.Str("op") == "eval" {
		return []nrepl.Msg{{"value": req.Str("code"), "ns": "user"}, {"status": []any{"done"}, "ns": "user"}}
	}
	return []nrepl.Msg{{"status": []any{"done"}}}
}

// Close disconnects the runtime and waits for its loop to end.
func (r *chskRuntime) Close() error {
	err := r.conn.Close()
	<-r.done
	return err
}
