package main

import (
	"fmt"
	"github.com/sente-clj/sente/internal/cliexit"
	"os"

	"github.com/urfave/cli/v2"

	evalcmd "github.com/sente-clj/sente/commands/eval"
	"github.com/sente-clj/sente/internal/nreplfind"
	"github.com/sente-clj/sente/repl"
)

// nreplClientFlags say which nREPL server a terminal client talks to. Their
// environment variables are SENTE_NREPL_*: SENTE_HOST and SENTE_PORT belong to
// the gateway's HTTP side, and SENTE_NREPL_PORT is shared on purpose with
// `sente gateway --nrepl-port`: the same port, seen from both ends.
func nreplClientFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "host", EnvVars: []string{"SENTE_NREPL_HOST"}, DefaultText: nreplfind.DefaultHost,
			Usage: "nREPL server `HOST` to connect to (SENTE_HOST is not read: it is the gateway's listen address)"},
		&cli.IntFlag{Name: "port", EnvVars: []string{"SENTE_NREPL_PORT"}, DefaultText: ".nrepl-port in this or a parent directory, else 1339",
			Usage: "nREPL server `PORT` (SENTE_NREPL_PORT is the one sente gateway --nrepl-port reads too; SENTE_PORT is the gateway's HTTP port)"},
	}
}

func evalCommand() *cli.Command {
	exprs := &codeList{env: "SENTE_EVAL_EXPR"}
	return &cli.Command{
		Name:      "eval",
		Usage:     "evaluate code on an nREPL server and print the values",
		UsageText: "sente eval [--host H] [--port N] [-e CODE]... [-f FILE] [--ns NS] [--all] [--json] [--timeout D]",
		Description: `Evaluates code on the nREPL server found as editors find it (--host/--port, else
.nrepl-port in this or a parent directory, else 127.0.0.1:1339): a sente gateway's
browser runtime, nbb, or a JVM. Code comes from -f FILE, then each -e CODE in turn,
or from stdin when neither is given. Each value is printed on a line of its own, the
code's out on stdout and err on stderr. Evaluation stops at the first error. Code
that reads *in* gets sente's stdin when that is piped and not the code itself: nREPL
gives input only to an evaluation in a session, which sente clones when the code
names *in*, read-line, read, read+string or repl (else it evaluates without one).

Exit status: 0 ok; 1 the code threw or the server reported an error (or --timeout
passed); 2 no server to connect to, or bad arguments; 130 interrupted.

Examples:
   sente eval -e '(+ 1 2)'
   # 3
   echo '(println "hi") (* 6 7)' | sente eval
   sente eval -f setup.cljs -e '(start!)' --ns my.app
   sente eval --all -e '(.-userAgent js/navigator)'     # every browser runtime, "r1: ..."
   sente eval --json -e '(/ 1 0)'  # {"values":[],"out":"","err":"...","status":[...]}`,
		Flags: append(nreplClientFlags(),
			&cli.GenericFlag{Name: "expr", Aliases: []string{"e"}, Value: exprs, EnvVars: []string{"SENTE_EVAL_EXPR"},
				Usage: "`CODE` to evaluate; repeat for more (taken whole: commas are Clojure whitespace, not separators)"},
			&cli.StringFlag{Name: "file", Aliases: []string{"f"}, EnvVars: []string{"SENTE_EVAL_FILE"},
				Usage: "evaluate the contents of `FILE` (- is stdin), before any -e"},
			&cli.StringFlag{Name: "ns", EnvVars: []string{"SENTE_EVAL_NS"}, Usage: "evaluate in namespace `NS` (sent with each eval)"},
			&cli.BoolFlag{Name: "all", EnvVars: []string{"SENTE_EVAL_ALL"},
				Usage: "evaluate on every runtime connected to a sente gateway; each line of output starts with the runtime's id"},
			&cli.BoolFlag{Name: "json", EnvVars: []string{"SENTE_EVAL_JSON"},
				Usage: `print one JSON object: {"values":[...],"out":..,"err":..,"status":[...]}; with --all one per runtime, with "runtime"`},
			&cli.DurationFlag{Name: "timeout", EnvVars: []string{"SENTE_EVAL_TIMEOUT"},
				Usage: "give up after `DURATION` (e.g. 10s), asking the server to interrupt the evaluation (0 = no limit)"},
		),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return cli.Exit(fmt.Sprintf("unexpected argument %q: give code with -e or -f, or on stdin (see sente eval --help)", c.Args().First()), cliexit.Usage)
			}
			err := evalcmd.Run(c.Context, evalcmd.Options{
				Host: c.String("host"), Port: c.Int("port"),
				Exprs: exprs.vals, File: c.String("file"), NS: c.String("ns"),
				All: c.Bool("all"), JSON: c.Bool("json"), Timeout: c.Duration("timeout"),
				Stdin: os.Stdin, StdinIsTerminal: repl.IsTerminal(os.Stdin), StdinPiped: isPiped(os.Stdin),
				Stdout: c.App.Writer, Stderr: c.App.ErrWriter,
			})
			return exitError(err)
		},
	}
}

// isPiped reports whether f is a pipe or a regular file, rather than a
// terminal or a device such as /dev/null.
func isPiped(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice == 0
}

// exitError passes a command's *cliexit.Error to run, which prints its
// message as "sente: ..." and exits with its code.
func exitError(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(cli.ExitCoder); ok {
		return err
	}
	return cli.Exit(err.Error(), cliexit.Failed)
}

// codeList is a repeatable flag that keeps each value whole; urfave's
// StringSliceFlag would split Clojure code at its commas.
type codeList struct {
	env     string   // the flag's environment variable
	vals    []string // in command-line order
	envSeen bool     // the first Set has been looked at
	fromEnv bool     // vals holds only the environment's value
}

// serialized is what Serialize gives urfave, which Sets it again under the
// flag's other names (-e and --expr share this value, so that is a no-op).
const serialized = "\x00sente-code-list\x00"

// Set appends one value. urfave applies the environment variable with a Set
// before parsing the command line; values given on the command line replace it.
func (l *codeList) Set(v string) error {
	if v == serialized {
		return nil
	}
	if !l.envSeen {
		l.envSeen = true
		if e, ok := os.LookupEnv(l.env); ok && e == v {
			l.vals, l.fromEnv = []string{v}, true
			return nil
		}
	}
	if l.fromEnv {
		l.vals, l.fromEnv = nil, false
	}
	l.vals = append(l.vals, v)
	return nil
}

func (l *codeList) String() string { return "" }

// Serialize implements cli.Serializer; see serialized.
func (l *codeList) Serialize() string { return serialized }
