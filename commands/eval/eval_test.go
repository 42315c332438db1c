package eval_test

// These tests run the sente binary as a user would, against the real peers:
// nbb's nREPL server, the reference JVM nREPL, and an in-process gateway with
// simulated runtimes.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sente-clj/sente/gateway"
	"github.com/sente-clj/sente/internal/gatewaytest"
	"github.com/sente-clj/sente/internal/peers"
	"github.com/sente-clj/sente/internal/sentebin"
	"github.com/sente-clj/sente/internal/simruntime"
	"github.com/sente-clj/sente/internal/testutil"
	"github.com/sente-clj/sente/nrepl"
)

var senteBin string

func TestMain(m *testing.M) { sentebin.Main(m, &senteBin) }

type result struct {
	stdout, stderr string
	code           int
	took           time.Duration
}

// sente runs the binary in dir with stdin, in an environment free of SENTE_*
// settings from the outside, and returns what it printed and its exit code.
func sente(t *testing.T, dir, stdin string, args ...string) result {
	t.Helper()
	return senteEnv(t, dir, stdin, nil, args...)
}

func senteEnv(t *testing.T, dir, stdin string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, senteBin, args...)
	if dir == "" {
		dir = t.TempDir()
	}
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SENTE_") && !strings.HasPrefix(kv, "HOME=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(append(cmd.Env, "HOME="+t.TempDir()), env...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin) // a pipe
	} // else /dev/null, as from cron or a terminal-less job

	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String(), took: time.Since(start)}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("sente %q: %v", args, err)
	}
	return r
}

func (r result) expect(t *testing.T, code int, stdout, stderr string) {
	t.Helper()
	if r.code != code || r.stdout != stdout || r.stderr != stderr {
		t.Errorf("exit %d, stdout %q, stderr %q\nwant exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr, code, stdout, stderr)
	}
}

func portArgs(port int) []string { return []string{"--port", strconv.Itoa(port)} }

func decodeJSON(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	dec := json.NewDecoder(strings.NewReader(s))
	for {
		var m map[string]any
		if err := dec.Decode(&m); err == io.EOF {
			return out
		} else if err != nil {
			t.Fatalf("stdout is not JSON objects: %v\n%s", err, s)
		}
		out = append(out, m)
	}
}

func TestEvalJVM(t *testing.T) {
	port := peers.StartJVMNREPLServer(t)
	p := portArgs(port)
	args := func(more ...string) []string { return append(append([]string{"eval"}, p...), more...) }

	t.Run("value", func(t *testing.T) {
		sente(t, "", "", args("-e", "(+ 1 2)")...).expect(t, 0, "3\n", "")
	})
	t.Run("commas are kept", func(t *testing.T) {
		sente(t, "", "", args("-e", "(+ 1, 2)", "-e", `(str "a,b")`)...).expect(t, 0, "3\n\"a,b\"\n", "")
	})
	t.Run("out and err apart, values on their own lines", func(t *testing.T) {
		r := sente(t, "", "", args("-e", `(print "o") (binding [*out* *err*] (println "e")) :v`)...)
		r.expect(t, 0, "o\nnil\nnil\n:v\n", "e\n")
	})
	t.Run("an exception is exit 1 with the server's message", func(t *testing.T) {
		r := sente(t, "", "", args("-e", "(/ 1 0)")...)
		if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "Divide by zero") {
			t.Errorf("got %+v", r)
		}
	})
	t.Run("stops at the first error", func(t *testing.T) {
		r := sente(t, "", "", args("-e", "1", "-e", "(/ 1 0)", "-e", "2")...)
		if r.code != 1 || r.stdout != "1\n" {
			t.Errorf("got %+v", r)
		}
	})
	t.Run("pieces share a session", func(t *testing.T) {
		sente(t, "", "", args("-e", "(ns my.ns)", "-e", "(str *ns*)")...).expect(t, 0, "nil\n\"my.ns\"\n", "")
	})
	t.Run("--ns", func(t *testing.T) {
		sente(t, "", "", args("--ns", "clojure.set", "-e", "(str *ns*)")...).expect(t, 0, "\"clojure.set\"\n", "")
		r := sente(t, "", "", args("--ns", "no.such.ns", "-e", "1")...)
		if r.code != 1 || !strings.Contains(r.stderr, "namespace-not-found") {
			t.Errorf("unknown --ns: %+v", r)
		}
	})
	t.Run("code from stdin", func(t *testing.T) {
		sente(t, "", "(+ 40 2)\n(str \"a\")\n", args()...).expect(t, 0, "42\n\"a\"\n", "")
	})
	t.Run("-f file before -e", func(t *testing.T) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "x.clj"), []byte("(def x 41)\n(inc x)\n"), 0o644)
		sente(t, dir, "", args("-f", "x.clj", "-e", "(* x 2)")...).expect(t, 0, "#'user/x\n42\n82\n", "")
		r := sente(t, dir, "", args("-f", "missing.clj")...)
		if r.code != 2 || !strings.Contains(r.stderr, "sente: cannot read --file: missing.clj: no such file or directory") {
			t.Errorf("missing file: %+v", r)
		}
	})
	t.Run("read-line gets piped stdin", func(t *testing.T) {
		sente(t, "", "hello\n", args("-e", "(read-line)", "-e", "(read-line)")...).expect(t, 0, "\"hello\"\nnil\n", "")
	})
	t.Run("piped stdin clones a session only for code that reads it", func(t *testing.T) {
		// A recording proxy in front of the JVM shows the ops sente sends:
		// a session costs a clone and a close, and the JVM answers a close
		// only after a 100 ms sleep.
		rec := testutil.RecordOps(t, "127.0.0.1:"+strconv.Itoa(port))
		for _, tc := range []struct {
			name, stdin string
			args        []string
			stdout      string
			ops         string
		}{
			{"code that reads nothing", "unread input\n", []string{"-e", "(+ 1 2)"}, "3\n", "eval"},
			{"stdin not piped", "", []string{"-e", "(+ 1 2)"}, "3\n", "eval"},
			{"code that reads a line", "hello\n", []string{"-e", "(read-line)"}, "\"hello\"\n", "clone eval stdin close"},
			{"two pieces share a session", "x\n", []string{"-e", "1", "-e", "2"}, "1\n2\n", "clone eval eval close"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				sente(t, "", tc.stdin, append([]string{"eval", "--port", strconv.Itoa(rec.Port())}, tc.args...)...).expect(t, 0, tc.stdout, "")
				if got := strings.Join(rec.TakeOps(), " "); got != tc.ops {
					t.Errorf("ops sent: %q, want %q", got, tc.ops)
				}
			})
		}
	})
	t.Run("code that reads through a name sente cannot see is told why input does not reach it", func(t *testing.T) {
		r := sente(t, "", "hello\n", args("-e", `((resolve (symbol "read-line")))`)...)
		if r.code != 1 || !strings.Contains(r.stderr, "sente: the code reads *in*, but input reaches only an evaluation in a session") ||
			!strings.Contains(r.stderr, "wrap the call in (binding [*in* *in*] ...)") {
			t.Errorf("got %+v", r)
		}
		// As the note says: naming *in* gives the code a session and the input.
		sente(t, "", "hello\n", args("-e", `(binding [*in* *in*] ((resolve (symbol "read-line"))))`)...).expect(t, 0, "\"hello\"\n", "")
	})
	t.Run("read-line with stdin not piped fails at once", func(t *testing.T) {
		// With stdin on /dev/null the eval runs without a session, where
		// nREPL delivers no input: sente says so instead of hanging.
		r := sente(t, "", "", args("-e", "(read-line)")...)
		if r.code != 1 || !strings.Contains(r.stderr, "sente: the code reads *in*, but input reaches only an evaluation in a session") {
			t.Errorf("got %+v", r)
		}
	})
	t.Run("json", func(t *testing.T) {
		r := sente(t, "", "", args("--json", "-e", `(println "x") 42`)...)
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("got %+v", r)
		}
		objs := decodeJSON(t, r.stdout)
		if len(objs) != 1 || fmt.Sprint(objs[0]["values"]) != "[nil 42]" || objs[0]["out"] != "x\n" || objs[0]["err"] != "" ||
			fmt.Sprint(objs[0]["status"]) != "[done]" {
			t.Errorf("JSON: %s", r.stdout)
		}
		r = sente(t, "", "", args("--json", "-e", "(/ 1 0)")...)
		objs = decodeJSON(t, r.stdout)
		if r.code != 1 || r.stderr != "" || len(objs) != 1 || !strings.Contains(objs[0]["err"].(string), "Divide by zero") ||
			objs[0]["ex"] != "class java.lang.ArithmeticException" {
			t.Errorf("JSON error: %+v", r)
		}
	})
	t.Run("timeout interrupts the eval on the server", func(t *testing.T) {
		sente(t, "", "", args("-e", "(def state (atom :idle))")...)
		r := sente(t, "", "", args("--timeout", "700ms", "-e",
			"(try (reset! user/state :running) (Thread/sleep 30000) (catch InterruptedException _ (reset! user/state :interrupted)))")...)
		// Well before the 30 s sleep would end, however slow the machine.
		if r.code != 1 || !strings.Contains(r.stderr, "sente: timed out after 700ms (--timeout)") || r.took > 25*time.Second {
			t.Fatalf("got %+v", r)
		}
		var state string
		if !testutil.Poll(context.Background(), 0, func() bool {
			state = sente(t, "", "", args("-e", "@user/state")...).stdout
			return state == ":interrupted\n"
		}) {
			t.Fatalf("the server's eval was not interrupted: state %q", state)
		}
	})
	t.Run("--all needs a sente gateway", func(t *testing.T) {
		r := sente(t, "", "", args("--all", "-e", "1")...)
		if r.code != 2 || !strings.Contains(r.stderr, "sente: --all needs a sente gateway; the server at 127.0.0.1:"+strconv.Itoa(port)+" is nREPL") {
			t.Errorf("got %+v", r)
		}
	})
	t.Run(".nrepl-port in a parent directory", func(t *testing.T) {
		root := t.TempDir()
		deep := filepath.Join(root, "src", "app")
		os.MkdirAll(deep, 0o755)
		os.WriteFile(filepath.Join(root, ".nrepl-port"), []byte(strconv.Itoa(port)), 0o644)
		sente(t, deep, "", "eval", "-e", "(+ 2 2)").expect(t, 0, "4\n", "")
	})
	t.Run("SENTE_NREPL_PORT", func(t *testing.T) {
		senteEnv(t, "", "", []string{"SENTE_NREPL_PORT=" + strconv.Itoa(port), "SENTE_EVAL_EXPR=(+ 1, 1)"}, "eval").expect(t, 0, "2\n", "")
		// -e on the command line replaces SENTE_EVAL_EXPR.
		senteEnv(t, "", "", []string{"SENTE_NREPL_PORT=" + strconv.Itoa(port), "SENTE_EVAL_EXPR=(+ 1, 1)"}, "eval", "-e", "5").expect(t, 0, "5\n", "")
	})
}

func TestEvalNbb(t *testing.T) {
	port := peers.StartNbbNREPLServer(t)
	args := func(more ...string) []string { return append(append([]string{"eval"}, portArgs(port)...), more...) }

	sente(t, "", "", args("-e", "(+ 1 2)")...).expect(t, 0, "3\n", "")

	r := sente(t, "", "", args("-e", `(println "x") (throw (js/Error. "boom"))`)...)
	r.expect(t, 1, "x\nnil\n", "boom\n")

	r = sente(t, "", "", args("--json", "-e", `(str "a" "b")`)...)
	objs := decodeJSON(t, r.stdout)
	if r.code != 0 || len(objs) != 1 || fmt.Sprint(objs[0]["values"]) != `["ab"]` {
		t.Errorf("JSON: %+v", r)
	}
	r = sente(t, "", "", args("--json", "-e", `(throw (js/Error. "boom"))`)...)
	objs = decodeJSON(t, r.stdout)
	if r.code != 1 || len(objs) != 1 || objs[0]["err"] != "boom\n" || objs[0]["ex"] == "" {
		t.Errorf("JSON error: %+v", r)
	}
}

func TestEvalCannotConnect(t *testing.T) {
	port := peers.FreePort(t)
	r := sente(t, "", "", "eval", "--port", strconv.Itoa(port), "-e", "1")
	r.expect(t, 2, "", fmt.Sprintf("sente: cannot connect to nREPL at 127.0.0.1:%d: connection refused (is a server running? start one with: sente gateway)\n", port))
	if r.took > testutil.Patience {
		t.Errorf("took %v: a refused connection is not retried", r.took)
	}

	// A stale .nrepl-port is named, so the user knows where the port came from.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ".nrepl-port"), []byte(strconv.Itoa(port)), 0o644)
	r = sente(t, dir, "", "eval", "-e", "1")
	if r.code != 2 || !strings.Contains(r.stderr, fmt.Sprintf("127.0.0.1:%d (port from %s)", port, filepath.Join(dir, ".nrepl-port"))) {
		t.Errorf("port file: %+v", r)
	}
}

func TestEvalUsage(t *testing.T) {
	for _, args := range [][]string{
		{"eval", "(+ 1 2)"},
		{"eval", "--timeout", "-1s", "-e", "1"},
		{"eval", "--port", "70000", "-e", "1"},
		{"eval", "--no-such-flag"},
	} {
		if r := sente(t, "", "", args...); r.code != 2 || !strings.HasPrefix(r.stderr, "sente: ") {
			t.Errorf("sente %q: %+v", args, r)
		}
	}
	r := sente(t, "", "", "eval", "--help")
	if r.code != 0 || !strings.Contains(r.stdout, "sente eval -e '(+ 1 2)'") || !strings.Contains(r.stdout, "[$SENTE_NREPL_PORT]") {
		t.Errorf("--help: %+v", r)
	}
}

// testGateway is an in-process gateway to which tests connect simulated
// runtimes (gatewaytest's Runtime).
type testGateway struct {
	*gatewaytest.Gateway
}

func startGateway(t *testing.T) *testGateway {
	t.Helper()
	return &testGateway{gatewaytest.Start(t, func(cfg *gateway.Config) { cfg.RuntimeWait = time.Second })}
}

func (g *testGateway) port() string { return strconv.Itoa(g.NREPLAddr().Port) }

// tagged is simruntime.Echo with the runtime's tag before the echoed code, so
// a test can tell which runtime answered; code "(fail)" throws instead.
func tagged(tag string) simruntime.Handler {
	return func(req nrepl.Msg) []nrepl.Msg {
		if req.Str("op") == "eval" && strings.Contains(req.Str("code"), "(fail)") {
			return []nrepl.Msg{{"err": tag + " failed\n"}, {"ex": "Error", "status": []any{"eval-error"}}, {"status": []any{"done"}}}
		}
		rs := simruntime.Echo(req)
		if req.Str("op") == "eval" {
			rs[0]["value"] = tag + " " + req.Str("code")
		}
		return rs
	}
}

func TestEvalAllGateway(t *testing.T) {
	g := startGateway(t)
	r := sente(t, "", "", "eval", "--port", g.port(), "--all", "-e", "1")
	if r.code != 1 || !strings.Contains(r.stderr, "sente: no runtime is connected to the sente gateway at 127.0.0.1:"+g.port()) {
		t.Errorf("no runtimes: %+v", r)
	}

	g.Runtime(t, tagged("A"))
	g.Runtime(t, tagged("B"))

	// Without --all the newest runtime answers.
	sente(t, "", "", "eval", "--port", g.port(), "-e", "(+ 1 2)").expect(t, 0, "B (+ 1 2)\n", "")

	sente(t, "", "", "eval", "--port", g.port(), "--all", "-e", "(+ 1 2)", "-e", ":x").
		expect(t, 0, "r1: A (+ 1 2)\nr1: A :x\nr2: B (+ 1 2)\nr2: B :x\n", "")

	r = sente(t, "", "", "eval", "--port", g.port(), "--all", "--json", "-e", "(+ 1 2)")
	objs := decodeJSON(t, r.stdout)
	if r.code != 0 || len(objs) != 2 {
		t.Fatalf("--all --json: %+v", r)
	}
	for i, want := range []string{"A", "B"} {
		o := objs[i]
		if o["runtime"] != fmt.Sprintf("r%d", i+1) || fmt.Sprint(o["values"]) != "["+want+" (+ 1 2)]" || o["out"] != "" || o["err"] != "" ||
			fmt.Sprint(o["status"]) != "[done]" {
			t.Errorf("runtime %d: %v", i+1, o)
		}
	}

	r = sente(t, "", "", "eval", "--port", g.port(), "--all", "-e", "(fail)")
	r.expect(t, 1, "", "r1: A failed\nr2: B failed\n")
}
