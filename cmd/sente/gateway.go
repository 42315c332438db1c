package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	gwcmd "github.com/sente-clj/sente/commands/gateway"
	gw "github.com/sente-clj/sente/gateway"
)

func gatewayCommand() *cli.Command {
	def := gw.DefaultConfig()
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
			&cli.StringFlag{Name: "host", Value: def.Host, EnvVars: []string{"SENTE_HOST"}, Usage: "interface to listen on; keep it loopback unless you trust the network"},
			&cli.IntFlag{Name: "nrepl-port", Value: def.NREPLPort, EnvVars: []string{"SENTE_NREPL_PORT"}, Usage: "nREPL port for editors (0 = any free port)"},
			&cli.IntFlag{Name: "port", Value: def.HTTPPort, EnvVars: []string{"SENTE_PORT"}, Usage: "HTTP and WebSocket port for browsers (0 = any free port)"},
			&cli.StringFlag{Name: "port-file", Value: def.PortFile, EnvVars: []string{"SENTE_PORT_FILE"}, Usage: "file that gets the nREPL port, for editors to find (\"\" disables; removed on exit)"},
			&cli.StringFlag{Name: "scittle", Value: def.Scittle, EnvVars: []string{"SENTE_SCITTLE"}, Usage: "where the page loads Scittle from: a URL base, or a local directory served under /scittle/"},
			&cli.DurationFlag{Name: "runtime-wait", Value: def.RuntimeWait, EnvVars: []string{"SENTE_RUNTIME_WAIT"}, Usage: "how long a request waits for a browser runtime to connect"},
			&cli.DurationFlag{Name: "eval-timeout", Value: def.EvalTimeout, EnvVars: []string{"SENTE_EVAL_TIMEOUT"}, Usage: "how long a forwarded request may take (0 = no limit)"},
			&cli.StringSliceFlag{Name: "allow-origin", EnvVars: []string{"SENTE_ALLOW_ORIGIN"}, Usage: "also accept WebSockets from this origin (repeatable; * wildcards, e.g. https://*.example.com)"},
			&cli.StringFlag{Name: "max-nrepl-message", Value: "16MiB", EnvVars: []string{"SENTE_MAX_NREPL_MESSAGE"}, Usage: "largest nREPL message accepted from an editor or runtime (bytes, or with KiB/MiB/GiB)"},
			&cli.StringFlag{Name: "csrf-token", EnvVars: []string{"SENTE_CSRF_TOKEN"}, Usage: "CSRF token sent in every sente-lite handshake (default: generated at start)"},
			&cli.DurationFlag{Name: "heartbeat-interval", Value: def.HeartbeatInterval, EnvVars: []string{"SENTE_HEARTBEAT_INTERVAL"}, Usage: "ping WebSocket peers that have been quiet this long (0 = never)"},
			&cli.DurationFlag{Name: "heartbeat-timeout", Value: def.HeartbeatTimeout, EnvVars: []string{"SENTE_HEARTBEAT_TIMEOUT"}, Usage: "close WebSocket peers silent this long, pongs included (0 = never)"},
			&cli.StringFlag{Name: "max-message-bytes", Value: "1MiB", EnvVars: []string{"SENTE_MAX_MESSAGE_BYTES"}, Usage: "largest sente-lite frame a client may send"},
			&cli.IntFlag{Name: "max-connections", Value: def.MaxConnections, EnvVars: []string{"SENTE_MAX_CONNECTIONS"}, Usage: "open sente-lite connections; more are refused with 503 (0 = no limit)"},
			&cli.IntFlag{Name: "max-subscriptions", Value: def.MaxSubscriptions, EnvVars: []string{"SENTE_MAX_SUBSCRIPTIONS"}, Usage: "channels one sente-lite connection may subscribe to (0 = no limit)"},
			&cli.IntFlag{Name: "max-subscribers", Value: def.MaxSubscribers, EnvVars: []string{"SENTE_MAX_SUBSCRIBERS"}, Usage: "subscribers one channel may have (0 = no limit)"},
			&cli.IntFlag{Name: "client-queue", Value: def.ClientQueue, EnvVars: []string{"SENTE_CLIENT_QUEUE"}, Usage: "frames queued per sente-lite client; a client that lets it fill is closed as a slow consumer"},
			&cli.BoolFlag{Name: "batch", Value: def.Batch, EnvVars: []string{"SENTE_BATCH"}, Usage: "send events that queue up as one sente batch frame [[ev1] [ev2]] to /chsk clients that ask for batches with ?batch=1 (sente's own clients do; every other client gets one event per frame) (--batch=false: one frame each for all)"},
		},
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			log, err := newLogger(c)
			if err != nil {
				return err
			}
			cfg := def
			cfg.Logger = log
			cfg.Host = c.String("host")
			cfg.NREPLPort = c.Int("nrepl-port")
			cfg.HTTPPort = c.Int("port")
			cfg.PortFile = c.String("port-file")
			if cfg.Scittle, err = scittleSource(c.String("scittle")); err != nil {
				return cli.Exit("--scittle: "+err.Error(), exitUsage)
			}
			cfg.RuntimeWait = c.Duration("runtime-wait")
			cfg.EvalTimeout = c.Duration("eval-timeout")
			cfg.AllowOrigins = c.StringSlice("allow-origin")
			if cfg.MaxNREPLMessage, err = parseSize(c.String("max-nrepl-message")); err != nil {
				return cli.Exit("--max-nrepl-message: "+err.Error(), exitUsage)
			}
			maxMsg, err := parseSize(c.String("max-message-bytes"))
			if err != nil || maxMsg > 1<<30 {
				return cli.Exit(fmt.Sprintf("--max-message-bytes: %q is not a size from 1 byte to 1GiB", c.String("max-message-bytes")), exitUsage)
			}
			cfg.MaxMessageBytes = int(maxMsg)
			cfg.CSRFToken = c.String("csrf-token")
			cfg.HeartbeatInterval = c.Duration("heartbeat-interval")
			cfg.HeartbeatTimeout = c.Duration("heartbeat-timeout")
			cfg.MaxConnections = c.Int("max-connections")
			cfg.MaxSubscriptions = c.Int("max-subscriptions")
			cfg.MaxSubscribers = c.Int("max-subscribers")
			cfg.ClientQueue = c.Int("client-queue")
			cfg.Batch = c.Bool("batch")
			if err := gwcmd.Run(c.Context, gwcmd.Options{Config: cfg}, c.App.Writer); err != nil {
				return cli.Exit(err.Error(), exitUsage)
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
