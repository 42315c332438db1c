package subscribe_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/sente-clj/sente/commands/send"
	"github.com/sente-clj/sente/commands/subscribe"
	"github.com/sente-clj/sente/internal/testutil"
	"github.com/sente-clj/sente/internal/tlsclient"
)

func TestOptionsFromArgv(t *testing.T) {
	type flags struct {
		URL      string
		Channels []string
		Count    int
		Timeout  time.Duration
		JSON     bool
		TLS      tlsclient.Options
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		argv []string
		want flags
	}{
		{"defaults", nil, []string{"news"}, flags{URL: send.DefaultURL, Channels: []string{"news"}}},
		{"every flag", nil, []string{"--url", "h:1", "--count", "3", "--timeout", "2s", "--json", "--tls-ca", "ca.pem", "--insecure", "news", "sport"},
			flags{URL: "h:1", Channels: []string{"news", "sport"}, Count: 3, Timeout: 2 * time.Second, JSON: true,
				TLS: tlsclient.Options{CAFile: "ca.pem", Insecure: true}}},
		{"environment", map[string]string{"SENTE_CHSK_URL": "h:2", "SENTE_SUBSCRIBE_COUNT": "4", "SENTE_SUBSCRIBE_TIMEOUT": "1m", "SENTE_SUBSCRIBE_JSON": "true",
			"SENTE_TLS_CA": "ca2.pem", "SENTE_INSECURE": "true"},
			[]string{"news"}, flags{URL: "h:2", Channels: []string{"news"}, Count: 4, Timeout: time.Minute, JSON: true, TLS: tlsclient.Options{CAFile: "ca2.pem", Insecure: true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := testutil.ParseOptions(t, subscribe.NewCommand, tc.env, tc.argv...)
			if f := (flags{got.URL, got.Channels, got.Count, got.Timeout, got.JSON, got.TLS}); !reflect.DeepEqual(f, tc.want) {
				t.Errorf("got  %+v\nwant %+v", f, tc.want)
			}
		})
	}
}
