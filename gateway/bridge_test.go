package gateway

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sente-clj/sente/internal/testutil"
	"github.com/sente-clj/sente/nrepl"
)

// waitBound is how long a test waits for something that should come at once:
// the shared bound, generous, as the machine may be busy.
const waitBound = testutil.Patience

// fakeEditor records the responses the bridge sends to one editor. Its
// channel is buffered well past what a test sends, so send never blocks,
// as the editor interface requires.
type fakeEditor struct {
	name string
	got  chan nrepl.Msg
}

func newFakeEditor(name string) *fakeEditor {
	return &fakeEditor{name: name, got: make(chan nrepl.Msg, 256)}
}

func (e *fakeEditor) send(m nrepl.Msg) { e.got <- m }
func (e *fakeEditor) String() string   { return e.name }

// next is the editor's next response.
func (e *fakeEditor) next(t *testing.T) nrepl.Msg {
	t.Helper()
	select {
	case m := <-e.got:
		return m
	case <-time.After(waitBound):
		t.Fatalf("editor %s: no response within %s", e.name, waitBound)
		return nil
	}
}

// untilDone is every response up to and including the one with done.
func (e *fakeEditor) untilDone(t *testing.T) []nrepl.Msg {
	t.Helper()
	var out []nrepl.Msg
	for {
		m := e.next(t)
		out = append(out, m)
		if m.HasStatus("done") {
			return out
		}
	}
}

// quiet fails if the editor has a response waiting. The bridge sends
// synchronously under its lock, so after deliver returns nothing is in flight.
func (e *fakeEditor) quiet(t *testing.T) {
	t.Helper()
	select {
	case m := <-e.got:
		t.Errorf("editor %s got %v, want nothing", e.name, m)
	default:
	}
}

// fakeLink is a runtime's outbound link: it captures the requests the
// bridge sends, which the test answers through bridge.deliver.
type fakeLink struct {
	reqs chan nrepl.Msg
}

func (l *fakeLink) request(m nrepl.Msg) error { l.reqs <- m.Clone(); return nil }
func (l *fakeLink) close(string)              {}

func (l *fakeLink) next(t *testing.T) nrepl.Msg {
	t.Helper()
	select {
	case m := <-l.reqs:
		return m
	case <-time.After(waitBound):
		t.Fatalf("runtime: no request within %s", waitBound)
		return nil
	}
}

// bridgeHarness is a bridge with one runtime that lacks sente's REPL helper,
// so requests reach it as the editor sent them, id aside.
type bridgeHarness struct {
	b    *bridge
	rt   *Runtime
	link *fakeLink
}

func newBridgeHarness(t *testing.T, tweak func(*Config)) *bridgeHarness {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if tweak != nil {
		tweak(&cfg)
	}
	b := newBridge(cfg, newRuntimes())
	link := &fakeLink{reqs: make(chan nrepl.Msg, 256)}
	rt := b.rts.add(KindScittleNREPL, "fake", "test", nil, link)
	rt.helper = helperAbsent
	t.Cleanup(b.shutdown)
	return &bridgeHarness{b: b, rt: rt, link: link}
}

// ask hands req from ed to the bridge and returns the request the runtime got.
func (h *bridgeHarness) ask(t *testing.T, ed editor, req nrepl.Msg) nrepl.Msg {
	t.Helper()
	h.b.handle(context.Background(), ed, req)
	return h.link.next(t)
}

// answer is the runtime answering its request fwd with a value, then done.
func (h *bridgeHarness) answer(fwd nrepl.Msg, value string) {
	h.b.deliver(h.rt, nrepl.Msg{"id": fwd.Str("id"), "value": value})
	h.b.deliver(h.rt, nrepl.Msg{"id": fwd.Str("id"), "status": []any{"done"}})
}

func wantStatuses(t *testing.T, m nrepl.Msg, want ...string) {
	t.Helper()
	got := m.Status()
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("statuses %v of %v lack %q", got, m, w)
		}
	}
}

func wantAddressed(t *testing.T, rs []nrepl.Msg, id, session string) {
	t.Helper()
	for _, m := range rs {
		if m.Str("id") != id || m.Str("session") != session {
			t.Errorf("response %v: want id %q session %q", m, id, session)
		}
	}
}

func eval(id, session, code string) nrepl.Msg {
	m := nrepl.Msg{"op": "eval", "code": code}
	if id != "" {
		m["id"] = id
	}
	if session != "" {
		m["session"] = session
	}
	return m
}

func TestBridge(t *testing.T) {
	tests := []struct {
		name  string
		tweak func(*Config)
		run   func(t *testing.T, h *bridgeHarness)
	}{
		{"editors with colliding ids each get only their own answers", nil, func(t *testing.T, h *bridgeHarness) {
			a, b := newFakeEditor("a"), newFakeEditor("b")
			fa := h.ask(t, a, eval("1", "sa", "(+ 1 1)"))
			fb := h.ask(t, b, eval("1", "sb", "(+ 2 2)"))
			if fa.Str("id") == fb.Str("id") {
				t.Fatalf("the runtime saw id %q for both requests", fa.Str("id"))
			}
			// Answered in reverse order, as a runtime may.
			h.answer(fb, "4")
			h.answer(fa, "2")
			ra, rb := a.untilDone(t), b.untilDone(t)
			wantAddressed(t, ra, "1", "sa")
			wantAddressed(t, rb, "1", "sb")
			if ra[0].Str("value") != "2" || rb[0].Str("value") != "4" {
				t.Errorf("values %v and %v, want 2 to a and 4 to b", ra[0], rb[0])
			}
			a.quiet(t)
			b.quiet(t)
		}},
		{"the runtime sees a gateway id, the editor its own id and session", nil, func(t *testing.T, h *bridgeHarness) {
			ed := newFakeEditor("ed")
			fwd := h.ask(t, ed, eval("42", "my-session", "(inc 1)"))
			if fwd.Str("id") == "42" || fwd.Str("id") == "" {
				t.Errorf("runtime saw id %q, want one of the gateway's", fwd.Str("id"))
			}
			if fwd.Str("code") != "(inc 1)" || fwd.Str("op") != "eval" {
				t.Errorf("runtime got %v, want the eval as sent", fwd)
			}
			// A runtime answering under some other session must not leak it.
			h.b.deliver(h.rt, nrepl.Msg{"id": fwd.Str("id"), "session": "runtime-own", "value": "2"})
			h.b.deliver(h.rt, nrepl.Msg{"id": fwd.Str("id"), "status": []any{"done"}})
			wantAddressed(t, ed.untilDone(t), "42", "my-session")

			// Without an id or a session, the answers carry neither, as in nREPL.
			fwd = h.ask(t, ed, eval("", "", "(inc 2)"))
			if fwd.Str("id") == "" {
				t.Errorf("runtime got %v without an id", fwd)
			}
			h.answer(fwd, "3")
			for _, m := range ed.untilDone(t) {
				if _, ok := m["id"]; ok {
					t.Errorf("response %v has an id the request lacked", m)
				}
				if _, ok := m["session"]; ok {
					t.Errorf("response %v has a session the request lacked", m)
				}
			}
		}},
		{"an eval past its timeout ends with an error and done; the late answer is dropped",
			func(c *Config) { c.EvalTimeout = time.Millisecond },
			func(t *testing.T, h *bridgeHarness) {
				ed := newFakeEditor("ed")
				fwd := h.ask(t, ed, eval("7", "s", "(loop [] (recur))"))
				rs := ed.untilDone(t)
				wantAddressed(t, rs, "7", "s")
				if !strings.Contains(rs[0].Str("err"), "--eval-timeout") {
					t.Errorf("first response %v, want an err naming --eval-timeout", rs[0])
				}
				wantStatuses(t, rs[len(rs)-1], "done", "error", "timeout")
				h.answer(fwd, "too late")
				ed.quiet(t)
				if n := h.b.pendingCount(); n != 0 {
					t.Errorf("%d requests still pending", n)
				}
			}},
		{"interrupt ends the request at once; the late answer is dropped", nil, func(t *testing.T, h *bridgeHarness) {
			ed := newFakeEditor("ed")
			fwd := h.ask(t, ed, eval("e1", "s", "(loop [] (recur))"))
			h.b.handle(context.Background(), ed, nrepl.Msg{"op": "interrupt", "id": "i1", "session": "s", "interrupt-id": "e1"})
			first, second := ed.next(t), ed.next(t)
			wantAddressed(t, []nrepl.Msg{first}, "e1", "s")
			wantStatuses(t, first, "interrupted", "done")
			wantAddressed(t, []nrepl.Msg{second}, "i1", "s")
			wantStatuses(t, second, "done", "interrupted")
			h.answer(fwd, "too late")
			ed.quiet(t)

			// Nothing left to interrupt: the session is idle.
			h.b.handle(context.Background(), ed, nrepl.Msg{"op": "interrupt", "id": "i2", "session": "s"})
			wantStatuses(t, ed.next(t), "done", "session-idle")
		}},
		{"a runtime leaving ends its pending requests with a clear error and done", nil, func(t *testing.T, h *bridgeHarness) {
			a, b := newFakeEditor("a"), newFakeEditor("b")
			fa := h.ask(t, a, eval("1", "sa", "(a)"))
			h.ask(t, b, eval("2", "sb", "(b)"))
			h.b.runtimeGone(h.rt, "test closed it")
			for _, c := range []struct {
				ed      *fakeEditor
				id, sid string
			}{{a, "1", "sa"}, {b, "2", "sb"}} {
				rs := c.ed.untilDone(t)
				wantAddressed(t, rs, c.id, c.sid)
				if e := rs[0].Str("err"); !strings.Contains(e, "disconnected") || !strings.Contains(e, "test closed it") {
					t.Errorf("%s: err %q, want it to say the runtime disconnected and why", c.ed, e)
				}
				wantStatuses(t, rs[len(rs)-1], "done", "error", "runtime-gone")
			}
			h.answer(fa, "late")
			a.quiet(t)
			// A request that picked the runtime just before it left is refused.
			h.b.handle(context.Background(), a, eval("3", "sa", "(c)"))
			rs := a.untilDone(t)
			wantStatuses(t, rs[len(rs)-1], "done", "error", "runtime-gone")
		}},
		{"an editor leaving is forgotten; answers for it are dropped", nil, func(t *testing.T, h *bridgeHarness) {
			gone, stays := newFakeEditor("gone"), newFakeEditor("stays")
			fg := h.ask(t, gone, eval("1", "s", "(a)"))
			fs := h.ask(t, stays, eval("1", "s", "(b)"))
			h.b.editorGone(gone)
			if n := h.b.pendingCount(); n != 1 {
				t.Errorf("%d requests pending, want only the remaining editor's", n)
			}
			h.answer(fg, "for nobody")
			gone.quiet(t)
			h.answer(fs, "b")
			rs := stays.untilDone(t)
			if rs[0].Str("value") != "b" {
				t.Errorf("remaining editor got %v, want its value", rs)
			}
			stays.quiet(t)
		}},
		{"a request without an op ends with unknown-op", nil, func(t *testing.T, h *bridgeHarness) {
			ed := newFakeEditor("ed")
			h.b.handle(context.Background(), ed, nrepl.Msg{"id": "1"})
			rs := ed.untilDone(t)
			wantStatuses(t, rs[len(rs)-1], "done", "error", "unknown-op")
		}},
		{"an op the runtime does not know ends with done, error, unknown-op", nil, func(t *testing.T, h *bridgeHarness) {
			ed := newFakeEditor("ed")
			req := nrepl.Msg{"op": "no-such-op", "id": "u1", "session": "s"}
			fwd := h.ask(t, ed, req)
			// Scittle echoes the whole request with err unknown-op.
			echo := fwd.Clone()
			echo["err"], echo["status"] = "unknown-op", []any{"error", "done"}
			h.b.deliver(h.rt, echo)
			rs := ed.untilDone(t)
			if len(rs) != 1 {
				t.Fatalf("responses %v, want one", rs)
			}
			wantAddressed(t, rs, "u1", "s")
			wantStatuses(t, rs[0], "done", "error", "unknown-op")
			if _, ok := rs[0]["code"]; ok {
				t.Errorf("response %v echoes the request", rs[0])
			}
		}},
		{"describe lists exactly the op table's ops and the runtime's own", nil, func(t *testing.T, h *bridgeHarness) {
			ed := newFakeEditor("ed")
			h.b.handle(context.Background(), ed, nrepl.Msg{"op": "describe", "id": "d"})
			rs := ed.untilDone(t)
			ops, _ := rs[0]["ops"].(map[string]any)
			got := slices.Sorted(maps.Keys(ops))
			want := slices.Sorted(maps.Keys(h.b.opTable()))
			if !slices.Equal(got, want) {
				t.Errorf("describe ops %v, want %v", got, want)
			}
			h.b.rts.add(KindSenteLite, "fake", "test", []string{"my/op"}, &fakeLink{reqs: make(chan nrepl.Msg, 1)})
			h.b.handle(context.Background(), ed, nrepl.Msg{"op": "describe", "id": "d2"})
			ops, _ = ed.untilDone(t)[0]["ops"].(map[string]any)
			if _, ok := ops["my/op"]; !ok || len(ops) != len(want)+1 {
				t.Errorf("describe ops %v, want the table's and my/op", slices.Sorted(maps.Keys(ops)))
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newBridgeHarness(t, tc.tweak))
		})
	}
}
