package subscribe_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"regexp"
	"strings"
	"testing"
	"time"

	"olympos.io/encoding/edn"

	"github.com/sente-clj/sente/commands/subscribe"
	"github.com/sente-clj/sente/gateway"
	"github.com/sente-clj/sente/internal/gatewaytest"
	"github.com/sente-clj/sente/internal/testutil"
	"github.com/sente-clj/sente/sentelite"
	"github.com/sente-clj/sente/wire"
)

type testGateway struct {
	srv *gatewaytest.Gateway
	t   *testing.T
}

func startGateway(t *testing.T, tweak func(*gateway.Config)) *testGateway {
	t.Helper()
	return &testGateway{srv: gatewaytest.Start(t, tweak), t: t}
}

func (g *testGateway) stop()       { g.srv.Stop(g.t) }
func (g *testGateway) URL() string { return g.srv.ChskURL() }

// publish sends values to channel from a client of its own.
func (g *testGateway) publish(t *testing.T, channel string, values ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
	defer cancel()
	o := sentelite.DefaultOptions(g.URL())
	o.Reconnect = false
	c, err := sentelite.Dial(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, v := range values {
		if _, err := c.Request(ctx, wire.Event{ID: wire.EvPublish, HasData: true,
			Data: map[edn.Keyword]any{"channel-id": channel, "data": v}}); err != nil {
			t.Fatal(err)
		}
	}
}

type running struct {
	stdout, stderr *testutil.Buffer
	done           chan error
}

// start runs the command in the background and waits until it says it subscribed.
func start(t *testing.T, ctx context.Context, o subscribe.Options) *running {
	t.Helper()
	r := &running{stdout: &testutil.Buffer{}, stderr: &testutil.Buffer{}, done: make(chan error, 1)}
	o.Stdout, o.Stderr = r.stdout, r.stderr
	go func() { r.done <- subscribe.Run(ctx, o) }()
	r.waitStderr(t, "sente: subscribed to ")
	return r
}

func (r *running) waitStderr(t *testing.T, substr string) {
	t.Helper()
	var ended error
	said := func() bool {
		if strings.Contains(r.stderr.String(), substr) {
			return true
		}
		select {
		case ended = <-r.done:
			return true // and fails below
		default:
			return false
		}
	}
	if !testutil.Poll(context.Background(), 0, said) {
		t.Fatalf("stderr did not say %q within %v:\n%s", substr, testutil.Patience, r.stderr.String())
	}
	if !strings.Contains(r.stderr.String(), substr) {
		t.Fatalf("ended (%v) before stderr said %q; stderr:\n%s", ended, substr, r.stderr.String())
	}
}

func (r *running) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.done:
		return err
	case <-time.After(2 * testutil.Patience): // beyond the command's own --timeout
		t.Fatalf("sente subscribe did not end within %v", 2*testutil.Patience)
		return nil
	}
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ec interface{ ExitCode() int }
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return -1
}

func TestCountEDN(t *testing.T) {
	g := startGateway(t, nil)
	r := start(t, context.Background(), subscribe.Options{URL: g.URL(), Channels: []string{"news", "sport", "news"}, Count: 3, Timeout: testutil.Patience})
	g.publish(t, "news", map[edn.Keyword]any{"headline": "hi"}, int64(2))
	g.publish(t, "other", "not subscribed")
	g.publish(t, "sport", []any{edn.Keyword("goal")})
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
	if got, want := r.stdout.String(), "{:headline \"hi\"}\n2\n[:goal]\n"; got != want {
		t.Errorf("stdout %q, want %q", got, want)
	}
	if got, want := r.stderr.String(), "sente: subscribed to news, sport\n"; got != want {
		t.Errorf("stderr %q, want %q", got, want)
	}
}

func TestJSON(t *testing.T) {
	g := startGateway(t, nil)
	r := start(t, context.Background(), subscribe.Options{URL: g.URL(), Channels: []string{"news"}, Count: 1, JSON: true, Timeout: testutil.Patience})
	g.publish(t, "news", map[edn.Keyword]any{"user-id": 1, "status": edn.Keyword("ok")})
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`\A\{"channel":"news","from":"[0-9a-f]{32}","data":\{"status":":ok","user-id":1\}\}\n\z`)
	if !re.MatchString(r.stdout.String()) {
		t.Errorf("stdout %q", r.stdout.String())
	}
}

func TestTimeoutAndInterrupt(t *testing.T) {
	g := startGateway(t, nil)
	// --timeout without --count: a normal end.
	r := start(t, context.Background(), subscribe.Options{URL: g.URL(), Channels: []string{"q"}, Timeout: 200 * time.Millisecond})
	if err := r.wait(t); err != nil {
		t.Errorf("timeout without count: %v", err)
	}
	// --timeout before --count messages: exit 1.
	r = start(t, context.Background(), subscribe.Options{URL: g.URL(), Channels: []string{"q"}, Count: 2, Timeout: 300 * time.Millisecond})
	g.publish(t, "q", 1)
	err := r.wait(t)
	if exitCode(err) != 1 || err.Error() != "--timeout 300ms passed after 1 of 2 messages" {
		t.Errorf("timeout with count unmet: %v (exit %d)", err, exitCode(err))
	}
	// Ctrl-C: a normal end.
	ctx, cancel := context.WithCancel(context.Background())
	r = start(t, ctx, subscribe.Options{URL: g.URL(), Channels: []string{"q"}, Count: 5})
	cancel()
	if err := r.wait(t); err != nil {
		t.Errorf("interrupted: %v", err)
	}
}

func TestErrors(t *testing.T) {
	g := startGateway(t, func(c *gateway.Config) { c.MaxSubscriptions = 1 })
	tests := []struct {
		name string
		o    subscribe.Options
		code int
		msg  string
	}{
		{"refused", subscribe.Options{URL: g.URL(), Channels: []string{"a", "b"}}, 1,
			`\Acould not subscribe to "b": refused: subscription limit \(1 per connection\) reached\z`},
		{"nothing there", subscribe.Options{URL: "ws://127.0.0.1:1/chsk", Channels: []string{"a"}}, 2,
			`\Aconnect to ws://127\.0\.0\.1:1/chsk: connection refused\z`},
		{"no channel", subscribe.Options{URL: g.URL()}, 2, `name at least one CHANNEL`},
		{"empty channel", subscribe.Options{URL: g.URL(), Channels: []string{""}}, 2, `a channel name is empty`},
		{"negative count", subscribe.Options{URL: g.URL(), Channels: []string{"a"}, Count: -1}, 2, `--count -1 is negative`},
		{"bad url", subscribe.Options{URL: "gopher://x", Channels: []string{"a"}}, 2, `scheme must be ws://`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr testutil.Buffer
			tt.o.Stdout, tt.o.Stderr = &stdout, &stderr
			err := subscribe.Run(context.Background(), tt.o)
			if exitCode(err) != tt.code || err == nil || !regexp.MustCompile(tt.msg).MatchString(err.Error()) {
				t.Errorf("%v (exit %d), want exit %d /%s/", err, exitCode(err), tt.code, tt.msg)
			}
			if stdout.String() != "" {
				t.Errorf("stdout %q", stdout.String())
			}
		})
	}
}

func TestResubscribesAfterReconnect(t *testing.T) {
	g1 := startGateway(t, nil)
	port := g1.srv.HTTPAddr().Port
	r := start(t, context.Background(), subscribe.Options{URL: g1.URL(), Channels: []string{"news"}, Count: 2, Timeout: testutil.Patience})
	g1.publish(t, "news", "before")
	g1.stop()
	r.waitStderr(t, "; reconnecting\n")
	g2 := startGateway(t, func(c *gateway.Config) { c.HTTPPort = port })
	r.waitStderr(t, "; resubscribed to news\n")
	g2.publish(t, "news", "after")
	if err := r.wait(t); err != nil {
		t.Fatal(err)
	}
	if got := r.stdout.String(); got != "\"before\"\n\"after\"\n" {
		t.Errorf("stdout %q", got)
	}
	re := regexp.MustCompile(`\Asente: subscribed to news\n` +
		`sente: connection to ws://127\.0\.0\.1:\d+/chsk lost \([^\n]*\); reconnecting\n` +
		`sente: reconnected \(uid [0-9a-f]{32}\); resubscribed to news\n\z`)
	if !re.MatchString(r.stderr.String()) {
		t.Errorf("stderr:\n%s", r.stderr.String())
	}
}

func TestToJSON(t *testing.T) {
	big, _ := new(big.Int).SetString("123456789012345678901234567890", 10)
	in := map[any]any{
		edn.Keyword("user-id"):     int64(1),
		edn.Keyword("my-app/kind"): edn.Keyword("my-app/thing"),
		"string-key":               "s",
		int64(7):                   "number key",
		edn.Keyword("set"):         map[any]bool{edn.Keyword("b"): true, edn.Keyword("a"): true, "x": false},
		edn.Keyword("vec"):         []any{nil, true, 1.5, edn.Symbol("sym"), edn.Rune('c')},
		edn.Keyword("floats"):      []any{math.NaN(), math.Inf(1), math.Inf(-1)},
		edn.Keyword("big"):         big,
		edn.Keyword("inst"):        time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
		edn.Keyword("uuid"):        wire.Tagged{Tag: "uuid", Value: "f81d4fae-7dec-11d0-a765-00a0c91e6bf6"},
		edn.Keyword("tagged"):      wire.Tagged{Tag: "my/tag", Value: []any{int64(1)}},
	}
	b, err := json.Marshal(subscribe.ToJSON(in))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"7":"number key","big":123456789012345678901234567890,"floats":["NaN","Infinity","-Infinity"],` +
		`"inst":"2024-01-02T03:04:05Z","my-app/kind":":my-app/thing","set":[":a",":b"],"string-key":"s",` +
		`"tagged":"#my/tag [1]","user-id":1,"uuid":"f81d4fae-7dec-11d0-a765-00a0c91e6bf6",` +
		`"vec":[null,true,1.5,"sym","c"]}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}
