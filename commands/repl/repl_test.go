package repl_test

// These tests run the sente binary as a user would: with forms piped to it,
// and in a real terminal (tmux), against nbb's nREPL server, the reference JVM
// nREPL, and an in-process gateway with simulated runtimes.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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

// cleanEnv is the test's environment without SENTE_* settings and with a
// fresh HOME, so no user history or configuration leaks in.
func cleanEnv(t *testing.T) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SENTE_") && !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "XDG_STATE_HOME=") {
			env = append(env, kv)
		}
	}
	return append(env, "HOME="+t.TempDir())
}

type result struct {
	stdout, stderr string
	code           int
}

// piped runs `sente repl` with stdin as its input.
func piped(t *testing.T, port int, stdin string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, senteBin, "repl", "--port", strconv.Itoa(port))
	cmd.Dir = t.TempDir()
	cmd.Env = cleanEnv(t)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("sente repl: %v", err)
	}
	return r
}

func (r result) expect(t *testing.T, code int, stdout, stderr string) {
	t.Helper()
	if r.code != code || r.stdout != stdout || r.stderr != stderr {
		t.Errorf("exit %d, stdout %q, stderr %q\nwant exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr, code, stdout, stderr)
	}
}

func TestPipedJVM(t *testing.T) {
	port := peers.StartJVMNREPLServer(t)

	t.Run("forms over lines, out and err apart", func(t *testing.T) {
		piped(t, port, "(def x 40)\n(+ x\n   2) (println \"out\") ; comment (\n(binding [*out* *err*] (println \"e\"))\n(str \\( \"a)b\" \\\")\n").
			expect(t, 0, "#'user/x\n42\nout\nnil\nnil\n\"(a)b\\\"\"\n", "e\n")
	})
	t.Run("the ns carries over", func(t *testing.T) {
		piped(t, port, "(ns my.app)\n(str *ns*)\n").expect(t, 0, "nil\n\"my.app\"\n", "")
	})
	t.Run("an error goes on, then exits 1", func(t *testing.T) {
		r := piped(t, port, "(/ 1 0)\n(+ 1 1)\n")
		if r.code != 1 || r.stdout != "2\n" || !strings.Contains(r.stderr, "Divide by zero") {
			t.Errorf("got %+v", r)
		}
	})
	t.Run("unbalanced input", func(t *testing.T) {
		piped(t, port, "1\n(+ 1 2)) (lost)\n3\n(+ 4\n").expect(t, 1, "1\n3\n3\n",
			"sente: line 2, column 8: unmatched delimiter ): nothing is open\n"+
				"sente: line 4, column 1: the input ended before the ( opened here was closed with )\n")
	})
	t.Run("gateway commands need a gateway", func(t *testing.T) {
		r := piped(t, port, ":runtimes\n1\n")
		if r.code != 1 || r.stdout != "1\n" || !strings.Contains(r.stderr, "sente: :runtimes needs a sente gateway; the server at 127.0.0.1:"+strconv.Itoa(port)+" is nREPL") {
			t.Errorf("got %+v", r)
		}
	})
	t.Run(":help and :quit", func(t *testing.T) {
		r := piped(t, port, ":help\n:quit\n(/ 1 0)\n")
		if r.code != 0 || !strings.Contains(r.stdout, ":use ID") || r.stderr != "" {
			t.Errorf("got %+v", r)
		}
	})
}

func TestPipedNbb(t *testing.T) {
	port := peers.StartNbbNREPLServer(t)
	piped(t, port, "(+ 1 2)\n(println \"x\")\n(throw (js/Error. \"boom\"))\n[1\n 2]\n").expect(t, 1, "3\nx\nnil\n[1 2]\n", "boom\n")
}

func TestPipedCannotConnect(t *testing.T) {
	port := peers.FreePort(t)
	piped(t, port, "1\n").expect(t, 2, "", fmt.Sprintf("sente: cannot connect to nREPL at 127.0.0.1:%d: connection refused (is a server running? start one with: sente gateway)\n", port))
}

// startGateway runs a gateway in-process on free ports and returns its nREPL
// port; tags connects one simulated runtime per tag, in order (r1, r2, ...).
func startGateway(t *testing.T, tags ...string) int {
	t.Helper()
	srv := gatewaytest.Start(t, func(cfg *gateway.Config) { cfg.RuntimeWait = time.Second })
	for _, tag := range tags {
		srv.Runtime(t, tagged(tag))
	}
	return srv.NREPLAddr().Port
}

// tagged is simruntime.Echo with the runtime's tag before the echoed code;
// code with (hang) in it gets no answer, as from a busy browser.
func tagged(tag string) simruntime.Handler {
	return func(req nrepl.Msg) []nrepl.Msg {
		if strings.Contains(req.Str("code"), "(hang)") {
			return nil
		}
		rs := simruntime.Echo(req)
		if req.Str("op") == "eval" {
			rs[0]["value"] = tag + ": " + req.Str("code")
		}
		return rs
	}
}

func TestPipedGatewayRuntimes(t *testing.T) {
	port := startGateway(t, "A", "B")
	r := piped(t, port, ":runtimes\n(+ 1 2)\n:use r1\n:runtimes\n(+ 1 2)\n:use\n(+ 1 2)\n:use r9\n")
	if r.code != 1 || r.stderr != "sente: no runtime \"r9\" is connected; sente/runtimes lists them\n" {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	want := []string{
		`^ID +KIND +STATE +PENDING +CONNECTED +USER AGENT$`,
		`^r1 +scittle-nrepl +- +0 +\S+ +sente-simruntime$`,
		`^r2 +scittle-nrepl +default +0 +\S+ +sente-simruntime$`,
		`^B: .*\(\+ 1 2\)$`, // the newest runtime
		`^using runtime r1$`,
		`^ID `,
		`^r1 +scittle-nrepl +selected +0 `,
		`^r2 +scittle-nrepl +default +0 `,
		`^A: .*\(\+ 1 2\)$`, // pinned
		`^following the newest runtime$`,
		`^B: .*\(\+ 1 2\)$`,
	}
	if len(lines) != len(want) {
		t.Fatalf("stdout has %d lines, want %d:\n%s", len(lines), len(want), r.stdout)
	}
	for i, w := range want {
		if !regexp.MustCompile(w).MatchString(lines[i]) {
			t.Errorf("line %d = %q, want it to match %s", i+1, lines[i], w)
		}
	}
}

// terminal is a tmux server on a private socket running one command in a
// 120x40 pane.
type terminal struct {
	t      *testing.T
	socket string
}

func tmuxAvailable() bool {
	_, err := exec.LookPath("tmux")
	return err == nil
}

var tmuxSeq int

// startTerminal runs argv in a new tmux pane. When argv ends, the pane shows
// "[exited N]" and stays for inspection.
func startTerminal(t *testing.T, env []string, argv ...string) *terminal {
	t.Helper()
	peers.Require(t, tmuxAvailable(), "tmux", "apt-get install -y --no-install-recommends tmux")
	tmuxSeq++
	term := &terminal{t: t, socket: fmt.Sprintf("sente-test-%d-%d", os.Getpid(), tmuxSeq)}
	var quoted []string
	for _, a := range argv {
		quoted = append(quoted, "'"+strings.ReplaceAll(a, "'", `'\''`)+"'")
	}
	// The shell traps SIGINT so that Ctrl-C, sent to the whole foreground
	// process group, does not end it while the REPL goes on.
	shell := "trap : INT; " + strings.Join(quoted, " ") + `; echo "[exited $?]"; sleep 600`
	cmd := exec.Command("tmux", "-L", term.socket, "-f", "/dev/null", "new-session", "-d", "-x", "120", "-y", "40", "sh", "-c", shell)
	cmd.Env = append(env, "TERM=xterm-256color")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("tmux", "-L", term.socket, "kill-server").Run() })
	return term
}

// keys sends tmux key names ("Enter", "C-c", "Up", "Tab") or literal text.
func (term *terminal) keys(keys ...string) {
	term.t.Helper()
	args := append([]string{"-L", term.socket, "send-keys", "-t", "0"}, keys...)
	if out, err := exec.Command("tmux", args...).CombinedOutput(); err != nil {
		term.t.Fatalf("tmux send-keys %q: %v\n%s", keys, err, out)
	}
}

// text types s literally.
func (term *terminal) text(s string) {
	term.t.Helper()
	if out, err := exec.Command("tmux", "-L", term.socket, "send-keys", "-t", "0", "-l", s).CombinedOutput(); err != nil {
		term.t.Fatalf("tmux send-keys -l %q: %v\n%s", s, err, out)
	}
}

func (term *terminal) screen() string {
	term.t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command("tmux", "-L", term.socket, "capture-pane", "-p", "-t", "0")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		term.t.Fatalf("tmux capture-pane: %v: %s", err, stderr.String())
	}
	lines := strings.Split(string(out), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.TrimRight(strings.Join(lines, "\n"), "\n")
}

// waitFor polls the screen until cond holds, failing after testutil.Patience.
func (term *terminal) waitFor(what string, cond func(screen string) bool) string {
	term.t.Helper()
	var s string
	if !testutil.Poll(context.Background(), 0, func() bool { s = term.screen(); return cond(s) }) {
		term.t.Fatalf("waited %v for %s; the screen:\n%s", testutil.Patience, what, s)
	}
	return s
}

// lastLine is the screen's last non-empty line.
func lastLine(screen string) string {
	lines := strings.Split(screen, "\n")
	return lines[len(lines)-1]
}

// waitLast waits for the last line to be exactly want.
func (term *terminal) waitLast(want string) string {
	term.t.Helper()
	return term.waitFor(fmt.Sprintf("the last line to be %q", want), func(s string) bool { return lastLine(s) == want })
}

func TestInteractiveJVM(t *testing.T) {
	peers.Require(t, tmuxAvailable(), "tmux", "apt-get install -y --no-install-recommends tmux")
	port := peers.StartJVMNREPLServer(t)
	env := cleanEnv(t)
	history := filepath.Join(t.TempDir(), "state", "history")
	term := startTerminal(t, env, senteBin, "repl", "--port", strconv.Itoa(port), "--history-file", history)
	screen := term.waitLast("user=>")
	if !strings.Contains(screen, "sente repl: connected to nREPL 1.0.0") {
		t.Errorf("no banner:\n%s", screen)
	}

	// A value, then Up recalls the input.
	term.text("(+ 1 2)")
	term.keys("Enter")
	term.waitFor("the value 3", func(s string) bool { return strings.HasSuffix(s, "user=> (+ 1 2)\n3\nuser=>") })
	term.keys("Up")
	term.waitLast("user=> (+ 1 2)")
	term.keys("C-c") // clears the line
	term.waitFor("a fresh prompt after Ctrl-C", func(s string) bool { return strings.HasSuffix(s, "^C\nuser=>") })

	// A form over two lines.
	term.text("(+ 1")
	term.keys("Enter")
	term.waitLast("  #_=>")
	term.text("2 3)")
	term.keys("Enter")
	term.waitFor("the two-line form's value", func(s string) bool { return strings.HasSuffix(s, "user=> (+ 1\n  #_=> 2 3)\n6\nuser=>") })
	// ... recalled as one line.
	term.keys("Up")
	term.waitLast("user=> (+ 1 2 3)")
	term.keys("C-c")
	term.waitLast("user=>")

	// Tab: several candidates are listed; a single one is completed.
	term.text("(ma")
	term.keys("Tab")
	term.waitFor("completion candidates", func(s string) bool {
		return strings.Contains(s, "mapcat") && strings.Contains(s, "max-key") && strings.Contains(s, "macroexpand")
	})
	term.keys("C-c", "C-c") // leave the candidate list, then clear the line
	term.waitLast("user=>")
	term.text("(mapc")
	term.keys("Tab")
	term.waitLast("user=> (mapcat")
	term.keys("C-c")
	term.waitLast("user=>")

	// Ctrl-C interrupts a long evaluation, quickly, and the REPL goes on.
	term.text("(Thread/sleep 60000)")
	term.keys("Enter")
	term.waitLast("user=> (Thread/sleep 60000)")
	testutil.Eventually(t, 0, func() bool { return jvmSessionSleeping(t, port) }, "the eval to start sleeping on the JVM")
	start := time.Now()
	term.keys("C-c")
	screen = term.waitFor("the interrupted note and a prompt", func(s string) bool {
		return strings.HasSuffix(s, "sente: evaluation interrupted\nuser=>")
	})
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("the prompt came back %v after Ctrl-C: the 60 s sleep was not interrupted", took)
	}
	if !strings.Contains(screen, "sleep interrupted") {
		t.Errorf("no interrupted exception from the server:\n%s", screen)
	}
	term.text("(+ 40 2)")
	term.keys("Enter")
	term.waitFor("a value after the interrupt", func(s string) bool { return strings.HasSuffix(s, "(+ 40 2)\n42\nuser=>") })

	// The namespace shows in the prompts.
	term.text("(ns my.app)")
	term.keys("Enter")
	term.waitLast("my.app=>")
	term.text("[1")
	term.keys("Enter")
	term.waitLast("    #_=>") // as wide as "my.app=> "
	term.text("2]")
	term.keys("Enter")
	term.waitLast("my.app=>")

	// Ctrl-D exits; the history was kept, one line per input.
	term.keys("C-d")
	term.waitLast("[exited 0]")
	b, err := os.ReadFile(history)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b); got != "(+ 1 2)\n(+ 1 2 3)\n(Thread/sleep 60000)\n(+ 40 2)\n(ns my.app)\n[1 2]\n" {
		t.Errorf("history file:\n%s", got)
	}

	// A new REPL recalls it.
	term2 := startTerminal(t, env, senteBin, "repl", "--port", strconv.Itoa(port), "--history-file", history)
	term2.waitLast("user=>")
	term2.keys("Up")
	term2.waitLast("user=> [1 2]")
}

func TestInteractiveNbbCannotInterrupt(t *testing.T) {
	peers.Require(t, tmuxAvailable(), "tmux", "apt-get install -y --no-install-recommends tmux")
	// Through a recorder, to see when the eval has been sent.
	rec := testutil.RecordOps(t, "127.0.0.1:"+strconv.Itoa(peers.StartNbbNREPLServer(t)))
	term := startTerminal(t, cleanEnv(t), senteBin, "repl", "--port", strconv.Itoa(rec.Port()), "--history-file", "")
	term.waitLast("user=>")
	term.text(`(str "a" "b")`)
	term.keys("Enter")
	term.waitFor("a value", func(s string) bool { return strings.HasSuffix(s, "\n\"ab\"\nuser=>") })
	// nbb has no interrupt op: Ctrl-C stops waiting for a promise that never settles.
	term.text("(js/Promise. (fn [_ _]))")
	term.keys("Enter")
	waitEvalSent(t, rec, "(js/Promise. (fn [_ _]))")
	term.keys("C-c")
	term.waitFor("the prompt back", func(s string) bool {
		return strings.Contains(s, "sente: this server cannot interrupt an evaluation; stopped waiting for it") && lastLine(s) == "user=>"
	})
	term.keys("C-d")
	term.waitLast("[exited 0]")
}

func TestInteractiveGateway(t *testing.T) {
	peers.Require(t, tmuxAvailable(), "tmux", "apt-get install -y --no-install-recommends tmux")
	rec := testutil.RecordOps(t, "127.0.0.1:"+strconv.Itoa(startGateway(t, "A", "B")))
	term := startTerminal(t, cleanEnv(t), senteBin, "repl", "--port", strconv.Itoa(rec.Port()), "--history-file", "")
	screen := term.waitLast("user=>")
	if !strings.Contains(screen, "(2 runtimes connected)") {
		t.Errorf("banner:\n%s", screen)
	}
	term.text(":use r1")
	term.keys("Enter")
	term.waitFor(":use", func(s string) bool { return strings.HasSuffix(s, "using runtime r1\nuser=>") })
	term.text("(+ 1 2)")
	term.keys("Enter")
	term.waitFor("runtime A's answer", func(s string) bool {
		return regexp.MustCompile(`\nA: .*\(\+ 1 2\)\nuser=>$`).MatchString(s)
	})
	term.text(":runtimes")
	term.keys("Enter")
	term.waitFor("the table", func(s string) bool {
		return regexp.MustCompile(`\nr1 +scittle-nrepl +selected .*\nr2 +scittle-nrepl +default .*\nuser=>$`).MatchString(s)
	})
	// The gateway answers interrupt itself: the REPL stops waiting at once.
	term.text("(hang)")
	term.keys("Enter")
	waitEvalSent(t, rec, "(hang)")
	term.keys("C-c")
	term.waitFor("the interrupted note", func(s string) bool { return strings.HasSuffix(s, "sente: evaluation interrupted\nuser=>") })
	term.keys("C-d")
	term.waitLast("[exited 0]")
}

// waitEvalSent waits until the REPL has sent code for evaluation: from then
// on Ctrl-C interrupts it rather than clearing the input line.
func waitEvalSent(t *testing.T, rec *testutil.OpRecorder, code string) {
	t.Helper()
	testutil.Eventually(t, 0, func() bool {
		return rec.Sent(func(m nrepl.Msg) bool { return m.Str("op") == "eval" && m.Str("code") == code })
	}, "the REPL to send %s", code)
}

// jvmSessionSleeping reports whether an nREPL session thread of the JVM
// server at port is sleeping: an eval of (Thread/sleep ...) has started, so
// that an interrupt finds it running.
func jvmSessionSleeping(t *testing.T, port int) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Patience)
	defer cancel()
	c, err := nrepl.Dial(ctx, "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.Eval(ctx, "", `(boolean (some (fn [^Thread th] (and (.startsWith (.getName th) "nREPL-session-")
                                                  (= Thread$State/TIMED_WAITING (.getState th))))
                                   (keys (Thread/getAllStackTraces))))`, nil)
	if err != nil {
		t.Fatal(err)
	}
	return len(res.Values) == 1 && res.Values[0] == "true"
}
