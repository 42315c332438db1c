package main

import (
	"github.com/urfave/cli/v2"

	"github.com/sente-clj/sente/commands/subscribe"
)

func subscribeCommand() *cli.Command {
	return &cli.Command{
		Name:      "subscribe",
		Usage:     "subscribe to sente-lite channels and print their messages",
		UsageText: "sente subscribe [--url URL] [--count N] [--timeout D] [--json] CHANNEL...",
		Description: `Connects to a sente-lite server, subscribes to each CHANNEL and prints the data of
every message published on them, one EDN value a line. Once subscribed it says so on
stderr ("sente: subscribed to news"). When the connection drops it reconnects, with
backoff, and subscribes again (the server keeps nothing of the old connection), saying
so on stderr: "sente: reconnected (uid …); resubscribed to news".

--json prints one JSON object a line instead: {"channel":"news","from":"<publisher's
uid>","data":…}, the data converted from EDN: maps are objects, vectors, lists and sets
arrays; keywords are strings, map keys without the colon ({:user-id 1} is
{"user-id":1}) and other keywords with it (:ok is ":ok", apart from the string "ok");
other map keys, symbols, characters and tagged values are strings (#uuid its string,
#inst RFC 3339); ##NaN and ##±Inf are "NaN", "Infinity", "-Infinity".

It runs until --count messages were printed, --timeout passed, or Ctrl-C.

Exit status: 0 after --count messages, at --timeout when no --count was given, or on
Ctrl-C; 1 a subscribe was refused or not answered, or --timeout passed before --count
messages came; 2 no server to connect to, or bad arguments.

Examples:
   sente subscribe news
   sente subscribe --count 1 --timeout 30s news sport
   sente subscribe --json news | jq .data
   # {"channel":"news","from":"3f9c…","data":{"headline":"hi","tags":[":a",":b"]}}`,
		Flags: []cli.Flag{
			chskURLFlag(),
			tlsCAFlag(), insecureFlag(),
			&cli.IntFlag{Name: "count", EnvVars: []string{"SENTE_SUBSCRIBE_COUNT"},
				Usage: "exit after `N` messages (0 = no limit)"},
			&cli.DurationFlag{Name: "timeout", EnvVars: []string{"SENTE_SUBSCRIBE_TIMEOUT"},
				Usage: "stop listening after `DURATION`: a normal end, unless fewer than --count messages came (0 = no limit)"},
			&cli.BoolFlag{Name: "json", EnvVars: []string{"SENTE_SUBSCRIBE_JSON"},
				Usage: `print {"channel":..,"from":..,"data":..} JSON lines instead of EDN data`},
		},
		Action: func(c *cli.Context) error {
			log, err := clientLogger(c)
			if err != nil {
				return err
			}
			return exitError(subscribe.Run(c.Context, subscribe.Options{
				URL: c.String("url"), Channels: c.Args().Slice(),
				Count: c.Int("count"), Timeout: c.Duration("timeout"), JSON: c.Bool("json"),
				TLS: tlsOptions(c), Logger: log, Stdout: c.App.Writer, Stderr: c.App.ErrWriter,
			}))
		},
	}
}
