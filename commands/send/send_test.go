package send_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sente-clj/sente/commands/send"
	"github.com/sente-clj/sente/gateway"
	"github.com/sente-clj/sente/internal/gatewaytest"
)

// startGateway runs a real gateway in this process on free ports.
func startGateway(t *testing.T, tweak func(*gateway.Config)) *gateway.Server {
	t.Helper()
	return gatewaytest.Start(t, tweak).Server
}

func chskURL(srv *gateway.Server) string { return "ws://" + srv.HTTPAddr().String() + "/chsk" }

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

type result struct {
	stdout string
	err    error
}

func run(t *testing.T, o send.Options) result {
	t.Helper()
	var out, errw bytes.Buffer
	o.Stdout, o.Stderr = &out, &errw
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	err := send.Run(context.Background(), o)
	if errw.Len() > 0 {
		t.Errorf("stderr: %q", errw.String())
	}
	return result{out.String(), err}
}

func TestRunAgainstGateway(t *testing.T) {
	srv := startGateway(t, nil)
	url := chskURL(srv)
	echo := `\[:sente-lite/echo \{:conn-id "[0-9a-f]{32}", :original-data %s, :original-event-id %s, :timestamp \d+\}\]\n`
	tests := []struct {
		name   string
		o      send.Options
		stdout string // a regexp, matched whole
		code   int
	}{
		{"expect the echo", send.Options{Args: []string{":my-app/hello", `{:a [1 "x"]}`}, Expect: ":sente-lite/echo"},
			sprintf(echo, `\{:a \[1 "x"\]\}`, ":my-app/hello"), 0},
		{"no colon, no data", send.Options{Args: []string{"my-app/bare"}, Expect: "sente-lite/echo"},
			sprintf(echo, "nil", ":my-app/bare"), 0},
		{"plain send prints nothing", send.Options{Args: []string{"my-app/x", "1"}}, ``, 0},
		{"reply", send.Options{Args: []string{"my-app/q", "#{1}"}, Reply: true},
			`\{:conn-id "[0-9a-f]{32}", :original-data #\{1\}, :original-event-id :my-app/q, :timestamp \d+\}\n`, 0},
		{"ping reply", send.Options{Args: []string{"chsk/ws-ping"}, Reply: true}, "true\n", 0},
		{"pong expected", send.Options{Args: []string{"chsk/ws-ping"}, Expect: "chsk/ws-pong"}, `\[:chsk/ws-pong\]\n`, 0},
		{"reply and expect", send.Options{Args: []string{"chsk/ws-ping"}, Reply: true, Expect: "sente-lite/error", Timeout: 200 * time.Millisecond},
			"true\n", 1},
		{"stdin", send.Options{Stdin: strings.NewReader("[:my-app/a 1]\n\n  ; c\n[:my-app/b]\r\n"), Expect: "sente-lite/echo"},
			sprintf(echo, "1", ":my-app/a") + sprintf(echo, "nil", ":my-app/b"), 0},
		{"stdin with reply", send.Options{Stdin: strings.NewReader("[:my-app/a 1]\n[:my-app/b 2]\n"), Reply: true},
			`\{[^\n]*:original-data 1,[^\n]*\}\n\{[^\n]*:original-data 2,[^\n]*\}\n`, 0},
		{"http URL", send.Options{URL: "http://" + srv.HTTPAddr().String(), Args: []string{"chsk/ws-ping"}, Reply: true}, "true\n", 0},
		{"no scheme", send.Options{URL: srv.HTTPAddr().String(), Args: []string{"chsk/ws-ping"}, Reply: true}, "true\n", 0},
		{"server error event", send.Options{Args: []string{"sente-lite/publish", "{}"}, Expect: "sente-lite/echo"}, ``, 1},
		{"refusing reply", send.Options{Args: []string{"sente-lite/subscribe", "{}"}, Reply: true}, `\{:channel-id "", .*:success false\}\n`, 1},
		{"expect times out", send.Options{Args: []string{"my-app/x"}, Expect: "my-app/never", Timeout: 100 * time.Millisecond}, ``, 1},
		{"bad stdin line", send.Options{Stdin: strings.NewReader("[:my-app/a 1]\n[:my-app/b\n"), Expect: "sente-lite/echo"},
			sprintf(echo, "1", ":my-app/a"), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.o.URL == "" {
				tt.o.URL = url
			}
			r := run(t, tt.o)
			if got := exitCode(r.err); got != tt.code {
				t.Errorf("exit %d (%v), want %d", got, r.err, tt.code)
			}
			if !regexp.MustCompile(`\A` + tt.stdout + `\z`).MatchString(r.stdout) {
				t.Errorf("stdout %q, want /%s/", r.stdout, tt.stdout)
			}
		})
	}
}

func sprintf(format string, args ...any) string {
	for _, a := range args {
		format = strings.Replace(format, "%s", a.(string), 1)
	}
	return format
}

func TestRunErrors(t *testing.T) {
	srv := startGateway(t, nil)
	url := chskURL(srv)
	tests := []struct {
		name string
		o    send.Options
		code int
		msg  string // a regexp the error matches
	}{
		{"nothing there", send.Options{URL: "ws://127.0.0.1:1/chsk", Args: []string{"my-app/x"}}, 2,
			`\Aconnect to ws://127\.0\.0\.1:1/chsk: connection refused\z`},
		{"not namespaced", send.Options{URL: url, Args: []string{"hello"}}, 2, `event id :hello is not namespaced`},
		{"namespace only", send.Options{URL: url, Args: []string{"my-app/"}}, 2, `is not a keyword|is not namespaced`},
		{"not a keyword", send.Options{URL: url, Args: []string{"[x]"}}, 2, `event id "\[x\]" is not a keyword`},
		{"bad --expect", send.Options{URL: url, Args: []string{"my-app/x"}, Expect: "pong"}, 2, `\A--expect: event id :pong is not namespaced`},
		{"bad EDN", send.Options{URL: url, Args: []string{"my-app/x", "[1 2"}}, 2,
			`\Ainvalid EDN in argument 2 at byte 5: unbalanced EDN: unexpected end of input with 1 unclosed\n  \[1 2\n      \^\z`},
		{"too many", send.Options{URL: url, Args: []string{"my-app/x", "1", "2"}}, 2, `unexpected argument "2"`},
		{"bad url", send.Options{URL: "mailto:x", Args: []string{"my-app/x"}}, 2, `\A--url "mailto:x" is not a URL: `},
		{"bad scheme", send.Options{URL: "ftp://h/chsk", Args: []string{"my-app/x"}}, 2, `scheme must be ws:// or wss://`},
		{"negative timeout", send.Options{URL: url, Args: []string{"my-app/x"}, Timeout: -time.Second}, 2, `--timeout -1s is negative`},
		{"no stdin", send.Options{URL: url}, 2, `no EVENT-ID given`},
		{"not sente-lite", send.Options{URL: "ws://" + srv.HTTPAddr().String() + "/health", Args: []string{"my-app/x"}}, 2,
			`server answered HTTP 200 OK, not a WebSocket upgrade`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.o.Stdout, tt.o.Stderr = io.Discard, io.Discard
			if tt.o.Timeout == 0 {
				tt.o.Timeout = 5 * time.Second
			}
			err := send.Run(context.Background(), tt.o)
			if got := exitCode(err); got != tt.code {
				t.Errorf("exit %d (%v), want %d", got, err, tt.code)
			}
			if err != nil && !regexp.MustCompile(tt.msg).MatchString(err.Error()) {
				t.Errorf("error %q, want /%s/", err, tt.msg)
			}
		})
	}
}

func TestInterrupted(t *testing.T) {
	srv := startGateway(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	err := send.Run(ctx, send.Options{URL: chskURL(srv), Args: []string{"my-app/x"}, Expect: "my-app/never",
		Stdout: io.Discard, Stderr: io.Discard})
	if exitCode(err) != 130 {
		t.Errorf("%v (exit %d), want exit 130", err, exitCode(err))
	}
}
