package peers

import (
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"testing"
	"time"

	"github.com/sente-clj/sente/internal/testutil"
)

// lineWriter calls fn with each complete line written to it (without the newline).
type lineWriter struct {
	fn      func(string)
	partial []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(bytes.TrimRight(w.partial[:i], "\r"))
		w.partial = w.partial[i+1:]
		w.fn(line)
	}
}

// proc is a child process in its own process group, with its stdin held open
// (peers that watch stdin exit when it closes) and its output kept for diagnostics.
type proc struct {
	name    string
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	stdout  testutil.Buffer // kept for diagnostics
	stderr  testutil.Buffer
	done    chan struct{}
	waitErr error
}

// startProc starts argv in dir; onLine (if not nil) sees every stdout line.
func startProc(name, dir string, argv []string, onLine func(string)) (*proc, error) {
	p := &proc{name: name, done: make(chan struct{})}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Dir = dir
	p.cmd.Stdout = &lineWriter{fn: func(line string) {
		p.stdout.Write([]byte(line + "\n"))
		if onLine != nil {
			onLine(line)
		}
	}}
	p.cmd.Stderr = &p.stderr
	p.cmd.WaitDelay = 5 * time.Second
	newProcessGroup(p.cmd)
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("peers: start %s: %w", name, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// diag describes the process's exit and output, for failure messages.
func (p *proc) diag() string {
	state := "still running"
	if p.exited() {
		state = fmt.Sprintf("exited: %v", p.waitErr)
	}
	return fmt.Sprintf("%s (%s)\n--- stdout ---\n%s--- stderr ---\n%s", p.name, state, p.stdout.String(), p.stderr.String())
}

// stop closes stdin, gives the process grace to exit by itself, then sends
// SIGTERM and finally SIGKILL to its whole process group.
func (p *proc) stop(grace time.Duration) {
	p.stdin.Close()
	select {
	case <-p.done:
		return
	case <-time.After(grace):
	}
	terminateGroup(p.cmd)
	select {
	case <-p.done:
		return
	case <-time.After(5 * time.Second):
	}
	killGroup(p.cmd)
	<-p.done
}

// stopInCleanup registers p.stop with t.Cleanup.
func (p *proc) stopInCleanup(t testing.TB, grace time.Duration) {
	t.Cleanup(func() { p.stop(grace) })
}

// awaitPort waits for a port to arrive on ch, the process to exit, or timeout.
func (p *proc) awaitPort(t testing.TB, ch <-chan int, timeout time.Duration) int {
	t.Helper()
	select {
	case port := <-ch:
		return port
	case <-p.done:
		t.Fatalf("peers: %s exited before printing its port:\n%s", p.name, p.diag())
	case <-time.After(timeout):
		t.Fatalf("peers: %s printed no port within %v:\n%s", p.name, timeout, p.diag())
	}
	return 0
}
