// Command sente drives browser Clojure runtimes from an editor and a terminal.
// This package only wires flags and environment variables to the commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/sente-clj/sente/internal/cliexit"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"
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
