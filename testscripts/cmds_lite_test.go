package testscripts

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// bgProc is a program a script started with bg start.
type bgProc struct {
	name   string
	cmd    *exec.Cmd
	stdout *lockedBuffer
	stderr *lockedBuffer
	done   chan struct{} // closed once it has exited and its output is in
	err    error         // cmd.Wait's result, once done is closed
}

// bgProcs holds each running script's background programs by name. A
// script's *TestScript is its key: testscript keeps no per-script values
// that a command could add to after Setup.
var bgProcs = struct {
	sync.Mutex
	m map[*testscript.TestScript]map[string]*bgProc
}{m: map[*testscript.TestScript]map[string]*bgProc{}}

func bgLookup(ts *testscript.TestScript, name string) *bgProc {
	bgProcs.Lock()
	defer bgProcs.Unlock()
	p := bgProcs.m[ts][name]
	if p == nil {
		ts.Fatalf("bg: no background program %q; bg start it first", name)
	}
	return p
}

// cmdBg implements
//
//	bg start [-stdin FILE] NAME PROG [ARGS...]
//	bg wait-output NAME stdout|stderr REGEXP
//	bg interrupt NAME
//	bg wait NAME CODE
//
// See the package documentation.
func cmdBg(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! bg")
	}
	if len(args) == 0 {
		ts.Fatalf("usage: bg start|wait-output|interrupt|wait ...")
	}
	switch sub, args := args[0], args[1:]; sub {
	case "start":
		bgStart(ts, args)
	case "wait-output":
		if len(args) != 3 || (args[1] != "stdout" && args[1] != "stderr") {
			ts.Fatalf("usage: bg wait-output NAME stdout|stderr REGEXP")
		}
		bgWaitOutput(ts, bgLookup(ts, args[0]), args[1], args[2])
	case "interrupt":
		if len(args) != 1 {
			ts.Fatalf("usage: bg interrupt NAME")
		}
		p := bgLookup(ts, args[0])
		ts.Check(interrupt(p.cmd.Process))
	case "wait":
		if len(args) != 2 {
			ts.Fatalf("usage: bg wait NAME CODE")
		}
		want, err := strconv.Atoi(args[1])
		if err != nil {
			ts.Fatalf("bg wait: CODE %q is not a number", args[1])
		}
		bgWait(ts, bgLookup(ts, args[0]), want)
	default:
		ts.Fatalf("bg: unknown subcommand %q; use start, wait-output, interrupt or wait", sub)
	}
}

func bgStart(ts *testscript.TestScript, args []string) {
	stdin := ""
	if len(args) >= 2 && args[0] == "-stdin" {
		stdin, args = args[1], args[2:]
	}
	if len(args) < 2 {
		ts.Fatalf("usage: bg start [-stdin FILE] NAME PROG [ARGS...]")
	}
	name := args[0]
	prog, err := lookPath(ts, args[1])
	ts.Check(err)

	p := &bgProc{name: name, stdout: newLockedBuffer(), stderr: newLockedBuffer(), done: make(chan struct{})}
	p.cmd = exec.Command(prog, args[2:]...)
	p.cmd.Dir = ts.MkAbs(".")
	p.cmd.Env = scriptEnv(ts)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	p.cmd.WaitDelay = time.Second
	if stdin != "" {
		f, err := os.Open(ts.MkAbs(stdin))
		ts.Check(err)
		defer f.Close() // the child has its own copy once started
		p.cmd.Stdin = f
	}

	bgProcs.Lock()
	procs := bgProcs.m[ts]
	if procs == nil {
		procs = map[string]*bgProc{}
		bgProcs.m[ts] = procs
		ts.Defer(func() {
			bgProcs.Lock()
			left := bgProcs.m[ts]
			delete(bgProcs.m, ts)
			bgProcs.Unlock()
			for _, p := range left {
				select {
				case <-p.done:
				default:
					_ = p.cmd.Process.Kill()
					<-p.done
					ts.Logf("[bg %s still running at the end of the script: killed]", p.name)
				}
			}
		})
	}
	if old := procs[name]; old != nil {
		select {
		case <-old.done:
		default:
			bgProcs.Unlock()
			ts.Fatalf("bg start: %q is still running; bg wait for it first", name)
		}
	}
	procs[name] = p
	bgProcs.Unlock()

	ts.Logf("[bg start %s: %s %s]", name, args[1], strings.Join(args[2:], " "))
	ts.Check(p.cmd.Start())
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
}

// bgWaitOutput waits until stream matches re (multi-line mode, as stdout
// and stderr match), failing if the program exits or the timeout passes first.
func bgWaitOutput(ts *testscript.TestScript, p *bgProc, stream, pattern string) {
	re, err := regexp.Compile("(?m)" + pattern)
	ts.Check(err)
	buf := p.stdout
	if stream == "stderr" {
		buf = p.stderr
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		if re.MatchString(buf.String()) {
			return
		}
		select {
		case <-buf.changed:
		case <-p.done:
			if re.MatchString(buf.String()) {
				return
			}
			ts.Fatalf("bg %s exited (%s) before its %s matched %q\nstdout:\n%s\nstderr:\n%s",
				p.name, exitStatus(p.err), stream, pattern, p.stdout.String(), p.stderr.String())
		case <-deadline.C:
			ts.Fatalf("bg %s: %s did not match %q within %s\nstdout:\n%s\nstderr:\n%s",
				p.name, stream, pattern, timeout, p.stdout.String(), p.stderr.String())
		case <-time.After(50 * time.Millisecond): // changed is a hint; poll too
		}
	}
}

// bgWait waits for the program to exit with status want; its output becomes
// the script's stdout and stderr, and is kept in $WORK/NAME.stdout and
// $WORK/NAME.stderr.
func bgWait(ts *testscript.TestScript, p *bgProc, want int) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	select {
	case <-p.done:
	case <-ctx.Done():
		_ = p.cmd.Process.Kill()
		<-p.done
		ts.Fatalf("bg %s did not exit within %s: killed\nstdout:\n%s\nstderr:\n%s", p.name, timeout, p.stdout.String(), p.stderr.String())
	}
	work := ts.Getenv("WORK")
	ts.Check(os.WriteFile(filepath.Join(work, p.name+".stdout"), []byte(p.stdout.String()), 0o666))
	ts.Check(os.WriteFile(filepath.Join(work, p.name+".stderr"), []byte(p.stderr.String()), 0o666))
	_, _ = fmt.Fprint(ts.Stdout(), p.stdout.String())
	_, _ = fmt.Fprint(ts.Stderr(), p.stderr.String())

	var exitErr *exec.ExitError
	if p.err != nil && !errors.As(p.err, &exitErr) {
		ts.Fatalf("bg %s: %v", p.name, p.err)
	}
	if got := p.cmd.ProcessState.ExitCode(); got != want {
		ts.Fatalf("bg %s exited with %s, want status %d", p.name, exitStatus(p.err), want)
	}
}
