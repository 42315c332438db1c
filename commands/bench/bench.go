// Package bench is the `sente bench` command: it starts a gateway as a child
// process (or reaches a running one with --target), runs one scenario of
// package bench against it, and prints the report as text or JSON.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	sb "github.com/sente-clj/sente/bench"
	"github.com/sente-clj/sente/internal/cliexit"
	"github.com/sente-clj/sente/internal/cmdutil"
	"github.com/sente-clj/sente/internal/tlsclient"
)

// Scenario is one thing `sente bench` can measure: its name and help, the
// defaults and flags that differ from the other scenarios', and how it runs.
// Everything that depends on the scenario is in its entry of scenarios.
type Scenario struct {
	Name  string
	Usage string

	// defaults adjusts the common defaults (see Defaults).
	defaults func(o *Options)
	// countUsage is --count's help; "" means the scenario has no --count and
	// no --warmup (idle counts connections instead).
	countUsage string
	// durationUsage is --duration's help.
	durationUsage string
	// flags are the scenario's own flags, bound to o, with def's values as defaults.
	flags func(o *Options, def Options) []cli.Flag
	// echo says whether the run needs the bare WebSocket echo server.
	echo func(o Options) bool
	// manyConnections: the child gateway runs without its connection limit.
	manyConnections bool
	// instances: the scenario can spread over --instances child gateways
	// joined by --nats (its flags and check declare and check them).
	instances bool
	// check validates the scenario's own options.
	check func(o Options) error
	// run measures.
	run func(ctx context.Context, env sb.Env, o Options, st started) (*sb.Report, error)
}

// started is what Run started for a scenario besides its gateway.
type started struct {
	echoAddr string        // the bare WebSocket echo server, when echo asked for it
	others   []*sb.Gateway // the child gateways beyond the first (--instances)
}

const (
	stopAfterDuration = "stop measuring after this long (0 = only --count ends the run)"
	concurrentConns   = "connections being opened at once"
)

func limits(o Options) sb.Limits {
	return sb.Limits{Count: o.Count, Duration: o.Duration, Warmup: o.Warmup}
}

func never(Options) bool { return false }

// scenarios is the table of scenarios, in the order help lists them.
var scenarios = []Scenario{
	{
		Name: "eval", Usage: "round trips editor → gateway → runtime → editor, with simulated runtimes",
		defaults:      func(o *Options) { o.Count, o.Warmup = 20000, 1000 },
		countUsage:    "evals in all (0 = only --duration ends the run)",
		durationUsage: stopAfterDuration,
		flags: func(o *Options, def Options) []cli.Flag {
			return []cli.Flag{
				&cli.IntFlag{Name: "runtimes", Value: def.Runtimes, EnvVars: []string{"SENTE_BENCH_RUNTIMES"}, Destination: &o.Runtimes, Usage: "simulated runtimes; editors are spread over them"},
				&cli.StringFlag{Name: "runtime-kind", Value: def.RuntimeKind, EnvVars: []string{"SENTE_BENCH_RUNTIME_KIND"}, Destination: &o.RuntimeKind, Usage: "nrepl (Scittle's protocol on /_nrepl) or chsk (sente-lite :nrepl/request on /chsk)"},
				&cli.IntFlag{Name: "editors", Value: def.Editors, EnvVars: []string{"SENTE_BENCH_EDITORS"}, Destination: &o.Editors, Usage: "concurrent nREPL connections, each with one eval outstanding"},
				&cli.StringFlag{Name: "code", Value: def.Code, EnvVars: []string{"SENTE_BENCH_CODE"}, Destination: &o.Code, Usage: "the code every eval sends"},
				&cli.BoolFlag{Name: "floor", Value: def.Floor, EnvVars: []string{"SENTE_BENCH_FLOOR"}, Destination: &o.Floor, Usage: "also measure a bare WebSocket echo of the runtime's request frame (--floor=false: skip)"},
			}
		},
		echo: func(o Options) bool { return o.Floor },
		check: func(o Options) error {
			switch {
			case o.Runtimes <= 0 || o.Editors <= 0:
				return &UsageError{"--runtimes and --editors must be positive"}
			case o.RuntimeKind != sb.RuntimeNREPL && o.RuntimeKind != sb.RuntimeChsk:
				return &UsageError{fmt.Sprintf("--runtime-kind %q: use %s or %s", o.RuntimeKind, sb.RuntimeNREPL, sb.RuntimeChsk)}
			}
			return nil
		},
		run: func(ctx context.Context, env sb.Env, o Options, st started) (*sb.Report, error) {
			return sb.Eval(ctx, env, sb.EvalConfig{Limits: limits(o), Runtimes: o.Runtimes, RuntimeKind: o.RuntimeKind,
				Editors: o.Editors, Code: o.Code, EchoAddr: st.echoAddr})
		},
	},
	{
		Name: "fanout", Usage: "one publisher to many sente-lite subscribers of one channel",
		defaults:      func(o *Options) { o.Count, o.Warmup, o.Duration = 2000, 100, 60*time.Second },
		countUsage:    "messages to publish (0 = only --duration ends the run)",
		durationUsage: stopAfterDuration,
		flags: func(o *Options, def Options) []cli.Flag {
			return []cli.Flag{
				&cli.IntFlag{Name: "subscribers", Value: def.Subscribers, EnvVars: []string{"SENTE_BENCH_SUBSCRIBERS"}, Destination: &o.Subscribers, Usage: "WebSocket clients subscribed to the channel"},
				&cli.IntFlag{Name: "payload", Value: def.Payload, EnvVars: []string{"SENTE_BENCH_PAYLOAD"}, Destination: &o.Payload, Usage: "bytes of padding in each message"},
				&cli.IntFlag{Name: "window", Value: def.Window, EnvVars: []string{"SENTE_BENCH_WINDOW"}, Destination: &o.Window, Usage: "publish at most this many messages ahead of the slowest subscriber (keep it under the gateway's --client-queue)"},
				&cli.Float64Flag{Name: "rate", EnvVars: []string{"SENTE_BENCH_RATE"}, Destination: &o.Rate, Usage: "publish at most this many messages per second (0 = as the window allows)"},
				&cli.IntFlag{Name: "concurrency", Value: def.Concurrency, EnvVars: []string{"SENTE_BENCH_CONCURRENCY"}, Destination: &o.Concurrency, Usage: "subscribers connecting at once"},
				&cli.BoolFlag{Name: "batch", Value: def.Batch, EnvVars: []string{"SENTE_BENCH_BATCH"}, Destination: &o.Batch, Usage: "subscribers ask for batch frames with /chsk?batch=1, as sente's clients do (--batch=false: one event per frame, as sente-lite's published clients need)"},
				&cli.IntFlag{Name: "instances", Value: def.Instances, EnvVars: []string{"SENTE_BENCH_INSTANCES"}, Destination: &o.Instances, Usage: "child gateways sharing the channel through --nats; subscribers are spread over them, the publisher is on the first"},
				&cli.StringFlag{Name: "nats", EnvVars: []string{"SENTE_BENCH_NATS"}, Destination: &o.NATS, Usage: "the NATS server `URL` the child gateways join (needed for --instances 2 or more)"},
			}
		},
		echo:            never,
		manyConnections: true,
		instances:       true,
		check: func(o Options) error {
			switch {
			case o.Subscribers <= 0 || o.Window <= 0 || o.Payload < 0 || o.Rate < 0:
				return &UsageError{"--subscribers and --window must be positive, --payload and --rate not negative"}
			case o.Instances < 1:
				return &UsageError{"--instances must be at least 1"}
			case o.Instances > 1 && o.NATS == "":
				return &UsageError{"--instances 2 or more needs --nats URL: the instances share channels through a NATS server"}
			case o.Instances > 1 && o.Target != "":
				return &UsageError{"--instances starts child gateways; it does not go with --target"}
			}
			return nil
		},
		run: func(ctx context.Context, env sb.Env, o Options, st started) (*sb.Report, error) {
			return sb.Fanout(ctx, env, sb.FanoutConfig{Limits: limits(o), Subscribers: o.Subscribers, Payload: o.Payload,
				Window: o.Window, Rate: o.Rate, Concurrency: o.Concurrency, Batch: o.Batch, Others: st.others})
		},
	},
	{
		Name: "connect", Usage: "a storm of sente-lite connections opened, handshaken and closed",
		defaults:      func(o *Options) { o.Count, o.Warmup, o.Duration = 2000, 100, 60*time.Second },
		countUsage:    "connections to open and close (0 = only --duration ends the run)",
		durationUsage: stopAfterDuration,
		flags: func(o *Options, def Options) []cli.Flag {
			return []cli.Flag{
				&cli.IntFlag{Name: "concurrency", Value: def.Concurrency, EnvVars: []string{"SENTE_BENCH_CONCURRENCY"}, Destination: &o.Concurrency, Usage: concurrentConns},
			}
		},
		echo:            never,
		manyConnections: true,
		check:           func(Options) error { return nil },
		run: func(ctx context.Context, env sb.Env, o Options, _ started) (*sb.Report, error) {
			return sb.Connect(ctx, env, sb.ConnectConfig{Limits: limits(o), Concurrency: o.Concurrency})
		},
	},
	{
		Name: "idle", Usage: "the gateway's memory per idle connection",
		defaults:      func(o *Options) { o.Duration = 60 * time.Second },
		durationUsage: "stop opening connections after this long (0 = no limit)",
		flags: func(o *Options, def Options) []cli.Flag {
			return []cli.Flag{
				&cli.IntFlag{Name: "connections", Value: def.Connections, EnvVars: []string{"SENTE_BENCH_CONNECTIONS"}, Destination: &o.Connections, Usage: "idle connections to hold"},
				&cli.StringFlag{Name: "path", Value: def.Path, EnvVars: []string{"SENTE_BENCH_PATH"}, Destination: &o.Path, Usage: "/chsk (sente-lite clients) or /_nrepl (Scittle runtimes)"},
				&cli.IntFlag{Name: "concurrency", Value: def.Concurrency, EnvVars: []string{"SENTE_BENCH_CONCURRENCY"}, Destination: &o.Concurrency, Usage: concurrentConns},
			}
		},
		echo:            never,
		manyConnections: true,
		check: func(o Options) error {
			switch {
			case o.Connections <= 0:
				return &UsageError{"--connections must be positive"}
			case o.Path != "/chsk" && o.Path != "/_nrepl":
				return &UsageError{fmt.Sprintf("--path %q: use /chsk or /_nrepl", o.Path)}
			}
			return nil
		},
		run: func(ctx context.Context, env sb.Env, o Options, _ started) (*sb.Report, error) {
			return sb.Idle(ctx, env, sb.IdleConfig{Limits: sb.Limits{Count: int64(o.Connections), Duration: o.Duration},
				Path: o.Path, Concurrency: o.Concurrency})
		},
	},
	{
		Name: "ping", Usage: "sente-lite ping/pong round trips beside a bare WebSocket echo floor",
		defaults:      func(o *Options) { o.Count, o.Warmup = 20000, 1000 },
		countUsage:    "ping round trips (0 = only --duration ends the run)",
		durationUsage: stopAfterDuration,
		flags:         func(*Options, Options) []cli.Flag { return nil },
		echo:          func(Options) bool { return true },
		check:         func(Options) error { return nil },
		run: func(ctx context.Context, env sb.Env, o Options, st started) (*sb.Report, error) {
			return sb.Ping(ctx, env, sb.PingConfig{Limits: limits(o), EchoAddr: st.echoAddr})
		},
	},
}

// Scenarios returns the scenarios in the order help lists them.
func Scenarios() []Scenario { return slices.Clone(scenarios) }

// scenario finds name in the table.
func scenario(name string) (Scenario, bool) {
	i := slices.IndexFunc(scenarios, func(s Scenario) bool { return s.Name == name })
	if i < 0 {
		return Scenario{}, false
	}
	return scenarios[i], true
}

// instanceScenarios names the scenarios that take --instances.
func instanceScenarios() string {
	var names []string
	for _, s := range scenarios {
		if s.instances {
			names = append(names, s.Name)
		}
	}
	return strings.Join(names, ", ")
}

// ScenarioNames is "eval, fanout, connect, idle, ping".
func ScenarioNames() string {
	names := make([]string, len(scenarios))
	for i, s := range scenarios {
		names[i] = s.Name
	}
	return strings.Join(names, ", ")
}

// Options are the command's flags, already parsed.
type Options struct {
	Scenario string

	// Executable is the sente binary started as the child gateway and the
	// echo server; "" means this program.
	Executable string
	// Target is a running gateway's HTTP address (http://H:P); "" starts a
	// child gateway. NREPL is its nREPL address, "" to ask its /health.
	Target, NREPL string
	// GatewayArgs are passed to the child `sente gateway`.
	GatewayArgs []string
	// TLS trusts an https:// gateway's certificate (--tls-ca, --insecure).
	TLS tlsclient.Options

	Count    int64         // operations measured; 0 means only Duration bounds the run
	Duration time.Duration // time measured at most; 0 means only Count bounds the run
	Warmup   int64         // operations done, unmeasured, first
	JSON     bool

	// eval
	Runtimes    int
	RuntimeKind string
	Editors     int
	Code        string
	Floor       bool // eval: also measure the bare echo floor

	// fanout
	Subscribers int
	Payload     int
	Window      int
	Rate        float64
	Batch       bool // subscribers ask for batch frames

	// fanout across instances: Instances child gateways joined by --nats NATS
	Instances int
	NATS      string

	// connect, idle, fanout (subscribers connecting at once)
	Concurrency int

	// idle
	Connections int
	Path        string
}

// Defaults returns the documented defaults of a scenario's flags.
func Defaults(name string) Options {
	o := Options{Scenario: name, Duration: 10 * time.Second, Concurrency: 50,
		Runtimes: 1, RuntimeKind: sb.RuntimeNREPL, Editors: 1, Code: "(+ 1 2)", Floor: true,
		Subscribers: 1000, Window: 100, Batch: true, Connections: 5000, Path: "/chsk", Instances: 1}
	if s, ok := scenario(name); ok {
		s.defaults(&o)
	}
	return o
}

// UsageError is a bad argument: the CLI exits 2.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// ErrFailed means the run completed but saw errors or lost messages: the CLI
// exits 1. The report has been printed.
var ErrFailed = errors.New("the run saw errors")

// Run runs one scenario and prints its report on stdout; stderr gets the
// child processes' logs and, on a terminal, a progress bar. Errors that
// wrap bench.ErrSetup, and *UsageError, mean nothing was measured.
func Run(ctx context.Context, opts Options, stdout, stderr io.Writer) error {
	if err := validate(&opts); err != nil {
		return err
	}
	exe := opts.Executable
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return fmt.Errorf("%w: cannot find the sente binary to start: %v", sb.ErrSetup, err)
		}
	}

	tlsCfg, err := tlsclient.Config(opts.TLS)
	if err != nil {
		return &UsageError{err.Error()}
	}
	var g *sb.Gateway
	if opts.Target != "" {
		if g, err = sb.AttachGatewayTLS(ctx, opts.Target, opts.NREPL, tlsCfg); err != nil {
			return err
		}
	} else {
		gw, child, err := sb.StartGatewayTLS(ctx, exe, gatewayArgs(opts), tlsCfg, stderr)
		if err != nil {
			return err
		}
		defer func() { _ = child.Stop() }()
		g = gw
	}
	others, stopOthers, err := startOthers(ctx, exe, opts, tlsCfg, stderr)
	defer stopOthers()
	if err != nil {
		return err
	}
	env := sb.Env{Gateway: g}
	if sb.IsTerminal(stderr) {
		env.Progress = stderr
	}

	sc, _ := scenario(opts.Scenario) // validate found it
	echoAddr := ""
	if sc.echo(opts) {
		addr, child, err := sb.StartEchoServer(ctx, exe, stderr)
		if err != nil {
			return err
		}
		defer func() { _ = child.Stop() }()
		echoAddr = addr
	}

	rep, err := sc.run(ctx, env, opts, started{echoAddr: echoAddr, others: others})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	if opts.JSON {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteText(stdout)
	}
	if err != nil {
		return err
	}
	if !rep.OK() {
		lost := ""
		if rep.Lost != nil && *rep.Lost > 0 {
			lost = fmt.Sprintf(", %d messages lost", *rep.Lost)
		}
		return fmt.Errorf("%w: %d errors%s", ErrFailed, rep.Errors, lost)
	}
	return nil
}

// validate checks the options and fills what depends on the scenario.
func validate(o *Options) error {
	if o.Scenario == "" {
		return &UsageError{"name a scenario: sente bench SCENARIO [flags], one of " + ScenarioNames()}
	}
	sc, ok := scenario(o.Scenario)
	if !ok {
		return &UsageError{fmt.Sprintf("unknown scenario %q: choose one of %s", o.Scenario, ScenarioNames())}
	}
	counted := sc.countUsage != ""
	switch {
	case o.Count < 0 || o.Warmup < 0 || o.Duration < 0:
		return &UsageError{"--count, --warmup and --duration must not be negative"}
	case counted && o.Count == 0 && o.Duration == 0:
		return &UsageError{"--count 0 and --duration 0: nothing would end the run"}
	}
	if err := sc.check(*o); err != nil {
		return err
	}
	switch {
	case o.Concurrency <= 0:
		return &UsageError{"--concurrency must be positive"}
	case o.Instances > 1 && !sc.instances:
		return &UsageError{"--instances is for the " + instanceScenarios() + " scenario"}
	case o.Target == "" && o.NREPL != "":
		return &UsageError{"--nrepl goes with --target: a child gateway's address is known"}
	case o.Target != "" && len(o.GatewayArgs) > 0:
		return &UsageError{"--gateway-arg configures the child gateway; with --target there is none"}
	}
	return nil
}

// gatewayArgs are the child gateway's extra flags: the user's, plus no
// connection limit for the scenarios that open more than its default 1000.
func gatewayArgs(o Options) []string {
	args := slices.Clone(o.GatewayArgs)
	if o.NATS != "" {
		args = append(args, "--nats", o.NATS)
	}
	if sc, _ := scenario(o.Scenario); sc.manyConnections &&
		!slices.ContainsFunc(args, func(a string) bool { return strings.Contains(a, "max-connections") }) {
		args = append(args, "--max-connections=0")
	}
	return args
}

// RunEchoServer is the hidden `sente bench echo-server`: the floor the ping
// and eval scenarios start as a child process. It prints its address and
// serves until ctx ends.
func RunEchoServer(ctx context.Context, stdout io.Writer) error {
	return sb.ServeEcho(ctx, stdout)
}

// NewCommand is `sente bench` with a subcommand per scenario, each with its
// flags bound to an Options that run gets once the command line is parsed;
// a nil run runs the scenario.
func NewCommand(run func(*cli.Context, *Options) error) *cli.Command {
	if run == nil {
		run = func(c *cli.Context, o *Options) error { return Run(c.Context, *o, c.App.Writer, c.App.ErrWriter) }
	}
	subs := make([]*cli.Command, 0, len(scenarios)+1)
	for _, s := range scenarios {
		subs = append(subs, scenarioCommand(s, run))
	}
	subs = append(subs, &cli.Command{
		Name:   "echo-server",
		Hidden: true,
		Usage:  "a bare WebSocket echo server: the floor ping and eval are compared with",
		Action: func(c *cli.Context) error {
			if err := RunEchoServer(c.Context, c.App.Writer); err != nil {
				return cliexit.Usagef("%s", err.Error())
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
			return exit(run(c, &Options{Scenario: c.Args().First()}))
		},
	}
}

func scenarioCommand(s Scenario, run func(*cli.Context, *Options) error) *cli.Command {
	def := Defaults(s.Name)
	o := &Options{}
	*o = def
	var gatewayArgs cli.StringSlice
	flags := []cli.Flag{
		&cli.StringFlag{Name: "target", EnvVars: []string{"SENTE_BENCH_TARGET"}, Destination: &o.Target, Usage: "drive the gateway running at this URL (http://H:P) instead of starting one"},
		&cli.StringFlag{Name: "nrepl", EnvVars: []string{"SENTE_BENCH_NREPL"}, Destination: &o.NREPL, Usage: "with --target: its nREPL address H:P (default: from its /health)"},
		&cli.StringSliceFlag{Name: "gateway-arg", EnvVars: []string{"SENTE_BENCH_GATEWAY_ARG"}, Destination: &gatewayArgs, Usage: "pass this flag to the child gateway (repeatable), e.g. --gateway-arg --batch=false"},
		&cli.DurationFlag{Name: "duration", Value: def.Duration, EnvVars: []string{"SENTE_BENCH_DURATION"}, Destination: &o.Duration, Usage: s.durationUsage},
		&cli.BoolFlag{Name: "json", EnvVars: []string{"SENTE_BENCH_JSON"}, Destination: &o.JSON, Usage: "print one JSON object with every figure"},
	}
	flags = append(flags, cmdutil.TLSClientFlags(&o.TLS)...)
	if s.countUsage != "" {
		flags = append(flags,
			&cli.Int64Flag{Name: "count", Value: def.Count, EnvVars: []string{"SENTE_BENCH_COUNT"}, Destination: &o.Count, Usage: s.countUsage},
			&cli.Int64Flag{Name: "warmup", Value: def.Warmup, EnvVars: []string{"SENTE_BENCH_WARMUP"}, Destination: &o.Warmup, Usage: "operations done first, not measured"},
		)
	}
	flags = append(flags, s.flags(o, def)...)
	return &cli.Command{
		Name:         s.Name,
		Usage:        s.Usage,
		UsageText:    "sente bench " + s.Name + " [flags]",
		Flags:        flags,
		OnUsageError: cmdutil.UsageError,
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return cliexit.Usagef("sente bench %s takes no arguments, got %q (flags go before nothing else)", s.Name, c.Args().First())
			}
			o.GatewayArgs = gatewayArgs.Value()
			return exit(run(c, o))
		},
	}
}

// exit maps Run's errors to exit statuses: 1 for a run that saw errors,
// 2 for bad arguments or nothing to measure, 130 when interrupted.
func exit(err error) error {
	var usage *UsageError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrFailed):
		return cliexit.Failedf("%s", err.Error())
	case errors.As(err, &usage), errors.Is(err, sb.ErrSetup):
		return cliexit.Usagef("%s", err.Error())
	case errors.Is(err, context.Canceled):
		return cliexit.Errorf(cliexit.Interrupted, "interrupted")
	}
	return cliexit.Usagef("%s", err.Error())
}
