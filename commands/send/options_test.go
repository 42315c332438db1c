package send_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/sente-clj/sente/commands/send"
	"github.com/sente-clj/sente/internal/testutil"
	"github.com/sente-clj/sente/internal/tlsclient"
)

func TestOptionsFromArgv(t *testing.T) {
	type flags struct {
		URL     string
		Args    []string
		Reply   bool
		Expect  string
		Timeout time.Duration
		TLS     tlsclient.Options
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		argv []string
		want flags
	}{
		{"defaults", nil, nil, flags{URL: send.DefaultURL, Args: []string{}, Timeout: send.DefaultTimeout}},
		{"every flag", nil, []string{"--url", "h:1", "--reply", "--expect", ":a/b", "--timeout", "2s", "--tls-ca", "ca.pem", "--insecure", ":my/ev", "{:a 1}"},
			flags{URL: "h:1", Args: []string{":my/ev", "{:a 1}"}, Reply: true, Expect: ":a/b", Timeout: 2 * time.Second,
				TLS: tlsclient.Options{CAFile: "ca.pem", Insecure: true}}},
		{"environment", map[string]string{"SENTE_CHSK_URL": "h:2", "SENTE_SEND_REPLY": "true", "SENTE_SEND_EXPECT": ":c/d", "SENTE_SEND_TIMEOUT": "0",
			"SENTE_TLS_CA": "ca2.pem", "SENTE_INSECURE": "true"},
			nil, flags{URL: "h:2", Args: []string{}, Reply: true, Expect: ":c/d", TLS: tlsclient.Options{CAFile: "ca2.pem", Insecure: true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := testutil.ParseOptions(t, send.NewCommand, tc.env, tc.argv...)
			if f := (flags{got.URL, got.Args, got.Reply, got.Expect, got.Timeout, got.TLS}); !reflect.DeepEqual(f, tc.want) {
				t.Errorf("got  %+v\nwant %+v", f, tc.want)
			}
		})
	}
}
