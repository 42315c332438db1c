package runtimes_test

import (
	"testing"
	"time"

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
			got := testutil.ParseOptions(t, runtimes.NewCommand, tc.env, tc.argv...)
			if *got != tc.want {
				t.Errorf("got  %+v\nwant %+v", *got, tc.want)
			}
		})
	}
	for _, argv := range [][]string{{"--timeout", "x"}, {"--no-such-flag"}} {
		testutil.RefusesUsage(t, runtimes.NewCommand, argv...)
	}
}
