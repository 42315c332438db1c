package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/urfave/cli/v2"

	sendcmd "github.com/sente-clj/sente/commands/send"
)

// chskURLFlag is --url for the sente-lite clients (send, subscribe, publish).
// Its variable is SENTE_CHSK_URL: SENTE_URL is sente runtimes' http:// base.
func chskURLFlag() cli.Flag {
	return &cli.StringFlag{Name: "url", Value: sendcmd.DefaultURL, EnvVars: []string{"SENTE_CHSK_URL"},
		Usage: "the server's sente-lite WebSocket `URL` (ws:// is assumed, http:// becomes ws://, no path means /chsk)"}
}

// clientLogger is the sentelite connection log: shown with --log-level debug
// only, so that a client command's stderr holds its own lines and nothing else.
func clientLogger(c *cli.Context) (*slog.Logger, error) {
	log, err := newLogger(c)
	if err != nil {
		return nil, err
	}
	if !log.Enabled(context.Background(), slog.LevelDebug) {
		return nil, nil
	}
	return log, nil
}

func sendCommand() *cli.Command {
	return &cli.Command{
		Name:      "send",
		Usage:     "send events to a sente-lite server and print replies or answering events",
		UsageText: "sente send [--url URL] [--reply] [--expect EVENT-ID] [--timeout D] [EVENT-ID [EDN]]",
		Description: `Connects to a sente-lite server (a sente gateway's /chsk, or any server speaking
the seed's protocol), waits for its handshake and sends the event [EVENT-ID EDN], or
[EVENT-ID] without EDN. EVENT-ID is a namespaced keyword, :my-app/hello or my-app/hello;
EDN is one EDN value (quote it for the shell). Without EVENT-ID, events are read from
stdin, one event vector a line ([:my-app/hello {:n 1}]; blank lines and ; comments are
skipped), and sent as they come.

--reply sends each event in the callback form [[EVENT-ID EDN] "cb-id"] and prints the
reply, as EDN on one line. --expect EVENT-ID waits, after each send, for the first event
with that id and prints it as an event vector; a :sente-lite/error event from the server
ends that wait as an error. The gateway answers an event with [:sente-lite/echo {...}],
a callback event with a reply holding the same echo map. Servers that never answer the
callback form (the seed's do not) make --reply fail after --timeout.

Exit status: 0 ok; 1 the server reported an error (a :sente-lite/error event, or a
reply saying :success false) or --timeout passed waiting for an answer; 2 no server to
connect to, a lost connection, or bad arguments (invalid EDN is shown with a caret under
the byte where it broke, counting from 1); 130 interrupted.

Examples:
   sente send --expect :sente-lite/echo :my-app/hello '{:name "Ada"}'
   # [:sente-lite/echo {:conn-id "…", :original-data {:name "Ada"}, :original-event-id :my-app/hello, :timestamp 1700000000000}]
   sente send --reply my-app/question '[1 2 3]'
   printf '[:my-app/a 1]\n[:my-app/b 2]\n' | sente send --url ws://127.0.0.1:1340/chsk`,
		Flags: []cli.Flag{
			chskURLFlag(),
			&cli.BoolFlag{Name: "reply", EnvVars: []string{"SENTE_SEND_REPLY"},
				Usage: "send the callback form and print the reply as EDN"},
			&cli.StringFlag{Name: "expect", EnvVars: []string{"SENTE_SEND_EXPECT"},
				Usage: "after each send, wait for the first event `EVENT-ID` (e.g. :sente-lite/echo) and print it"},
			&cli.DurationFlag{Name: "timeout", Value: sendcmd.DefaultTimeout, EnvVars: []string{"SENTE_SEND_TIMEOUT"},
				Usage: "give up connecting, or waiting for a reply or an --expect event, after `DURATION` (0 = no limit)"},
		},
		Action: func(c *cli.Context) error {
			log, err := clientLogger(c)
			if err != nil {
				return err
			}
			return exitError(sendcmd.Run(c.Context, sendcmd.Options{
				URL: c.String("url"), Args: c.Args().Slice(),
				Reply: c.Bool("reply"), Expect: c.String("expect"), Timeout: c.Duration("timeout"),
				Logger: log, Stdin: os.Stdin, Stdout: c.App.Writer, Stderr: c.App.ErrWriter,
			}))
		},
	}
}
