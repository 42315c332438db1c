package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sente-clj/sente/gateway"
	"github.com/sente-clj/sente/internal/testutil"
	"github.com/sente-clj/sente/nrepl"
)

// TestNoRuntime: with no browser connected, describe is answered by the gateway at
// once, and every forwarded op ends with a clear error after --runtime-wait.
func TestNoRuntime(t *testing.T) {
	t.Parallel()
	const wait = time.Second
	g := startGateway(t, func(c *gateway.Config) { c.RuntimeWait = wait })
	c := g.Editor(t)

	t.Run("describe", func(t *testing.T) {
		// A gateway that would wait an hour for a runtime: an answer at all
		// shows describe does not wait for one.
		patient := startGateway(t, func(c *gateway.Config) { c.RuntimeWait = time.Hour })
		start := time.Now()
		d, err := patient.Editor(t).Describe(ctxFor(t, testutil.Patience))
		if err != nil {
			t.Fatalf("describe with no runtime (it must not wait for one): %v", err)
		}
		t.Logf("describe answered in %v", time.Since(start).Round(time.Microsecond))
		if !d.HasStatus("done") || d.HasStatus("error") {
			t.Errorf("describe status %q", d.Status())
		}
		ops, _ := d["ops"].(map[string]any)
		for _, op := range []string{"eval", "describe", "clone", "load-file", "complete", "interrupt"} {
			if _, ok := ops[op]; !ok {
				t.Errorf("describe ops lack %s: %v", op, d["ops"])
			}
		}
		sente, _ := d["versions"].(map[string]any)["sente"].(map[string]any)
		for _, k := range []string{"major", "minor", "incremental"} {
			if s, _ := sente[k].(string); s == "" {
				t.Errorf("versions.sente.%s missing: %v", k, d["versions"])
			}
		}
	})

	for _, tc := range []struct {
		name string
		msg  nrepl.Msg
	}{
		{"eval", nrepl.Msg{"op": "eval", "code": "(+ 1 2)"}},
		{"load-file", nrepl.Msg{"op": "load-file", "file": "(def x 1)"}},
		{"complete", nrepl.Msg{"op": "complete", "prefix": "ma", "ns": "user"}},
	} {
		t.Run(tc.name+" fails after runtime-wait", func(t *testing.T) {
			start := time.Now()
			rs := testutil.Collect(t, c, tc.msg, 0)
			took := time.Since(start)
			t.Logf("%s answered after %v: %v", tc.name, took.Round(time.Millisecond), rs)
			// Not sooner (it waits); later only as far as a busy machine is slow.
			if took < wait-50*time.Millisecond {
				t.Errorf("answered after %v, before --runtime-wait %v", took, wait)
			}
			if st := statuses(rs); !hasAll(st, "done", "error", "no-runtime") {
				t.Errorf("status %q, want done, error, no-runtime", st)
			}
			e := testutil.Joined(rs, "err")
			if !strings.Contains(e, "no browser runtime") || !strings.Contains(e, g.PageURL()) {
				t.Errorf("err %q does not name the problem and the page %s", e, g.PageURL())
			}
			if slices.ContainsFunc(rs, func(r nrepl.Msg) bool { _, ok := r["value"]; return ok }) {
				t.Errorf("a value without a runtime: %v", rs)
			}
		})
	}
}
