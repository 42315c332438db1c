package sentelite

import (
	"context"
	"fmt"

	"github.com/sente-clj/sente/wire"
)

type result struct {
	v   any
	err error
}

// Request sends ev in the callback form [[id data] "cb-id"] with a fresh
// callback id and waits for the reply [data "cb-id"], returning data. ctx
// bounds the wait (the error then wraps ctx.Err()); if the connection drops
// or the client is closed first, the error wraps ErrClosed. Send errors
// (ErrRejected, ErrNotConnected, ErrClosed) are returned as they are.
func (c *Client) Request(ctx context.Context, ev wire.Event) (reply any, err error) {
	cb := c.newCallbackID()
	frame, err := wire.EncodeCallback(ev, cb)
	if err != nil {
		return nil, fmt.Errorf("sentelite: request: %w", err)
	}
	ch := make(chan result, 1)
	c.pmu.Lock()
	if c.pendingDone {
		c.pmu.Unlock()
		return nil, ErrClosed
	}
	c.pending[cb] = ch
	c.pmu.Unlock()
	if err := c.sendFrame(frame); err != nil {
		c.forget(cb)
		return nil, err
	}
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		c.forget(cb)
		select {
		case r := <-ch: // answered just now
			return r.v, r.err
		default:
		}
		return nil, fmt.Errorf("sentelite: request :%s: no reply: %w", ev.ID, ctx.Err())
	}
}

func (c *Client) forget(cb string) {
	c.pmu.Lock()
	delete(c.pending, cb)
	c.pmu.Unlock()
}

// deliver answers the pending Request cb; it reports whether there was one.
func (c *Client) deliver(cb string, r result) bool {
	c.pmu.Lock()
	ch, ok := c.pending[cb]
	if ok {
		delete(c.pending, cb)
	}
	c.pmu.Unlock()
	if ok {
		ch <- r
	}
	return ok
}

// failPending fails every pending Request with an error wrapping ErrClosed;
// final also fails Requests made later.
func (c *Client) failPending(cause error, final bool) {
	err := ErrClosed
	if cause != nil && cause != ErrClosed {
		err = &ClosedError{Cause: cause}
	}
	c.pmu.Lock()
	if final {
		c.pendingDone = true
	}
	chans := make([]chan result, 0, len(c.pending))
	for cb, ch := range c.pending {
		chans = append(chans, ch)
		delete(c.pending, cb)
	}
	c.pmu.Unlock()
	for _, ch := range chans {
		ch <- result{err: err}
	}
}
