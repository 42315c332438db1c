package runtimes_test

import (
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/sente-clj/sente/commands/runtimes"
	"github.com/sente-clj/sente/internal/testutil"
	"github.com/sente-clj/sente/internal/tlsclient"
)

func TestOptionsFromArgv(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		argv []string
		want runtimes.Options
	}{
		{"defaults", nil, nil, runtimes.Options{URL: "http://127.0.0.1:1340", Timeout: 5 * time.Second}},
		{"every flag", nil, []string{"--url", "https://h:1", "--json", "--timeout", "2s", "--tls-ca", "ca.pem", "--insecure"},
			runtimes.Options{URL: "https://h:1", JSON: true, Timeout: 2 * time.Second, TLS: tlsclient.Options{CAFile: "ca.pem", Insecure: true}}},
		{"environment", map[string]string{"SENTE_URL": "h:2", "SENTE_JSON": "true", "SENTE_TIMEOUT": "1m", "SENTE_TLS_CA": "ca2.pem", "SENTE_INSECURE": "true"}, nil,
			runtimes.Options{URL: "h:2", JSON: true, Timeout: time.Minute, TLS: tlsclient.Options{CAFile: "ca2.pem", Insecure: true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testutil.ClearEnv(t, "SENTE_")
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var got *runtimes.Options
			cmd := runtimes.NewCommand(func(_ *cli.Context, o *runtimes.Options) error { got = o; return nil })
			if err := testutil.RunCommand(cmd, tc.argv...); err != nil {
				t.Fatal(err)
			}
			if *got != tc.want {
				t.Errorf("got  %+v\nwant %+v", *got, tc.want)
			}
		})
	}
	for _, argv := range [][]string{{"--timeout", "x"}, {"--no-such-flag"}} {
		cmd := runtimes.NewCommand(func(*cli.Context, *runtimes.Options) error { t.Errorf("%q ran", argv); return nil })
		if err, ok := testutil.RunCommand(cmd, argv...).(cli.ExitCoder); !ok || err.ExitCode() != 2 {
			t.Errorf("%q: %v, want a usage error (exit status 2)", argv, err)
		}
	}
}
