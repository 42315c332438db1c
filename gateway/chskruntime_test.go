package gateway

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"olympos.io/encoding/edn"

	"github.com/sente-clj/sente/internal/testutil"
	"github.com/sente-clj/sente/nrepl"
	"github.com/sente-clj/sente/wire"
)

// TestChskRuntimeResponseShapes: a /chsk runtime's answers in every shape the
// code sente-lite publishes and sente's own bundle send, and what a runtime sends when it
// did not understand the request. Every request ends with done at once:
// --eval-timeout is ten minutes here, far beyond the test's bound. The first
// request the runtime gets is the installation of sente's REPL helper, which
// it answers the same way: a runtime that does not answer it is served
// without the helper, and the editor's eval then gets that answer itself.
func TestChskRuntimeResponseShapes(t *testing.T) {
	type answerFn func(req map[any]any, id string) []string
	plain := func(m string) answerFn {
		return func(_ map[any]any, id string) []string {
			return []string{fmt.Sprintf(`[:nrepl/response {:id %q %s}]`, id, m)}
		}
	}
	for _, tc := range []struct {
		name       string
		answer     answerFn
		wantValue  string
		wantStatus []string
		wantErr    string
	}{
		{"plain keys, keyword status (sente-lite's published peers)", func(_ map[any]any, id string) []string {
			return []string{
				fmt.Sprintf(`[:nrepl/response {:value "3" :id %q :ns "user"}]`, id),
				fmt.Sprintf(`[:nrepl/response {:status [:done] :id %q :ns "user"}]`, id),
			}
		}, "3", []string{"done"}, ""},
		{"wrapped :edn (sente's bundle, sente-lite's nREPL module)", func(_ map[any]any, id string) []string {
			return []string{
				fmt.Sprintf(`[:nrepl/response {:edn %q}]`, fmt.Sprintf(`{:value "3" :id %q}`, id)),
				fmt.Sprintf(`[:nrepl/response {:edn %q}]`, fmt.Sprintf(`{:status ["done"] :id %q}`, id)),
			}
		}, "3", []string{"done"}, ""},
		{"plain :status wins over :edn", func(_ map[any]any, id string) []string {
			return []string{fmt.Sprintf(`[:nrepl/response {:value "3" :status ["done"] :id %q :edn "{:op :eval}"}]`, id)}
		}, "3", []string{"done"}, ""},
		{"echo of the request with unknown-op (scittle.nrepl.js, string :op)", func(req map[any]any, _ string) []string {
			echo := map[any]any{}
			for k, v := range req {
				echo[k] = v
			}
			echo[edn.Keyword("op")] = "eval"
			echo[edn.Keyword("status")] = []any{"error", "done"}
			echo[edn.Keyword("err")] = "unknown-op"
			b, _ := wire.EncodeEvent(wire.Event{ID: wire.EvNREPLResponse, Data: echo, HasData: true})
			return []string{string(b)}
		}, "", []string{"done", "error", "unknown-op"}, `does not know the op "eval"`},
		{"echo of the request, no status", func(req map[any]any, _ string) []string {
			b, _ := wire.EncodeEvent(wire.Event{ID: wire.EvNREPLResponse, Data: req, HasData: true})
			return []string{string(b)}
		}, "", []string{"done", "error", "runtime-error"}, "echoed the request"},
		{"unreadable :edn", plain(`:edn "{:value"`), "", []string{"done", "error", "runtime-error"}, "not an nREPL response"},
		{":edn that is not a map", plain(`:edn "[1 2]"`), "", []string{"done", "error", "runtime-error"}, "not an nREPL response"},
		{"nothing but the id", plain(``), "", []string{"done", "error", "runtime-error"}, "empty response"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := startGateway(t, func(c *Config) { c.EvalTimeout = 10 * time.Minute })
			c := dialLite(t, g)
			requests := make(chan map[any]any, 4)
			go func() {
				for {
					_, data, err := c.conn.ReadMessage()
					if err != nil {
						return
					}
					f, err := wire.DecodeFrame(data, wire.DefaultLimits())
					if err != nil || f.Kind != wire.KindEvent || f.Event.ID != wire.EvNREPLRequest {
						continue
					}
					req, _ := f.Event.Data.(map[any]any)
					id, _ := req[edn.Keyword("id")].(string)
					var out []string
					if strings.HasPrefix(id, "probe-") {
						out = []string{fmt.Sprintf(`[:nrepl/response {:id %q :ops {"eval" {}} :status ["done"]}]`, id)}
					} else {
						requests <- req
						out = tc.answer(req, id)
					}
					for _, s := range out {
						_ = c.conn.WriteMessage(websocket.TextMessage, []byte(s))
					}
				}
			}()
			testutil.Eventually(t, 0, func() bool { return g.runtimes.count() == 1 }, "runtime from the probe")
			rs := testutil.Collect(t, g.editor(t), nrepl.Msg{"op": "eval", "code": "(+ 1 2)", "id": "e1"}, 0)

			req := <-requests
			if op, ok := req[edn.Keyword("op")].(edn.Keyword); !ok || op != "eval" {
				t.Errorf("plain :op is %#v, want the keyword :eval", req[edn.Keyword("op")])
			}
			text, _ := req[edn.Keyword("edn")].(string)
			if !strings.Contains(text, ":op :eval") {
				t.Errorf(":edn %q: want a keyword :op", text)
			}
			if got := testutil.Joined(rs, "value"); got != tc.wantValue {
				t.Errorf("value %q, want %q (%v)", got, tc.wantValue, rs)
			}
			if got := testutil.Statuses(rs); !slices.Equal(got, tc.wantStatus) {
				t.Errorf("statuses %v, want %v (%v)", got, tc.wantStatus, rs)
			}
			if got := testutil.Joined(rs, "err"); !strings.Contains(got, tc.wantErr) {
				t.Errorf("err %q, want it to contain %q", got, tc.wantErr)
			}
			for _, r := range rs {
				if r.Str("id") != "e1" {
					t.Errorf("response with id %q, want e1: %v", r.Str("id"), r)
				}
				for _, leaked := range []string{"code", "edn", "op"} {
					if _, ok := r[leaked]; ok {
						t.Errorf("response carries the request's %s: %v", leaked, r)
					}
				}
			}
		})
	}
}
