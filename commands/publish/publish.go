// Package publish is the `sente publish` command: it publishes EDN values to
// a sente-lite channel, one from its arguments or one per stdin line. Each
// goes as a plain [:sente-lite/publish {...}] event, which every sente-lite
// server takes (sente-lite's published servers never answer the callback form); with Ack
// each goes in the callback form instead and waits for the answer, which
// sente's gateway gives: {:channel-id .. :success true :delivered n}.
package publish

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"olympos.io/encoding/edn"

	"github.com/sente-clj/sente/commands/send"
	"github.com/sente-clj/sente/internal/tlsclient"
	"github.com/sente-clj/sente/sentelite"
	"github.com/sente-clj/sente/wire"
)

// Options are the command's flags and arguments, not yet checked.
type Options struct {
	URL         string            // the server's sente-lite endpoint; see send.NormalizeURL
	Args        []string          // CHANNEL [EDN]; without EDN, one EDN value per stdin line
	ExcludeSelf bool              // :exclude-sender? true: not to this connection, were it subscribed
	Ack         bool              // send the callback form and wait for the server's answer
	Verbose     bool              // with Ack, print "delivered to N" for each publish; without, "sent"
	Timeout     time.Duration     // bounds connecting and, with Ack, each answer; 0 is no limit
	TLS         tlsclient.Options // --tls-ca, --insecure for wss://

	Logger         *slog.Logger // sentelite's connection log; nil discards it
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Run publishes. Its errors are *cliexit.Error (or *send.EDNError): exit
// status 1 when, with Ack, the server refused a publish or did not answer
// within Timeout; 2 for bad arguments or no server to talk to, 130 on Ctrl-C.
func Run(ctx context.Context, opts Options) error {
	wsURL, err := send.NormalizeURL(opts.URL)
	if err != nil {
		return err
	}
	if opts.Timeout < 0 {
		return send.Usagef("--timeout %s is negative", opts.Timeout)
	}
	switch {
	case len(opts.Args) == 0:
		return send.Usagef("name the CHANNEL to publish to (see sente publish --help)")
	case len(opts.Args) > 2:
		return send.Usagef("unexpected argument %q: sente publish takes CHANNEL and at most one EDN value; quote the EDN, and put flags before the arguments (see sente publish --help)", opts.Args[2])
	case opts.Args[0] == "":
		return send.Usagef("the channel name is empty")
	}
	channel := opts.Args[0]
	var single any
	if len(opts.Args) == 2 {
		if single, err = send.ParseEDN("in argument 2", opts.Args[1]); err != nil {
			return err
		}
	} else if opts.Stdin == nil {
		return send.Usagef("no EDN value given and no stdin to read values from (see sente publish --help)")
	}

	co, err := send.WithTLS(send.ClientOptions(wsURL, opts.Timeout, opts.Logger), opts.TLS)
	if err != nil {
		return err
	}
	c := sentelite.New(co)
	defer c.Close()
	cctx, cancel := send.WithTimeout(ctx, opts.Timeout)
	err = send.Connect(cctx, c)
	cancel()
	if err != nil {
		return err
	}

	p := &publisher{opts: opts, url: wsURL, c: c, channel: channel}
	if len(opts.Args) == 2 {
		return p.publish(ctx, single)
	}
	return send.ReadLines(opts.Stdin, func(n int, line string) error {
		v, err := send.ParseEDN(fmt.Sprintf("on stdin line %d", n), line)
		if err != nil {
			return err
		}
		return p.publish(ctx, v)
	})
}

type publisher struct {
	opts    Options
	url     string
	c       *sentelite.Client
	channel string
}

// publish sends one value and, with Ack, waits for the server's answer.
func (p *publisher) publish(ctx context.Context, data any) error {
	ev := wire.Event{ID: wire.EvPublish, HasData: true, Data: map[edn.Keyword]any{
		"channel-id":      p.channel,
		"data":            data,
		"exclude-sender?": p.opts.ExcludeSelf,
	}}
	if !p.opts.Ack {
		// The client writes it before Send returns, so Close cannot lose it.
		if err := p.c.Send(ev); err != nil {
			return send.Lost(p.url, err)
		}
		if p.opts.Verbose {
			_, err := fmt.Fprintln(p.opts.Stdout, "sent")
			return err
		}
		return nil
	}
	ctx, cancel := send.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	reply, err := p.c.Request(ctx, ev)
	if err != nil {
		return send.WaitError(ctx, p.url, err, p.opts.Timeout,
			fmt.Sprintf("no answer to publishing on %q", p.channel),
			"a server that never answers the callback form (sente-lite's published servers do not) takes sente publish without --ack")
	}
	if why, refused := send.Refusal(reply); refused {
		return send.Failedf("the server refused to publish on %q: %s", p.channel, why)
	}
	if !p.opts.Verbose {
		return nil
	}
	if n, ok := wire.Get(reply, "delivered").(int64); ok {
		_, err = fmt.Fprintf(p.opts.Stdout, "delivered to %d\n", n)
	} else {
		// A server that accepts without counting (the answer is not the gateway's map).
		_, err = fmt.Fprintln(p.opts.Stdout, "published")
	}
	return err
}
