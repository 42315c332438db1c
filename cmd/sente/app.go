package main

import (
	"fmt"
	"github.com/sente-clj/sente/internal/cliexit"
	"io"
	"log/slog"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/sente-clj/sente/internal/buildinfo"
)

func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:    "sente",
		Usage:   "drive browser Clojure runtimes (Scittle) from an editor and a terminal",
		Version: buildinfo.Version,
		Writer:  stdout, ErrWriter: stderr,
		Description: "sente gateway is an nREPL server for editors bridged to browser runtimes over WebSockets,\n" +
			"and a sente-lite pub/sub hub. The other commands are terminal clients for it.",
		Flags: logFlags(),
		// Without a command, show help; a word that is no command is a usage error.
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return cli.Exit(fmt.Sprintf("unknown command %q; see sente --help", c.Args().First()), cliexit.Usage)
			}
			return cli.ShowAppHelp(c)
		},
		Commands:             []*cli.Command{gatewayCommand(), runtimesCommand(), replCommand(), evalCommand(), benchCommand(), sendCommand(), subscribeCommand(), publishCommand()},
		EnableBashCompletion: true,
		// run prints errors and picks exit codes; urfave would os.Exit on its own.
		ExitErrHandler: func(*cli.Context, error) {},
		// A usage mistake is exit 2, not urfave's default 1.
		OnUsageError: usageError,
	}
	for _, cmd := range app.Commands {
		// Each command takes the logging flags too, so `sente gateway --log-level debug`
		// works as people type it, and its usage errors are short and exit 2.
		cmd.Flags = append(cmd.Flags, logFlags()...)
		if cmd.OnUsageError == nil {
			cmd.OnUsageError = usageError
		}
	}
	return app
}

func usageError(c *cli.Context, err error, isSubcommand bool) error {
	return cli.Exit(fmt.Sprintf("%v (see %s --help)", err, c.Command.HelpName), cliexit.Usage)
}

func logFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "log-level", Value: "info", EnvVars: []string{"SENTE_LOG_LEVEL"}, Usage: "debug, info, warn or error"},
		&cli.StringFlag{Name: "log-format", Value: "text", EnvVars: []string{"SENTE_LOG_FORMAT"}, Usage: "text or json (logs go to stderr)"},
	}
}

// noArgs refuses stray words after a command that takes none.
func noArgs(c *cli.Context) error {
	if c.NArg() > 0 {
		return cli.Exit(fmt.Sprintf("unexpected argument %q (see %s --help)", c.Args().First(), c.Command.HelpName), cliexit.Usage)
	}
	return nil
}

// setting is a flag's value from the innermost level that set it (command
// before global), so a command's default never hides a global flag.
func setting(c *cli.Context, name string) string {
	for _, cc := range c.Lineage() {
		if cc.IsSet(name) && cc.String(name) != "" {
			return cc.String(name)
		}
	}
	return ""
}

// newLogger builds the structured logger all commands share from the global flags.
func newLogger(c *cli.Context) (*slog.Logger, error) {
	levelName, format := setting(c, "log-level"), setting(c, "log-format")
	if levelName == "" {
		levelName = "info"
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(levelName)); err != nil {
		return nil, cli.Exit(fmt.Sprintf("--log-level %q: use debug, info, warn or error", levelName), cliexit.Usage)
	}
	opts := &slog.HandlerOptions{Level: level}
	w := c.App.ErrWriter
	switch strings.ToLower(format) {
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, cli.Exit(fmt.Sprintf("--log-format %q: use text or json", format), cliexit.Usage)
	}
}
