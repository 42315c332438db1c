// Package runtimes is the `sente runtimes` command: it asks a gateway which
// browser runtimes are connected and prints them as a table or as JSON.
package runtimes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/sente-clj/sente/gateway"
	"github.com/sente-clj/sente/internal/cliexit"
	"github.com/sente-clj/sente/internal/cmdutil"
	"github.com/sente-clj/sente/internal/tlsclient"
)

// DefaultURL is the gateway's HTTP address on its default port.
const DefaultURL = "http://127.0.0.1:1340"

// DefaultTimeout bounds the request.
const DefaultTimeout = 5 * time.Second

// Options are the command's flags.
type Options struct {
	URL     string // gateway base URL, e.g. http://127.0.0.1:1340
	JSON    bool
	Timeout time.Duration
	TLS     tlsclient.Options // --tls-ca, --insecure for https://
}

// ErrUnreachable wraps failures to reach the gateway, so the CLI can exit 2.
type ErrUnreachable struct{ Err error }

func (e *ErrUnreachable) Error() string { return e.Err.Error() }
func (e *ErrUnreachable) Unwrap() error { return e.Err }

// Run fetches /runtimes and prints it.
func Run(ctx context.Context, opts Options, stdout io.Writer) error {
	base := strings.TrimRight(opts.URL, "/")
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/runtimes", nil)
	if err != nil {
		return &ErrUnreachable{fmt.Errorf("bad --url %q: %w", opts.URL, err)}
	}
	transport, err := tlsclient.Transport(opts.TLS)
	if err != nil {
		return &ErrUnreachable{err}
	}
	defer transport.CloseIdleConnections()
	resp, err := (&http.Client{Transport: transport}).Do(req)
	if err != nil {
		return &ErrUnreachable{fmt.Errorf("cannot reach a sente gateway at %s: %w", base, unwrapURLError(err))}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return &ErrUnreachable{fmt.Errorf("read %s/runtimes: %w", base, err)}
	}
	if resp.StatusCode != http.StatusOK {
		return &ErrUnreachable{fmt.Errorf("%s/runtimes answered %s: is this a sente gateway?", base, resp.Status)}
	}
	var list struct {
		Runtimes []gateway.RuntimeInfo `json:"runtimes"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		return &ErrUnreachable{fmt.Errorf("%s/runtimes did not answer sente's JSON: %w", base, err)}
	}
	if opts.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(list.Runtimes)
	}
	if len(list.Runtimes) == 0 {
		fmt.Fprintf(stdout, "no runtimes connected; open %s/ in a browser\n", base)
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tCONNECTED\tPENDING\tUSER AGENT")
	now := time.Now()
	for _, r := range list.Runtimes {
		id := r.ID
		if r.Default {
			id += " *"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s ago\t%d\t%s\n", id, r.Kind, now.Sub(r.Connected).Round(time.Second), r.Pending, r.UserAgent)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "* the default target: the newest runtime")
	return nil
}

// unwrapURLError drops net/http's "Get \"url\":" prefix, which repeats the address.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// NewCommand is `sente runtimes`, its flags bound to an Options that run
// gets once the command line is parsed; a nil run runs the command.
func NewCommand(run func(*cli.Context, *Options) error) *cli.Command {
	opts := &Options{}
	if run == nil {
		run = func(c *cli.Context, o *Options) error { return Run(c.Context, *o, c.App.Writer) }
	}
	return &cli.Command{
		Name:  "runtimes",
		Usage: "list the browser runtimes connected to a gateway",
		Description: `Shows each runtime's id (for :use ID in sente repl), its kind (scittle-nrepl or
sente-lite), how long it has been connected, requests pending, and its user agent.

Example:
   sente runtimes
   sente runtimes --url http://127.0.0.1:1340 --json`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "url", Value: DefaultURL, EnvVars: []string{"SENTE_URL"}, Destination: &opts.URL, Usage: "the gateway's HTTP address (https:// for a TLS gateway)"},
			&cli.BoolFlag{Name: "json", EnvVars: []string{"SENTE_JSON"}, Destination: &opts.JSON, Usage: "print JSON instead of a table"},
			&cli.DurationFlag{Name: "timeout", Value: DefaultTimeout, EnvVars: []string{"SENTE_TIMEOUT"}, Destination: &opts.Timeout, Usage: "give up after this long"},
		}, cmdutil.TLSClientFlags(&opts.TLS)...),
		Action: func(c *cli.Context) error {
			err := run(c, opts)
			var unreachable *ErrUnreachable
			if errors.As(err, &unreachable) {
				return cliexit.Usagef("%s", err.Error())
			}
			return cmdutil.Exit(err)
		},
	}
}
