package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"olympos.io/encoding/edn"

	"github.com/sente-clj/sente/gateway"
	"github.com/sente-clj/sente/internal/gatewaytest"
	"github.com/sente-clj/sente/internal/peers"
	"github.com/sente-clj/sente/internal/testutil"
	"github.com/sente-clj/sente/nrepl"
)

// Bounds on every wait. They are generous for a loaded 2-core machine running
// under -race; a healthy run is far below them (see the timings the tests log).
const (
	pageReady = 45 * time.Second // open the page, load Scittle, connect /_nrepl
	evalBound = 15 * time.Second // one request to a connected runtime
	jvmBound  = 3 * time.Minute  // one JVM script: startup plus all its checks
	goneBound = 20 * time.Second // a runtime leaving until the editor has done
)

// gw is one in-process gateway on free ports (see internal/gatewaytest), with
// Scittle served from the npm package under /scittle/ for the pages.
type gw struct {
	*gatewaytest.Gateway
}

// startGateway runs a gateway until the test ends; tweak adjusts the config.
func startGateway(t *testing.T, tweak func(*gateway.Config)) *gw {
	t.Helper()
	scittle := peers.ScittleDir(t)
	return &gw{gatewaytest.Start(t, func(cfg *gateway.Config) {
		cfg.Scittle = scittle
		if tweak != nil {
			tweak(cfg)
		}
	})}
}

// health returns the gateway's GET /health document.
func (g *gw) health(t *testing.T) map[string]any {
	t.Helper()
	resp, err := http.Get("http://" + g.HTTPAddr().String() + "/health")
	if err != nil {
		t.Errorf("GET /health: %v", err)
		return nil
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Errorf("GET /health: %v", err)
	}
	return body
}

// waitPending waits until /health counts n requests pending at runtimes: the
// gateway has handed them over and no answer has come.
func (g *gw) waitPending(t *testing.T, n int) {
	t.Helper()
	var got float64
	if !testutil.Poll(context.Background(), evalBound, func() bool { got, _ = g.health(t)["pending"].(float64); return got == float64(n) }) {
		t.Fatalf("/health pending = %v, want %d", got, n)
	}
}

// openPage opens url in a new tab and waits for predicate (JavaScript) to hold.
// The page's console is printed if the test fails.
func openPage(t *testing.T, b *peers.Browser, url, predicate string) *peers.Page {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), pageReady)
	defer cancel()
	start := time.Now()
	p, err := b.Open(ctx, url)
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("browser console of %v:\n%s", p, strings.Join(p.Console(), "\n"))
		}
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		_ = p.Close(cctx) // a page the test closed or crashed already is fine
	})
	if err := p.WaitFor(ctx, predicate); err != nil {
		t.Fatalf("page %v: %s did not hold within %v: %v", p, predicate, pageReady, err)
	}
	t.Logf("page %s ready (%s) in %v", url, predicate, time.Since(start).Round(time.Millisecond))
	return p
}

// openRuntimePage opens one of the gateway's ready pages ("/" for sente-lite,
// "/stock" for stock scittle.nrepl.js) and waits until its REPL socket is open
// and the gateway has registered it as a runtime.
func openRuntimePage(t *testing.T, b *peers.Browser, g *gw, path string) *peers.Page {
	t.Helper()
	before := len(g.Runtimes(t))
	p := openPage(t, b, strings.TrimSuffix(g.PageURL(), "/")+path, "document.body.dataset.state === 'connected'")
	g.WaitRuntimes(t, before+1)
	return p
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// eval evaluates code and fails the test if it does not end with done in time.
func eval(t *testing.T, c *nrepl.Client, session, code string, extra nrepl.Msg) nrepl.EvalResult {
	t.Helper()
	start := time.Now()
	res, err := c.Eval(ctxFor(t, evalBound), session, code, extra)
	if err != nil {
		t.Fatalf("eval %q: %v (after %v; responses %v)", code, err, time.Since(start).Round(time.Millisecond), res.Responses)
	}
	if !slices.Contains(res.Status, "done") {
		t.Fatalf("eval %q: no done: %v", code, res.Responses)
	}
	return res
}

// statuses is each distinct status of the responses, in first-seen order;
// unlike testutil.Statuses it lists a status once however many responses
// carry it. The e2e assertions (e.g. slices.Equal(st, []string{"done"})) were
// written against that set, so it stays.
func statuses(rs []nrepl.Msg) []string {
	var out []string
	for _, r := range rs {
		for _, s := range r.Status() {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

func hasAll(have []string, want ...string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// --- output of the JVM scripts: one EDN vector [check-name value] per line ---

// jvmResults parses the lines a JVM script printed with (prn [name value]) into
// name -> value, where value has been normalised by the script to strings,
// numbers, vectors and string-keyed maps, and here to []any and map[string]any.
func jvmResults(t *testing.T, stdout string) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, line := range strings.Split(stdout, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "[\"") {
			continue
		}
		var v any
		if err := edn.UnmarshalString(line, &v); err != nil {
			t.Fatalf("JVM output line %q: %v", line, err)
		}
		pair, ok := v.([]any)
		if !ok || len(pair) != 2 {
			t.Fatalf("JVM output line %q is not [name value]", line)
		}
		out[fmt.Sprint(pair[0])] = plain(pair[1])
	}
	return out
}

// plain turns what the EDN decoder produced into JSON-like Go values.
func plain(v any) any {
	switch x := v.(type) {
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = plain(e)
		}
		return m
	case map[any]bool: // a set
		var s []any
		for k := range x {
			s = append(s, plain(k))
		}
		sort.Slice(s, func(i, j int) bool { return fmt.Sprint(s[i]) < fmt.Sprint(s[j]) })
		return s
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = plain(e)
		}
		return s
	case edn.Keyword:
		return string(x)
	case edn.Symbol:
		return string(x)
	}
	return v
}

// strs returns v as a list of strings (nil if it is not one).
func strs(v any) []string {
	l, ok := v.([]any)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(l))
	for _, e := range l {
		s, ok := e.(string)
		if !ok {
			return nil
		}
		out = append(out, s)
	}
	return out
}

// get walks string keys through nested maps.
func get(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
