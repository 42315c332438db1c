// Package repl is the `sente repl` command: an interactive REPL on an nREPL
// server (a sente gateway, nbb, a JVM) in a terminal, or a reader of forms
// piped on stdin.
package repl

import (
	"context"
	"errors"
	"github.com/sente-clj/sente/internal/cliexit"
	"io"
	"os"
	"os/signal"
	"syscall"

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
