// Package subscribe is the `sente subscribe` command: it subscribes to
// sente-lite channels and prints every message's data, one EDN value (or one
// JSON object) a line, until it has printed Count messages, Timeout passes or
// it is interrupted. It reconnects when the connection drops and subscribes
// again, saying so on stderr.
package subscribe

import (
	"github.com/urfave/cli/v2"

	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/sente-clj/sente/internal/cmdutil"
	"io"
	"log/slog"
	"math"
	"math/big"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"olympos.io/encoding/edn"

	"github.com/sente-clj/sente/commands/send"
	"github.com/sente-clj/sente/internal/tlsclient"
	"github.com/sente-clj/sente/sentelite"
	"github.com/sente-clj/sente/wire"
)

// Options are the command's flags and arguments, not yet checked.
type Options struct {
	URL      string   // the server's sente-lite endpoint; see send.NormalizeURL
	Channels []string // at least one
	Count    int      // stop after this many messages; 0 is no limit
	// Timeout ends listening: a normal end (status 0) unless Count messages
	// were asked for and fewer came (status 1). 0 is no limit.
	Timeout time.Duration
	JSON    bool // {"channel":..,"from":..,"data":..} lines instead of EDN data

	// SubscribeTimeout bounds connecting and each subscribe's answer when
	// Timeout does not end sooner; 0 means send.DefaultTimeout.
	SubscribeTimeout time.Duration

	TLS tlsclient.Options // --tls-ca, --insecure for wss://

	Logger         *slog.Logger // sentelite's connection log; nil discards it
	Stdout, Stderr io.Writer
}

// Run subscribes and prints until done. Its errors are *cliexit.Error: exit
// status 1 when a subscribe was refused (or not answered), or Timeout passed
// before Count messages; 2 for bad arguments or no server to connect to.
// Ctrl-C (ctx cancelled) is a normal end.
func Run(ctx context.Context, opts Options) error {
	wsURL, err := send.NormalizeURL(opts.URL)
	if err != nil {
		return err
	}
	switch {
	case len(opts.Channels) == 0:
		return send.Usagef("name at least one CHANNEL to subscribe to (see sente subscribe --help)")
	case opts.Count < 0:
		return send.Usagef("--count %d is negative", opts.Count)
	case opts.Timeout < 0:
		return send.Usagef("--timeout %s is negative", opts.Timeout)
	}
	for _, ch := range opts.Channels {
		if ch == "" {
			return send.Usagef("a channel name is empty")
		}
	}
	subTimeout := opts.SubscribeTimeout
	if subTimeout <= 0 {
		subTimeout = send.DefaultTimeout
	}
	if opts.Timeout > 0 {
		subTimeout = min(subTimeout, opts.Timeout)
	}
	stderr := &lockedWriter{w: opts.Stderr}
	var channels []string // in the user's order, without repeats
	for _, ch := range opts.Channels {
		if !slices.Contains(channels, ch) {
			channels = append(channels, ch)
		}
	}

	// Listening ends at Timeout; Ctrl-C (ctx) ends it too, as a normal end.
	listen, cancel := send.WithTimeout(ctx, opts.Timeout)
	defer cancel()

	var closing atomic.Bool
	fatal := make(chan error, 1)
	o, err := send.WithTLS(send.ClientOptions(wsURL, subTimeout, opts.Logger), opts.TLS)
	if err != nil {
		return err
	}
	o.Reconnect = true
	o.OnClose = func(_ *sentelite.Client, err error) {
		if !closing.Load() && !errors.Is(err, sentelite.ErrClosed) {
			fmt.Fprintf(stderr, "sente: connection to %s lost (%s); reconnecting\n", wsURL, oneLine(err))
		}
	}
	o.OnReconnect = func(c *sentelite.Client, hs wire.Handshake) {
		// The server keeps nothing of the old connection: subscribe again.
		// Run in the hook, the subscribes are answered before the hook
		// returns, as the read goroutine is already running.
		subs := c.Subscriptions()
		for _, ch := range subs {
			sctx, cancel := context.WithTimeout(listen, subTimeout)
			err := c.Subscribe(sctx, ch)
			cancel()
			switch {
			case err == nil:
			case closing.Load() || listen.Err() != nil:
				return
			case errors.Is(err, sentelite.ErrClosed):
				fmt.Fprintf(stderr, "sente: reconnected (uid %s) but lost the connection again; retrying\n", hs.UID)
				return
			default:
				select {
				case fatal <- send.Failedf("reconnected (uid %s) but could not subscribe to %q again: %s", hs.UID, ch, subscribeReason(err)):
				default:
				}
				return
			}
		}
		fmt.Fprintf(stderr, "sente: reconnected (uid %s); resubscribed to %s\n", hs.UID, strings.Join(subs, ", "))
	}
	c := sentelite.New(o)
	defer func() {
		closing.Store(true)
		cancel() // ends a resubscribe in progress
		_ = c.Close()
	}()

	// Registered before connecting, so no message is missed.
	msgs := make(chan sentelite.ChannelMessage, 1024)
	done := make(chan struct{})
	defer close(done)
	c.OnChannel("", func(m sentelite.ChannelMessage) {
		if !slices.Contains(channels, m.Channel) {
			return
		}
		select { // a full buffer holds the reader back: backpressure for the server
		case msgs <- m:
		case <-done:
		}
	})

	cctx, ccancel := context.WithTimeout(listen, subTimeout)
	err = send.Connect(cctx, c)
	ccancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil // Ctrl-C while connecting
		}
		return err
	}
	for _, ch := range channels {
		sctx, scancel := context.WithTimeout(listen, subTimeout)
		err := c.Subscribe(sctx, ch)
		scancel()
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, sentelite.ErrClosed):
			return send.Lost(wsURL, err)
		case errors.Is(err, context.DeadlineExceeded):
			return send.Failedf("no answer to subscribing to %q within %s (does the server speak sente-lite pub/sub?)", ch, subTimeout)
		default:
			return send.Failedf("could not subscribe to %q: %s", ch, subscribeReason(err))
		}
	}
	fmt.Fprintf(stderr, "sente: subscribed to %s\n", strings.Join(channels, ", "))

	p := &printer{w: opts.Stdout, json: opts.JSON}
	n := 0
	for {
		select {
		case m := <-msgs:
			if err := p.print(m); err != nil {
				return err
			}
			n++
			if opts.Count > 0 && n >= opts.Count {
				return nil
			}
		case err := <-fatal:
			return err
		case <-listen.Done():
			if ctx.Err() != nil || opts.Count == 0 {
				return nil // Ctrl-C, or the end of --timeout without --count
			}
			return send.Failedf("--timeout %s passed after %d of %d messages", opts.Timeout, n, opts.Count)
		}
	}
}

// subscribeReason is the server's words from a refused subscribe.
func subscribeReason(err error) string {
	if re, ok := errors.AsType[*sentelite.RefusedError](err); ok {
		return "refused: " + re.Reason
	}
	return strings.TrimPrefix(err.Error(), "sentelite: ")
}

func oneLine(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }

// lockedWriter serializes the lines written from the client's hooks and
// from Run.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

type printer struct {
	w    io.Writer
	json bool
}

// jsonLine is one message as --json prints it.
type jsonLine struct {
	Channel string `json:"channel"`
	From    string `json:"from"`
	Data    any    `json:"data"`
}

func (p *printer) print(m sentelite.ChannelMessage) error {
	var line []byte
	var err error
	if p.json {
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err = enc.Encode(jsonLine{Channel: m.Channel, From: m.From, Data: ToJSON(m.Data)}); err == nil {
			line = []byte(b.String())
		}
	} else if line, err = wire.Print(m.Data); err == nil {
		line = append(line, '\n')
	}
	if err != nil {
		return send.Failedf("cannot print a message on %q: %v", m.Channel, err)
	}
	_, err = p.w.Write(line)
	return err
}

// ToJSON converts decoded EDN (see package wire) to values encoding/json
// writes: maps become objects, vectors, lists and sets arrays (a set's
// elements in the order of their EDN text), strings, numbers, booleans and
// nil themselves. Keywords become strings: map keys without the colon
// ({:user-id 1} → {"user-id":1}, as Clojure's JSON libraries write them), other
// keywords with it (:ok → ":ok", so it stays apart from the string "ok").
// Map keys that are not strings or keywords are their EDN text. Symbols and
// characters are strings; big integers numbers; ##NaN, ##Inf and ##-Inf the
// strings "NaN", "Infinity", "-Infinity"; #inst an RFC 3339 string; #uuid
// its string; any other tagged value its EDN text.
func ToJSON(v any) any {
	switch x := v.(type) {
	case nil, bool, string, int64:
		return x
	case int:
		return x
	case float64:
		switch {
		case math.IsNaN(x):
			return "NaN"
		case math.IsInf(x, 1):
			return "Infinity"
		case math.IsInf(x, -1):
			return "-Infinity"
		}
		return x
	case *big.Int:
		return json.Number(x.String())
	case edn.Keyword:
		return ":" + string(x)
	case edn.Symbol:
		return string(x)
	case edn.Rune:
		return string(rune(x))
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case wire.Tagged:
		if s, ok := x.Value.(string); ok && x.Tag == "uuid" {
			return s
		}
		return ednText(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = ToJSON(e)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[jsonKey(k)] = ToJSON(e)
		}
		return out
	case map[any]bool:
		type elem struct {
			text string
			v    any
		}
		elems := make([]elem, 0, len(x))
		for e, in := range x {
			if in {
				elems = append(elems, elem{ednText(e), e})
			}
		}
		slices.SortFunc(elems, func(a, b elem) int { return strings.Compare(a.text, b.text) })
		out := make([]any, len(elems))
		for i, e := range elems {
			out[i] = ToJSON(e.v)
		}
		return out
	}
	return ednText(v)
}

func jsonKey(k any) string {
	switch x := k.(type) {
	case string:
		return x
	case edn.Keyword:
		return string(x)
	}
	return ednText(k)
}

func ednText(v any) string {
	b, err := wire.Print(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// NewCommand is `sente subscribe`, its flags bound to an Options that run
// gets once the command line is parsed; a nil run runs the command.
func NewCommand(run func(*cli.Context, *Options) error) *cli.Command {
	opts := &Options{}
	if run == nil {
		run = func(c *cli.Context, o *Options) error { return Run(c.Context, *o) }
	}
	return &cli.Command{
		Name:      "subscribe",
		Usage:     "subscribe to sente-lite channels and print their messages",
		UsageText: "sente subscribe [--url URL] [--count N] [--timeout D] [--json] CHANNEL...",
		Description: `Connects to a sente-lite server, subscribes to each CHANNEL and prints the data of
every message published on them, one EDN value a line. Once subscribed it says so on
stderr ("sente: subscribed to news"). When the connection drops it reconnects, with
backoff, and subscribes again (the server keeps nothing of the old connection), saying
so on stderr: "sente: reconnected (uid …); resubscribed to news".

--json prints one JSON object a line instead: {"channel":"news","from":"<publisher's
uid>","data":…}, the data converted from EDN: maps are objects, vectors, lists and sets
arrays; keywords are strings, map keys without the colon ({:user-id 1} is
{"user-id":1}) and other keywords with it (:ok is ":ok", apart from the string "ok");
other map keys, symbols, characters and tagged values are strings (#uuid its string,
#inst RFC 3339); ##NaN and ##±Inf are "NaN", "Infinity", "-Infinity".

It runs until --count messages were printed, --timeout passed, or Ctrl-C.

Exit status: 0 after --count messages, at --timeout when no --count was given, or on
Ctrl-C; 1 a subscribe was refused or not answered, or --timeout passed before --count
messages came; 2 no server to connect to, or bad arguments.

Examples:
   sente subscribe news
   sente subscribe --count 1 --timeout 30s news sport
   sente subscribe --json news | jq .data
   # {"channel":"news","from":"3f9c…","data":{"headline":"hi","tags":[":a",":b"]}}`,
		Flags: append([]cli.Flag{
			cmdutil.ChskURLFlag(&opts.URL, send.DefaultURL),
			&cli.IntFlag{Name: "count", EnvVars: []string{"SENTE_SUBSCRIBE_COUNT"}, Destination: &opts.Count,
				Usage: "exit after `N` messages (0 = no limit)"},
			&cli.DurationFlag{Name: "timeout", EnvVars: []string{"SENTE_SUBSCRIBE_TIMEOUT"}, Destination: &opts.Timeout,
				Usage: "stop listening after `DURATION`: a normal end, unless fewer than --count messages came (0 = no limit)"},
			&cli.BoolFlag{Name: "json", EnvVars: []string{"SENTE_SUBSCRIBE_JSON"}, Destination: &opts.JSON,
				Usage: `print {"channel":..,"from":..,"data":..} JSON lines instead of EDN data`},
		}, cmdutil.TLSClientFlags(&opts.TLS)...),
		Action: func(c *cli.Context) error {
			log, err := cmdutil.ClientLogger(c)
			if err != nil {
				return err
			}
			opts.Channels, opts.Logger = c.Args().Slice(), log
			opts.Stdout, opts.Stderr = c.App.Writer, c.App.ErrWriter
			return cmdutil.Exit(run(c, opts))
		},
	}
}
