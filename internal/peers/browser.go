package peers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// ChromiumPath is the browser the driver launches (Debian package chromium).
const ChromiumPath = "/usr/bin/chromium"

// Browser is one headless Chromium driven by playwright-core through a small Node
// driver script (internal/peers/browser.mjs) that this package starts as a child
// process and talks to over stdin/stdout with JSON lines.
type Browser struct {
	proc    *proc
	version string

	writeMu sync.Mutex // one JSON line at a time on the driver's stdin

	mu      sync.Mutex
	nextID  int64
	pending map[int64]chan driverReply
	pages   map[string]*Page
	nPages  int
}

// Page is one tab of a Browser, in its own browser context (no shared storage).
type Page struct {
	b   *Browser
	id  string
	url string

	mu      sync.Mutex
	console []string
}

type driverReply struct {
	ID     *int64          `json:"id"`
	OK     bool            `json:"ok"`
	Result json.RawMessage `json:"result"`
	Error  string          `json:"error"`

	Event   string `json:"event"`
	Page    string `json:"page"`
	Text    string `json:"text"`
	Version string `json:"version"`
}

// StartBrowser launches node + chromium; t.Cleanup closes it.
func StartBrowser(t testing.TB) *Browser {
	t.Helper()
	return StartBrowserArgs(t)
}

// StartBrowserArgs is StartBrowser with extra Chromium flags, e.g.
// --ignore-certificate-errors-spki-list=HASH to trust a test's certificate.
func StartBrowserArgs(t testing.TB, chromiumArgs ...string) *Browser {
	t.Helper()
	root := Root(t)
	node, err := exec.LookPath("node")
	Require(t, err == nil, "Node.js (node)", installNode)
	Require(t, exists(ChromiumPath), "Chromium ("+ChromiumPath+")", installChromium)
	Require(t, exists(filepath.Join(root, "node_modules", "playwright-core", "package.json")),
		"playwright-core (npm)", installNPM)

	b := &Browser{pending: map[int64]chan driverReply{}, pages: map[string]*Page{}}
	ready := make(chan string, 1)
	start := time.Now()
	driver := filepath.Join(root, "internal", "peers", "browser.mjs")
	b.proc, err = startProc("chromium driver (node browser.mjs)", root, append([]string{node, driver}, chromiumArgs...), func(line string) {
		b.handleLine(line, ready)
	})
	if err != nil {
		t.Fatalf("peers: %v", err)
	}
	// Closing stdin makes the driver close Chromium and exit; give it time to.
	b.proc.stopInCleanup(t, 10*time.Second)
	select {
	case b.version = <-ready:
	case <-b.proc.done:
		t.Fatalf("peers: Chromium did not start:\n%s", b.proc.diag())
	case <-time.After(90 * time.Second):
		t.Fatalf("peers: Chromium not ready after 90s:\n%s", b.proc.diag())
	}
	t.Logf("peers: Chromium %s ready in %v", b.version, time.Since(start).Round(time.Millisecond))
	return b
}

// handleLine routes one line of driver output.
func (b *Browser) handleLine(line string, ready chan<- string) {
	var r driverReply
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		return // not ours (kept in the process's stdout log)
	}
	switch {
	case r.Event == "ready":
		ready <- r.Version
	case r.Event == "console":
		b.mu.Lock()
		p := b.pages[r.Page]
		b.mu.Unlock()
		if p != nil {
			p.mu.Lock()
			p.console = append(p.console, r.Text)
			p.mu.Unlock()
		}
	case r.ID != nil:
		b.mu.Lock()
		ch := b.pending[*r.ID]
		delete(b.pending, *r.ID)
		b.mu.Unlock()
		if ch != nil {
			ch <- r
		}
	}
}

// call sends one command and waits for its answer, the context, or the driver's death.
func (b *Browser) call(ctx context.Context, cmd string, args map[string]any) (json.RawMessage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ch := make(chan driverReply, 1)
	b.mu.Lock()
	if b.proc.exited() {
		b.mu.Unlock()
		return nil, errors.New("peers: browser driver has exited:\n" + b.proc.diag())
	}
	b.nextID++
	id := b.nextID
	b.pending[id] = ch
	b.mu.Unlock()

	req := map[string]any{"id": id, "cmd": cmd}
	for k, v := range args {
		req[k] = v
	}
	if dl, ok := ctx.Deadline(); ok {
		req["timeoutMs"] = max(1, time.Until(dl).Milliseconds())
	}
	line, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	b.writeMu.Lock()
	_, err = b.proc.stdin.Write(append(line, '\n'))
	b.writeMu.Unlock()
	if err != nil {
		b.forget(id)
		return nil, fmt.Errorf("peers: browser driver: %w", err)
	}
	var r driverReply
	select {
	case r = <-ch:
	case <-ctx.Done():
		b.forget(id)
		return nil, fmt.Errorf("peers: browser %s: %w", cmd, ctx.Err())
	case <-b.proc.done: // the reply, if any, was delivered before done closed
		select {
		case r = <-ch:
		default:
			b.forget(id)
			return nil, fmt.Errorf("peers: browser %s: driver exited:\n%s", cmd, b.proc.diag())
		}
	}
	if !r.OK {
		return nil, fmt.Errorf("peers: browser %s: %s", cmd, r.Error)
	}
	return r.Result, nil
}

func (b *Browser) forget(id int64) {
	b.mu.Lock()
	delete(b.pending, id)
	b.mu.Unlock()
}

// Open opens a new page (in a fresh browser context), goes to url and waits for its load event.
func (b *Browser) Open(ctx context.Context, url string) (*Page, error) {
	return b.OpenDevice(ctx, url, "")
}

// OpenDevice is Open as a Playwright device ("Pixel 7": its user agent,
// viewport and touch) would; "" is a desktop page.
func (b *Browser) OpenDevice(ctx context.Context, url, device string) (*Page, error) {
	b.mu.Lock()
	b.nPages++
	p := &Page{b: b, id: fmt.Sprintf("p%d", b.nPages), url: url}
	b.pages[p.id] = p // before "open", so console output during load is kept
	b.mu.Unlock()
	if _, err := b.call(ctx, "open", map[string]any{"page": p.id, "url": url, "device": device}); err != nil {
		return nil, fmt.Errorf("%w\nconsole:\n%s", err, strings.Join(p.Console(), "\n"))
	}
	return p, nil
}

// Crash makes the page's renderer crash (CDP Page.crash) and waits until Playwright sees it.
func (b *Browser) Crash(ctx context.Context, p *Page) error {
	_, err := b.call(ctx, "crash", map[string]any{"page": p.id})
	return err
}

// Eval evaluates a JavaScript expression in the page (page.evaluate; a promise is
// awaited) and returns its value as JSON (undefined becomes null).
func (p *Page) Eval(ctx context.Context, js string) (json.RawMessage, error) {
	return p.b.call(ctx, "eval", map[string]any{"page": p.id, "js": js})
}

// WaitFor polls the JavaScript expression jsPredicate (page.waitForFunction) until
// it is truthy or ctx ends.
func (p *Page) WaitFor(ctx context.Context, jsPredicate string) error {
	_, err := p.b.call(ctx, "waitFor", map[string]any{"page": p.id, "js": jsPredicate})
	return err
}

// Console returns the console messages and page errors seen so far, as
// "type: text" lines (for failure diagnostics).
func (p *Page) Console() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.console...)
}

// Close closes the page and its browser context, as a user closing the tab.
func (p *Page) Close(ctx context.Context) error {
	_, err := p.b.call(ctx, "close", map[string]any{"page": p.id})
	return err
}

// String names the page for test messages.
func (p *Page) String() string { return p.id + " " + p.url }
