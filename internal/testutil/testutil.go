// Package testutil is what sente's tests share: waiting for a condition with
// a generous bound instead of sleeping, a buffer that goroutines write while
// a test reads it, helpers for nREPL responses, and running one command's
// command line to see the Options it parsed.
//
// Tests must hold on a busy, slow machine (two cores under -race, next to
// three other test runs): a wait is for a condition, never for a fixed time,
// and its bound is one that only a hung test reaches.
package testutil

import (
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/sente-clj/sente/internal/cmdutil"
	"github.com/sente-clj/sente/nrepl"
)

// Patience is the bound for a wait that a healthy run passes in milliseconds:
// long enough that only a hung test reaches it on a loaded machine.
const Patience = 30 * time.Second

// Eventually polls cond until it holds and fails the test if it still does
// not after within (Patience when 0). what says what was awaited; it may be
// a format with args.
func Eventually(t testing.TB, within time.Duration, cond func() bool, what string, args ...any) {
	t.Helper()
	if !Poll(context.Background(), within, cond) {
		if within == 0 {
			within = Patience
		}
		t.Fatalf("waited %v for: "+what, append([]any{within}, args...)...)
	}
}

// Poll reports whether cond held before within (Patience when 0) passed or
// ctx ended. It checks often at first and backs off to every 50 ms.
func Poll(ctx context.Context, within time.Duration, cond func() bool) bool {
	if within == 0 {
		within = Patience
	}
	deadline := time.Now().Add(within)
	pause := time.Millisecond
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		pause = min(2*pause, 50*time.Millisecond)
	}
}

// Buffer is a bytes.Buffer that goroutines may write while a test reads it.
type Buffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

// Write appends p and signals Changed.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.changed == nil {
		b.changed = make(chan struct{}, 1)
	}
	select {
	case b.changed <- struct{}{}:
	default:
	}
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Changed receives a token after a Write; one token stands for any number of
// writes since the last receive.
func (b *Buffer) Changed() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.changed == nil {
		b.changed = make(chan struct{}, 1)
	}
	return b.changed
}

// WaitFor waits until the buffer holds text and fails the test if it does not
// within (Patience when 0), quoting what it holds.
func (b *Buffer) WaitFor(t testing.TB, text string, within time.Duration) {
	t.Helper()
	if within == 0 {
		within = Patience
	}
	if !Poll(context.Background(), within, func() bool { return strings.Contains(b.String(), text) }) {
		t.Fatalf("no %q written within %v; got:\n%s", text, within, b.String())
	}
}

// Statuses is every status of the responses, in order.
func Statuses(rs []nrepl.Msg) []string {
	var all []string
	for _, r := range rs {
		all = append(all, r.Status()...)
	}
	return all
}

// Joined concatenates the string under key of every response ("out", "err").
func Joined(rs []nrepl.Msg, key string) string {
	var b strings.Builder
	for _, r := range rs {
		b.WriteString(r.Str(key))
	}
	return b.String()
}

// Collect sends m and returns every response up to and including done,
// failing the test if done does not come within (Patience when 0).
func Collect(t testing.TB, c *nrepl.Client, m nrepl.Msg, within time.Duration) []nrepl.Msg {
	t.Helper()
	if within == 0 {
		within = Patience
	}
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	_, ch, err := c.Send(ctx, m)
	if err != nil {
		t.Fatalf("send %v: %v", m, err)
	}
	var out []nrepl.Msg
	for r := range ch {
		out = append(out, r)
	}
	if len(out) == 0 || !out[len(out)-1].HasStatus("done") {
		t.Fatalf("request %v ended without done within %v: %v", m, within, out)
	}
	return out
}

// RunCommand runs cmd's command line argv (the words after the command's
// name) in an app set up as sente's, with output discarded, and returns the
// command's error. Tests pass a cmd built with a run function that records
// the Options, to check what argv and the environment parse into.
func RunCommand(cmd *cli.Command, argv ...string) error {
	cmd.Flags = append(cmd.Flags, cmdutil.LogFlags()...)
	if cmd.OnUsageError == nil {
		cmd.OnUsageError = cmdutil.UsageError
	}
	app := &cli.App{
		Name: "sente", Writer: io.Discard, ErrWriter: io.Discard,
		Flags:          cmdutil.LogFlags(),
		Commands:       []*cli.Command{cmd},
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError:   cmdutil.UsageError,
	}
	return app.Run(append([]string{"sente", cmd.Name}, argv...))
}

// ClearEnv unsets, for the rest of the test, every environment variable whose
// name starts with prefix ("SENTE_"), so that settings from the outside do not
// reach the code under test.
func ClearEnv(t testing.TB, prefix string) {
	t.Helper()
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, prefix) {
			t.Setenv(k, "") // restores the old value when the test ends
			os.Unsetenv(k)
		}
	}
}

// OpRecorder is a TCP proxy in front of an nREPL server that records every
// request a client sends through it before passing it on, so a test can see
// which ops a client sent, and wait until it sent one.
type OpRecorder struct {
	ln   net.Listener
	mu   sync.Mutex
	reqs []nrepl.Msg
}

// RecordOps starts a recorder in front of the nREPL server at upstream
// (host:port); it stops when the test ends.
func RecordOps(t testing.TB, upstream string) *OpRecorder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &OpRecorder{ln: ln}
	var conns sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		conns.Wait()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer conns.Done()
				r.serve(c, upstream)
			}()
		}
	}()
	return r
}

// Port is the port clients connect to instead of the server's.
func (r *OpRecorder) Port() int { return r.ln.Addr().(*net.TCPAddr).Port }

func (r *OpRecorder) serve(c net.Conn, upstream string) {
	defer c.Close()
	up, err := net.Dial("tcp", upstream)
	if err != nil {
		return
	}
	defer up.Close()
	go func() {
		io.Copy(c, up)
		c.Close() // the client's read ends with the server's
	}()
	dec := nrepl.NewDecoder(c, nrepl.Limits{})
	for {
		m, err := dec.Decode()
		if err != nil {
			return
		}
		r.mu.Lock()
		r.reqs = append(r.reqs, m)
		r.mu.Unlock()
		if err := nrepl.Encode(up, m); err != nil {
			return
		}
	}
}

// TakeOps returns the ops of the requests recorded so far and forgets them.
// A client that has exited had each of its requests answered, so all of them
// are recorded.
func (r *OpRecorder) TakeOps() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ops := make([]string, len(r.reqs))
	for i, m := range r.reqs {
		ops[i] = m.Str("op")
	}
	r.reqs = nil
	return ops
}

// Sent reports whether a request that match accepts has been recorded.
func (r *OpRecorder) Sent(match func(nrepl.Msg) bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range r.reqs {
		if match(m) {
			return true
		}
	}
	return false
}

// ParseOptions runs the command newCommand builds on argv, with env as its
// only SENTE_ environment, and returns the Options it would have run with.
// It is the argv → options half of a command's tests, apart from what the
// command does.
func ParseOptions[O any](t testing.TB, newCommand func(func(*cli.Context, *O) error) *cli.Command, env map[string]string, argv ...string) *O {
	t.Helper()
	ClearEnv(t, "SENTE_")
	for k, v := range env {
		t.Setenv(k, v)
	}
	var got *O
	cmd := newCommand(func(_ *cli.Context, o *O) error { got = o; return nil })
	if err := RunCommand(cmd, argv...); err != nil {
		t.Fatalf("%q: %v", argv, err)
	}
	if got == nil {
		t.Fatalf("%q: the command did not run", argv)
	}
	return got
}

// RefusesUsage checks that the command newCommand builds refuses argv as a
// usage error (exit status 2) without running.
func RefusesUsage[O any](t testing.TB, newCommand func(func(*cli.Context, *O) error) *cli.Command, argv ...string) {
	t.Helper()
	cmd := newCommand(func(*cli.Context, *O) error { t.Errorf("%q ran", argv); return nil })
	if err, ok := RunCommand(cmd, argv...).(cli.ExitCoder); !ok || err.ExitCode() != 2 {
		t.Errorf("%q: %v, want a usage error (exit status 2)", argv, err)
	}
}
