package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sente-clj/sente/gateway"
)

// ErrSetup wraps every failure to reach or start what a scenario measures (a
// gateway, its runtimes, the echo server): nothing was measured, and the CLI
// exits 2 rather than 1.
var ErrSetup = errors.New("bench: setup failed")

func setupErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrSetup, fmt.Sprintf(format, args...))
}

// Gateway is the gateway under test, as the scenarios reach it.
type Gateway struct {
	HTTP  string // host:port of the page, /stats and the WebSocket paths
	NREPL string // host:port of the nREPL server
	Label string // how reports name it
	// Pid is the gateway's process id when this benchmark started it, so that
	// its resident memory can be read too; 0 for --target.
	Pid int
	// TLS, when not nil, reaches the gateway over https:// and wss://.
	TLS *tls.Config

	client *http.Client
}

// Stats is the gateway's /stats, with memory as the benchmark reports it:
// the gateway's figures and, when the benchmark started the gateway, its
// resident memory read from /proc.
type Stats struct {
	gateway.Stats
	Memory Memory `json:"memory"`
}

// AttachGateway reaches a gateway that is already running at target (http://H:P).
// nreplAddr is its nREPL address; "" asks the gateway's /health.
func AttachGateway(ctx context.Context, target, nreplAddr string) (*Gateway, error) {
	return AttachGatewayTLS(ctx, target, nreplAddr, nil)
}

// AttachGatewayTLS is AttachGateway with TLS settings for an https:// target
// (nil: the system's roots).
func AttachGatewayTLS(ctx context.Context, target, nreplAddr string, tlsCfg *tls.Config) (*Gateway, error) {
	u, err := url.Parse(target)
	if !strings.Contains(target, "://") {
		u, err = url.Parse("http://" + target)
	}
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, setupErr("--target %q is not a gateway URL such as http://127.0.0.1:1340", target)
	}
	g := &Gateway{HTTP: u.Host, NREPL: nreplAddr, Label: "--target " + u.Scheme + "://" + u.Host}
	if u.Scheme == "https" {
		g.TLS = tlsCfg
		if g.TLS == nil {
			g.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		}
	}
	g.client = newHTTPClient(g.TLS)
	var health gateway.Health
	if err := g.getJSON(ctx, "/health", &health); err != nil {
		return nil, setupErr("cannot reach a sente gateway at %s: %v", target, err)
	}
	if health.Status != "ok" {
		return nil, setupErr("%s/health says status %q, not ok", target, health.Status)
	}
	if g.NREPL == "" {
		g.NREPL = health.NREPL
	}
	return g, nil
}

func newHTTPClient(tlsCfg *tls.Config) *http.Client {
	// One keep-alive connection for every request: the goroutines it costs
	// the gateway are then the same in every /stats read.
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1, IdleConnTimeout: 5 * time.Minute, TLSClientConfig: tlsCfg}}
}

func (g *Gateway) getJSON(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.BaseURL()+path, nil)
	if err != nil {
		return err
	}
	resp, err := g.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			return ue.Err
		}
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: not sente's JSON: %w", path, err)
	}
	return nil
}

// BaseURL is http://HOST:PORT, or https:// with TLS.
func (g *Gateway) BaseURL() string {
	if g.TLS != nil {
		return "https://" + g.HTTP
	}
	return "http://" + g.HTTP
}

// dialer is newDialer with the gateway's TLS settings.
func (g *Gateway) dialer(buf int) *websocket.Dialer {
	d := newDialer(buf)
	d.TLSClientConfig = g.TLS
	return d
}

// Stats reads /stats. With gc the gateway is asked to collect garbage first
// (/stats?gc=1), which makes memory figures comparable; a gateway that does
// not know the parameter ignores it.
func (g *Gateway) Stats(ctx context.Context, gc bool) (Stats, error) {
	path := "/stats"
	if gc {
		path += "?gc=1"
	}
	var s Stats
	err := g.getJSON(ctx, path, &s)
	s.Memory.RSSBytes = residentBytes(g.Pid)
	return s, err
}

// Runtimes lists the runtimes connected to the gateway.
func (g *Gateway) Runtimes(ctx context.Context) ([]gateway.RuntimeInfo, error) {
	var list struct {
		Runtimes []gateway.RuntimeInfo `json:"runtimes"`
	}
	err := g.getJSON(ctx, "/runtimes", &list)
	return list.Runtimes, err
}

// waitFor polls cond every 5ms until it holds, ctx ends or timeout passes.
func waitFor(ctx context.Context, timeout time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still not the case after %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// Child is a process the benchmark started (the gateway or the echo server).
type Child struct {
	Name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Pid is the child's process id.
func (c *Child) Pid() int { return c.cmd.Process.Pid }

// Stop interrupts the child as Ctrl-C would and waits for it; after 10s it is
// killed. It returns the child's exit error, if any.
func (c *Child) Stop() error {
	select {
	case <-c.done:
		return c.err
	default:
	}
	if err := c.cmd.Process.Signal(os.Interrupt); err != nil {
		_ = c.cmd.Process.Kill()
	}
	select {
	case <-c.done:
		return c.err
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
		return fmt.Errorf("%s did not exit within 10s of SIGINT: killed", c.Name)
	}
}

// startChild runs exe with args and returns once it printed lines lines on
// stdout (given back without their newlines). The rest of its stdout is
// discarded; its stderr goes to stderr with name as a prefix.
func startChild(ctx context.Context, name, exe string, args []string, lines int, stderr io.Writer) (*Child, []string, error) {
	cmd := exec.Command(exe, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if stderr == nil {
		stderr = io.Discard
	}
	cmd.Stderr = &prefixWriter{w: stderr, prefix: name + ": "}
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return nil, nil, setupErr("start %s: %v", name, err)
	}
	c := &Child{Name: name, cmd: cmd, done: make(chan struct{})}
	got := make(chan []string, 1)
	go func() {
		br := bufio.NewReader(out)
		var ls []string
		for len(ls) < lines {
			l, err := br.ReadString('\n')
			if err != nil {
				break
			}
			ls = append(ls, strings.TrimRight(l, "\r\n"))
		}
		got <- ls
		_, _ = io.Copy(io.Discard, br)
	}()
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	timer := time.NewTimer(15 * time.Second)
	defer timer.Stop()
	select {
	case ls := <-got:
		if len(ls) == lines {
			return c, ls, nil
		}
		<-c.done
		return nil, nil, setupErr("%s exited (%v) before it was ready; its output: %q", name, c.err, strings.Join(ls, "\n"))
	case <-timer.C:
		_ = c.Stop()
		return nil, nil, setupErr("%s printed nothing within 15s", name)
	case <-ctx.Done():
		_ = c.Stop()
		return nil, nil, ctx.Err()
	}
}

var (
	startupLineRE = regexp.MustCompile(`^nREPL server started on port \d+ on host \S+ - nrepl://(\S+)$`)
	pageLineRE    = regexp.MustCompile(`^sente gateway: open (https?)://(\S+)/ in a browser$`)
)

// StartGateway runs `exe --log-level warn gateway --nrepl-port 0 --port 0
// --port-file "" extra...` as a child process, reads both addresses from its
// startup lines, and returns the gateway with the child to Stop at the end.
func StartGateway(ctx context.Context, exe string, extra []string, stderr io.Writer) (*Gateway, *Child, error) {
	return StartGatewayTLS(ctx, exe, extra, nil, stderr)
}

// StartGatewayTLS is StartGateway with the TLS settings that trust the
// child's certificate, when extra makes it serve HTTPS.
func StartGatewayTLS(ctx context.Context, exe string, extra []string, tlsCfg *tls.Config, stderr io.Writer) (*Gateway, *Child, error) {
	args := append([]string{"--log-level", "warn", "gateway", "--nrepl-port", "0", "--port", "0", "--port-file", ""}, extra...)
	c, lines, err := startChild(ctx, "gateway", exe, args, 2, stderr)
	if err != nil {
		return nil, nil, err
	}
	m, p := startupLineRE.FindStringSubmatch(lines[0]), pageLineRE.FindStringSubmatch(lines[1])
	if m == nil || p == nil {
		_ = c.Stop()
		return nil, nil, setupErr("the gateway's startup lines are not sente's:\n%s\n%s", lines[0], lines[1])
	}
	g := &Gateway{HTTP: p[2], NREPL: m[1], Pid: c.Pid(),
		Label: fmt.Sprintf("child process pid %d, %s %s, nrepl %s", c.Pid(), p[1], p[2], m[1])}
	if p[1] == "https" {
		g.TLS = tlsCfg
		if g.TLS == nil {
			g.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		}
	}
	g.client = newHTTPClient(g.TLS)
	return g, c, nil
}

// StartEchoServer runs `exe bench echo-server` as a child process and returns
// the host:port it listens on.
func StartEchoServer(ctx context.Context, exe string, stderr io.Writer) (string, *Child, error) {
	c, lines, err := startChild(ctx, "echo-server", exe, []string{"bench", "echo-server"}, 1, stderr)
	if err != nil {
		return "", nil, err
	}
	addr := strings.TrimPrefix(lines[0], EchoReadyPrefix)
	if _, _, err := net.SplitHostPort(addr); err != nil || !strings.HasPrefix(lines[0], EchoReadyPrefix) {
		_ = c.Stop()
		return "", nil, setupErr("the echo server said %q, not %q", lines[0], EchoReadyPrefix+"HOST:PORT")
	}
	return addr, c, nil
}

// prefixWriter prefixes every line a child writes to stderr with its name.
type prefixWriter struct {
	mu      sync.Mutex
	w       io.Writer
	prefix  string
	midLine bool
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out bytes.Buffer
	for _, l := range bytes.SplitAfter(b, []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		if !p.midLine {
			out.WriteString(p.prefix)
		}
		out.Write(l)
		p.midLine = l[len(l)-1] != '\n'
	}
	if _, err := p.w.Write(out.Bytes()); err != nil {
		return 0, err
	}
	return len(b), nil
}
