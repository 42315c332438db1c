package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sente-clj/sente/commands/publish"
	"github.com/sente-clj/sente/commands/send"
	"github.com/sente-clj/sente/sentelite"
)

// TestSenteToolsAgainstSeedServer runs sente's command-line tools (the code
// behind sente publish and sente send) and its Go client against a server
// that behaves as sente-lite's published nbb server does (testdata/nbb/seed_server.cljs):
// it never answers the callback form.
func TestSenteToolsAgainstSeedServer(t *testing.T) {
	srv := nbbHubRun(t, "seed_server.cljs")
	port, ok := srv.expect("port").(int64)
	if !ok {
		t.Fatal("the sente-lite nbb server printed no port")
	}
	url := fmt.Sprintf("ws://127.0.0.1:%d/chsk", port)

	ctx, cancel := context.WithTimeout(context.Background(), nbbHubBound)
	defer cancel()
	sub, err := sentelite.Dial(ctx, sentelite.DefaultOptions(url))
	if err != nil {
		t.Fatalf("the Go client cannot connect to the sente-lite nbb server: %v", err)
	}
	defer sub.Close()
	got := make(chan any, 16)
	sub.OnChannel("news", func(m sentelite.ChannelMessage) { got <- m.Data })
	if err := sub.Subscribe(ctx, "news"); err != nil {
		t.Fatalf("subscribe on the sente-lite nbb server: %v", err)
	}
	exitCode := func(err error) int {
		var ec interface{ ExitCode() int }
		if errors.As(err, &ec) {
			return ec.ExitCode()
		}
		return -1
	}

	for _, tc := range []struct {
		name     string
		run      func(out io.Writer) error
		wantCode int
		wantErr  string // the one line printed, in part
		wantOut  string
		wantData []string // what the subscriber gets, printed with %v
	}{
		{"publish, one value", func(out io.Writer) error {
			return publish.Run(ctx, publish.Options{URL: url, Args: []string{"news", `{:n 1}`}, Timeout: 5 * time.Second, Stdout: out, Stderr: io.Discard})
		}, 0, "", "", []string{"map[:n:1]"}},
		{"publish from stdin, verbose", func(out io.Writer) error {
			return publish.Run(ctx, publish.Options{URL: url, Args: []string{"news"}, Verbose: true, Stdin: strings.NewReader("2\n3\n"),
				Timeout: 5 * time.Second, Stdout: out, Stderr: io.Discard})
		}, 0, "", "sent\nsent\n", []string{"2", "3"}},
		{"publish --ack to a server that never answers", func(out io.Writer) error {
			return publish.Run(ctx, publish.Options{URL: url, Args: []string{"news", "4"}, Ack: true, Timeout: 500 * time.Millisecond, Stdout: out, Stderr: io.Discard})
		}, 1, `no answer to publishing on "news" within 500ms (--timeout): a server that never answers the callback form`, "", nil},
		{"send --reply to a server that never answers", func(out io.Writer) error {
			return send.Run(ctx, send.Options{URL: url, Args: []string{"my-app/question", "[1 2]"}, Reply: true, Timeout: 500 * time.Millisecond, Stdout: out, Stderr: io.Discard})
		}, 1, "no reply to :my-app/question within 500ms (--timeout): the server may not answer the callback form", "", nil},
		{"send --expect the echo", func(out io.Writer) error {
			return send.Run(ctx, send.Options{URL: url, Args: []string{"my-app/hello", `"hi"`}, Expect: "sente-lite/echo", Timeout: 5 * time.Second, Stdout: out, Stderr: io.Discard})
		}, 0, "", "[:sente-lite/echo {", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := tc.run(&out)
			if code := exitCode(err); err != nil && code != tc.wantCode || err == nil && tc.wantCode != 0 {
				t.Fatalf("%v (exit %d), want exit %d", err, code, tc.wantCode)
			}
			if err != nil {
				if msg := err.Error(); !strings.Contains(msg, tc.wantErr) || strings.Contains(msg, "\n") {
					t.Errorf("error %q: want one line containing %q", msg, tc.wantErr)
				}
			}
			if !strings.HasPrefix(out.String(), tc.wantOut) || (tc.wantOut == "" && out.Len() > 0) {
				t.Errorf("stdout %q, want %q", out.String(), tc.wantOut)
			}
			for _, want := range tc.wantData {
				select {
				case v := <-got:
					if s := strings.ReplaceAll(fmt.Sprint(v), " ", ""); s != strings.ReplaceAll(want, " ", "") {
						t.Errorf("subscriber got %s, want %s", s, want)
					}
				case <-time.After(nbbHubBound):
					t.Fatalf("the subscriber got nothing; want %s", want)
				}
			}
		})
	}
	select {
	case v := <-got:
		t.Errorf("the subscriber got %v, which nothing published without --ack sent", v)
	default:
	}
}
