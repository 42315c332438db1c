package send_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"olympos.io/encoding/edn"

	"github.com/sente-clj/sente/commands/send"
	"github.com/sente-clj/sente/internal/cliexit"
	"github.com/sente-clj/sente/sentelite"
	"github.com/sente-clj/sente/wire"
)

func TestNormalizeURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ws://127.0.0.1:1340/chsk", "ws://127.0.0.1:1340/chsk"},
		{"127.0.0.1:1340", "ws://127.0.0.1:1340/chsk"},
		{"http://127.0.0.1:1340", "ws://127.0.0.1:1340/chsk"},
		{"http://127.0.0.1:1340/", "ws://127.0.0.1:1340/chsk"},
		{"https://example.com/app/chsk", "wss://example.com/app/chsk"},
		{" wss://h/x?csrf=1 ", "wss://h/x?csrf=1"},
		{"", "!--url is empty"},
		{"ftp://h/chsk", "!scheme must be ws:// or wss://"},
		{"ws:///chsk", "!names no host"},
	}
	for _, tt := range tests {
		got, err := send.NormalizeURL(tt.in)
		if want, ok := strings.CutPrefix(tt.want, "!"); ok {
			if err == nil || !strings.Contains(err.Error(), want) || exitCode(err) != 2 {
				t.Errorf("NormalizeURL(%q) = %q, %v; want exit 2 %q", tt.in, got, err, want)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormalizeURL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestParseEventID(t *testing.T) {
	for in, want := range map[string]edn.Keyword{
		":my-app/hello": "my-app/hello", "my-app/hello": "my-app/hello",
		"a.b/c-d?": "a.b/c-d?", ":sente-lite/echo": "sente-lite/echo",
	} {
		if got, err := send.ParseEventID(in); err != nil || got != want {
			t.Errorf("ParseEventID(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"hello", ":hello", "", ":", "my-app/", "/x", "::a/b", "a b/c", "[x]", `"s"/x`} {
		if got, err := send.ParseEventID(in); err == nil || exitCode(err) != 2 {
			t.Errorf("ParseEventID(%q) = %q, %v; want an exit 2 error", in, got, err)
		}
	}
}

func TestParseEDNErrors(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"{:a 1 }}", "invalid EDN in argument 2 at byte 8: unexpected data after the value; a frame holds exactly one EDN value\n  {:a 1 }}\n         ^"},
		{"[1 2", "invalid EDN in argument 2 at byte 5: unbalanced EDN: unexpected end of input with 1 unclosed\n  [1 2\n      ^"},
		{`{:a "x`, "invalid EDN in argument 2 at byte 5: unterminated string\n  {:a \"x\n      ^"},
		{"[1 :]", "invalid EDN in argument 2 at byte 4: invalid keyword \":\"\n  [1 :]\n     ^"},
		{"(é ]", "invalid EDN in argument 2 at byte 5: unbalanced EDN: ']' closes ')'\n  (é ]\n     ^"},
		{"[1\n\t2 }", "invalid EDN in argument 2 at byte 7: unbalanced EDN: '}' closes ']'\n   2 }\n     ^"},
		{"", "invalid EDN in argument 2: no EDN value in input"},
		{"1x", "invalid EDN in argument 2 at byte 1: invalid number \"1x\"\n  1x\n  ^"},
		{"[" + strings.Repeat("1 ", 50) + "}" + strings.Repeat(" 2", 50),
			"invalid EDN in argument 2 at byte 102: unbalanced EDN: '}' closes ']'\n  …1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 } 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 …\n                                       ^"},
	}
	for _, tt := range tests {
		v, err := send.ParseEDN("in argument 2", tt.in)
		var ee *send.EDNError
		if !errors.As(err, &ee) || exitCode(err) != 2 {
			t.Errorf("ParseEDN(%q) = %v, %v; want an *EDNError", tt.in, v, err)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("ParseEDN(%q):\n%s\nwant:\n%s", tt.in, err, tt.want)
		}
	}
	if v, err := send.ParseEDN("x", `{:a [1 "b"] :c #{:d}}`); err != nil || wire.Get(v, "c") == nil {
		t.Errorf("valid EDN: %v, %v", v, err)
	}
}

func TestReadLines(t *testing.T) {
	var got []string
	err := send.ReadLines(strings.NewReader("a\n\n  \n; c\n  ;c2\nb\r\nc"), func(n int, line string) error {
		got = append(got, fmt.Sprintf("%d:%s", n, line))
		return nil
	})
	if err != nil || strings.Join(got, " ") != "1:a 6:b 7:c" {
		t.Errorf("ReadLines: %v, %v", got, err)
	}
	stop := errors.New("stop")
	n := 0
	err = send.ReadLines(strings.NewReader("a\nb\nc\n"), func(int, string) error { n++; return stop })
	if err != stop || n != 1 {
		t.Errorf("ReadLines stops at the first error: %d calls, %v", n, err)
	}
	err = send.ReadLines(strings.NewReader("a\n"+strings.Repeat("x", send.MaxLine+1)+"\n"), func(int, string) error { return nil })
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "stdin line 2 is longer than") {
		t.Errorf("long line: %v", err)
	}
}

func TestParseEventLine(t *testing.T) {
	ev, err := send.ParseEventLine(1, `[:my-app/a {:n 1}]`)
	if err != nil || ev.ID != "my-app/a" || !ev.HasData || wire.Get(ev.Data, "n") != int64(1) {
		t.Errorf("%+v, %v", ev, err)
	}
	ev, err = send.ParseEventLine(1, `[:my-app/a]`)
	if err != nil || ev.HasData {
		t.Errorf("%+v, %v", ev, err)
	}
	for line, want := range map[string]string{
		`[:a 1]`:               "stdin line 3: event id :a is not namespaced",
		`[]`:                   "stdin line 3 is not an event",
		`[:my-app/a 1 2]`:      "stdin line 3 is not an event",
		`{:my-app/a 1}`:        "stdin line 3 is not an event",
		`["my-app/a" 1]`:       "stdin line 3 is not an event: it must start with a namespaced keyword",
		`[:my-app/a 1`:         "invalid EDN on stdin line 3 at byte 13",
		`[[:my-app/a 1] "cb"]`: "stdin line 3 is not an event: it must start",
	} {
		if _, err := send.ParseEventLine(3, line); err == nil || exitCode(err) != 2 || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("ParseEventLine(%q) = %v; want exit 2 %q", line, err, want)
		}
	}
}

func TestRefusal(t *testing.T) {
	m := func(kv ...any) map[any]any {
		out := map[any]any{}
		for i := 0; i < len(kv); i += 2 {
			out[edn.Keyword(kv[i].(string))] = kv[i+1]
		}
		return out
	}
	tests := []struct {
		data    any
		reason  string
		refused bool
	}{
		{m("success", true, "delivered", int64(1)), "", false},
		{m("success", false, "error", "limit"), "limit", true},
		{m("success", false, "reason", edn.Keyword("x/y")), ":x/y", true},
		{m("success", false), "no reason given", true},
		{true, "", false},
		{m("error", "no success key"), "", false},
	}
	for _, tt := range tests {
		reason, refused := send.Refusal(tt.data)
		if reason != tt.reason || refused != tt.refused {
			t.Errorf("Refusal(%v) = %q, %v; want %q, %v", tt.data, reason, refused, tt.reason, tt.refused)
		}
	}
}

func TestLost(t *testing.T) {
	closed := &sentelite.ClosedError{Cause: errors.New("write failed: broken pipe")}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"closed with a cause, wrapped", fmt.Errorf("sentelite: subscribe to %q: %w", "a", closed),
			"lost the connection to ws://h/chsk: write failed: broken pipe"},
		{"closed without a cause", fmt.Errorf("wait: %w", sentelite.ErrClosed),
			"lost the connection to ws://h/chsk: the server closed it"},
		{"another error, on one line", errors.New("read:\n  reset"),
			"lost the connection to ws://h/chsk: read: reset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := send.Lost("ws://h/chsk", tt.err)
			var ce *cliexit.Error
			if !errors.As(err, &ce) || ce.Code != cliexit.Unavailable || err.Error() != tt.want {
				t.Errorf("Lost = %#v, want exit %d %q", err, cliexit.Unavailable, tt.want)
			}
		})
	}
}
