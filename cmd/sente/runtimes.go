package main

import (
	"errors"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/sente-clj/sente/commands/runtimes"
)

func runtimesCommand() *cli.Command {
	return &cli.Command{
		Name:  "runtimes",
		Usage: "list the browser runtimes connected to a gateway",
		Description: `Shows each runtime's id (for :use ID in sente repl), its kind (scittle-nrepl or
sente-lite), how long it has been connected, requests pending, and its user agent.

Example:
   sente runtimes
   sente runtimes --url http://127.0.0.1:1340 --json`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "url", Value: "http://127.0.0.1:1340", EnvVars: []string{"SENTE_URL"}, Usage: "the gateway's HTTP address (https:// for a TLS gateway)"},
			&cli.BoolFlag{Name: "json", EnvVars: []string{"SENTE_JSON"}, Usage: "print JSON instead of a table"},
			&cli.DurationFlag{Name: "timeout", Value: 5 * time.Second, EnvVars: []string{"SENTE_TIMEOUT"}, Usage: "give up after this long"},
			tlsCAFlag(), insecureFlag(),
		},
		Action: func(c *cli.Context) error {
			err := runtimes.Run(c.Context, runtimes.Options{URL: c.String("url"), JSON: c.Bool("json"), Timeout: c.Duration("timeout"), TLS: tlsOptions(c)}, c.App.Writer)
			var unreachable *runtimes.ErrUnreachable
			if errors.As(err, &unreachable) {
				return cli.Exit(err.Error(), exitUsage)
			}
			if err != nil {
				return cli.Exit(err.Error(), exitFailed)
			}
			return nil
		},
	}
}
