package publish

import (
	"os"

	"github.com/urfave/cli/v2"

	"github.com/sente-clj/sente/commands/send"
	"github.com/sente-clj/sente/internal/cmdutil"
)

// NewCommand is `sente publish`, its flags bound to an Options that run gets
// once the command line is parsed; a nil run runs the command. What the
// command does is in publish.go.
func NewCommand(run func(*cli.Context, *Options) error) *cli.Command {
	opts := &Options{}
	if run == nil {
		run = func(c *cli.Context, o *Options) error { return Run(c.Context, *o) }
	}
	return &cli.Command{
		Name:      "publish",
		Usage:     "publish EDN values to a sente-lite channel",
		UsageText: "sente publish [--url URL] [--ack] [--exclude-self] [--verbose] [--timeout D] CHANNEL [EDN]",
		Description: `Connects to a sente-lite server and publishes EDN (one EDN value; quote it for the
shell) to every subscriber of CHANNEL. Without EDN, values are read from stdin, one EDN
value a line (blank lines and ; comments are skipped), and published as they come. Each
publish is a plain [:sente-lite/publish {...}] event, which every sente-lite server takes,
sente-lite's published servers too. For an acknowledgement from sente's gateway, add --ack: each publish
then goes in the callback form and waits for the answer {:channel-id "news" :success true
:delivered N} (servers that never answer callbacks, like sente-lite's published ones, then time out).
Nothing is printed on success unless --verbose: "delivered to N" for each publish with
--ack, "sent" without.

Exit status: 0 ok; 1 with --ack, the server refused a publish or did not answer within --timeout;
2 no server to connect to, a lost connection, or bad arguments (invalid EDN is shown with
a caret under the byte where it broke, counting from 1); 130 interrupted.

Examples:
   sente publish news '{:headline "hi" :tags [:a :b]}'
   sente publish --ack --verbose news 42
   # delivered to 3
   printf '1\n2\n{:n 3}\n' | sente publish news`,
		Flags: append([]cli.Flag{
			cmdutil.ChskURLFlag(&opts.URL, send.DefaultURL),
			&cli.BoolFlag{Name: "exclude-self", EnvVars: []string{"SENTE_PUBLISH_EXCLUDE_SELF"}, Destination: &opts.ExcludeSelf,
				Usage: "publish with :exclude-sender? true (not to this connection, were it subscribed)"},
			&cli.BoolFlag{Name: "ack", EnvVars: []string{"SENTE_PUBLISH_ACK"}, Destination: &opts.Ack,
				Usage: "ask for an acknowledgement: send each publish in the callback form and wait for the answer (sente's gateway gives one; sente-lite's published servers do not)"},
			&cli.BoolFlag{Name: "verbose", EnvVars: []string{"SENTE_PUBLISH_VERBOSE"}, Destination: &opts.Verbose,
				Usage: `print "delivered to N" for each publish (with --ack), or "sent"`},
			&cli.DurationFlag{Name: "timeout", Value: send.DefaultTimeout, EnvVars: []string{"SENTE_PUBLISH_TIMEOUT"}, Destination: &opts.Timeout,
				Usage: "give up connecting, or (with --ack) waiting for the server to accept a publish, after `DURATION` (0 = no limit)"},
		}, cmdutil.TLSClientFlags(&opts.TLS)...),
		Action: func(c *cli.Context) error {
			log, err := cmdutil.ClientLogger(c)
			if err != nil {
				return err
			}
			opts.Args, opts.Logger = c.Args().Slice(), log
			opts.Stdin, opts.Stdout, opts.Stderr = os.Stdin, c.App.Writer, c.App.ErrWriter
			return cmdutil.Exit(run(c, opts))
		},
	}
}
