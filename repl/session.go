package repl

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sente-clj/sente/nrepl"
)

// Server is what a describe request told about the server.
type Server struct {
	Name     string          // for people: "sente gateway 0.1.0", "nREPL 1.0.0 (Clojure 1.11.1)", "nbb"
	Sente    bool            // a sente gateway: sente/runtimes and sente/select-runtime work
	Ops      map[string]bool // nil when the server did not say
	Runtimes int             // runtimes connected to a sente gateway
}

// Supports reports whether the server lists op; a server that listed no ops
// is given the benefit of the doubt.
func (s Server) Supports(op string) bool {
	return s.Ops == nil || s.Ops[op]
}

// Describe asks the server what it is.
func Describe(ctx context.Context, c *nrepl.Client) (Server, error) {
	d, err := c.Describe(ctx)
	if err != nil {
		return Server{Name: "nREPL server"}, err
	}
	srv := Server{Name: "nREPL server"}
	if ops, ok := d["ops"].(map[string]any); ok && len(ops) > 0 {
		srv.Ops = make(map[string]bool, len(ops))
		for op := range ops {
			srv.Ops[op] = true
		}
	}
	versions, _ := d["versions"].(map[string]any)
	version := func(name string) (string, bool) {
		v, ok := versions[name].(map[string]any)
		if !ok {
			return "", false
		}
		s, _ := v["version-string"].(string)
		return s, true
	}
	switch {
	case has(versions, "sente"):
		srv.Sente = true
		v, _ := version("sente")
		srv.Name = strings.TrimSpace("sente gateway " + v)
		if aux, ok := d["aux"].(map[string]any); ok {
			if n, ok := aux["runtimes"].(int64); ok {
				srv.Runtimes = int(n)
			}
		}
	case has(versions, "nbb-nrepl") || has(versions, "nbb"):
		srv.Name = "nbb"
	case has(versions, "babashka"):
		v, _ := version("babashka")
		srv.Name = strings.TrimSpace("babashka " + v)
	case has(versions, "nrepl"):
		v, _ := version("nrepl")
		srv.Name = strings.TrimSpace("nREPL " + v)
		if cv, ok := version("clojure"); ok {
			srv.Name += " (Clojure " + cv + ")"
		}
	}
	return srv, nil
}

func has(m map[string]any, key string) bool {
	_, ok := m[key]
	return ok
}

// Session is one nREPL session: the namespace and vars such as *1 and *e live
// in it, and on a sente gateway it may be pinned to one runtime.
type Session struct {
	Client *nrepl.Client
	ID     string // "" evaluates in the server's ephemeral session
	NS     string // the namespace the last eval ended in
	Server Server
}

// NewSession clones a fresh session on the server.
func NewSession(ctx context.Context, c *nrepl.Client, srv Server) (*Session, error) {
	id, err := c.Clone(ctx)
	if err != nil {
		return nil, err
	}
	return &Session{Client: c, ID: id, NS: "user", Server: srv}, nil
}

// Close closes the session on the server, waiting at most a second.
func (s *Session) Close(ctx context.Context) error {
	if s.ID == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	return s.Client.CloseSession(ctx, s.ID)
}

// EvalOptions tunes one Session.Eval.
type EvalOptions struct {
	Extra nrepl.Msg       // more request keys: "ns", "file", "line" ...
	Each  func(nrepl.Msg) // sees every response as it arrives
	// Interrupts asks to interrupt the eval. The first receive sends the
	// interrupt op; a second one, or a server that cannot interrupt, stops
	// waiting for the eval instead.
	Interrupts <-chan struct{}
	Note       func(string)          // messages about interrupting; nil drops them
	Input      func() (string, bool) // answers need-input; false or nil means end of input
	// NoSessionHint is added to the note when code evaluated without a
	// session asks for input, which nREPL cannot deliver to it.
	NoSessionHint string
}

// Outcome is what came of one eval.
type Outcome struct {
	nrepl.EvalResult
	Interrupted bool // an interrupt was asked for
	Abandoned   bool // we stopped waiting before the server said done
}

// Failed reports an error from the server or the code, or an interruption.
func (o Outcome) Failed() bool { return Failed(o.EvalResult) || o.Interrupted || o.Abandoned }

var evalSeq atomic.Uint64

// interruptWait bounds the interrupt request itself.
const interruptWait = 2 * time.Second

// Eval evaluates code in the session and returns when the server says done.
// When ctx ends first, it asks the server to interrupt the eval (best effort)
// and returns ctx's error. A lost connection is an error wrapping
// nrepl.ErrClosed.
func (s *Session) Eval(ctx context.Context, code string, o EvalOptions) (Outcome, error) {
	// Our own id, so that an interrupt can name the eval while it runs.
	id := "sente-eval-" + strconv.FormatUint(evalSeq.Add(1), 10)
	extra := o.Extra.Clone()
	if extra == nil {
		extra = nrepl.Msg{}
	}
	extra["id"] = id

	evalCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var out Outcome
	var interrupted, abandoned atomic.Bool
	stop := make(chan struct{})
	watched := make(chan struct{})
	note := func(msg string) {
		if o.Note != nil {
			o.Note(msg)
		}
	}
	go func() {
		defer close(watched)
		for {
			select {
			case <-stop:
				return
			case <-o.Interrupts:
			}
			if interrupted.Load() || !s.Server.Supports("interrupt") || s.ID == "" {
				if interrupted.Load() {
					note("stopped waiting for the evaluation; it may still be running")
				} else {
					note("this server cannot interrupt an evaluation; stopped waiting for it (it may still be running)")
				}
				interrupted.Store(true)
				abandoned.Store(true)
				cancel()
				return
			}
			interrupted.Store(true)
			note("interrupting the evaluation; Ctrl-C again stops waiting for it")
			ictx, icancel := context.WithTimeout(context.WithoutCancel(ctx), interruptWait)
			rep, err := s.Client.Interrupt(ictx, s.ID, id)
			icancel()
			switch {
			case err != nil:
				note("could not send interrupt: " + err.Error() + "; stopped waiting")
			case rep.HasStatus("error") || rep.HasStatus("unknown-op") || rep.HasStatus("interrupt-id-mismatch"):
				note("the server could not interrupt the evaluation (" + strings.Join(rep.Status(), ", ") + "); stopped waiting")
			default:
				continue // done will follow, marked interrupted
			}
			abandoned.Store(true)
			cancel()
			return
		}
	}()

	each := func(m nrepl.Msg) {
		if m.HasStatus("need-input") {
			stopWaiting := func(why string) {
				note("the code reads *in*, " + why + "; sente stopped waiting for it")
				abandoned.Store(true)
				cancel()
			}
			if s.ID == "" {
				// nREPL delivers input only to an eval in a registered session.
				stopWaiting("but input reaches only an evaluation in a session of its own, and this one has none" + o.NoSessionHint)
			} else {
				s.sendInput(evalCtx, o.Input, func(why string) { stopWaiting("but the server did not take the input (" + why + ")") })
			}
		}
		if o.Each != nil {
			o.Each(m)
		}
	}
	_, res, err := s.Client.EvalStream(evalCtx, s.ID, code, extra, each)
	close(stop)
	<-watched
	out.EvalResult = res
	out.Interrupted = interrupted.Load() || containsStatus(res.Status, "interrupted")
	if res.NS != "" {
		s.NS = res.NS
	}
	if err == nil {
		return out, nil
	}
	if abandoned.Load() && ctx.Err() == nil {
		out.Abandoned = true
		return out, nil
	}
	if ctx.Err() != nil {
		if !errors.Is(err, nrepl.ErrClosed) && s.ID != "" && s.Server.Supports("interrupt") {
			ictx, icancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			s.Client.Interrupt(ictx, s.ID, id)
			icancel()
		}
		return out, ctx.Err()
	}
	return out, err
}

func containsStatus(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// sendInput answers need-input with one line from input, or end of input.
// refused is called, from another goroutine, if the server turns it down.
func (s *Session) sendInput(ctx context.Context, input func() (string, bool), refused func(why string)) {
	text := ""
	if input != nil {
		if line, ok := input(); ok {
			text = line
		}
	}
	m := nrepl.Msg{"op": "stdin", "stdin": text, "session": s.ID}
	go func() {
		rs, err := request(ctx, s.Client, m)
		if err == nil {
			if err := serverError("stdin", rs); err != nil {
				refused(err.Error())
			}
		}
	}()
}

// Complete returns the candidates that complete prefix in the session's
// namespace, using the complete op or the standard nREPL completions op.
func (s *Session) Complete(ctx context.Context, prefix string) ([]string, error) {
	var cands []string
	switch {
	case s.Server.Ops == nil || s.Server.Ops["complete"]:
		cs, err := s.Client.Complete(ctx, s.ID, prefix, s.NS)
		if err != nil {
			return nil, err
		}
		for _, c := range cs {
			cands = append(cands, c.Candidate)
		}
	case s.Server.Ops["completions"]:
		m := nrepl.Msg{"op": "completions", "prefix": prefix, "ns": s.NS}
		if s.ID != "" {
			m["session"] = s.ID
		}
		rs, err := request(ctx, s.Client, m)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			list, _ := r["completions"].([]any)
			for _, e := range list {
				if d, ok := e.(map[string]any); ok {
					if c, _ := d["candidate"].(string); c != "" {
						cands = append(cands, c)
					}
				}
			}
		}
	}
	return cands, nil
}

// request sends m and collects its responses up to done.
func request(ctx context.Context, c *nrepl.Client, m nrepl.Msg) ([]nrepl.Msg, error) {
	_, ch, err := c.Send(ctx, m)
	if err != nil {
		return nil, err
	}
	var rs []nrepl.Msg
	for r := range ch {
		rs = append(rs, r)
		if r.HasStatus("done") {
			if r.HasStatus("disconnected") {
				if err := c.Err(); err != nil {
					return rs, err
				}
				return rs, nrepl.ErrClosed
			}
			return rs, nil
		}
	}
	if err := ctx.Err(); err != nil {
		return rs, err
	}
	return rs, nrepl.ErrClosed
}

// serverError turns an answer with an error status into an error carrying the
// server's own words.
func serverError(op string, rs []nrepl.Msg) error {
	var text []string
	failed := false
	var statuses []string
	for _, r := range rs {
		if e := strings.TrimSpace(r.Str("err")); e != "" {
			text = append(text, strings.TrimPrefix(e, "sente: "))
		}
		for _, st := range r.Status() {
			if st == "error" || st == "unknown-op" {
				failed = true
			}
			if st != "done" && st != "error" {
				statuses = append(statuses, st)
			}
		}
	}
	if !failed {
		return nil
	}
	if len(text) > 0 {
		return errors.New(strings.Join(text, "; "))
	}
	return fmt.Errorf("%s failed (%s)", op, strings.Join(statuses, ", "))
}

// Runtime is one runtime connected to a sente gateway, as sente/runtimes lists it.
type Runtime struct {
	ID, Kind, UserAgent, Remote, Connected string
	Pending                                int64
	Default, Selected                      bool
}

// Runtimes lists the runtimes connected to a sente gateway; Selected is
// relative to this session.
func (s *Session) Runtimes(ctx context.Context) ([]Runtime, error) {
	m := nrepl.Msg{"op": "sente/runtimes"}
	if s.ID != "" {
		m["session"] = s.ID
	}
	rs, err := request(ctx, s.Client, m)
	if err != nil {
		return nil, err
	}
	if err := serverError("sente/runtimes", rs); err != nil {
		return nil, err
	}
	var out []Runtime
	for _, r := range rs {
		list, _ := r["runtimes"].([]any)
		for _, e := range list {
			d, ok := e.(map[string]any)
			if !ok {
				continue
			}
			m := nrepl.Msg(d)
			rt := Runtime{ID: m.Str("id"), Kind: m.Str("kind"), UserAgent: m.Str("user-agent"), Remote: m.Str("remote"),
				Connected: m.Str("connected"), Default: m.Str("default") == "true", Selected: m.Str("selected") == "true"}
			rt.Pending, _ = d["pending"].(int64)
			out = append(out, rt)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return runtimeLess(out[i].ID, out[j].ID) })
	return out, nil
}

// runtimeLess orders r2 before r10.
func runtimeLess(a, b string) bool {
	na, ea := strconv.Atoi(strings.TrimPrefix(a, "r"))
	nb, eb := strconv.Atoi(strings.TrimPrefix(b, "r"))
	if ea == nil && eb == nil {
		return na < nb
	}
	return a < b
}

// SelectRuntime pins the session to runtime id on a sente gateway; "" unpins
// it, so it follows the newest runtime again.
func (s *Session) SelectRuntime(ctx context.Context, id string) error {
	if s.ID == "" {
		return errors.New("selecting a runtime needs a session")
	}
	rs, err := request(ctx, s.Client, nrepl.Msg{"op": "sente/select-runtime", "session": s.ID, "runtime": id})
	if err != nil {
		return err
	}
	return serverError("sente/select-runtime", rs)
}
