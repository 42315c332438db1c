// Package sentelite is the Go client of the sente-lite WebSocket protocol
// (EDN event vectors over /chsk, as sente-lite's published Scittle client,
// github.com/franks42/sente_lite, speaks it): it dials a server's /chsk
// endpoint, waits for the [:chsk/handshake ...] that names the connection's
// ephemeral uid, answers the server's heartbeat pings, unwraps batches and
// [:chsk/recv ...] pushes, and hands every application event to a registry of
// handlers (sente-lite's on!/off!/take!), matches callback replies to
// Requests, offers sente-lite's pub/sub (Subscribe, Unsubscribe, Publish),
// sends through an optional bounded queue with backpressure, and reconnects
// with exponential backoff and jitter when the connection drops. It is what
// the sente command line and Go programs use to talk to the gateway's hub,
// and it interoperates with any Sente-compatible sente-lite server.
//
// # Handlers
//
// On registers a handler; handlers survive reconnects and are removed with
// Off, OffEvent or OffAll. Every event read from the server is offered to the
// handlers from the connection's single read goroutine, in registration
// order. A handler must not block: while it runs, no further frame is read
// (so it must not wait for a reply with Request, Take or Subscribe; start a
// goroutine for that), nor call Close (go c.Close() is fine). Catch-all handlers (EventID "") never see the system
// events :chsk/handshake, :chsk/ws-ping and :chsk/ws-pong; the handshake goes
// to Options.OnOpen and pings are answered automatically (a handler
// registered for one of these ids by name does see it).
//
// A once handler is removed when it first matches. If it has a Timeout and
// nothing matched in time, it is removed and called once with Err ErrTimeout.
// When the connection drops, and on Close, every once handler still waiting
// is removed and called once with Err ErrClosed (sente-lite's {:error :closed}).
// Timeout and closed notifications are made from other goroutines than the
// read goroutine; each handler is still called at most once.
//
// Handlers registered between New and Connect see every event from the first
// frame on. Handlers registered in OnOpen may miss events the server pushes
// right after the handshake, because the connection is already being read
// while OnOpen runs (that is what lets OnOpen call Subscribe).
//
// # Register before you send
//
// A reply can arrive before a goroutine that sends a request gets round to
// registering a handler for it, so the only supported pattern is: register,
// then send, then wait. Expect registers a once handler and returns a Waiter;
// Take is Expect followed by Wait, for events that are not caused by the
// caller (a push the caller is waiting for):
//
//	w := c.Expect(wire.EvEcho, nil) // registered now
//	if err := c.Send(wire.Event{ID: "my-app/hello", Data: 1, HasData: true}); err != nil {
//		w.Cancel()
//		return err
//	}
//	ev, err := w.Wait(ctx) // ctx bounds the wait
//
// Request does all of this for the callback form [[:ev data] "cb-id"], whose
// reply [data "cb-id"] is matched by its callback id.
//
// A reply [:a/b "cb"] reads, by shape, as the event :a/b with string data
// (see package wire). When "cb" is the id of a pending Request the client
// treats the frame as that Request's reply, with the keyword :a/b as data;
// likewise [[:a/b 1] "cb"] answers a pending "cb" with [:a/b 1], and
// [:ok "cb"], which wire rejects because :ok is not namespaced, answers "cb"
// with :ok.
//
// # Reconnecting and subscriptions
//
// With Options.Reconnect a dropped connection is redialled in the background
// with exponential backoff (BackoffBase doubling up to BackoffMax, each delay
// varied by ±Jitter) until it succeeds or Close is called; OnClose is called
// for the drop, then OnOpen and OnReconnect for the new connection. The server
// gives every connection a new uid and keeps nothing from the old one: as
// sente-lite's security model has it, the infrastructure restores no state, and the
// application decides what to restore. Subscriptions lists the channels this
// Client subscribed to (and did not unsubscribe from) since it was made, so
// an application that wants them back resubscribes in OnReconnect:
//
//	opts.OnReconnect = func(c *sentelite.Client, _ wire.Handshake) {
//		for _, ch := range c.Subscriptions() {
//			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
//			_ = c.Subscribe(ctx, ch)
//			cancel()
//		}
//	}
//
// Pending Requests fail with an error wrapping ErrClosed when the connection
// they were sent on drops; they are not resent.
//
// # Sending
//
// With Options.SendQueue 0, Send encodes and writes the frame itself (writes
// are serialized by a mutex, as gorilla/websocket allows one writer at a
// time) and returns ErrNotConnected while reconnecting. With SendQueue > 0,
// Send only enqueues the frame for one writer goroutine and returns at once:
// nil, or ErrRejected when the queue is full (backpressure: the server is not
// reading fast enough, or the client is reconnecting and the queue filled).
// Frames queued while reconnecting are sent on the next connection. Close
// first waits, up to Options.CloseTimeout, for the queue to drain. QueueStats
// counts what happened. Delivery is at most once: a frame being written when
// the connection drops is lost and counted in Errors.
package sentelite
