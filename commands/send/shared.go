package send

// What sente send, sente subscribe and sente publish share: the address, the
// connection, event ids, and EDN from arguments and from stdin.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"olympos.io/encoding/edn"

	"github.com/sente-clj/sente/internal/cliexit"
	"github.com/sente-clj/sente/sentelite"
	"github.com/sente-clj/sente/wire"
)

// DefaultURL is the gateway's sente-lite endpoint on its default port.
const DefaultURL = "ws://127.0.0.1:1340/chsk"

// DefaultTimeout bounds connecting and each wait for an answer.
const DefaultTimeout = 10 * time.Second

// MaxLine is the longest stdin line read: the largest frame a gateway accepts.
const MaxLine = 1 << 20

// Usagef is a bad-arguments error: exit status 2.
func Usagef(format string, args ...any) error { return cliexit.Usagef(format, args...) }

// Failedf is an error the server reported, or an answer that did not come:
// exit status 1.
func Failedf(format string, args ...any) error { return cliexit.Failedf(format, args...) }

// NormalizeURL turns what a user types into a sente-lite WebSocket URL:
// ws:// is added when no scheme is given, http(s):// becomes ws(s):// (so a
// gateway's page address works too), and an empty path becomes /chsk.
func NormalizeURL(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" {
		return "", Usagef("--url is empty; give the server's sente-lite endpoint, e.g. %s", DefaultURL)
	}
	if !strings.Contains(s, "://") {
		s = "ws://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", Usagef("--url %q is not a URL: %v", raw, unwrapURL(err))
	}
	switch strings.ToLower(u.Scheme) {
	case "ws", "wss":
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	default:
		return "", Usagef("--url %q: the scheme must be ws:// or wss:// (e.g. %s)", raw, DefaultURL)
	}
	if u.Host == "" {
		return "", Usagef("--url %q names no host (e.g. %s)", raw, DefaultURL)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/chsk"
	}
	return u.String(), nil
}

func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// ClientOptions are the sentelite options the commands start from: no
// reconnecting (sente subscribe turns it on), and a handshake bounded by
// timeout when that is shorter than sentelite's default.
func ClientOptions(wsURL string, timeout time.Duration, logger *slog.Logger) sentelite.Options {
	o := sentelite.DefaultOptions(wsURL)
	o.Reconnect = false
	o.BackoffMax = 5 * time.Second
	if timeout > 0 && timeout < o.HandshakeTimeout {
		o.HandshakeTimeout = timeout
	}
	o.Logger = logger
	return o
}

// Connect connects c within ctx. A server that is not there, or that does
// not speak sente-lite, is one line naming the address, exit status 2;
// Ctrl-C is exit status 130.
func Connect(ctx context.Context, c *sentelite.Client) error {
	err := c.Connect(ctx)
	switch {
	case err == nil:
		return nil
	case errors.Is(ctx.Err(), context.Canceled):
		return cliexit.Errorf(cliexit.Interrupted, "interrupted")
	}
	// sentelite says "connect to URL: why", on one line.
	return cliexit.Errorf(cliexit.Unavailable, "%s", oneLine(err.Error()))
}

// Lost is the error for a connection that failed after it was made.
func Lost(wsURL string, err error) error {
	msg := err.Error()
	if ce, ok := errors.AsType[*sentelite.ClosedError](err); ok {
		msg = ce.Cause.Error()
	} else if errors.Is(err, sentelite.ErrClosed) {
		msg = "the server closed it"
	}
	return cliexit.Errorf(cliexit.Unavailable, "lost the connection to %s: %s", wsURL, oneLine(msg))
}

// WaitError turns an error from waiting for an answer into an exit: Ctrl-C
// 130, a timeout 1 (what quotes what was awaited; a hint, if given, says
// what to do about it), a lost connection 2.
func WaitError(ctx context.Context, wsURL string, err error, timeout time.Duration, what string, hint ...string) error {
	switch {
	case errors.Is(ctx.Err(), context.Canceled) || errors.Is(err, context.Canceled):
		return cliexit.Errorf(cliexit.Interrupted, "interrupted")
	case errors.Is(err, context.DeadlineExceeded):
		if len(hint) > 0 {
			return Failedf("%s within %s (--timeout): %s", what, timeout, strings.Join(hint, "; "))
		}
		return Failedf("%s within %s (--timeout)", what, timeout)
	case errors.Is(err, sentelite.ErrClosed), errors.Is(err, sentelite.ErrNotConnected):
		return Lost(wsURL, err)
	}
	return Failedf("%s", oneLine(err.Error()))
}

// WithTimeout is context.WithTimeout, with 0 meaning no limit.
func WithTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// ParseEventID reads an event id as typed on a command line, :my-app/hello
// or my-app/hello. It must be a namespaced keyword.
func ParseEventID(s string) (edn.Keyword, error) {
	name := strings.TrimPrefix(s, ":")
	v, err := wire.Parse([]byte(":"+name), wire.DefaultLimits())
	kw, ok := v.(edn.Keyword)
	if err != nil || !ok || string(kw) != name {
		return "", Usagef("event id %q is not a keyword; event ids are namespaced keywords such as :my-app/hello", s)
	}
	if i := strings.IndexByte(name, '/'); i <= 0 || i == len(name)-1 {
		return "", Usagef("event id :%s is not namespaced; event ids are namespaced keywords such as :my-app/hello", name)
	}
	return kw, nil
}

// EDNError is EDN that could not be read, with where it broke.
type EDNError struct {
	Where  string // "in argument 2", "on stdin line 3"
	Input  string
	Pos    int    // byte offset of the trouble, from 0; -1 when the reader gave none
	Detail string // the reader's reason, without its position
}

// Error is one line naming the place and byte (counted from 1), then the
// input's line with a caret under that byte.
func (e *EDNError) Error() string {
	if e.Pos < 0 {
		return fmt.Sprintf("invalid EDN %s: %s", e.Where, e.Detail)
	}
	return fmt.Sprintf("invalid EDN %s at byte %d: %s\n%s", e.Where, e.Pos+1, e.Detail, caret(e.Input, e.Pos))
}

// ExitCode makes an EDNError exit status 2 (bad input).
func (e *EDNError) ExitCode() int { return cliexit.Usage }

// ParseEDN reads one EDN value from input; where names the input in errors.
func ParseEDN(where, input string) (any, error) {
	v, err := wire.Parse([]byte(input), wire.DefaultLimits())
	if err == nil {
		return v, nil
	}
	e := &EDNError{Where: where, Input: input, Pos: -1, Detail: wire.Reason(err)}
	var se *wire.SyntaxError
	if errors.As(err, &se) {
		e.Pos = se.Offset
	}
	return nil, e
}

// caret shows the line of input holding byte pos, indented, with a ^ under
// that byte; long lines are cut to a window around it.
func caret(input string, pos int) string {
	pos = min(max(pos, 0), len(input))
	start := strings.LastIndexByte(input[:pos], '\n') + 1
	end := len(input)
	if i := strings.IndexByte(input[pos:], '\n'); i >= 0 {
		end = pos + i
	}
	before := []rune(printable(input[start:pos]))
	after := []rune(printable(input[pos:end]))
	const width = 36
	prefix, suffix := "", ""
	if len(before) > width {
		before, prefix = before[len(before)-width:], "…"
	}
	if len(after) > width {
		after, suffix = after[:width], "…"
	}
	line := prefix + string(before) + string(after) + suffix
	col := utf8.RuneCountInString(prefix) + len(before)
	return "  " + line + "\n  " + strings.Repeat(" ", col) + "^"
}

// printable makes text safe to echo on one line: tabs and other control
// characters become spaces, invalid UTF-8 becomes U+FFFD byte by byte.
func printable(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteRune(utf8.RuneError)
		case r < ' ' || r == 0x7f:
			b.WriteByte(' ')
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// ReadLines calls fn with each line of r that is not blank or a ; comment,
// numbered from 1, as the lines arrive. It stops at fn's first error.
func ReadLines(r io.Reader, fn func(n int, line string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLine+1)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSuffix(sc.Text(), "\r")
		if t := strings.TrimSpace(line); t == "" || strings.HasPrefix(t, ";") {
			continue
		}
		if err := fn(n, line); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return Usagef("stdin line %d is longer than %d bytes", n+1, MaxLine)
		}
		return Usagef("reading stdin: %v", err)
	}
	return nil
}

// ParseEventLine reads a stdin line holding one event, [:ns/event] or
// [:ns/event data].
func ParseEventLine(n int, line string) (wire.Event, error) {
	where := fmt.Sprintf("on stdin line %d", n)
	v, err := ParseEDN(where, line)
	if err != nil {
		return wire.Event{}, err
	}
	vec, ok := v.([]any)
	if !ok || len(vec) == 0 || len(vec) > 2 {
		return wire.Event{}, Usagef("stdin line %d is not an event: want [:ns/event] or [:ns/event data], one a line", n)
	}
	kw, ok := vec[0].(edn.Keyword)
	if !ok {
		return wire.Event{}, Usagef("stdin line %d is not an event: it must start with a namespaced keyword such as :my-app/hello", n)
	}
	id, err := ParseEventID(":" + string(kw))
	if err != nil {
		return wire.Event{}, Usagef("stdin line %d: %v", n, err)
	}
	ev := wire.Event{ID: id}
	if len(vec) == 2 {
		ev.Data, ev.HasData = vec[1], true
	}
	return ev, nil
}

// Refusal returns the server's reason when data is a map saying
// :success false, as the gateway's answers to subscribe and publish do.
func Refusal(data any) (reason string, refused bool) {
	s, ok := wire.Get(data, "success").(bool)
	if !ok || s {
		return "", false
	}
	for _, k := range []string{"error", "reason", "message"} {
		if v := wire.Get(data, k); v != nil {
			if s, ok := v.(string); ok {
				return s, true
			}
			if b, err := wire.Print(v); err == nil {
				return string(b), true
			}
		}
	}
	return "no reason given", true
}
