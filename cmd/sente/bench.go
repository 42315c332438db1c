package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	sb "github.com/sente-clj/sente/bench"
	benchcmd "github.com/sente-clj/sente/commands/bench"
)

func benchCommand() *cli.Command {
	scenarios := benchcmd.Scenarios()
	subs := make([]*cli.Command, 0, len(scenarios)+1)
	for _, s := range scenarios {
		subs = append(subs, benchScenarioCommand(s))
	}
	subs = append(subs, &cli.Command{
		Name:   "echo-server",
		Hidden: true,
		Usage:  "a bare WebSocket echo server: the floor ping and eval are compared with",
		Action: func(c *cli.Context) error {
			if err := benchcmd.RunEchoServer(c.Context, c.App.Writer); err != nil {
				return cli.Exit(err.Error(), exitUsage)
			}
			return nil
		},
	})
	return &cli.Command{
		Name:      "bench",
		Usage:     "measure a gateway: eval, fanout, connect, idle or ping",
		UsageText: "sente bench SCENARIO [flags]",
		Description: `Starts a gateway as a child process (or drives a running one with --target),
runs one scenario against it from this process, and prints latency percentiles,
throughput, errors and the gateway's memory before and after. Exit status 1
means the run saw errors or lost messages; 2, bad arguments or nothing to measure.
See sente bench SCENARIO --help for each scenario's flags.

Example:
   sente bench eval --editors 16
   sente bench fanout --subscribers 1000 --json
   sente bench idle --connections 5000 --path /_nrepl
   sente bench ping --target http://127.0.0.1:1340`,
		Subcommands: subs,
		Action: func(c *cli.Context) error {
			// Only reached when the first argument names no scenario.
			return benchExit(benchcmd.Run(c.Context, benchcmd.Options{Scenario: c.Args().First()}, c.App.Writer, c.App.ErrWriter))
		},
	}
}

func benchScenarioCommand(s benchcmd.Scenario) *cli.Command {
	def := benchcmd.Defaults(s.Name)
	flags := []cli.Flag{
		&cli.StringFlag{Name: "target", EnvVars: []string{"SENTE_BENCH_TARGET"}, Usage: "drive the gateway running at this URL (http://H:P) instead of starting one"},
		&cli.StringFlag{Name: "nrepl", EnvVars: []string{"SENTE_BENCH_NREPL"}, Usage: "with --target: its nREPL address H:P (default: from its /health)"},
		&cli.StringSliceFlag{Name: "gateway-arg", EnvVars: []string{"SENTE_BENCH_GATEWAY_ARG"}, Usage: "pass this flag to the child gateway (repeatable), e.g. --gateway-arg --batch=false"},
		&cli.DurationFlag{Name: "duration", Value: def.Duration, EnvVars: []string{"SENTE_BENCH_DURATION"}, Usage: durationUsage(s.Name)},
		&cli.BoolFlag{Name: "json", EnvVars: []string{"SENTE_BENCH_JSON"}, Usage: "print one JSON object with every figure"},
	}
	if s.Name != "idle" {
		flags = append(flags,
			&cli.Int64Flag{Name: "count", Value: def.Count, EnvVars: []string{"SENTE_BENCH_COUNT"}, Usage: countUsage(s.Name)},
			&cli.Int64Flag{Name: "warmup", Value: def.Warmup, EnvVars: []string{"SENTE_BENCH_WARMUP"}, Usage: "operations done first, not measured"},
		)
	}
	switch s.Name {
	case "eval":
		flags = append(flags,
			&cli.IntFlag{Name: "runtimes", Value: def.Runtimes, EnvVars: []string{"SENTE_BENCH_RUNTIMES"}, Usage: "simulated runtimes; editors are spread over them"},
			&cli.StringFlag{Name: "runtime-kind", Value: def.RuntimeKind, EnvVars: []string{"SENTE_BENCH_RUNTIME_KIND"}, Usage: "nrepl (Scittle's protocol on /_nrepl) or chsk (sente-lite :nrepl/request on /chsk)"},
			&cli.IntFlag{Name: "editors", Value: def.Editors, EnvVars: []string{"SENTE_BENCH_EDITORS"}, Usage: "concurrent nREPL connections, each with one eval outstanding"},
			&cli.StringFlag{Name: "code", Value: def.Code, EnvVars: []string{"SENTE_BENCH_CODE"}, Usage: "the code every eval sends"},
			&cli.BoolFlag{Name: "floor", Value: def.Floor, EnvVars: []string{"SENTE_BENCH_FLOOR"}, Usage: "also measure a bare WebSocket echo of the runtime's request frame (--floor=false: skip)"},
		)
	case "fanout":
		flags = append(flags,
			&cli.IntFlag{Name: "subscribers", Value: def.Subscribers, EnvVars: []string{"SENTE_BENCH_SUBSCRIBERS"}, Usage: "WebSocket clients subscribed to the channel"},
			&cli.IntFlag{Name: "payload", Value: def.Payload, EnvVars: []string{"SENTE_BENCH_PAYLOAD"}, Usage: "bytes of padding in each message"},
			&cli.IntFlag{Name: "window", Value: def.Window, EnvVars: []string{"SENTE_BENCH_WINDOW"}, Usage: "publish at most this many messages ahead of the slowest subscriber (keep it under the gateway's --client-queue)"},
			&cli.Float64Flag{Name: "rate", EnvVars: []string{"SENTE_BENCH_RATE"}, Usage: "publish at most this many messages per second (0 = as the window allows)"},
			&cli.IntFlag{Name: "concurrency", Value: def.Concurrency, EnvVars: []string{"SENTE_BENCH_CONCURRENCY"}, Usage: "subscribers connecting at once"},
			&cli.BoolFlag{Name: "batch", Value: def.Batch, EnvVars: []string{"SENTE_BENCH_BATCH"}, Usage: "subscribers ask for batch frames with /chsk?batch=1, as sente's clients do (--batch=false: one event per frame, as the seed's clients need)"},
		)
	case "connect":
		flags = append(flags,
			&cli.IntFlag{Name: "concurrency", Value: def.Concurrency, EnvVars: []string{"SENTE_BENCH_CONCURRENCY"}, Usage: "connections being opened at once"},
		)
	case "idle":
		flags = append(flags,
			&cli.IntFlag{Name: "connections", Value: def.Connections, EnvVars: []string{"SENTE_BENCH_CONNECTIONS"}, Usage: "idle connections to hold"},
			&cli.StringFlag{Name: "path", Value: def.Path, EnvVars: []string{"SENTE_BENCH_PATH"}, Usage: "/chsk (sente-lite clients) or /_nrepl (Scittle runtimes)"},
			&cli.IntFlag{Name: "concurrency", Value: def.Concurrency, EnvVars: []string{"SENTE_BENCH_CONCURRENCY"}, Usage: "connections being opened at once"},
		)
	}
	return &cli.Command{
		Name:         s.Name,
		Usage:        s.Usage,
		UsageText:    "sente bench " + s.Name + " [flags]",
		Flags:        flags,
		OnUsageError: usageError,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return cli.Exit(fmt.Sprintf("sente bench %s takes no arguments, got %q (flags go before nothing else)", s.Name, c.Args().First()), exitUsage)
			}
			o := def
			o.Target, o.NREPL = c.String("target"), c.String("nrepl")
			o.GatewayArgs = c.StringSlice("gateway-arg")
			o.Duration, o.JSON = c.Duration("duration"), c.Bool("json")
			if s.Name != "idle" {
				o.Count, o.Warmup = c.Int64("count"), c.Int64("warmup")
			}
			switch s.Name {
			case "eval":
				o.Runtimes, o.RuntimeKind, o.Editors = c.Int("runtimes"), c.String("runtime-kind"), c.Int("editors")
				o.Code, o.Floor = c.String("code"), c.Bool("floor")
			case "fanout":
				o.Subscribers, o.Payload, o.Window = c.Int("subscribers"), c.Int("payload"), c.Int("window")
				o.Rate, o.Concurrency, o.Batch = c.Float64("rate"), c.Int("concurrency"), c.Bool("batch")
			case "connect":
				o.Concurrency = c.Int("concurrency")
			case "idle":
				o.Connections, o.Path, o.Concurrency = c.Int("connections"), c.String("path"), c.Int("concurrency")
			}
			return benchExit(benchcmd.Run(c.Context, o, c.App.Writer, c.App.ErrWriter))
		},
	}
}

func durationUsage(scenario string) string {
	if scenario == "idle" {
		return "stop opening connections after this long (0 = no limit)"
	}
	return "stop measuring after this long (0 = only --count ends the run)"
}

func countUsage(scenario string) string {
	switch scenario {
	case "fanout":
		return "messages to publish (0 = only --duration ends the run)"
	case "connect":
		return "connections to open and close (0 = only --duration ends the run)"
	case "ping":
		return "ping round trips (0 = only --duration ends the run)"
	}
	return "evals in all (0 = only --duration ends the run)"
}

// benchExit maps Run's errors to exit statuses: 1 for a run that saw errors,
// 2 for bad arguments or nothing to measure, 130 when interrupted.
func benchExit(err error) error {
	var usage *benchcmd.UsageError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, benchcmd.ErrFailed):
		return cli.Exit(err.Error(), exitFailed)
	case errors.As(err, &usage), errors.Is(err, sb.ErrSetup):
		return cli.Exit(err.Error(), exitUsage)
	case errors.Is(err, context.Canceled):
		return cli.Exit("interrupted", exitSignaled)
	}
	return cli.Exit(err.Error(), exitUsage)
}
