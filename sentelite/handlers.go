package sentelite

import (
	"context"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"olympos.io/encoding/edn"

	"github.com/sente-clj/sente/wire"
)

// Message is what a handler is called with: an event, or for once handlers
// a notification that none will come, with Err ErrTimeout or ErrClosed.
type Message struct {
	Event wire.Event
	Err   error
}

// HandlerOptions describe a handler (sente-lite's on! options).
type HandlerOptions struct {
	// EventID is the event to match; "" matches every event except the
	// system events :chsk/handshake, :chsk/ws-ping and :chsk/ws-pong.
	EventID edn.Keyword
	// Pred, if set, must also return true; it runs on the read goroutine.
	Pred func(wire.Event) bool
	// Once removes the handler after its first match.
	Once bool
	// Timeout (once handlers only): if nothing matched within it, the
	// handler is removed and called with Err ErrTimeout.
	Timeout time.Duration
	// Callback is called with each match; it must not block.
	Callback func(Message)
}

type handler struct {
	id      string
	o       HandlerOptions
	removed atomic.Bool // set under hmu
	timer   *time.Timer // guarded by hmu
}

func (h *handler) matches(ev wire.Event) bool {
	if h.o.EventID == "" {
		if isSystem(ev.ID) {
			return false
		}
	} else if h.o.EventID != ev.ID {
		return false
	}
	return h.o.Pred == nil || h.o.Pred(ev)
}

func isSystem(id edn.Keyword) bool {
	return id == wire.EvHandshake || id == wire.EvPing || id == wire.EvPong
}

// On registers a handler and returns its id for Off. Handlers are offered
// events in registration order and survive reconnects; see the package
// documentation for what a handler may do. A once handler registered after
// Close is called with ErrClosed at once. On panics if Callback is nil.
func (c *Client) On(o HandlerOptions) (id string) {
	if o.Callback == nil {
		panic("sentelite: On needs a Callback")
	}
	c.hmu.Lock()
	c.nextHandler++
	id = "h-" + strconv.FormatUint(c.nextHandler, 10)
	if c.noMore && o.Once {
		c.hmu.Unlock()
		o.Callback(Message{Err: ErrClosed})
		return id
	}
	h := &handler{id: id, o: o}
	// Clip forces a new array, so snapshots taken by dispatch never change.
	c.handlers = append(slices.Clip(c.handlers), h)
	if o.Once && o.Timeout > 0 {
		h.timer = time.AfterFunc(o.Timeout, func() {
			if c.remove(h) {
				h.o.Callback(Message{Err: ErrTimeout})
			}
		})
	}
	c.hmu.Unlock()
	return id
}

// remove unregisters h; only the caller that gets true may notify it.
func (c *Client) remove(h *handler) bool {
	c.hmu.Lock()
	defer c.hmu.Unlock()
	return c.removeLocked(h)
}

func (c *Client) removeLocked(h *handler) bool {
	if h.removed.Load() {
		return false
	}
	h.removed.Store(true)
	if h.timer != nil {
		h.timer.Stop()
	}
	c.handlers = slices.DeleteFunc(slices.Clone(c.handlers), func(x *handler) bool { return x == h })
	return true
}

// removeWhere unregisters every handler keep rejects, without notifying.
func (c *Client) removeWhere(drop func(*handler) bool) []*handler {
	c.hmu.Lock()
	defer c.hmu.Unlock()
	var gone []*handler
	kept := make([]*handler, 0, len(c.handlers))
	for _, h := range c.handlers {
		if drop(h) {
			h.removed.Store(true)
			if h.timer != nil {
				h.timer.Stop()
			}
			gone = append(gone, h)
		} else {
			kept = append(kept, h)
		}
	}
	c.handlers = kept
	return gone
}

// Off removes the handler with id; it reports whether there was one. A once
// handler removed by Off is not notified.
func (c *Client) Off(id string) bool {
	return len(c.removeWhere(func(h *handler) bool { return h.id == id })) > 0
}

// OffEvent removes the handlers registered for exactly ev ("" removes the
// catch-all handlers) and returns how many.
func (c *Client) OffEvent(ev edn.Keyword) int {
	return len(c.removeWhere(func(h *handler) bool { return h.o.EventID == ev }))
}

// OffAll removes every handler and returns how many. That includes the once
// handlers of pending Take, Expect, Subscribe and Unsubscribe calls, which
// then wait until their context ends.
func (c *Client) OffAll() int {
	return len(c.removeWhere(func(*handler) bool { return true }))
}

// HandlerCount is the number of registered handlers, including the once
// handlers behind pending Take, Expect, Subscribe and Unsubscribe calls.
func (c *Client) HandlerCount() int {
	c.hmu.Lock()
	defer c.hmu.Unlock()
	return len(c.handlers)
}

// dispatch offers ev to a snapshot of the handlers, in order.
func (c *Client) dispatch(ev wire.Event) {
	c.hmu.Lock()
	hs := c.handlers
	c.hmu.Unlock()
	for _, h := range hs {
		if h.removed.Load() || !h.matches(ev) {
			continue
		}
		if h.o.Once && !c.remove(h) {
			continue
		}
		h.o.Callback(Message{Event: ev})
	}
}

// notifyOnceClosed removes every once handler and tells it ErrClosed; final
// also makes once handlers registered later fail at once.
func (c *Client) notifyOnceClosed(final bool) {
	if final {
		c.hmu.Lock()
		c.noMore = true
		c.hmu.Unlock()
	}
	for _, h := range c.removeWhere(func(h *handler) bool { return h.o.Once }) {
		h.o.Callback(Message{Err: ErrClosed})
	}
}

// Waiter is a once handler waiting to be collected with Wait; see Expect.
type Waiter struct {
	c  *Client
	id string
	ch chan Message
}

// Expect registers a once handler for eventID (any non-system event if "")
// and pred (may be nil), to be collected with Wait. Call it before sending
// the request whose answer it waits for.
func (c *Client) Expect(eventID edn.Keyword, pred func(wire.Event) bool) *Waiter {
	ch := make(chan Message, 1)
	id := c.On(HandlerOptions{EventID: eventID, Pred: pred, Once: true, Callback: func(m Message) { ch <- m }})
	return &Waiter{c: c, id: id, ch: ch}
}

// Wait returns the matched event, ErrClosed if the connection dropped or the
// client closed first, or ctx.Err() (the handler is then removed). Call it
// once.
func (w *Waiter) Wait(ctx context.Context) (wire.Event, error) {
	select {
	case m := <-w.ch:
		return m.Event, m.Err
	case <-ctx.Done():
		w.c.Off(w.id)
		select {
		case m := <-w.ch: // it was notified just now
			return m.Event, m.Err
		default:
			return wire.Event{}, ctx.Err()
		}
	}
}

// Cancel removes the handler if it has not fired; it reports whether it did.
func (w *Waiter) Cancel() bool { return w.c.Off(w.id) }

// Take waits for the next event eventID ("" for any non-system event) that
// pred (may be nil) accepts: sente-lite's take!. Its once handler is
// registered when Take is called, so it only sees events read after that;
// to wait for the answer to something you send, use Expect before sending and
// Wait after (see the package documentation). ctx bounds the wait; a drop or
// Close ends it with ErrClosed.
func (c *Client) Take(ctx context.Context, eventID edn.Keyword, pred func(wire.Event) bool) (wire.Event, error) {
	return c.Expect(eventID, pred).Wait(ctx)
}
