package gateway

import (
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/sente-clj/sente/gateway/wsconn"
	"github.com/sente-clj/sente/nrepl"
	"github.com/sente-clj/sente/repl"
	"github.com/sente-clj/sente/wire"
)

// helperSource is namespace sente.repl, which the gateway evaluates once in
// each runtime before the first request that needs it. It gives both kinds of
// page what a JVM nREPL session has: a namespace and *1 *2 *3 *e per session,
// printed output sent back, readable errors, one value per top-level form, and
// info and completion that work from either key editors use.
//
//go:embed sente_repl.cljs
var helperSource string

// helperMarker is the value the helper's source evaluates to; a runtime that
// answers anything else (not Scittle, or a simulated one) is served as it is.
const helperMarker = `"sente.repl/1"`

// idleOutID marks output a page printed outside any evaluation (sente's page
// pushes it); it goes to the session that last evaluated on that runtime.
const idleOutID = "sente-out"

type jobKind int

const (
	jobEval jobKind = iota
	jobComplete
	jobCompletions
	jobInfo
	jobEldoc
	jobLookup
)

// helperState is whether a runtime runs sente.repl; guarded by the bridge's lock.
type helperState int

const (
	helperUnknown helperState = iota
	helperBooting
	helperReady
	helperAbsent
)

// lastEval is who evaluated last on a runtime: the editor that hears the
// runtime's output printed outside any evaluation.
type lastEval struct {
	ed          editor
	id, session string
}

// job is a request the gateway serves through the helper, one runtime eval
// per step: one per top-level form for eval and load-file, one for the rest.
type job struct {
	kind     jobKind
	code     string // eval and load-file, until split into forms
	forms    []repl.Form
	parseErr *repl.SyntaxError // after the forms that could be read
	next     int
	file     string
	line     int
	col      int
	lastOnly bool // load-file: only the last value is answered, the ns stays
	ns       string
	// nsOfSession: ns is the session's, not the request's; a page that lost it
	// (reloaded) evaluates in user instead of answering namespace-not-found.
	nsOfSession bool
	sid         string
	started     bool

	reply     any       // the helper's answer to the current step
	rawValue  string    // and its text
	answered  bool      // the current step had a value
	lastValue nrepl.Msg // load-file's held-back value
}

func newEvalJob(req nrepl.Msg, code, file string, lastOnly bool) *job {
	return &job{kind: jobEval, code: code, file: file, line: intOr(req["line"], 1), col: intOr(req["column"], 1),
		lastOnly: lastOnly, ns: req.Str("ns")}
}

// split reads the code into top-level forms, on the first step only: a
// runtime without the helper gets the code as it is.
func (j *job) split() {
	forms, err := repl.Split(j.code)
	j.forms, j.code = forms, ""
	if err != nil {
		se, ok := err.(*repl.SyntaxError)
		if !ok {
			se = &repl.SyntaxError{Line: 1, Column: 1, Msg: err.Error()}
		}
		j.parseErr = se
	}
}

func intOr(v any, def int) int {
	switch x := v.(type) {
	case int64:
		if x > 0 && x < 1<<31 {
			return int(x)
		}
	case int:
		if x > 0 {
			return x
		}
	case string:
		if n, err := strconv.Atoi(x); err == nil && n > 0 {
			return n
		}
	}
	return def
}

// ednString is s as a Clojure string literal.
func ednString(s string) string {
	b, err := wire.Print(s)
	if err != nil {
		return `""`
	}
	return string(b)
}

// startJobLocked runs p's job. On a runtime not yet known to run the helper,
// it sends the helper's source first; jobs wait for its answer (at most
// RuntimeQueue of them, the rest are refused as runtime-busy, as a full
// runtime queue refuses them), then run through the helper or, should the
// runtime not take it, pass through as they came. Callers hold b.mu.
func (b *bridge) startJobLocked(p *pending) {
	rt := p.rt
	switch rt.helper {
	case helperReady:
		b.stepLocked(p)
		return
	case helperAbsent:
		b.plainLocked(p)
		return
	case helperUnknown:
		rt.helper = helperBooting
		rt.bootGID = "boot-" + strconv.FormatUint(b.seq.Add(1), 36)
		boot := nrepl.Msg{"op": "eval", "id": rt.bootGID, "ns": "user",
			"code": helperSource + "\n(do (in-ns 'user) " + helperMarker + ")"}
		if err := rt.link.request(boot); err != nil {
			rt.helper, rt.bootGID = helperUnknown, ""
			b.sendFailedLocked(p, err)
			return
		}
	}
	if n := b.cfg.RuntimeQueue; n > 0 && len(rt.waiting) >= n {
		b.sendFailedLocked(p, fmt.Errorf("%d requests wait for the runtime to answer sente's REPL helper", len(rt.waiting)))
		return
	}
	rt.waiting = append(rt.waiting, p)
}

// bootAnswerLocked reads the runtime's answer to the helper's installation
// and starts the jobs that waited for it.
func (b *bridge) bootAnswerLocked(rt *Runtime, m nrepl.Msg) {
	if m.Str("value") == helperMarker {
		rt.bootOK = true
	}
	if e := m.Str("err"); e != "" {
		b.log.Warn("runtime could not install sente's REPL helper; its evals pass through as they are", "runtime", rt.ID, "err", e)
	}
	if !m.HasStatus("done") {
		return
	}
	rt.bootGID = ""
	if rt.bootOK {
		rt.helper = helperReady
	} else {
		rt.helper = helperAbsent
		b.log.Info("runtime does not run sente's REPL helper; requests pass through as they are", "runtime", rt.ID)
	}
	waiting := rt.waiting
	rt.waiting = nil
	for _, p := range waiting {
		if b.pending[p.gid] == p && p.job != nil {
			b.startJobLocked(p)
		}
	}
}

// rekeyLocked gives p a fresh runtime id for its next step, so a late answer
// to an earlier step can never be taken for this one.
func (b *bridge) rekeyLocked(p *pending) {
	delete(b.pending, p.gid)
	if m := b.byEditor[p.ed]; m != nil {
		delete(m, p.gid)
	}
	p.gid = "s" + strconv.FormatUint(b.seq.Add(1), 36)
	b.pending[p.gid] = p
	if b.byEditor[p.ed] == nil {
		b.byEditor[p.ed] = map[string]*pending{}
	}
	b.byEditor[p.ed][p.gid] = p
}

// requestLocked sends m to p's runtime under p's gid, ending p if it cannot.
func (b *bridge) requestLocked(p *pending, m nrepl.Msg) {
	m["id"] = p.gid
	if err := p.rt.link.request(m); err != nil {
		b.sendFailedLocked(p, err)
	}
}

// sendFailedLocked ends p, which could not be sent: the runtime left (between
// being picked and being written to) or its queue is full.
func (b *bridge) sendFailedLocked(p *pending, err error) {
	b.unlink(p)
	if errors.Is(err, wsconn.ErrClosed) {
		b.endLocked(p, "runtime "+p.rt.ID+" disconnected before the request could be sent", "runtime-gone")
		return
	}
	b.endLocked(p, fmt.Sprintf("could not send to runtime %s: %v", p.rt.ID, err), "runtime-busy")
}

// sendLocked sends one response for p to its editor.
func (b *bridge) sendLocked(p *pending, m nrepl.Msg) {
	p.address(m)
	p.ed.send(m)
}

func (b *bridge) finishLocked(p *pending, statuses ...string) {
	st := []any{"done"}
	for _, s := range statuses {
		st = append(st, s)
	}
	b.unlink(p)
	b.sendLocked(p, nrepl.Msg{"status": st})
}

// sessionNSLocked is where session sid evaluates when a request names no ns.
func (b *bridge) sessionNSLocked(sid string) string {
	if s := b.sessions[sid]; s != nil && s.ns != "" {
		return s.ns
	}
	return "user"
}

// stepLocked sends the job's next step, or ends the request when none is left.
func (b *bridge) stepLocked(p *pending) {
	j := p.job
	req := p.req
	if !j.started {
		j.started = true
		if j.ns == "" {
			j.ns = b.sessionNSLocked(j.sid)
			j.nsOfSession = true
		}
		if j.kind == jobEval {
			j.split()
		}
	}
	var code string
	switch j.kind {
	case jobEval:
		if j.next >= len(j.forms) {
			b.endEvalLocked(p)
			return
		}
		f := j.forms[j.next]
		line, col := j.line+f.Line-1, f.Column
		if f.Line == 1 {
			col = j.col + f.Column - 1
		}
		file := "nil"
		if j.file != "" {
			file = ednString(j.file)
		}
		fallback := "nil"
		if j.nsOfSession {
			// Only the first form: the page may have reloaded since the
			// session's last ns form; later forms run where the first left off.
			fallback = `"user"`
		}
		j.nsOfSession = false
		code = fmt.Sprintf("(sente.repl/run %s %s %s %s %d %d %s)",
			ednString(j.sid), ednString(j.ns), ednString(f.Text), file, line, col, fallback)
		// Output the page prints from now until the next evaluation (a promise
		// this form starts, a timer) belongs to this request, as on the JVM.
		p.rt.last = lastEval{ed: p.ed, id: p.id, session: p.session}
	case jobComplete, jobCompletions:
		prefix := req.Str("prefix")
		if prefix == "" {
			prefix = req.Str("symbol")
		}
		code = fmt.Sprintf("(sente.repl/complete %s %s)", ednString(j.ns), ednString(prefix))
	default:
		sym := req.Str("sym")
		if sym == "" {
			sym = req.Str("symbol")
		}
		if sym == "" {
			b.lookupAnswerLocked(p, nil)
			return
		}
		code = fmt.Sprintf("(sente.repl/info %s %s)", ednString(j.ns), ednString(sym))
	}
	b.rekeyLocked(p)
	j.reply, j.answered = nil, false
	b.requestLocked(p, nrepl.Msg{"op": "eval", "code": code, "ns": "user"})
}

// endEvalLocked ends an eval: the reader's error for unreadable input (after
// the forms before it ran), load-file's value, then done.
func (b *bridge) endEvalLocked(p *pending) {
	j := p.job
	if e := j.parseErr; e != nil {
		where := "REPL"
		if j.file != "" {
			where = j.file
		}
		line := j.line + e.Line - 1
		msg := e.Msg
		if e.Unfinished {
			// The JVM's words, which editors and people know.
			msg = fmt.Sprintf("EOF while reading, starting at line %d: %s", line, msg)
		}
		b.sendLocked(p, nrepl.Msg{"err": fmt.Sprintf("Syntax error reading source at (%s:%d:%d).\n%s\n", where, line, e.Column, msg)})
		b.sendLocked(p, nrepl.Msg{"ex": "class sente/ReaderError", "root-ex": "class sente/ReaderError", "status": []any{"eval-error"}})
	}
	if j.lastValue != nil {
		b.sendLocked(p, j.lastValue)
	}
	b.unlink(p)
	b.sendLocked(p, nrepl.Msg{"ns": j.ns, "status": []any{"done"}})
}

// jobAnswerLocked takes one runtime response to a job's step.
func (b *bridge) jobAnswerLocked(p *pending, m nrepl.Msg) {
	j := p.job
	if v, ok := m["value"].(string); ok {
		j.rawValue = v
		// scittle.nrepl.js waits for a returned promise and shows it so; the
		// helper returns one for a form whose value is a promise.
		if strings.HasPrefix(v, "#<Promise ") && strings.HasSuffix(v, ">") {
			v = v[len("#<Promise ") : len(v)-1]
		}
		parsed, err := wire.Parse([]byte(v), wire.Limits{MaxBytes: int(b.cfg.MaxNREPLMessage), MaxDepth: b.cfg.MaxFrameDepth})
		if err != nil {
			b.log.Warn("unreadable answer from sente's REPL helper", "runtime", p.rt.ID, "err", err)
			parsed = nil
		}
		j.reply, j.answered = parsed, true
	}
	if e := m.Str("err"); e != "" {
		// The helper itself failed (it catches what the code throws): say so.
		if !strings.HasSuffix(e, "\n") {
			e += "\n"
		}
		b.sendLocked(p, nrepl.Msg{"err": e})
	}
	if !m.HasStatus("done") {
		return
	}
	if j.kind != jobEval {
		b.lookupAnswerLocked(p, j.reply)
		return
	}
	if !j.answered {
		b.sendLocked(p, nrepl.Msg{"ex": "class sente/RuntimeError", "root-ex": "class sente/RuntimeError", "status": []any{"eval-error"}})
		j.next++
		b.stepLocked(p)
		return
	}
	r, err := nrepl.FromEDN(j.reply)
	if err != nil {
		// Not the helper's answer after all: the runtime's value as it came.
		r = nrepl.Msg{"value": fmt.Sprint(j.rawValue)}
	}
	if r["no-ns"] != nil {
		b.sendLocked(p, nrepl.Msg{"ns": j.ns, "status": []any{"namespace-not-found", "done", "error"}})
		b.unlink(p)
		return
	}
	if out := r.Str("out"); out != "" {
		b.sendLocked(p, nrepl.Msg{"out": out})
	}
	if ns := r.Str("ns"); ns != "" {
		j.ns = ns
	}
	if e := r.Str("err"); e != "" {
		b.sendLocked(p, nrepl.Msg{"err": e})
		b.sendLocked(p, nrepl.Msg{"ex": r.Str("ex"), "root-ex": r.Str("root-ex"), "status": []any{"eval-error"}})
	} else {
		v := nrepl.Msg{"value": r.Str("value"), "ns": j.ns}
		if j.lastOnly {
			j.lastValue = v
		} else {
			b.sendLocked(p, v)
		}
	}
	if s := b.sessions[j.sid]; s != nil && !j.lastOnly {
		s.ns = j.ns
	}
	j.next++
	b.stepLocked(p)
}

// lookupAnswerLocked answers complete, completions, info, eldoc and lookup
// from the helper's answer (nil: nothing known), in the shape each op has.
func (b *bridge) lookupAnswerLocked(p *pending, reply any) {
	j := p.job
	switch j.kind {
	case jobComplete, jobCompletions:
		list := []any{}
		if l, ok := reply.([]any); ok {
			for _, c := range l {
				if m, err := nrepl.FromEDN(c); err == nil {
					list = append(list, map[string]any(m))
				}
			}
		}
		b.sendLocked(p, nrepl.Msg{"completions": list})
		b.finishLocked(p)
		return
	}
	var info nrepl.Msg
	if reply != nil {
		if m, err := nrepl.FromEDN(reply); err == nil {
			info = m
		}
	}
	switch j.kind {
	case jobLookup:
		m := map[string]any{}
		for k, v := range info {
			if k != "eldoc" {
				m[k] = v
			}
		}
		b.sendLocked(p, nrepl.Msg{"info": m})
		b.finishLocked(p)
	case jobEldoc:
		if info == nil {
			b.finishLocked(p, "no-eldoc")
			return
		}
		out := nrepl.Msg{"name": info.Str("name"), "ns": info.Str("ns"), "type": info.Str("type")}
		if l, ok := info["eldoc"]; ok {
			out["eldoc"] = l
		} else {
			out["eldoc"] = []any{}
		}
		if d := info.Str("doc"); d != "" {
			out["docstring"] = d
		}
		b.sendLocked(p, out)
		b.finishLocked(p)
	default:
		if info == nil {
			b.finishLocked(p, "no-info")
			return
		}
		delete(info, "eldoc")
		b.sendLocked(p, info)
		b.finishLocked(p)
	}
}

// plainLocked serves a job's request on a runtime without the helper: passed
// through with the keys stock scittle.nrepl.js reads.
func (b *bridge) plainLocked(p *pending) {
	j := p.job
	p.job = nil
	b.requestLocked(p, plainRequest(p.req, j.kind))
}

// plainRequest is req as a runtime without the helper takes it.
func plainRequest(req nrepl.Msg, kind jobKind) nrepl.Msg {
	fwd := req.Clone()
	switch kind {
	case jobEval:
		if req.Str("op") == "load-file" {
			fwd["op"] = "eval"
			fwd["code"] = req.Str("file")
			delete(fwd, "file")
		}
		fwd = inNamespace(fwd)
	case jobComplete, jobCompletions:
		fwd["op"] = "complete"
		if fwd.Str("prefix") == "" {
			fwd["prefix"] = req.Str("symbol")
		}
	default:
		if fwd.Str("sym") == "" {
			fwd["sym"] = req.Str("symbol")
		}
	}
	return fwd
}

// idleOutLocked sends output a page printed outside any evaluation to the
// editor that evaluated last on it, under that request's id as nREPL does.
func (b *bridge) idleOutLocked(rt *Runtime, m nrepl.Msg) {
	last := rt.last
	out := m.Str("out")
	if last.ed == nil || out == "" {
		return
	}
	msg := nrepl.Msg{"out": out}
	if last.id != "" {
		msg["id"] = last.id
	}
	if last.session != "" {
		msg["session"] = last.session
	}
	last.ed.send(msg)
}

// forgetLocked drops a closed session's *1 *2 *3 *e in every runtime that
// keeps them. Nobody waits for the answer, which deliver drops.
func (b *bridge) forgetLocked(sid string) {
	for _, rt := range b.rts.all() {
		if rt.helper != helperReady || rt.gone {
			continue
		}
		_ = rt.link.request(nrepl.Msg{"op": "eval", "id": "forget-" + strconv.FormatUint(b.seq.Add(1), 36),
			"code": fmt.Sprintf("(sente.repl/forget %s)", ednString(sid))})
	}
}
