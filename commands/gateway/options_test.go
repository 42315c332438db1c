package gateway_test

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	gatewaycmd "github.com/sente-clj/sente/commands/gateway"
	gw "github.com/sente-clj/sente/gateway"
	"github.com/sente-clj/sente/internal/testutil"
)

func TestOptionsFromArgv(t *testing.T) {
	scittle := t.TempDir()
	if err := os.WriteFile(filepath.Join(scittle, "scittle.js"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	with := func(change func(c *gw.Config)) gw.Config {
		c := gw.DefaultConfig()
		change(&c)
		return c
	}
	every := []string{"--host", "0.0.0.0", "--nrepl-port", "1", "--port", "2", "--port-file", "", "--scittle", scittle,
		"--runtime-wait", "1s", "--eval-timeout", "0", "--allow-origin", "https://a", "--allow-origin", "https://*.b",
		"--max-nrepl-message", "1KiB", "--csrf-token", "tok", "--heartbeat-interval", "3s", "--heartbeat-timeout", "4s",
		"--max-message-bytes", "2048", "--max-connections", "5", "--max-subscriptions", "6", "--max-subscribers", "7",
		"--client-queue", "8", "--batch=false", "--tls-cert", "c.pem", "--tls-key", "k.pem", "--tls-self-signed", "--tls-dir", "d",
		"--tls-name", "pc.local", "--tls-name", "10.0.0.2", "--nats", "nats://n:4222", "--nats-buffer", "1MiB"}
	everyConfig := func(c *gw.Config) {
		c.Host, c.NREPLPort, c.HTTPPort, c.PortFile, c.Scittle = "0.0.0.0", 1, 2, "", scittle
		c.RuntimeWait, c.EvalTimeout, c.AllowOrigins = time.Second, 0, []string{"https://a", "https://*.b"}
		c.MaxNREPLMessage, c.CSRFToken, c.HeartbeatInterval, c.HeartbeatTimeout = 1024, "tok", 3*time.Second, 4*time.Second
		c.MaxMessageBytes, c.MaxConnections, c.MaxSubscriptions, c.MaxSubscribers = 2048, 5, 6, 7
		c.ClientQueue, c.Batch = 8, false
		c.TLS = gw.TLSConfig{CertFile: "c.pem", KeyFile: "k.pem", SelfSigned: true, Dir: "d", Names: []string{"pc.local", "10.0.0.2"}}
		c.NATS.URL, c.NATS.ReconnectBuffer = "nats://n:4222", 1<<20
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		argv []string
		want gw.Config
	}{
		{"defaults are the config's", nil, nil, gw.DefaultConfig()},
		{"every flag", nil, every, with(everyConfig)},
		{"environment", map[string]string{"SENTE_HOST": "0.0.0.0", "SENTE_NREPL_PORT": "1", "SENTE_PORT": "2", "SENTE_PORT_FILE": "",
			"SENTE_SCITTLE": scittle, "SENTE_RUNTIME_WAIT": "1s", "SENTE_EVAL_TIMEOUT": "0", "SENTE_ALLOW_ORIGIN": "https://a,https://*.b",
			"SENTE_MAX_NREPL_MESSAGE": "1KiB", "SENTE_CSRF_TOKEN": "tok", "SENTE_HEARTBEAT_INTERVAL": "3s", "SENTE_HEARTBEAT_TIMEOUT": "4s",
			"SENTE_MAX_MESSAGE_BYTES": "2048", "SENTE_MAX_CONNECTIONS": "5", "SENTE_MAX_SUBSCRIPTIONS": "6", "SENTE_MAX_SUBSCRIBERS": "7",
			"SENTE_CLIENT_QUEUE": "8", "SENTE_BATCH": "false", "SENTE_TLS_CERT": "c.pem", "SENTE_TLS_KEY": "k.pem",
			"SENTE_TLS_SELF_SIGNED": "true", "SENTE_TLS_DIR": "d", "SENTE_TLS_NAME": "pc.local,10.0.0.2", "SENTE_NATS": "nats://n:4222",
			"SENTE_NATS_BUFFER": "1MiB"}, nil, with(everyConfig)},
		{"a Scittle URL is taken as it is", nil, []string{"--scittle", "https://example.com/scittle"},
			with(func(c *gw.Config) { c.Scittle = "https://example.com/scittle" })},
		{"sizes", nil, []string{"--max-nrepl-message", "2MiB", "--max-message-bytes", "1GiB"},
			with(func(c *gw.Config) { c.MaxNREPLMessage, c.MaxMessageBytes = 2<<20, 1<<30 })},
		{"nats buffer", nil, []string{"--nats-buffer", "1GiB"}, with(func(c *gw.Config) { c.NATS.ReconnectBuffer = 1 << 30 })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := testutil.ParseOptions(t, gatewaycmd.NewCommand, tc.env, tc.argv...)
			if got.Config.Logger == nil {
				t.Error("no logger")
			}
			c, want := got.Config, tc.want
			c.Logger, want.Logger = nil, nil
			if !reflect.DeepEqual(c, want) {
				t.Errorf("got  %+v\nwant %+v", c, want)
			}
		})
	}
}

func TestOptionsRefused(t *testing.T) {
	testutil.ClearEnv(t, "SENTE_")
	for _, argv := range [][]string{
		{"extra"},
		{"--scittle", filepath.Join(t.TempDir(), "missing")},
		{"--scittle", t.TempDir()}, // no scittle.js
		{"--max-nrepl-message", "12XB"},
		{"--max-nrepl-message", "0"},
		{"--max-message-bytes", "2GiB"},
		{"--nats-buffer", "2GiB"},
		{"--nats-buffer", "0"},
		{"--nats-buffer", "lots"},
		{"--port", "x"},
		{"--log-level", "loud"},
	} {
		testutil.RefusesUsage(t, gatewaycmd.NewCommand, argv...)
	}
}
