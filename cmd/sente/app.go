package main

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/sente-clj/sente/internal/buildinfo"
)

func newApp(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:    "sente",
		Usage:   "drive browser Clojure runtimes (Scittle) from an editor and a terminal",
		Version: buildinfo.Version,
		Writer:  stdout, ErrWriter: stderr,
		Description: "sente gateway is an nREPL server for editors bridged to browser runtimes over WebSockets,\n" +
			"and a sente-lite pub/sub hub. The other commands are terminal clients for it.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "log-level", Value: "info", EnvVars: []string{"SENTE_LOG_LEVEL"}, Usage: "debug, info, warn or error"},
			&cli.StringFlag{Name: "log-format", Value: "text", EnvVars: []string{"SENTE_LOG_FORMAT"}, Usage: "text or json (logs go to stderr)"},
		},
		Commands:             []*cli.Command{gatewayCommand(), runtimesCommand()},
		EnableBashCompletion: true,
		// run prints errors and picks exit codes; urfave would os.Exit on its own.
		ExitErrHandler: func(*cli.Context, error) {},
		// A usage mistake is exit 2, not urfave's default 1.
		OnUsageError: func(c *cli.Context, err error, isSubcommand bool) error {
			return cli.Exit(err.Error(), exitUsage)
		},
	}
}

// newLogger builds the structured logger all commands share from the global flags.
func newLogger(c *cli.Context) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return nil, cli.Exit(fmt.Sprintf("--log-level %q: use debug, info, warn or error", c.String("log-level")), exitUsage)
	}
	opts := &slog.HandlerOptions{Level: level}
	w := c.App.ErrWriter
	switch strings.ToLower(c.String("log-format")) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, cli.Exit(fmt.Sprintf("--log-format %q: use text or json", c.String("log-format")), exitUsage)
	}
}
