package main

import (
	"os"

	"github.com/urfave/cli/v2"

	"github.com/sente-clj/sente/commands/publish"
	sendcmd "github.com/sente-clj/sente/commands/send"
)

func publishCommand() *cli.Command {
	return &cli.Command{
		Name:      "publish",
		Usage:     "publish EDN values to a sente-lite channel",
		UsageText: "sente publish [--url URL] [--exclude-self] [--verbose] [--timeout D] CHANNEL [EDN]",
		Description: `Connects to a sente-lite server and publishes EDN (one EDN value; quote it for the
shell) to every subscriber of CHANNEL. Without EDN, values are read from stdin, one EDN
value a line (blank lines and ; comments are skipped), and published as they come. Each
publish is sent in the callback form, so the command knows the server accepted it; the
gateway answers {:channel-id "news" :success true :delivered N}. Nothing is printed on
success unless --verbose, which prints "delivered to N" for each publish.

Exit status: 0 ok; 1 the server refused a publish or did not answer within --timeout;
2 no server to connect to, a lost connection, or bad arguments (invalid EDN is shown with
a caret under the byte where it broke, counting from 1); 130 interrupted.

Examples:
   sente publish news '{:headline "hi" :tags [:a :b]}'
   sente publish --verbose news 42
   # delivered to 3
   printf '1\n2\n{:n 3}\n' | sente publish news`,
		Flags: []cli.Flag{
			chskURLFlag(),
			tlsCAFlag(), insecureFlag(),
			&cli.BoolFlag{Name: "exclude-self", EnvVars: []string{"SENTE_PUBLISH_EXCLUDE_SELF"},
				Usage: "publish with :exclude-sender? true (not to this connection, were it subscribed)"},
			&cli.BoolFlag{Name: "verbose", EnvVars: []string{"SENTE_PUBLISH_VERBOSE"},
				Usage: `print "delivered to N" for each publish`},
			&cli.DurationFlag{Name: "timeout", Value: sendcmd.DefaultTimeout, EnvVars: []string{"SENTE_PUBLISH_TIMEOUT"},
				Usage: "give up connecting, or waiting for the server to accept a publish, after `DURATION` (0 = no limit)"},
		},
		Action: func(c *cli.Context) error {
			log, err := clientLogger(c)
			if err != nil {
				return err
			}
			return exitError(publish.Run(c.Context, publish.Options{
				URL: c.String("url"), Args: c.Args().Slice(),
				ExcludeSelf: c.Bool("exclude-self"), Verbose: c.Bool("verbose"), Timeout: c.Duration("timeout"),
				TLS: tlsOptions(c), Logger: log, Stdin: os.Stdin, Stdout: c.App.Writer, Stderr: c.App.ErrWriter,
			}))
		},
	}
}
