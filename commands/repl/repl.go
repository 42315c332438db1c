// Package repl is the `sente repl` command: an interactive REPL on an nREPL
// server (a sente gateway, nbb, a JVM) in a terminal, or a reader of forms
// piped on stdin.
package repl

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/sente-clj/sente/internal/cliexit"
	"github.com/sente-clj/sente/internal/cmdutil"
	"github.com/sente-clj/sente/internal/nreplfind"
	front "github.com/sente-clj/sente/repl"
)

// Options are the command's flags, already parsed.
type Options struct {
	Host string // "" means 127.0.0.1
	Port int    // 0 means: .nrepl-port here or in a parent, else 1339
	Dir  string // where to look for .nrepl-port; "" is the working directory

	HistoryFile string // "" keeps no history

	Stdin          *os.File // a terminal gets the line editor; anything else is read as forms
	Stdout, Stderr io.Writer
}

// Run connects and runs the REPL until the input ends. Its errors are
// *cliexit.Error: cliexit.Unavailable when there is no server (or it went away),
// cliexit.Failed when piped input had a failing eval, cliexit.Interrupted on Ctrl-C in
// piped mode, 143 on SIGTERM.
func Run(ctx context.Context, opts Options) error {
	target, err := nreplfind.Find(opts.Host, opts.Port, opts.Dir)
	if err != nil {
		return cliexit.Errorf(cliexit.Unavailable, "%v", err)
	}

	// The caller's ctx ends at the first SIGINT, but in a REPL Ctrl-C
	// interrupts one evaluation; so this command watches the signals itself.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	interrupts := make(chan struct{}, 1)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case s := <-sigs:
				if s == syscall.SIGTERM {
					cancel()
					return
				}
				select {
				case interrupts <- struct{}{}:
				default:
				}
			}
		}
	}()

	c, err := nreplfind.Dial(ctx, target)
	if err != nil {
		return cliexit.Errorf(cliexit.Unavailable, "%v", err)
	}
	defer c.Close()

	err = front.Run(ctx, front.Config{
		Client:      c,
		Addr:        target.Addr(),
		In:          opts.Stdin,
		Out:         opts.Stdout,
		Err:         opts.Stderr,
		Interactive: front.IsTerminal(opts.Stdin),
		HistoryFile: opts.HistoryFile,
		Interrupts:  interrupts,
	})
	if errors.Is(err, context.Canceled) {
		return &cliexit.Error{Code: 128 + int(syscall.SIGTERM)}
	}
	return err
}

// NewCommand is `sente repl`, its flags bound to an Options that run gets
// once the command line is parsed; a nil run runs the command.
func NewCommand(run func(*cli.Context, *Options) error) *cli.Command {
	opts := &Options{}
	if run == nil {
		run = func(c *cli.Context, o *Options) error { return Run(c.Context, *o) }
	}
	return &cli.Command{
		Name:      "repl",
		Usage:     "an interactive REPL on an nREPL server: a gateway's browser runtimes, nbb, a JVM",
		UsageText: "sente repl [--host H] [--port N] [--history-file FILE]",
		Description: `Connects to the nREPL server found as editors find it (--host/--port, else
.nrepl-port in this or a parent directory, else 127.0.0.1:1339) and reads forms with
history and Tab completion; a form spanning lines is sent once it is complete. Ctrl-C
interrupts an evaluation (or clears the input), Ctrl-D exits. :help lists commands;
on a sente gateway :runtimes lists the browser runtimes and :use ID pins the REPL to
one (:use alone follows the newest again).

When stdin is not a terminal, forms are read from it and each result printed, with
no prompt; the exit status is then 1 if any evaluation failed.

Examples:
   sente repl
   # user=> (+ 1 2)
   # 3
   sente repl --port 7888 --history-file ''
   printf '(def x 40)\n(+ x 2)\n' | sente repl`,
		Flags: append(cmdutil.NREPLClientFlags(&opts.Host, &opts.Port),
			&cli.StringFlag{Name: "history-file", Value: front.DefaultHistoryFile(), EnvVars: []string{"SENTE_REPL_HISTORY_FILE"}, Destination: &opts.HistoryFile,
				Usage: "`FILE` the REPL keeps its history in (\"\" keeps none; $XDG_STATE_HOME/sente/history when XDG_STATE_HOME is set, else ~/.sente_history)"},
		),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return cliexit.Usagef("unexpected argument %q: sente repl reads forms at its prompt or from stdin (see sente repl --help)", c.Args().First())
			}
			opts.Stdin, opts.Stdout, opts.Stderr = os.Stdin, c.App.Writer, c.App.ErrWriter
			return cmdutil.Exit(run(c, opts))
		},
	}
}
