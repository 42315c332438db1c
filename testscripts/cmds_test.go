package testscripts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/sente-clj/sente/internal/testutil"
	"github.com/sente-clj/sente/internal/tlsclient"
)

// timeout bounds every wait in these commands: a gateway starting or stopping,
// an HTTP request, a file appearing, subscribers subscribing. It is generous:
// a loaded machine is slow, and only a hung script reaches it.
const timeout = testutil.Patience

// stateKey indexes a script's *scriptState in testscript's per-script Values.
type stateKey struct{}

// scriptState is what the custom commands keep between lines of one script.
type scriptState struct {
	gateway *gatewayProc // the gateway started by gateway-start, until gateway-stop
}

func state(ts *testscript.TestScript) *scriptState {
	return ts.Value(stateKey{}).(*scriptState)
}

// gatewayProc is a `sente gateway` running in the background.
type gatewayProc struct {
	cmd    *exec.Cmd
	stdout *testutil.Buffer
	stderr *testutil.Buffer
	done   chan struct{} // closed once the process has exited and its output is in
	err    error         // cmd.Wait's result, once done is closed
}

var (
	// startupLineRE is the line editors (CIDER, Calva, Conjure) parse when they jack in.
	startupLineRE = regexp.MustCompile(`^nREPL server started on port (\d+) on host (\S+) - nrepl://(\S+)$`)
	pageLineRE    = regexp.MustCompile(`^sente gateway: open (https?://\S+/) in a browser$`)
)

// cmdGatewayStart implements gateway-start [GLOBAL-FLAGS... gateway] [FLAGS...].
func cmdGatewayStart(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! gateway-start; use exec-status 2 sente gateway ... to test a failing start")
	}
	st := state(ts)
	if st.gateway != nil {
		ts.Fatalf("a gateway is already running in this script; gateway-stop it first")
	}

	var global []string
	if i := slices.Index(args, "gateway"); i >= 0 {
		global, args = args[:i], args[i+1:]
	}
	if !hasFlag(args, "nrepl-port") && ts.Getenv("SENTE_NREPL_PORT") == "" {
		args = append(args, "--nrepl-port", "0")
	}
	if !hasFlag(args, "port") && ts.Getenv("SENTE_PORT") == "" {
		args = append(args, "--port", "0")
	}
	argv := append(append(slices.Clone(global), "gateway"), args...)

	prog, err := lookPath(ts, "sente")
	ts.Check(err)
	g := &gatewayProc{stdout: &testutil.Buffer{}, stderr: &testutil.Buffer{}, done: make(chan struct{})}
	g.cmd = exec.Command(prog, argv...)
	g.cmd.Dir = ts.MkAbs(".")
	g.cmd.Env = scriptEnv(ts)
	g.cmd.Stdout, g.cmd.Stderr = g.stdout, g.stderr
	g.cmd.WaitDelay = time.Second // for output still held open by a child, once it has exited
	ts.Logf("[gateway-start: sente %s]", strings.Join(argv, " "))
	ts.Check(g.cmd.Start())
	go func() {
		g.err = g.cmd.Wait()
		close(g.done)
	}()
	st.gateway = g
	ts.Defer(func() {
		if st.gateway == g {
			st.gateway = nil
			if !g.stop() {
				ts.Logf("[gateway still running %s after SIGINT at the end of the script: killed]", timeout)
			}
		}
	})

	lines, err := g.startupLines()
	if err != nil {
		ts.Fatalf("%v\nstdout:\n%s\nstderr:\n%s", err, g.stdout.String(), g.stderr.String())
	}
	m := startupLineRE.FindStringSubmatch(lines[0])
	if m == nil {
		ts.Fatalf("first stdout line is not the nREPL startup line editors parse:\n%s", lines[0])
	}
	p := pageLineRE.FindStringSubmatch(lines[1])
	if p == nil {
		ts.Fatalf("second stdout line is not %q:\n%s", "sente gateway: open URL in a browser", lines[1])
	}
	page, err := url.Parse(p[1])
	ts.Check(err)
	ts.Setenv("NREPL_PORT", m[1])
	ts.Setenv("HTTP_PORT", page.Port())
	ws := "ws://"
	if page.Scheme == "https" {
		ws = "wss://"
	}
	ts.Setenv("GATEWAY_URL", page.Scheme+"://"+page.Host)
	ts.Setenv("CHSK_URL", ws+page.Host+"/chsk")
	fmt.Fprintf(ts.Stdout(), "%s\n%s\n", lines[0], lines[1])
}

// hasFlag reports whether args set flag name, in any of the spellings urfave
// accepts: -name, --name, -name=v, --name=v.
func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if !strings.HasPrefix(a, "-") {
			continue // a value, like the port in --port-file port
		}
		a = strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-")
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

// startupLines waits for the gateway's first two stdout lines.
func (g *gatewayProc) startupLines() ([]string, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		if lines := strings.SplitAfter(g.stdout.String(), "\n"); len(lines) > 2 {
			return []string{strings.TrimSuffix(lines[0], "\n"), strings.TrimSuffix(lines[1], "\n")}, nil
		}
		select {
		case <-g.stdout.Changed():
		case <-g.done:
			if lines := strings.SplitAfter(g.stdout.String(), "\n"); len(lines) > 2 {
				continue
			}
			return nil, fmt.Errorf("sente gateway exited (%v) before printing its two startup lines", g.err)
		case <-deadline.C:
			g.kill()
			return nil, fmt.Errorf("sente gateway printed no two startup lines within %s", timeout)
		}
	}
}

// stop interrupts the gateway as Ctrl-C would and waits for it to exit; past
// the timeout it kills it and reports false.
func (g *gatewayProc) stop() bool {
	select {
	case <-g.done:
		return true
	default:
	}
	if err := interrupt(g.cmd.Process); err != nil {
		g.kill()
		return false
	}
	select {
	case <-g.done:
		return true
	case <-time.After(timeout):
		g.kill()
		return false
	}
}

func (g *gatewayProc) kill() {
	_ = g.cmd.Process.Kill()
	<-g.done
}

func interrupt(p *os.Process) error {
	if runtime.GOOS == "windows" {
		return errors.New("no SIGINT on Windows")
	}
	return p.Signal(os.Interrupt)
}

// cmdGatewayStop implements [!] gateway-stop.
func cmdGatewayStop(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 0 {
		ts.Fatalf("usage: gateway-stop")
	}
	st := state(ts)
	g := st.gateway
	if g == nil {
		ts.Fatalf("no gateway is running; gateway-start one first")
	}
	st.gateway = nil
	exited := g.stop()

	work := ts.Getenv("WORK")
	ts.Check(os.WriteFile(filepath.Join(work, "gateway.stdout"), []byte(g.stdout.String()), 0o666))
	ts.Check(os.WriteFile(filepath.Join(work, "gateway.stderr"), []byte(g.stderr.String()), 0o666))
	_, _ = io.WriteString(ts.Stdout(), g.stdout.String())
	_, _ = io.WriteString(ts.Stderr(), g.stderr.String())

	switch {
	case !exited:
		ts.Fatalf("sente gateway did not exit within %s of SIGINT: killed", timeout)
	case neg && g.err == nil:
		ts.Fatalf("sente gateway exited with status 0, want a failure")
	case !neg && g.err != nil:
		ts.Fatalf("sente gateway did not shut down cleanly: %v", g.err)
	}
	ts.Logf("[gateway exited: %s]", exitStatus(g.err))
}

// cmdHTTPGet implements [!] http-get URL.
func cmdHTTPGet(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: http-get URL")
	}
	client := scriptClient(ts)
	defer client.CloseIdleConnections()
	resp, err := client.Get(args[0])
	if err != nil {
		if neg {
			return
		}
		ts.Fatalf("%v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	ts.Check(err)
	_, _ = ts.Stdout().Write(body)
	fmt.Fprintf(ts.Stderr(), "%s %s\n", resp.Proto, resp.Status)
	names := make([]string, 0, len(resp.Header))
	for k := range resp.Header {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		for _, v := range resp.Header[k] {
			fmt.Fprintf(ts.Stderr(), "%s: %s\n", k, v)
		}
	}
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	switch {
	case ok && neg:
		ts.Fatalf("GET %s: %s, want a failure", args[0], resp.Status)
	case !ok && !neg:
		ts.Fatalf("GET %s: %s", args[0], resp.Status)
	}
}

// cmdExecStatus implements exec-status CODE PROG [ARGS...]: testscript's
// exec (stdin from a preceding stdin command, the script's environment and
// deadline), with the exit status checked exactly.
func cmdExecStatus(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! exec-status; name the status you expect")
	}
	if len(args) < 2 {
		ts.Fatalf("usage: exec-status CODE PROG [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exec-status: CODE %q is not a number", args[0])
	}
	err = ts.Exec(args[1], args[2:]...)
	var exitErr *exec.ExitError
	got := 0
	switch {
	case errors.As(err, &exitErr):
		got = exitErr.ExitCode()
	case err != nil:
		ts.Fatalf("%v", err)
	}
	if got != want {
		ts.Fatalf("%s exited with %s, want status %d", args[1], exitStatus(err), want)
	}
}

// cmdWaitFile implements [!] wait-file FILE.
func cmdWaitFile(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: wait-file FILE")
	}
	name := ts.MkAbs(args[0])
	var statErr error
	there := func() bool {
		_, err := os.Stat(name)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			statErr = err
			return true
		}
		return (err == nil) != neg
	}
	if !testutil.Poll(context.Background(), timeout, there) {
		if neg {
			ts.Fatalf("%s still exists after %s", args[0], timeout)
		}
		ts.Fatalf("%s did not appear within %s", args[0], timeout)
	}
	if statErr != nil {
		ts.Fatalf("%v", statErr)
	}
}

// cmdWaitSubscribers implements wait-subscribers CHANNEL N: it waits until the
// gateway's /channels says CHANNEL has N subscribers, which is when a
// `sente subscribe` started in the background (exec ... &name&) has
// subscribed and a publish reaches it.
func cmdWaitSubscribers(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! wait-subscribers")
	}
	if len(args) != 2 {
		ts.Fatalf("usage: wait-subscribers CHANNEL N")
	}
	want, err := strconv.Atoi(args[1])
	if err != nil {
		ts.Fatalf("wait-subscribers: N %q is not a number", args[1])
	}
	base := ts.Getenv("GATEWAY_URL")
	if base == "" {
		ts.Fatalf("wait-subscribers: no GATEWAY_URL; gateway-start first")
	}
	client := scriptClient(ts)
	defer client.CloseIdleConnections()
	got := -1
	subscribed := func() bool {
		resp, err := client.Get(base + "/channels")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var body struct {
			Channels map[string]int `json:"channels"`
		}
		if json.NewDecoder(resp.Body).Decode(&body) != nil {
			return false
		}
		got = body.Channels[args[0]]
		return got == want
	}
	if !testutil.Poll(context.Background(), timeout, subscribed) {
		ts.Fatalf("channel %s has %d subscribers after %s, want %d", args[0], got, timeout, want)
	}
}

// scriptClient is the HTTP client of http-get and wait-subscribers. It trusts
// the PEM certificates in $TLS_CA besides the system's, so that a script can
// reach a TLS gateway without setting SENTE_TLS_CA, which the sente commands
// it runs would read too.
func scriptClient(ts *testscript.TestScript) *http.Client {
	transport, err := tlsclient.Transport(tlsclient.Options{CAFile: ts.Getenv("TLS_CA")})
	if err != nil {
		ts.Fatalf("$TLS_CA: %v", err)
	}
	return &http.Client{Timeout: timeout, Transport: transport}
}

func exitStatus(err error) string {
	if err == nil {
		return "status 0"
	}
	return err.Error()
}

// lookPath finds prog the way exec does: on the script's PATH, or relative to
// the script's current directory when it names a path.
func lookPath(ts *testscript.TestScript, prog string) (string, error) {
	if strings.ContainsRune(prog, '/') || strings.ContainsRune(prog, os.PathSeparator) {
		return ts.MkAbs(prog), nil
	}
	exts := []string{""}
	if runtime.GOOS == "windows" {
		exts = []string{".exe", ""}
	}
	for _, dir := range filepath.SplitList(ts.Getenv("PATH")) {
		for _, ext := range exts {
			p := filepath.Join(dir, prog+ext)
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() && (runtime.GOOS == "windows" || fi.Mode()&0o111 != 0) {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("%s: not found on the script's PATH", prog)
}

// scriptEnv is the script's environment as exec passes it: what testscript and
// Setup set, plus everything set with env since. testscript has no exported
// accessor for it, so it is read from TestScript's unexported env field.
func scriptEnv(ts *testscript.TestScript) []string {
	f := reflect.ValueOf(ts).Elem().FieldByName("env")
	if !f.IsValid() || f.Kind() != reflect.Slice || f.Type().Elem().Kind() != reflect.String {
		ts.Fatalf("testscript.TestScript has no env []string field any more: update scriptEnv in cmds_test.go")
	}
	env := make([]string, f.Len())
	for i := range env {
		env[i] = f.Index(i).String() // String, unlike Interface, may read unexported fields
	}
	return env
}
