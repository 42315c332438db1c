// Command sente drives browser Clojure runtimes from an editor and a terminal.
// This package is the app and main: it lists the commands (each defined, with
// its flags bound to its options, in commands/<cmd>), adds the logging flags
// to every one, and turns a command's error into its message and exit status
// (internal/cliexit).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/sente-clj/sente/internal/cliexit"
)

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr *os.File) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	app := newApp(stdout, stderr)
	err := app.RunContext(ctx, args)
	if err == nil {
		return cliexit.OK
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(stderr, "sente:", msg)
		}
		return ec.ExitCode()
	}
	fmt.Fprintln(stderr, "sente:", err)
	return cliexit.Usage
}
