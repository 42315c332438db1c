package main

import (
	"fmt"
	"github.com/sente-clj/sente/internal/cliexit"
	"os"

	"github.com/urfave/cli/v2"

	replcmd "github.com/sente-clj/sente/commands/repl"
	"github.com/sente-clj/sente/repl"
)

func replCommand() *cli.Command {
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
		Flags: append(nreplClientFlags(),
			&cli.StringFlag{Name: "history-file", Value: repl.DefaultHistoryFile(), EnvVars: []string{"SENTE_REPL_HISTORY_FILE"},
				Usage: "`FILE` the REPL keeps its history in (\"\" keeps none; $XDG_STATE_HOME/sente/history when XDG_STATE_HOME is set, else ~/.sente_history)"},
		),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return cli.Exit(fmt.Sprintf("unexpected argument %q: sente repl reads forms at its prompt or from stdin (see sente repl --help)", c.Args().First()), cliexit.Usage)
			}
			return exitError(replcmd.Run(c.Context, replcmd.Options{
				Host: c.String("host"), Port: c.Int("port"),
				HistoryFile: c.String("history-file"),
				Stdin:       os.Stdin, Stdout: c.App.Writer, Stderr: c.App.ErrWriter,
			}))
		},
	}
}
