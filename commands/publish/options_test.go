package publish_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/sente-clj/sente/commands/publish"
	"github.com/sente-clj/sente/commands/send"
	"github.com/sente-clj/sente/internal/testutil"
	"github.com/sente-clj/sente/internal/tlsclient"
)

func TestOptionsFromArgv(t *testing.T) {
	type flags struct {
		URL                       string
		Args                      []string
		ExcludeSelf, Ack, Verbose bool
		Timeout                   time.Duration
		TLS                       tlsclient.Options
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		argv []string
		want flags
	}{
		{"defaults", nil, []string{"news"}, flags{URL: send.DefaultURL, Args: []string{"news"}, Timeout: send.DefaultTimeout}},
		{"every flag", nil, []string{"--url", "h:1", "--exclude-self", "--ack", "--verbose", "--timeout", "2s", "--tls-ca", "ca.pem", "--insecure", "news", "{:a 1}"},
			flags{URL: "h:1", Args: []string{"news", "{:a 1}"}, ExcludeSelf: true, Ack: true, Verbose: true, Timeout: 2 * time.Second,
				TLS: tlsclient.Options{CAFile: "ca.pem", Insecure: true}}},
		{"environment", map[string]string{"SENTE_CHSK_URL": "h:2", "SENTE_PUBLISH_EXCLUDE_SELF": "true", "SENTE_PUBLISH_ACK": "true", "SENTE_PUBLISH_VERBOSE": "true", "SENTE_PUBLISH_TIMEOUT": "0",
			"SENTE_TLS_CA": "ca2.pem", "SENTE_INSECURE": "true"},
			[]string{"news"}, flags{URL: "h:2", Args: []string{"news"}, ExcludeSelf: true, Ack: true, Verbose: true, TLS: tlsclient.Options{CAFile: "ca2.pem", Insecure: true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := testutil.ParseOptions(t, publish.NewCommand, tc.env, tc.argv...)
			if f := (flags{got.URL, got.Args, got.ExcludeSelf, got.Ack, got.Verbose, got.Timeout, got.TLS}); !reflect.DeepEqual(f, tc.want) {
				t.Errorf("got  %+v\nwant %+v", f, tc.want)
			}
		})
	}
}
