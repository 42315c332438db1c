// Package send is the `sente send` command: it connects to a sente-lite
// server (a sente gateway's /chsk, or any server speaking sente-lite's
// protocol), waits for the handshake and sends events: one from its
// arguments, or one per stdin line. With Reply it sends the callback form and
// prints the reply; with Expect it waits for the first event with that id
// after each send and prints it.
//
// The package also holds what sente subscribe and sente publish share with it
// (shared.go): the address, connecting, event ids, EDN from arguments and
// stdin with errors that point at the broken byte, and the exit codes.
package send

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"time"

	"olympos.io/encoding/edn"

	"github.com/sente-clj/sente/internal/tlsclient"
	"github.com/sente-clj/sente/sentelite"
	"github.com/sente-clj/sente/wire"
)

// Options are the command's flags and arguments, not yet checked.
type Options struct {
	URL     string            // the server's sente-lite endpoint; see NormalizeURL
	Args    []string          // [EVENT-ID [EDN]]; none: one event vector per stdin line
	Reply   bool              // send the callback form and print the reply
	Expect  string            // print the first event with this id after each send
	Timeout time.Duration     // bounds connecting and each wait; 0 is no limit
	TLS     tlsclient.Options // --tls-ca, --insecure for wss://

	Logger         *slog.Logger // sentelite's connection log; nil discards it
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Run sends and prints. Its errors are *cliexit.Error (or *EDNError):
// exit status 1 when the server reported an error or an awaited answer did
// not come within Timeout, 2 for bad arguments or no server to talk to, 130
// on Ctrl-C.
func Run(ctx context.Context, opts Options) error {
	wsURL, err := NormalizeURL(opts.URL)
	if err != nil {
		return err
	}
	if opts.Timeout < 0 {
		return Usagef("--timeout %s is negative", opts.Timeout)
	}
	var expect edn.Keyword
	if opts.Expect != "" {
		if expect, err = ParseEventID(opts.Expect); err != nil {
			return Usagef("--expect: %v", err)
		}
	}
	var single *wire.Event
	switch len(opts.Args) {
	case 0:
		if opts.Stdin == nil {
			return Usagef("no EVENT-ID given and no stdin to read events from (see sente send --help)")
		}
	case 1, 2:
		ev, err := eventFromArgs(opts.Args)
		if err != nil {
			return err
		}
		single = &ev
	default:
		return Usagef("unexpected argument %q: sente send takes EVENT-ID and at most one EDN value; quote the EDN, and put flags before the arguments (see sente send --help)", opts.Args[2])
	}

	co, err := WithTLS(ClientOptions(wsURL, opts.Timeout, opts.Logger), opts.TLS)
	if err != nil {
		return err
	}
	c := sentelite.New(co)
	defer c.Close()
	cctx, cancel := WithTimeout(ctx, opts.Timeout)
	err = Connect(cctx, c)
	cancel()
	if err != nil {
		return err
	}

	s := &sender{opts: opts, url: wsURL, c: c, expect: expect}
	if single != nil {
		return s.send(ctx, *single)
	}
	return ReadLines(opts.Stdin, func(n int, line string) error {
		ev, err := ParseEventLine(n, line)
		if err != nil {
			return err
		}
		return s.send(ctx, ev)
	})
}

// eventFromArgs reads EVENT-ID and the optional EDN data (argument 2).
func eventFromArgs(args []string) (wire.Event, error) {
	id, err := ParseEventID(args[0])
	if err != nil {
		return wire.Event{}, err
	}
	ev := wire.Event{ID: id}
	if len(args) == 2 {
		if ev.Data, err = ParseEDN("in argument 2", args[1]); err != nil {
			return wire.Event{}, err
		}
		ev.HasData = true
	}
	return ev, nil
}

type sender struct {
	opts   Options
	url    string
	c      *sentelite.Client
	expect edn.Keyword
}

// send sends one event and prints what Reply and Expect ask for.
func (s *sender) send(ctx context.Context, ev wire.Event) error {
	var w *waiter
	if s.expect != "" {
		// Registered before sending, so an answer cannot slip past. An error
		// event from the server ends the wait too.
		w = s.await(s.expect, wire.EvError)
	}
	ctx, cancel := WithTimeout(ctx, s.opts.Timeout)
	defer cancel()

	var failure error
	if s.opts.Reply {
		reply, err := s.c.Request(ctx, ev)
		if err != nil {
			if w != nil {
				w.cancel()
			}
			return WaitError(ctx, s.url, err, s.opts.Timeout, fmt.Sprintf("no reply to %s", ev.ID),
				"the server may not answer the callback form (sente-lite's published servers never do); send without --reply")
		}
		if err := printEDN(s.opts.Stdout, reply); err != nil {
			return err
		}
		if why, refused := Refusal(reply); refused {
			failure = Failedf("the server refused %s: %s", ev.ID, why)
		}
	} else if err := s.c.Send(ev); err != nil {
		if w != nil {
			w.cancel()
		}
		return Lost(s.url, err)
	}

	if w != nil {
		got, err := w.wait(ctx)
		if err != nil {
			return WaitError(ctx, s.url, err, s.opts.Timeout, fmt.Sprintf("no %s event", s.expect))
		}
		if got.ID == wire.EvError && s.expect != wire.EvError {
			return Failedf("the server reported an error: %s", errorText(got.Data))
		}
		b, err := wire.EncodeEvent(got)
		if err != nil {
			return Failedf("cannot print the %s event: %v", got.ID, err)
		}
		if _, err := fmt.Fprintf(s.opts.Stdout, "%s\n", b); err != nil {
			return err
		}
	}
	return failure
}

// waiter is once handlers for some event ids, the first to fire wins. They
// are registered by id, so system events such as :chsk/ws-pong match too
// (a catch-all handler never sees those).
type waiter struct {
	c   *sentelite.Client
	ids []string
	ch  chan sentelite.Message
}

func (s *sender) await(ids ...edn.Keyword) *waiter {
	w := &waiter{c: s.c, ch: make(chan sentelite.Message, len(ids))}
	for i, id := range ids {
		if slices.Contains(ids[:i], id) {
			continue
		}
		w.ids = append(w.ids, s.c.On(sentelite.HandlerOptions{EventID: id, Once: true,
			Callback: func(m sentelite.Message) { w.ch <- m }}))
	}
	return w
}

// wait returns the first event, ErrClosed if the connection dropped first,
// or ctx.Err().
func (w *waiter) wait(ctx context.Context) (wire.Event, error) {
	defer w.cancel()
	select {
	case m := <-w.ch:
		return m.Event, m.Err
	case <-ctx.Done():
		return wire.Event{}, ctx.Err()
	}
}

func (w *waiter) cancel() {
	for _, id := range w.ids {
		w.c.Off(id)
	}
}

func printEDN(w io.Writer, v any) error {
	b, err := wire.Print(v)
	if err != nil {
		return Failedf("cannot print the reply as EDN: %v", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// errorText is a :sente-lite/error event's data in words: the gateway sends
// {:error :kind :reason "text"} for frames it could not read, and the answer
// map {:error "text" :success false ...} for a failed publish.
func errorText(data any) string {
	kind, reason := wire.Get(data, "error"), wire.Get(data, "reason")
	if s, ok := reason.(string); ok {
		if k, ok := kind.(edn.Keyword); ok {
			return fmt.Sprintf("%s (%s)", s, k)
		}
		return s
	}
	if s, ok := kind.(string); ok {
		return s
	}
	b, err := wire.Print(data)
	if err != nil {
		return fmt.Sprint(data)
	}
	return string(b)
}
