package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	benchcmd "github.com/sente-clj/sente/commands/bench"
	evalcmd "github.com/sente-clj/sente/commands/eval"
	gatewaycmd "github.com/sente-clj/sente/commands/gateway"
	publishcmd "github.com/sente-clj/sente/commands/publish"
	replcmd "github.com/sente-clj/sente/commands/repl"
	runtimescmd "github.com/sente-clj/sente/commands/runtimes"
	sendcmd "github.com/sente-clj/sente/commands/send"
	subscribecmd "github.com/sente-clj/sente/commands/subscribe"
	"github.com/sente-clj/sente/internal/buildinfo"
	"github.com/sente-clj/sente/internal/cliexit"
	"github.com/sente-clj/sente/internal/cmdutil"
)

func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:    "sente",
		Usage:   "drive browser Clojure runtimes (Scittle) from an editor and a terminal",
		Version: buildinfo.Version,
		Writer:  stdout, ErrWriter: stderr,
		Description: "sente gateway is an nREPL server for editors bridged to browser runtimes over WebSockets,\n" +
			"and a sente-lite pub/sub hub. The other commands are terminal clients for it.",
		Flags: cmdutil.LogFlags(),
		// Without a command, show help; a word that is no command is a usage error.
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return cli.Exit(fmt.Sprintf("unknown command %q; see sente --help", c.Args().First()), cliexit.Usage)
			}
			return cli.ShowAppHelp(c)
		},
		// Each command's flags are bound to its options in commands/<cmd>.
		Commands: []*cli.Command{
			gatewaycmd.NewCommand(nil), runtimescmd.NewCommand(nil), replcmd.NewCommand(nil), evalcmd.NewCommand(nil),
			benchcmd.NewCommand(nil), sendcmd.NewCommand(nil), subscribecmd.NewCommand(nil), publishcmd.NewCommand(nil),
		},
		EnableBashCompletion: true,
		// run prints errors and picks exit codes; urfave would os.Exit on its own.
		ExitErrHandler: func(*cli.Context, error) {},
		// A usage mistake is exit 2, not urfave's default 1.
		OnUsageError: cmdutil.UsageError,
	}
	for _, cmd := range app.Commands {
		// Each command takes the logging flags too, so `sente gateway --log-level debug`
		// works as people type it, and its usage errors are short and exit 2.
		cmd.Flags = append(cmd.Flags, cmdutil.LogFlags()...)
		if cmd.OnUsageError == nil {
			cmd.OnUsageError = cmdutil.UsageError
		}
	}
	return app
}
