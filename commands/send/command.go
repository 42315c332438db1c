package send

import (
	"os"

	"github.com/urfave/cli/v2"

	"github.com/sente-clj/sente/internal/cmdutil"
)

// NewCommand is `sente send`, its flags bound to an Options that run gets
// once the command line is parsed; a nil run runs the command. What the
// command does is in send.go.
func NewCommand(run func(*cli.Context, *Options) error) *cli.Command {
	opts := &Options{}
	if run == nil {
		run = func(c *cli.Context, o *Options) error { return Run(c.Context, *o) }
	}
	return &cli.Command{
		Name:      "send",
		Usage:     "send events to a sente-lite server and print replies or answering events",
		UsageText: "sente send [--url URL] [--reply] [--expect EVENT-ID] [--timeout D] [EVENT-ID [EDN]]",
		Description: `Connects to a sente-lite server (a sente gateway's /chsk, or any server speaking
sente-lite's protocol), waits for its handshake and sends the event [EVENT-ID EDN], or
[EVENT-ID] without EDN. EVENT-ID is a namespaced keyword, :my-app/hello or my-app/hello;
EDN is one EDN value (quote it for the shell). Without EVENT-ID, events are read from
stdin, one event vector a line ([:my-app/hello {:n 1}]; blank lines and ; comments are
skipped), and sent as they come.

--reply sends each event in the callback form [[EVENT-ID EDN] "cb-id"] and prints the
reply, as EDN on one line. --expect EVENT-ID waits, after each send, for the first event
with that id and prints it as an event vector; a :sente-lite/error event from the server
ends that wait as an error. The gateway answers an event with [:sente-lite/echo {...}],
a callback event with a reply holding the same echo map. Servers that never answer the
callback form (sente-lite's published servers do not) make --reply fail after --timeout.

Exit status: 0 ok; 1 the server reported an error (a :sente-lite/error event, or a
reply saying :success false) or --timeout passed waiting for an answer; 2 no server to
connect to, a lost connection, or bad arguments (invalid EDN is shown with a caret under
the byte where it broke, counting from 1); 130 interrupted.

Examples:
   sente send --expect :sente-lite/echo :my-app/hello '{:name "Ada"}'
   # [:sente-lite/echo {:conn-id "…", :original-data {:name "Ada"}, :original-event-id :my-app/hello, :timestamp 1700000000000}]
   sente send --reply my-app/question '[1 2 3]'
   printf '[:my-app/a 1]\n[:my-app/b 2]\n' | sente send --url ws://127.0.0.1:1340/chsk`,
		Flags: append([]cli.Flag{
			cmdutil.ChskURLFlag(&opts.URL, DefaultURL),
			&cli.BoolFlag{Name: "reply", EnvVars: []string{"SENTE_SEND_REPLY"}, Destination: &opts.Reply,
				Usage: "send the callback form and print the reply as EDN"},
			&cli.StringFlag{Name: "expect", EnvVars: []string{"SENTE_SEND_EXPECT"}, Destination: &opts.Expect,
				Usage: "after each send, wait for the first event `EVENT-ID` (e.g. :sente-lite/echo) and print it"},
			&cli.DurationFlag{Name: "timeout", Value: DefaultTimeout, EnvVars: []string{"SENTE_SEND_TIMEOUT"}, Destination: &opts.Timeout,
				Usage: "give up connecting, or waiting for a reply or an --expect event, after `DURATION` (0 = no limit)"},
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
