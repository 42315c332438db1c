// Package gateway is the `sente gateway` command: it starts the gateway server,
// prints the startup lines editors and users read, and runs until interrupted.
package gateway

import (
	"context"
	"fmt"
	"io"

	gw "github.com/sente-clj/sente/gateway"
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
