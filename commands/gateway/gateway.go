// Package gateway is the `sente gateway` command: it starts the gateway server,
// prints the startup lines editors and users read, and runs until interrupted.
package gateway

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	gw "github.com/sente-clj/sente/gateway"
	"github.com/sente-clj/sente/internal/cliexit"
	"github.com/sente-clj/sente/internal/cmdutil"
)

// Options are the command's flags, already parsed.
type Options struct {
	Config gw.Config
}

// Run starts the gateway and serves until ctx is cancelled (SIGINT/SIGTERM).
// stdout gets exactly the startup line editors parse and the page URL.
func Run(ctx context.Context, opts Options, stdout io.Writer) error {
	cfg := opts.Config
	srv, err := gw.Listen(cfg)
	if err != nil {
		return err
	}
	if !gw.HostIsLoopback(cfg.Host) {
		cfg.Logger.Warn("listening beyond this machine: anyone who can reach this address can evaluate code in your browser runtimes", "host", cfg.Host)
	}
	c := srv.Config()
	cfg.Logger.Info("gateway started", "nrepl", srv.NREPLAddr().String(), "http", srv.HTTPAddr().String(),
		"scittle", c.Scittle, "port-file", c.PortFile, "runtime-wait", c.RuntimeWait, "eval-timeout", c.EvalTimeout,
		"allow-origins", c.AllowOrigins, "max-connections", c.MaxConnections)
	fmt.Fprintln(stdout, srv.StartupLine())
	fmt.Fprintf(stdout, "sente gateway: open %s in a browser\n", srv.PageURL())
	if t := srv.TLS(); t != nil {
		printTLS(stdout, cfg, t)
	}
	if c.NATS.URL != "" {
		fmt.Fprintf(stdout, "sente gateway: sharing pub/sub channels with the gateways on NATS %s\n", c.NATS.URL)
	}
	return srv.Serve(ctx)
}

// maxMessageBytesCeiling bounds --max-message-bytes: a sente-lite frame is
// held whole in memory.
const maxMessageBytesCeiling = 1 << 30

// natsBufferCeiling bounds --nats-buffer: the NATS client holds it in memory.
const natsBufferCeiling = 1 << 30

// NewCommand is `sente gateway`, its flags bound to an Options that run gets
// once the command line is parsed; a nil run runs the command. Every flag's
// default is gateway.DefaultConfig's.
func NewCommand(run func(*cli.Context, *Options) error) *cli.Command {
	def := gw.DefaultConfig()
	opts := &Options{Config: def}
	cfg := &opts.Config
	// Values that are checked or converted once parsed.
	var scittle, maxNREPLMessage, maxMessageBytes, natsBuffer string
	var allowOrigins, tlsNames cli.StringSlice
	if run == nil {
		run = func(c *cli.Context, o *Options) error { return Run(c.Context, *o, c.App.Writer) }
	}
	return &cli.Command{
		Name:  "gateway",
		Usage: "run the nREPL server for editors, bridged to browser runtimes",
		Description: `Starts an nREPL server for editors and an HTTP server whose page runs Scittle.
Open the page in a browser, connect your editor to the nREPL port, and evaluate.

Example:
   sente gateway --scittle node_modules/scittle/dist
   # nREPL server started on port 1339 on host 127.0.0.1 - nrepl://127.0.0.1:1339
   # sente gateway: open http://127.0.0.1:1340/ in a browser`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "host", Value: def.Host, EnvVars: []string{"SENTE_HOST"}, Destination: &cfg.Host, Usage: "interface to listen on; keep it loopback unless you trust the network"},
			&cli.IntFlag{Name: "nrepl-port", Value: def.NREPLPort, EnvVars: []string{"SENTE_NREPL_PORT"}, Destination: &cfg.NREPLPort, Usage: "nREPL port for editors (0 = any free port)"},
			&cli.IntFlag{Name: "port", Value: def.HTTPPort, EnvVars: []string{"SENTE_PORT"}, Destination: &cfg.HTTPPort, Usage: "HTTP and WebSocket port for browsers (0 = any free port)"},
			&cli.StringFlag{Name: "port-file", Value: def.PortFile, EnvVars: []string{"SENTE_PORT_FILE"}, Destination: &cfg.PortFile, Usage: "file that gets the nREPL port, for editors to find (\"\" disables; removed on exit)"},
			&cli.StringFlag{Name: "scittle", Value: def.Scittle, EnvVars: []string{"SENTE_SCITTLE"}, Destination: &scittle, Usage: "where the page loads Scittle from: a URL base, or a local directory served under /scittle/"},
			&cli.DurationFlag{Name: "runtime-wait", Value: def.RuntimeWait, EnvVars: []string{"SENTE_RUNTIME_WAIT"}, Destination: &cfg.RuntimeWait, Usage: "how long a request waits for a browser runtime to connect"},
			&cli.DurationFlag{Name: "eval-timeout", Value: def.EvalTimeout, EnvVars: []string{"SENTE_EVAL_TIMEOUT"}, Destination: &cfg.EvalTimeout, Usage: "how long a forwarded request may take (0 = no limit)"},
			&cli.StringSliceFlag{Name: "allow-origin", EnvVars: []string{"SENTE_ALLOW_ORIGIN"}, Destination: &allowOrigins, Usage: "also accept WebSockets from this origin (repeatable; * wildcards, e.g. https://*.example.com)"},
			&cli.StringFlag{Name: "max-nrepl-message", Value: cmdutil.FormatSize(def.MaxNREPLMessage), EnvVars: []string{"SENTE_MAX_NREPL_MESSAGE"}, Destination: &maxNREPLMessage, Usage: "largest nREPL message accepted from an editor or runtime (bytes, or with KiB/MiB/GiB)"},
			&cli.StringFlag{Name: "csrf-token", EnvVars: []string{"SENTE_CSRF_TOKEN"}, Destination: &cfg.CSRFToken, Usage: "CSRF token sent in every sente-lite handshake (default: generated at start)"},
			&cli.DurationFlag{Name: "heartbeat-interval", Value: def.HeartbeatInterval, EnvVars: []string{"SENTE_HEARTBEAT_INTERVAL"}, Destination: &cfg.HeartbeatInterval, Usage: "ping WebSocket peers that have been quiet this long (0 = never)"},
			&cli.DurationFlag{Name: "heartbeat-timeout", Value: def.HeartbeatTimeout, EnvVars: []string{"SENTE_HEARTBEAT_TIMEOUT"}, Destination: &cfg.HeartbeatTimeout, Usage: "close WebSocket peers silent this long, pongs included (0 = never)"},
			&cli.StringFlag{Name: "max-message-bytes", Value: cmdutil.FormatSize(int64(def.MaxMessageBytes)), EnvVars: []string{"SENTE_MAX_MESSAGE_BYTES"}, Destination: &maxMessageBytes, Usage: "largest sente-lite frame a client may send"},
			&cli.IntFlag{Name: "max-connections", Value: def.MaxConnections, EnvVars: []string{"SENTE_MAX_CONNECTIONS"}, Destination: &cfg.MaxConnections, Usage: "open sente-lite connections; more are refused with 503 (0 = no limit)"},
			&cli.IntFlag{Name: "max-subscriptions", Value: def.MaxSubscriptions, EnvVars: []string{"SENTE_MAX_SUBSCRIPTIONS"}, Destination: &cfg.MaxSubscriptions, Usage: "channels one sente-lite connection may subscribe to (0 = no limit)"},
			&cli.IntFlag{Name: "max-subscribers", Value: def.MaxSubscribers, EnvVars: []string{"SENTE_MAX_SUBSCRIBERS"}, Destination: &cfg.MaxSubscribers, Usage: "subscribers one channel may have (0 = no limit)"},
			&cli.IntFlag{Name: "client-queue", Value: def.ClientQueue, EnvVars: []string{"SENTE_CLIENT_QUEUE"}, Destination: &cfg.ClientQueue, Usage: "frames queued per sente-lite client; a client that lets it fill is closed as a slow consumer"},
			&cli.StringFlag{Name: "tls-cert", EnvVars: []string{"SENTE_TLS_CERT"}, Destination: &cfg.TLS.CertFile, Usage: "serve the HTTP port as HTTPS (WebSockets as wss://) with this certificate `FILE` (PEM, with --tls-key)"},
			&cli.StringFlag{Name: "tls-key", EnvVars: []string{"SENTE_TLS_KEY"}, Destination: &cfg.TLS.KeyFile, Usage: "the private key `FILE` (PEM) of --tls-cert"},
			&cli.BoolFlag{Name: "tls-self-signed", Value: def.TLS.SelfSigned, EnvVars: []string{"SENTE_TLS_SELF_SIGNED"}, Destination: &cfg.TLS.SelfSigned, Usage: "serve HTTPS with a certificate made for this machine's host names, kept in --tls-dir so a device trusts it once"},
			&cli.StringFlag{Name: "tls-dir", EnvVars: []string{"SENTE_TLS_DIR"}, Destination: &cfg.TLS.Dir, Usage: "`DIR` that keeps the --tls-self-signed certificate (default: the user's config directory/sente)"},
			&cli.StringSliceFlag{Name: "tls-name", EnvVars: []string{"SENTE_TLS_NAME"}, Destination: &tlsNames, Usage: "another host `NAME` or address the --tls-self-signed certificate covers (repeatable)"},
			&cli.StringFlag{Name: "nats", Value: def.NATS.URL, EnvVars: []string{"SENTE_NATS"}, Destination: &cfg.NATS.URL, Usage: "share pub/sub channels with every gateway on this NATS server `URL` (nats://host:4222); runtimes and nREPL stay per gateway"},
			&cli.StringFlag{Name: "nats-buffer", Value: cmdutil.FormatSize(int64(def.NATS.ReconnectBuffer)), EnvVars: []string{"SENTE_NATS_BUFFER"}, Destination: &natsBuffer, Usage: "publishes kept for other gateways while NATS is unreachable; past it they are counted as lost (/stats)"},
			&cli.BoolFlag{Name: "batch", Value: def.Batch, EnvVars: []string{"SENTE_BATCH"}, Destination: &cfg.Batch, Usage: "send events that queue up as one sente batch frame [[ev1] [ev2]] to /chsk clients that ask for batches with ?batch=1 (sente's own clients do; every other client gets one event per frame) (--batch=false: one frame each for all)"},
		},
		Action: func(c *cli.Context) error {
			if err := cmdutil.NoArgs(c); err != nil {
				return err
			}
			log, err := cmdutil.NewLogger(c)
			if err != nil {
				return err
			}
			cfg.Logger = log
			if cfg.Scittle, err = scittleSource(scittle); err != nil {
				return cliexit.Usagef("--scittle: %v", err)
			}
			cfg.AllowOrigins = allowOrigins.Value()
			if cfg.MaxNREPLMessage, err = cmdutil.ParseSize(maxNREPLMessage); err != nil {
				return cliexit.Usagef("--max-nrepl-message: %v", err)
			}
			n, err := cmdutil.ParseSize(maxMessageBytes)
			if err != nil || n > maxMessageBytesCeiling {
				return cliexit.Usagef("--max-message-bytes: %q is not a size from 1 byte to 1GiB", maxMessageBytes)
			}
			cfg.MaxMessageBytes = int(n)
			cfg.TLS.Names = tlsNames.Value()
			if n, err = cmdutil.ParseSize(natsBuffer); err != nil || n > natsBufferCeiling {
				return cliexit.Usagef("--nats-buffer: %q is not a size from 1 byte to 1GiB", natsBuffer)
			}
			cfg.NATS.ReconnectBuffer = int(n)
			if err := run(c, opts); err != nil {
				return cliexit.Usagef("%s", err.Error())
			}
			return nil
		},
	}
}

// scittleSource checks --scittle: a URL base is taken as it is; anything else
// is a directory that must exist, so a typo does not silently become a URL.
func scittleSource(v string) (string, error) {
	if strings.Contains(v, "://") || strings.HasPrefix(v, "//") {
		return v, nil
	}
	fi, err := os.Stat(v)
	if err != nil || !fi.IsDir() {
		return "", fmt.Errorf("%q is neither a URL nor a directory (for Scittle from npm: node_modules/scittle/dist)", v)
	}
	if _, err := os.Stat(filepath.Join(v, "scittle.js")); err != nil {
		return "", fmt.Errorf("directory %q has no scittle.js", v)
	}
	return v, nil
}
