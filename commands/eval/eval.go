// Package eval is the `sente eval` command: it evaluates code on an nREPL
// server (a sente gateway's browser runtimes, nbb, a JVM) and prints what comes
// back, as text or JSON; with All, on every runtime of a gateway at once.
package eval

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/sente-clj/sente/internal/cliexit"
	"github.com/sente-clj/sente/internal/cmdutil"
	"github.com/sente-clj/sente/internal/nreplfind"
	"github.com/sente-clj/sente/nrepl"
	"github.com/sente-clj/sente/repl"
)

// Options are the command's flags, already parsed.
type Options struct {
	Host string // "" means 127.0.0.1
	Port int    // 0 means: .nrepl-port here or in a parent, else 1339
	Dir  string // where to look for .nrepl-port; "" is the working directory

	Exprs []string // each is evaluated in turn, after File
	File  string   // a file to evaluate ("-" is stdin)
	NS    string   // namespace to evaluate in
	All   bool     // on every runtime connected to a sente gateway
	JSON  bool     // one JSON object per eval (per runtime with All)

	Timeout time.Duration // bounds the whole command; 0 is no limit

	Stdin           io.Reader // code when neither Exprs nor File; else lines for (read-line)
	StdinIsTerminal bool      // then no code is read from it
	StdinPiped      bool      // a pipe or a file: input the code may read, not a terminal or /dev/null
	Stdout, Stderr  io.Writer
}

// Result is one eval's outcome, as --json prints it.
type Result struct {
	Runtime string   `json:"runtime,omitempty"`
	Values  []string `json:"values"`
	Out     string   `json:"out"`
	Err     string   `json:"err"`
	Ex      string   `json:"ex,omitempty"`
	NS      string   `json:"ns,omitempty"`
	Status  []string `json:"status"`

	failed bool
}

func (r *Result) add(o repl.Outcome) {
	r.Values = append(r.Values, o.Values...)
	r.Out += o.Out
	r.Err += o.Err
	if o.Ex != "" {
		r.Ex = o.Ex
	}
	if o.NS != "" {
		r.NS = o.NS
	}
	r.addStatus(o.Status...)
	if o.Failed() {
		r.failed = true
	}
}

func (r *Result) addStatus(ss ...string) {
	for _, s := range ss {
		if !contains(r.Status, s) {
			r.Status = append(r.Status, s)
		}
	}
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// piece is one unit of code to evaluate.
type piece struct {
	code string
	file string // where it came from, for the server's error messages
}

// Run evaluates and prints. Its errors are *cliexit.Error: cliexit.Failed when an
// eval failed (the server's words went to Stderr already), cliexit.Unavailable when
// there is no server or nothing to evaluate, cliexit.Interrupted on Ctrl-C.
func Run(ctx context.Context, opts Options) error {
	pieces, stdinUsed, err := opts.code()
	if err != nil {
		return err
	}
	if opts.Timeout < 0 {
		return cliexit.Errorf(cliexit.Unavailable, "--timeout %s is negative", opts.Timeout)
	}
	if opts.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.Timeout)
		defer cancel()
	}
	target, err := nreplfind.Find(opts.Host, opts.Port, opts.Dir)
	if err != nil {
		return cliexit.Errorf(cliexit.Unavailable, "%v", err)
	}
	c, err := nreplfind.Dial(ctx, target)
	if err != nil {
		if ctxErr := ctx.Err(); errors.Is(ctxErr, context.Canceled) {
			return cliexit.Errorf(cliexit.Interrupted, "interrupted")
		}
		return cliexit.Errorf(cliexit.Unavailable, "%v", err)
	}
	defer c.Close()

	e := &evaluator{opts: opts, addr: target.Addr(), client: c, pieces: pieces, stdinPiped: opts.StdinPiped && !stdinUsed}
	if !stdinUsed && opts.Stdin != nil {
		br := bufio.NewReader(opts.Stdin)
		e.input = func() (string, bool) {
			line, err := br.ReadString('\n')
			return line, err == nil || line != ""
		}
	}
	if opts.All {
		return e.all(ctx)
	}
	return e.one(ctx)
}

// code gathers what to evaluate: File first, then each of Exprs; stdin when
// neither is given.
func (o Options) code() (pieces []piece, stdinUsed bool, err error) {
	readStdin := func() (string, error) {
		if o.Stdin == nil {
			return "", nil
		}
		b, err := io.ReadAll(o.Stdin)
		if err != nil {
			return "", cliexit.Errorf(cliexit.Unavailable, "reading stdin: %v", err)
		}
		return string(b), nil
	}
	if o.File != "" {
		var text string
		if o.File == "-" {
			text, err = readStdin()
			stdinUsed = true
		} else {
			var b []byte
			b, err = os.ReadFile(o.File)
			if err != nil {
				err = cliexit.Errorf(cliexit.Unavailable, "cannot read --file: %v", pathError(err))
			}
			text = string(b)
		}
		if err != nil {
			return nil, false, err
		}
		pieces = append(pieces, piece{code: text, file: o.File})
	}
	for _, e := range o.Exprs {
		pieces = append(pieces, piece{code: e})
	}
	if len(pieces) > 0 {
		return pieces, stdinUsed, nil
	}
	if o.StdinIsTerminal {
		return nil, false, cliexit.Errorf(cliexit.Unavailable, "nothing to evaluate: give -e CODE or -f FILE, or pipe code on stdin (sente repl is the interactive way)")
	}
	text, err := readStdin()
	if err != nil {
		return nil, false, err
	}
	return []piece{{code: text}}, true, nil
}

func pathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}

type evaluator struct {
	opts   Options
	addr   string
	client *nrepl.Client
	pieces []piece
	input  func() (string, bool) // answers (read-line); nil means end of input

	stdinPiped bool // stdin holds input for the code
}

// mayReadInput reports whether any piece names something that reads *in*.
func (e *evaluator) mayReadInput() bool {
	for _, p := range e.pieces {
		if mayReadInput(p.code) {
			return true
		}
	}
	return false
}

func (e *evaluator) extra(p piece) nrepl.Msg {
	m := nrepl.Msg{}
	if e.opts.NS != "" {
		m["ns"] = e.opts.NS
	}
	if p.file != "" && p.file != "-" {
		m["file"] = p.file
	}
	return m
}

// stopped explains why evaluating ended early: ctx's end or a lost connection.
// inSession says whether the server could be asked to interrupt the eval.
func (e *evaluator) stopped(ctx context.Context, err error, inSession bool) *cliexit.Error {
	asked := ""
	if inSession {
		asked = "; the server was asked to interrupt the evaluation"
	}
	switch ctx.Err() {
	case context.DeadlineExceeded:
		return cliexit.Errorf(cliexit.Failed, "timed out after %s (--timeout)%s", e.opts.Timeout, asked)
	case context.Canceled:
		return cliexit.Errorf(cliexit.Interrupted, "interrupted%s", asked)
	}
	return repl.LostConnection(e.addr, err)
}

func stopStatus(err *cliexit.Error) string {
	switch err.Code {
	case cliexit.Failed:
		return "timeout"
	case cliexit.Interrupted:
		return "interrupted"
	}
	return "disconnected"
}

// one evaluates every piece in one session, streaming the output.
func (e *evaluator) one(ctx context.Context) error {
	// A single eval runs in the server's ephemeral session: no clone, and no
	// close, which the JVM nREPL answers only after ~100 ms. Several pieces
	// share a session of their own (an ns set by one holds for the next), and
	// so does code under --timeout, or code that may read the input piped to
	// sente: nREPL interrupts, and gives input to, an eval only within a
	// session. Piped stdin alone clones nothing: scripts and Makefiles run
	// sente eval with a pipe on stdin that the code never reads.
	sess := &repl.Session{Client: e.client}
	if len(e.pieces) > 1 || e.opts.Timeout > 0 || (e.stdinPiped && e.mayReadInput()) {
		var err error
		if sess, err = repl.NewSession(ctx, e.client, repl.Server{}); err != nil {
			return e.stopped(ctx, err, false)
		}
		defer sess.Close(ctx)
	}

	var res Result
	var p *repl.Printer
	var each func(nrepl.Msg)
	if !e.opts.JSON {
		p = &repl.Printer{Out: e.opts.Stdout, Err: e.opts.Stderr}
		each = p.Print
	}
	hint := ""
	if e.stdinPiped {
		// The code reads *in* through a name mayReadInput does not know.
		hint = " (sente clones one for code that names *in*, read-line, read, read+string or repl: " +
			"wrap the call in (binding [*in* *in*] ...) to give it the piped stdin)"
	}
	var stop *cliexit.Error
	for _, pc := range e.pieces {
		out, err := sess.Eval(ctx, pc.code, repl.EvalOptions{Extra: e.extra(pc), Each: each, Input: e.input,
			Note: func(s string) { fmt.Fprintln(e.opts.Stderr, "sente: "+s) }, NoSessionHint: hint})
		if p != nil {
			p.Finish(out.EvalResult)
		}
		res.add(out)
		if err != nil {
			stop = e.stopped(ctx, err, sess.ID != "")
			res.addStatus(stopStatus(stop))
			break
		}
		if out.Failed() {
			break
		}
	}
	if e.opts.JSON {
		if err := writeJSON(e.opts.Stdout, res); err != nil {
			return cliexit.Errorf(cliexit.Failed, "writing JSON: %v", err)
		}
	}
	if stop != nil {
		return stop
	}
	if res.failed {
		return &cliexit.Error{Code: cliexit.Failed}
	}
	return nil
}

func writeJSON(w io.Writer, r Result) error {
	if r.Values == nil {
		r.Values = []string{}
	}
	if r.Status == nil {
		r.Status = []string{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// all evaluates on every runtime of a sente gateway in parallel, each in a
// session of its own pinned to it, and prints the results in runtime order.
func (e *evaluator) all(ctx context.Context) error {
	srv, err := repl.Describe(ctx, e.client)
	if err != nil {
		return e.stopped(ctx, err, false)
	}
	if !srv.Sente {
		return cliexit.Errorf(cliexit.Unavailable, "--all needs a sente gateway; the server at %s is %s", e.addr, srv.Name)
	}
	probe := &repl.Session{Client: e.client, Server: srv}
	rts, err := probe.Runtimes(ctx)
	if err != nil {
		if errors.Is(err, nrepl.ErrClosed) || ctx.Err() != nil {
			return e.stopped(ctx, err, false)
		}
		return cliexit.Errorf(cliexit.Failed, "listing runtimes: %v", err)
	}
	if len(rts) == 0 {
		return cliexit.Errorf(cliexit.Failed, "no runtime is connected to the sente gateway at %s", e.addr)
	}

	type outcome struct {
		res       Result
		responses []nrepl.Msg
		problem   string // our own error, not the runtime's
		stop      *cliexit.Error
	}
	results := make([]outcome, len(rts))
	var wg sync.WaitGroup
	for i, rt := range rts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := &results[i]
			o.res.Runtime = rt.ID
			fail := func(err error) {
				if errors.Is(err, nrepl.ErrClosed) || ctx.Err() != nil {
					o.stop = e.stopped(ctx, err, true)
					o.problem = o.stop.Msg
					o.res.addStatus(stopStatus(o.stop))
				} else {
					o.problem = err.Error()
					o.res.addStatus("error")
				}
				o.res.failed = true
				o.res.Err += "sente: " + o.problem + "\n"
			}
			sess, err := repl.NewSession(ctx, e.client, srv)
			if err != nil {
				fail(err)
				return
			}
			defer sess.Close(ctx)
			if err := sess.SelectRuntime(ctx, rt.ID); err != nil {
				fail(fmt.Errorf("runtime %s: %w", rt.ID, err))
				return
			}
			for _, pc := range e.pieces {
				out, err := sess.Eval(ctx, pc.code, repl.EvalOptions{Extra: e.extra(pc)})
				o.res.add(out)
				o.responses = append(o.responses, out.Responses...)
				if err != nil {
					fail(err)
					return
				}
				if out.Failed() {
					return
				}
			}
		}()
	}
	wg.Wait()

	failed := false
	var stop *cliexit.Error
	for _, o := range results {
		failed = failed || o.res.failed
		if o.stop != nil && stop == nil {
			stop = o.stop
		}
		if e.opts.JSON {
			if err := writeJSON(e.opts.Stdout, o.res); err != nil {
				return cliexit.Errorf(cliexit.Failed, "writing JSON: %v", err)
			}
			continue
		}
		prefix := o.res.Runtime + ": "
		p := &repl.Printer{Out: &prefixWriter{w: e.opts.Stdout, prefix: prefix}, Err: &prefixWriter{w: e.opts.Stderr, prefix: prefix}}
		for _, m := range o.responses {
			p.Print(m)
		}
		p.Finish(nrepl.EvalResult{})
		if o.problem != "" {
			fmt.Fprintf(e.opts.Stderr, "%ssente: %s\n", prefix, o.problem)
		} else if o.res.failed && strings.TrimSpace(o.res.Err) == "" {
			fmt.Fprintf(e.opts.Stderr, "%ssente: %s\n", prefix, repl.FailureSummary(nrepl.EvalResult{Ex: o.res.Ex, Status: o.res.Status}))
		}
	}
	if stop != nil {
		return stop
	}
	if failed {
		return &cliexit.Error{Code: cliexit.Failed}
	}
	return nil
}

// prefixWriter starts every line written through it with prefix.
type prefixWriter struct {
	w      io.Writer
	prefix string
	mid    bool // inside a line
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	n := len(b)
	var buf []byte
	for len(b) > 0 {
		if !p.mid {
			buf = append(buf, p.prefix...)
			p.mid = true
		}
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			buf = append(buf, b...)
			break
		}
		buf = append(buf, b[:i+1]...)
		p.mid = false
		b = b[i+1:]
	}
	if _, err := p.w.Write(buf); err != nil {
		return 0, err
	}
	return n, nil
}

// NewCommand is `sente eval`, its flags bound to an Options that run gets
// once the command line is parsed; a nil run runs the command.
func NewCommand(run func(*cli.Context, *Options) error) *cli.Command {
	opts := &Options{}
	exprs := &cmdutil.CodeList{Env: "SENTE_EVAL_EXPR"}
	if run == nil {
		run = func(c *cli.Context, o *Options) error { return Run(c.Context, *o) }
	}
	return &cli.Command{
		Name:      "eval",
		Usage:     "evaluate code on an nREPL server and print the values",
		UsageText: "sente eval [--host H] [--port N] [-e CODE]... [-f FILE] [--ns NS] [--all] [--json] [--timeout D]",
		Description: `Evaluates code on the nREPL server found as editors find it (--host/--port, else
.nrepl-port in this or a parent directory, else 127.0.0.1:1339): a sente gateway's
browser runtime, nbb, or a JVM. Code comes from -f FILE, then each -e CODE in turn,
or from stdin when neither is given. Each value is printed on a line of its own, the
code's out on stdout and err on stderr. Evaluation stops at the first error. Code
that reads *in* gets sente's stdin when that is piped and not the code itself: nREPL
gives input only to an evaluation in a session, which sente clones when the code
names *in*, read-line, read, read+string or repl (else it evaluates without one).

Exit status: 0 ok; 1 the code threw or the server reported an error (or --timeout
passed); 2 no server to connect to, or bad arguments; 130 interrupted.

Examples:
   sente eval -e '(+ 1 2)'
   # 3
   echo '(println "hi") (* 6 7)' | sente eval
   sente eval -f setup.cljs -e '(start!)' --ns my.app
   sente eval --all -e '(.-userAgent js/navigator)'     # every browser runtime, "r1: ..."
   sente eval --json -e '(/ 1 0)'  # {"values":[],"out":"","err":"...","status":[...]}`,
		Flags: append(cmdutil.NREPLClientFlags(&opts.Host, &opts.Port),
			&cli.GenericFlag{Name: "expr", Aliases: []string{"e"}, Value: exprs, EnvVars: []string{"SENTE_EVAL_EXPR"},
				Usage: "`CODE` to evaluate; repeat for more (taken whole: commas are Clojure whitespace, not separators)"},
			&cli.StringFlag{Name: "file", Aliases: []string{"f"}, EnvVars: []string{"SENTE_EVAL_FILE"}, Destination: &opts.File,
				Usage: "evaluate the contents of `FILE` (- is stdin), before any -e"},
			&cli.StringFlag{Name: "ns", EnvVars: []string{"SENTE_EVAL_NS"}, Destination: &opts.NS, Usage: "evaluate in namespace `NS` (sent with each eval)"},
			&cli.BoolFlag{Name: "all", EnvVars: []string{"SENTE_EVAL_ALL"}, Destination: &opts.All,
				Usage: "evaluate on every runtime connected to a sente gateway; each line of output starts with the runtime's id"},
			&cli.BoolFlag{Name: "json", EnvVars: []string{"SENTE_EVAL_JSON"}, Destination: &opts.JSON,
				Usage: `print one JSON object: {"values":[...],"out":..,"err":..,"status":[...]}; with --all one per runtime, with "runtime"`},
			&cli.DurationFlag{Name: "timeout", EnvVars: []string{"SENTE_EVAL_TIMEOUT"}, Destination: &opts.Timeout,
				Usage: "give up after `DURATION` (e.g. 10s), asking the server to interrupt the evaluation (0 = no limit)"},
		),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return cliexit.Usagef("unexpected argument %q: give code with -e or -f, or on stdin (see sente eval --help)", c.Args().First())
			}
			opts.Exprs = exprs.Vals
			opts.Stdin, opts.StdinIsTerminal, opts.StdinPiped = os.Stdin, repl.IsTerminal(os.Stdin), cmdutil.IsPiped(os.Stdin)
			opts.Stdout, opts.Stderr = c.App.Writer, c.App.ErrWriter
			return cmdutil.Exit(run(c, opts))
		},
	}
}
