package publish_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"olympos.io/encoding/edn"

	"github.com/sente-clj/sente/commands/publish"
	"github.com/sente-clj/sente/gateway"
	"github.com/sente-clj/sente/internal/gatewaytest"
	"github.com/sente-clj/sente/sentelite"
	"github.com/sente-clj/sente/wire"
)

func startGateway(t *testing.T) *gateway.Server {
	t.Helper()
	return gatewaytest.Start(t, nil).Server
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

// subscriber is a sentelite client subscribed to channel, collecting data.
func subscriber(t *testing.T, url, channel string) chan any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := sentelite.Dial(ctx, sentelite.DefaultOptions(url))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	got := make(chan any, 16)
	c.OnChannel(channel, func(m sentelite.ChannelMessage) { got <- m.Data })
	if err := c.Subscribe(ctx, channel); err != nil {
		t.Fatal(err)
	}
	return got
}

func next(t *testing.T, ch chan any) any {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("no message within 5s")
		return nil
	}
}

func TestPublish(t *testing.T) {
	srv := startGateway(t)
	url := chskURL(srv)
	got := subscriber(t, url, "news")

	var out bytes.Buffer
	err := publish.Run(context.Background(), publish.Options{URL: url, Args: []string{"news", `{:headline "hi"}`},
		Timeout: 5 * time.Second, Stdout: &out, Stderr: io.Discard})
	if err != nil || out.String() != "" {
		t.Fatalf("publish: %v, stdout %q", err, out.String())
	}
	if v := next(t, got); wire.Get(v, "headline") != "hi" {
		t.Errorf("got %#v", v)
	}

	out.Reset()
	err = publish.Run(context.Background(), publish.Options{URL: url, Args: []string{"news"}, Ack: true, Verbose: true, ExcludeSelf: true,
		Stdin: strings.NewReader("1\n\n; skipped\n:two\n[3]\n"), Timeout: 5 * time.Second, Stdout: &out, Stderr: io.Discard})
	if err != nil || out.String() != "delivered to 1\ndelivered to 1\ndelivered to 1\n" {
		t.Fatalf("publish from stdin: %v, stdout %q", err, out.String())
	}
	for _, want := range []string{"1", ":two", "[3]"} {
		b, _ := wire.Print(next(t, got))
		if string(b) != want {
			t.Errorf("got %s, want %s", b, want)
		}
	}

	// A bad line stops the stream; what came before it was published.
	out.Reset()
	err = publish.Run(context.Background(), publish.Options{URL: url, Args: []string{"news"}, Ack: true, Verbose: true,
		Stdin: strings.NewReader("4\n{:a}\n5\n"), Timeout: 5 * time.Second, Stdout: &out, Stderr: io.Discard})
	if exitCode(err) != 2 || !strings.HasPrefix(err.Error(), "invalid EDN on stdin line 2") || out.String() != "delivered to 1\n" {
		t.Errorf("bad line: %v (exit %d), stdout %q", err, exitCode(err), out.String())
	}
	if v := next(t, got); v != int64(4) {
		t.Errorf("got %#v", v)
	}
}

func TestErrors(t *testing.T) {
	srv := startGateway(t)
	url := chskURL(srv)
	tests := []struct {
		name string
		o    publish.Options
		code int
		msg  string
	}{
		{"bad EDN", publish.Options{URL: "ws://127.0.0.1:1/chsk", Args: []string{"news", "[1 2 ]]"}}, 2,
			"\\Ainvalid EDN in argument 2 at byte 7: unexpected data after the value; a frame holds exactly one EDN value\n  \\[1 2 \\]\\]\n        \\^\\z"},
		{"nothing there", publish.Options{URL: "ws://127.0.0.1:1/chsk", Args: []string{"news", "1"}}, 2,
			`\Aconnect to ws://127\.0\.0\.1:1/chsk: connection refused\z`},
		{"no channel", publish.Options{URL: url}, 2, `name the CHANNEL`},
		{"empty channel", publish.Options{URL: url, Args: []string{"", "1"}}, 2, `the channel name is empty`},
		{"too many", publish.Options{URL: url, Args: []string{"news", "1", "2"}}, 2, `unexpected argument "2"`},
		{"no stdin", publish.Options{URL: url, Args: []string{"news"}}, 2, `no EDN value given`},
		{"negative timeout", publish.Options{URL: url, Args: []string{"news", "1"}, Timeout: -1}, 2, `is negative`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.o.Stdout, tt.o.Stderr = io.Discard, io.Discard
			if tt.o.Timeout == 0 {
				tt.o.Timeout = 5 * time.Second
			}
			err := publish.Run(context.Background(), tt.o)
			if exitCode(err) != tt.code || err == nil || !regexp.MustCompile(tt.msg).MatchString(err.Error()) {
				t.Errorf("%v (exit %d), want exit %d /%s/", err, exitCode(err), tt.code, tt.msg)
			}
		})
	}
}

// fakeServer speaks just enough sente-lite: a handshake, then answer decides
// what each callback request gets ("" for nothing).
func fakeServer(t *testing.T, answer func(cb string) string) string {
	t.Helper()
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		_ = conn.WriteMessage(websocket.TextMessage, []byte(`[:chsk/handshake ["uid-1" "csrf" nil true]]`))
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				return
			}
			f, err := wire.DecodeFrame(data, wire.DefaultLimits())
			if err != nil || f.Kind != wire.KindCallback {
				continue
			}
			if a := answer(f.CallbackID); a != "" {
				_ = conn.WriteMessage(websocket.TextMessage, []byte(a))
			}
		}
	}))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/chsk"
}

func TestServerAnswers(t *testing.T) {
	tests := []struct {
		name   string
		answer func(cb string) string
		code   int
		msg    string
		stdout string
	}{
		{"refused", func(cb string) string {
			b, _ := wire.EncodeReply(map[edn.Keyword]any{"channel-id": "news", "success": false, "error": "not allowed"}, cb)
			return string(b)
		}, 1, `\Athe server refused to publish on "news": not allowed\z`, ""},
		{"never answers", func(string) string { return "" }, 1, `\Ano answer to publishing on "news" within 200ms \(--timeout\): a server that never answers the callback form \(sente-lite's published servers do not\) takes sente publish without --ack\z`, ""},
		{"answers without a count", func(cb string) string { return `[true "` + cb + `"]` }, 0, ``, "published\n"},
		{"drops the connection", nil, 2, `\Alost the connection to ws://`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var url string
			if tt.answer == nil {
				up := websocket.Upgrader{}
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					conn, err := up.Upgrade(w, r, nil)
					if err != nil {
						return
					}
					_ = conn.WriteMessage(websocket.TextMessage, []byte(`[:chsk/handshake ["uid-1" "csrf"]]`))
					_, _, _ = conn.ReadMessage()
					conn.Close()
				}))
				t.Cleanup(srv.Close)
				url = "ws" + strings.TrimPrefix(srv.URL, "http") + "/chsk"
			} else {
				url = fakeServer(t, tt.answer)
			}
			var out bytes.Buffer
			err := publish.Run(context.Background(), publish.Options{URL: url, Args: []string{"news", "1"}, Ack: true, Verbose: true,
				Timeout: 200 * time.Millisecond, Stdout: &out, Stderr: io.Discard})
			if exitCode(err) != tt.code || (err != nil && !regexp.MustCompile(tt.msg).MatchString(err.Error())) {
				t.Errorf("%v (exit %d), want exit %d /%s/", err, exitCode(err), tt.code, tt.msg)
			}
			if out.String() != tt.stdout {
				t.Errorf("stdout %q, want %q", out.String(), tt.stdout)
			}
		})
	}
}
