// Package repl is the terminal front end to an nREPL server: a line editor with
// history and completion that sends a form once it is complete, or a reader of
// forms piped on stdin. It works with any nREPL server, and adds commands for
// the runtimes of a sente gateway.
package repl

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"text/tabwriter"

	"github.com/sente-clj/sente/internal/cliexit"
	"github.com/sente-clj/sente/nrepl"
)

// LostConnection is the error for a connection that ended mid-session.
func LostConnection(addr string, err error) *cliexit.Error {
	msg := err.Error()
	var closed *nrepl.ClosedError
	if errors.As(err, &closed) {
		msg = closed.Reason
	}
	return cliexit.Errorf(cliexit.Unavailable, "lost the connection to nREPL at %s: %s", addr, msg)
}

// Config is what Run needs; the caller has connected already.
type Config struct {
	Client *nrepl.Client
	Addr   string // host:port, for messages

	In       io.Reader
	Out, Err io.Writer
	// Interactive uses the line editor (In must be the terminal, os.Stdin);
	// otherwise forms are read from In and each result printed, without prompts.
	Interactive bool
	HistoryFile string // "" keeps no history

	// Interrupts delivers Ctrl-C while an evaluation runs (SIGINT: the
	// terminal is not in raw mode then). In piped mode it also ends the run.
	Interrupts <-chan struct{}
}

// Run talks to the server until the input ends (Ctrl-D, end of stdin, :quit)
// or ctx is cancelled, which returns ctx.Err(). Piped input that had any failing
// eval or command ends in a *cliexit.Error with cliexit.Failed; Ctrl-C in piped mode
// in one with cliexit.Interrupted; a lost connection in one with cliexit.Unavailable.
func Run(ctx context.Context, cfg Config) error {
	srv, err := Describe(ctx, cfg.Client)
	if err != nil && errors.Is(err, nrepl.ErrClosed) {
		return LostConnection(cfg.Addr, err)
	}
	sess, err := NewSession(ctx, cfg.Client, srv)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return LostConnection(cfg.Addr, err)
	}
	defer sess.Close(ctx)
	r := &runner{cfg: cfg, sess: sess}
	if cfg.Interactive {
		return r.interactive(ctx)
	}
	return r.piped(ctx)
}

type runner struct {
	cfg    Config
	sess   *Session
	failed bool // an eval or a command failed (piped mode's exit code)
}

func (r *runner) note(format string, args ...any) {
	fmt.Fprintf(r.cfg.Err, "sente: "+format+"\n", args...)
}

// drainInterrupts drops a Ctrl-C that arrived while nothing was running.
func (r *runner) drainInterrupts() {
	for {
		select {
		case <-r.cfg.Interrupts:
		default:
			return
		}
	}
}

// eval evaluates code, printing as responses arrive. A non-nil error is fatal:
// the connection is gone or ctx ended.
func (r *runner) eval(ctx context.Context, code string, input func() (string, bool)) (Outcome, error) {
	p := &Printer{Out: r.cfg.Out, Err: r.cfg.Err}
	r.drainInterrupts()
	var noted atomic.Bool // notes come from Eval's goroutines
	note := func(s string) {
		if !noted.Swap(true) && r.cfg.Interactive {
			// Notes follow a Ctrl-C, which the terminal echoed as ^C.
			io.WriteString(r.cfg.Err, "\n")
		}
		r.note("%s", s)
	}
	var extra nrepl.Msg
	if r.sess.Server.Sente && r.sess.NS != "" {
		// A browser runtime evaluates in its page's last namespace, which an
		// editor on the same gateway may have moved; the gateway honours ns.
		extra = nrepl.Msg{"ns": r.sess.NS}
	}
	out, err := r.sess.Eval(ctx, code, EvalOptions{
		Extra:      extra,
		Each:       p.Print,
		Interrupts: r.cfg.Interrupts,
		Note:       note,
		Input:      input,
	})
	p.Finish(out.EvalResult)
	if err != nil {
		if ctx.Err() != nil {
			return out, ctx.Err()
		}
		return out, LostConnection(r.cfg.Addr, err)
	}
	if out.Interrupted && !out.Abandoned {
		r.note("evaluation interrupted")
	}
	if out.Failed() {
		r.failed = true
	}
	return out, nil
}

// piped reads forms from In and evaluates each as soon as it is complete.
func (r *runner) piped(ctx context.Context) error {
	type line struct {
		text string
		err  error
	}
	lines := make(chan line)
	stopRead := make(chan struct{})
	defer close(stopRead)
	go func() {
		br := bufio.NewReaderSize(r.cfg.In, 64<<10)
		for {
			s, err := br.ReadString('\n')
			if s != "" {
				select {
				case lines <- line{text: s}:
				case <-stopRead:
					return
				}
			}
			if err != nil {
				select {
				case lines <- line{err: err}:
				case <-stopRead:
				}
				return
			}
		}
	}()

	sp := NewSplitter()
loop:
	for {
		var l line
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.cfg.Interrupts:
			return cliexit.Errorf(cliexit.Interrupted, "interrupted")
		case l = <-lines:
		}
		if l.err != nil {
			if l.err != io.EOF {
				r.note("reading stdin: %v", l.err)
				r.failed = true
			}
			if err := sp.End(); err != nil {
				r.note("%v", err)
				r.failed = true
			}
			break loop
		}
		if !sp.Pending() {
			handled, err := r.command(ctx, l.text)
			if errors.Is(err, errQuit) {
				break loop
			}
			if err != nil {
				return err
			}
			if handled {
				sp.Feed("\n") // keep line numbers in messages right
				continue
			}
		}
		forms, serr := sp.Feed(l.text)
		for {
			for _, f := range forms {
				out, err := r.eval(ctx, f.Text, nil)
				if err != nil {
					return err
				}
				if out.Interrupted {
					return cliexit.Errorf(cliexit.Interrupted, "")
				}
			}
			if serr == nil {
				break
			}
			r.note("%v", serr)
			r.failed = true
			forms, serr = sp.Feed("")
		}
	}
	if r.failed {
		return &cliexit.Error{Code: cliexit.Failed}
	}
	return nil
}

// Commands the REPL answers itself, at the start of an input.
var commands = map[string]bool{":help": true, ":runtimes": true, ":use": true, ":quit": true, ":exit": true}

const helpText = `Type Clojure forms; input is sent once every ( [ { and string is closed.
Commands, at the start of an input:
  :help        this help
  :runtimes    list the runtimes connected to a sente gateway
  :use ID      evaluate in runtime ID from now on (sente gateway)
  :use         follow the newest runtime again
  :quit        exit (as does Ctrl-D)
Keys: Tab completes, Up/Down recall history, Ctrl-R searches it,
Ctrl-C interrupts an evaluation or clears the input, Ctrl-D exits.
`

// errQuit ends the REPL normally.
var errQuit = errors.New("quit")

// command runs line if it is a REPL command. The error is fatal (or errQuit);
// a failing command is noted and recorded in r.failed.
func (r *runner) command(ctx context.Context, line string) (handled bool, err error) {
	fields := strings.Fields(line)
	if len(fields) == 0 || !commands[fields[0]] {
		return false, nil
	}
	name, args := fields[0], fields[1:]
	fail := func(format string, a ...any) (bool, error) {
		r.note(format, a...)
		r.failed = true
		return true, nil
	}
	switch name {
	case ":help":
		io.WriteString(r.cfg.Out, helpText)
		return true, nil
	case ":quit", ":exit":
		return true, errQuit
	}
	if !r.sess.Server.Sente {
		return fail("%s needs a sente gateway; the server at %s is %s", name, r.cfg.Addr, r.sess.Server.Name)
	}
	switch name {
	case ":runtimes":
		if len(args) > 0 {
			return fail("usage: :runtimes")
		}
		rts, err := r.sess.Runtimes(ctx)
		if err != nil {
			if errors.Is(err, nrepl.ErrClosed) {
				return true, LostConnection(r.cfg.Addr, err)
			}
			return fail("%v", err)
		}
		writeRuntimes(r.cfg.Out, rts)
	case ":use":
		if len(args) > 1 {
			return fail("usage: :use ID to pin this REPL to a runtime, or :use alone to follow the newest")
		}
		id := ""
		if len(args) == 1 {
			id = args[0]
		}
		if err := r.sess.SelectRuntime(ctx, id); err != nil {
			if errors.Is(err, nrepl.ErrClosed) {
				return true, LostConnection(r.cfg.Addr, err)
			}
			return fail("%v", err)
		}
		if id == "" {
			fmt.Fprintln(r.cfg.Out, "following the newest runtime")
		} else {
			fmt.Fprintf(r.cfg.Out, "using runtime %s\n", id)
		}
	}
	return true, nil
}

func writeRuntimes(w io.Writer, rts []Runtime) {
	if len(rts) == 0 {
		fmt.Fprintln(w, "no runtime is connected to the gateway")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tSTATE\tPENDING\tCONNECTED\tUSER AGENT")
	for _, rt := range rts {
		var state []string
		if rt.Selected {
			state = append(state, "selected")
		}
		if rt.Default {
			state = append(state, "default")
		}
		if len(state) == 0 {
			state = []string{"-"}
		}
		ua := rt.UserAgent
		if len(ua) > 60 {
			ua = ua[:57] + "..."
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", rt.ID, rt.Kind, strings.Join(state, ","), rt.Pending, rt.Connected, ua)
	}
	tw.Flush()
}

// Prompt is the prompt for the first line of an input in namespace ns.
func Prompt(ns string) string { return ns + "=> " }

// ContinuationPrompt is as wide as Prompt(ns), for the lines after the first.
func ContinuationPrompt(ns string) string {
	pad := len([]rune(ns)) - 2
	if pad < 0 {
		pad = 0
	}
	return strings.Repeat(" ", pad) + "#_=> "
}
