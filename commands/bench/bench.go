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

	sb "github.com/sente-clj/sente/bench"
)

// Scenario is one thing `sente bench` can measure.
type Scenario struct {
	Name  string
	Usage string
}

// Scenarios returns the scenarios in the order help lists them.
func Scenarios() []Scenario {
	return []Scenario{
		{"eval", "round trips editor → gateway → runtime → editor, with simulated runtimes"},
		{"fanout", "one publisher to many sente-lite subscribers of one channel"},
		{"connect", "a storm of sente-lite connections opened, handshaken and closed"},
		{"idle", "the gateway's memory per idle connection"},
		{"ping", "sente-lite ping/pong round trips beside a bare WebSocket echo floor"},
	}
}

// ScenarioNames is "eval, fanout, connect, idle, ping".
func ScenarioNames() string {
	scenarios := Scenarios()
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

	// connect, idle, fanout (subscribers connecting at once)
	Concurrency int

	// idle
	Connections int
	Path        string
}

// Defaults returns the documented defaults of a scenario's flags.
func Defaults(scenario string) Options {
	o := Options{Scenario: scenario, Duration: 10 * time.Second, Concurrency: 50,
		Runtimes: 1, RuntimeKind: sb.RuntimeNREPL, Editors: 1, Code: "(+ 1 2)", Floor: true,
		Subscribers: 1000, Window: 100, Batch: true, Connections: 5000, Path: "/chsk"}
	switch scenario {
	case "eval", "ping":
		o.Count, o.Warmup = 20000, 1000
	case "fanout":
		o.Count, o.Warmup, o.Duration = 2000, 100, 60*time.Second
	case "connect":
		o.Count, o.Warmup, o.Duration = 2000, 100, 60*time.Second
	case "idle":
		o.Duration = 60 * time.Second
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

	var g *sb.Gateway
	if opts.Target != "" {
		var err error
		if g, err = sb.AttachGateway(ctx, opts.Target, opts.NREPL); err != nil {
			return err
		}
	} else {
		gw, child, err := sb.StartGateway(ctx, exe, gatewayArgs(opts), stderr)
		if err != nil {
			return err
		}
		defer func() { _ = child.Stop() }()
		g = gw
	}
	env := sb.Env{Gateway: g}
	if sb.IsTerminal(stderr) {
		env.Progress = stderr
	}

	echoAddr := ""
	if opts.Scenario == "ping" || (opts.Scenario == "eval" && opts.Floor) {
		addr, child, err := sb.StartEchoServer(ctx, exe, stderr)
		if err != nil {
			return err
		}
		defer func() { _ = child.Stop() }()
		echoAddr = addr
	}

	limits := sb.Limits{Count: opts.Count, Duration: opts.Duration, Warmup: opts.Warmup}
	var rep *sb.Report
	var err error
	switch opts.Scenario {
	case "eval":
		rep, err = sb.Eval(ctx, env, sb.EvalConfig{Limits: limits, Runtimes: opts.Runtimes, RuntimeKind: opts.RuntimeKind,
			Editors: opts.Editors, Code: opts.Code, EchoAddr: echoAddr})
	case "fanout":
		rep, err = sb.Fanout(ctx, env, sb.FanoutConfig{Limits: limits, Subscribers: opts.Subscribers, Payload: opts.Payload,
			Window: opts.Window, Rate: opts.Rate, Concurrency: opts.Concurrency, Batch: opts.Batch})
	case "connect":
		rep, err = sb.Connect(ctx, env, sb.ConnectConfig{Limits: limits, Concurrency: opts.Concurrency})
	case "idle":
		rep, err = sb.Idle(ctx, env, sb.IdleConfig{Limits: sb.Limits{Count: int64(opts.Connections), Duration: opts.Duration},
			Path: opts.Path, Concurrency: opts.Concurrency})
	case "ping":
		rep, err = sb.Ping(ctx, env, sb.PingConfig{Limits: limits, EchoAddr: echoAddr})
	}
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
	if !slices.ContainsFunc(Scenarios(), func(s Scenario) bool { return s.Name == o.Scenario }) {
		return &UsageError{fmt.Sprintf("unknown scenario %q: choose one of %s", o.Scenario, ScenarioNames())}
	}
	switch {
	case o.Count < 0 || o.Warmup < 0 || o.Duration < 0:
		return &UsageError{"--count, --warmup and --duration must not be negative"}
	case o.Scenario != "idle" && o.Count == 0 && o.Duration == 0:
		return &UsageError{"--count 0 and --duration 0: nothing would end the run"}
	case o.Scenario == "idle" && o.Connections <= 0:
		return &UsageError{"--connections must be positive"}
	case o.Scenario == "eval" && (o.Runtimes <= 0 || o.Editors <= 0):
		return &UsageError{"--runtimes and --editors must be positive"}
	case o.Scenario == "eval" && o.RuntimeKind != sb.RuntimeNREPL && o.RuntimeKind != sb.RuntimeChsk:
		return &UsageError{fmt.Sprintf("--runtime-kind %q: use %s or %s", o.RuntimeKind, sb.RuntimeNREPL, sb.RuntimeChsk)}
	case o.Scenario == "fanout" && (o.Subscribers <= 0 || o.Window <= 0 || o.Payload < 0 || o.Rate < 0):
		return &UsageError{"--subscribers and --window must be positive, --payload and --rate not negative"}
	case o.Concurrency <= 0:
		return &UsageError{"--concurrency must be positive"}
	case o.Scenario == "idle" && o.Path != "/chsk" && o.Path != "/_nrepl":
		return &UsageError{fmt.Sprintf("--path %q: use /chsk or /_nrepl", o.Path)}
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
	switch o.Scenario {
	case "fanout", "connect", "idle":
		if !slices.ContainsFunc(args, func(a string) bool { return strings.Contains(a, "max-connections") }) {
			args = append(args, "--max-connections=0")
		}
	}
	return args
}

// RunEchoServer is the hidden `sente bench echo-server`: the floor the ping
// and eval scenarios start as a child process. It prints its address and
// serves until ctx ends.
func RunEchoServer(ctx context.Context, stdout io.Writer) error {
	return sb.ServeEcho(ctx, stdout)
}
