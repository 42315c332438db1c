package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sente-clj/sente/gateway/wsconn"
	"github.com/sente-clj/sente/internal/buildinfo"
	"github.com/sente-clj/sente/nrepl"
)

// editor is where the responses for one nREPL client connection go.
type editor interface {
	// send queues a response; it never blocks. A transport that cannot keep up
	// closes its connection rather than stall the runtime that answered.
	send(m nrepl.Msg)
	String() string
}

// pending is a take!-style once handler: it remembers who asked, under which id
// and session, and goes away with the request's "done" response.
type pending struct {
	gid     string // the id the runtime sees, unique in this gateway
	seq     uint64 // orders requests, newest highest
	ed      editor
	id      string // the editor's own id, restored on every response
	session string
	op      string
	rt      *Runtime
	timer   *time.Timer
	req     nrepl.Msg // the editor's request, for a job falling back to pass-through
	job     *job      // nil when the request passes through to the runtime as it is
}

// session is an nREPL session. Sessions live in the gateway; runtimes never see
// clone or close, because stock runtimes have no sessions of their own.
type session struct {
	id      string
	owner   editor
	runtime string // selected runtime id; "" follows the newest
	// ns is the session's current namespace: where an eval without ns runs,
	// as nREPL keeps *ns* per session. The runtime's own is the page's, shared.
	ns string
}

// bridge routes nREPL requests from editors to runtimes and every response back
// to the editor that asked. Its lock guards only maps and queue sends, never I/O.
type bridge struct {
	cfg Config
	log *slog.Logger
	rts *runtimes

	seq atomic.Uint64

	mu       sync.Mutex
	pending  map[string]*pending
	byEditor map[editor]map[string]*pending
	sessions map[string]*session
	closing  bool
	ops      map[string]opHandler
}

func newBridge(cfg Config, rts *runtimes) *bridge {
	b := &bridge{
		cfg: cfg, log: cfg.Logger, rts: rts,
		pending:  map[string]*pending{},
		byEditor: map[editor]map[string]*pending{},
		sessions: map[string]*session{},
	}
	b.ops = b.opTable()
	return b
}

// jvmSetupMarkers identify the JVM-only code CIDER and Calva evaluate on connect;
// in a browser it can only fail, so it is answered nil without forwarding.
var jvmSetupMarkers = []string{"clojure.main/repl-requires", "System/getProperty"}

// handle serves one request. It runs on the editor's read loop, so requests from
// one editor reach a runtime in the order they were sent. It returns when the
// request is answered or handed to a runtime; ctx bounds a wait for a runtime.
func (b *bridge) handle(ctx context.Context, ed editor, req nrepl.Msg) {
	op := req.Str("op")
	if op == "" {
		b.fail(ed, req, "request has no op", "unknown-op")
		return
	}
	if h, ok := b.ops[op]; ok {
		h(ctx, ed, req)
		return
	}
	// Anything else is the runtime's to answer (a sente-lite runtime may have
	// ops of its own); Scittle's unknown-op echo is turned into nREPL's answer.
	b.forward(ctx, ed, req, nil)
}

// nsName is what a namespace symbol may look like; anything else in a
// request's ns is not spliced into code.
var nsName = regexp.MustCompile(`^[A-Za-z_*+!?<>=\-][A-Za-z0-9_*+!?<>=.\-']*$`)

// inNamespace makes an eval run in the namespace the editor names. Scittle
// ignores :ns and evaluates in the page's last namespace, so a form from a
// buffer in my.app would otherwise land wherever the last eval left off. The
// prefix stays on the first line so that line numbers in errors do not move,
// and it only switches to a namespace that exists, as nREPL requires.
func inNamespace(req nrepl.Msg) nrepl.Msg {
	ns := req.Str("ns")
	if ns == "" || !nsName.MatchString(ns) {
		return req
	}
	fwd := req.Clone()
	fwd["code"] = fmt.Sprintf("(when (find-ns '%s) (in-ns '%s)) %s", ns, ns, req.Str("code"))
	return fwd
}

// unknownOp turns Scittle's answer to an op it lacks, which echoes the whole
// request and lacks the unknown-op status, into the answer nREPL specifies.
func unknownOp(m nrepl.Msg) nrepl.Msg {
	if m.Str("err") != "unknown-op" || !m.HasStatus("error") {
		return m
	}
	out := nrepl.Msg{"status": []any{"done", "error", "unknown-op"}, "err": "unknown-op"}
	for _, k := range []string{"id", "session", "op", "ns"} {
		if v, ok := m[k]; ok {
			out[k] = v
		}
	}
	return out
}

func isJVMSetup(code string) bool {
	for _, m := range jvmSetupMarkers {
		if strings.Contains(code, m) {
			return true
		}
	}
	return false
}

// reply sends one response to req, carrying its id and session.
func (b *bridge) reply(ed editor, req nrepl.Msg, m nrepl.Msg) {
	if id := req.Str("id"); id != "" {
		m["id"] = id
	}
	if s := req.Str("session"); s != "" {
		m["session"] = s
	}
	ed.send(m)
}

// fail ends req with an err response and a done+error status.
func (b *bridge) fail(ed editor, req nrepl.Msg, text string, statuses ...string) {
	b.reply(ed, req, nrepl.Msg{"err": "sente: " + text + "\n"})
	st := []any{"done", "error"}
	for _, s := range statuses {
		st = append(st, s)
	}
	b.reply(ed, req, nrepl.Msg{"status": st})
}

func newSessionID() string {
	var buf [16]byte
	_, _ = rand.Read(buf[:])
	h := hex.EncodeToString(buf[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func (b *bridge) clone(ed editor, req nrepl.Msg) {
	s := &session{id: newSessionID(), owner: ed}
	b.mu.Lock()
	if parent := b.sessions[req.Str("session")]; parent != nil {
		s.runtime = parent.runtime
	}
	b.sessions[s.id] = s
	b.mu.Unlock()
	b.reply(ed, req, nrepl.Msg{"new-session": s.id, "status": []any{"done"}})
}

func (b *bridge) closeSession(ed editor, req nrepl.Msg) {
	id := req.Str("session")
	b.mu.Lock()
	_, ok := b.sessions[id]
	delete(b.sessions, id)
	if ok {
		b.forgetLocked(id)
	}
	b.mu.Unlock()
	if !ok {
		b.reply(ed, req, nrepl.Msg{"status": []any{"done", "error", "unknown-session"}})
		return
	}
	b.reply(ed, req, nrepl.Msg{"status": []any{"done", "session-closed"}})
}

func (b *bridge) lsSessions(ed editor, req nrepl.Msg) {
	b.mu.Lock()
	ids := make([]any, 0, len(b.sessions))
	for id := range b.sessions {
		ids = append(ids, id)
	}
	b.mu.Unlock()
	sort.Slice(ids, func(i, j int) bool { return ids[i].(string) < ids[j].(string) })
	b.reply(ed, req, nrepl.Msg{"sessions": ids, "status": []any{"done"}})
}

func (b *bridge) describe(ed editor, req nrepl.Msg) {
	ops := map[string]any{}
	for op := range b.ops {
		ops[op] = map[string]any{}
	}
	for _, r := range b.rts.all() {
		for _, op := range r.Ops {
			ops[op] = map[string]any{}
		}
	}
	version := func(major, minor, incremental int, s string) map[string]any {
		return map[string]any{"major": strconv.Itoa(major), "minor": strconv.Itoa(minor),
			"incremental": strconv.Itoa(incremental), "version-string": s}
	}
	b.reply(ed, req, nrepl.Msg{
		"ops": ops,
		"versions": map[string]any{
			"sente": version(buildinfo.Major, buildinfo.Minor, buildinfo.Incremental, buildinfo.Version),
			// CIDER tells what a REPL is from these keys (cider-runtime):
			// scittle-nrepl makes it a ClojureScript (Scittle) REPL that serves
			// .cljs buffers. The version is the Scittle sente is tested with.
			"scittle-nrepl": version(0, 8, 33, "0.8.33"),
			// The nREPL protocol the gateway answers, as editors check it.
			"nrepl": version(1, 0, 0, "1.0.0"),
		},
		"aux":    map[string]any{"runtimes": int64(b.rts.count())},
		"status": []any{"done"},
	})
}

func (b *bridge) listRuntimes(ed editor, req nrepl.Msg) {
	selected := b.selected(req.Str("session"))
	var list []any
	for _, ri := range b.rts.list() {
		list = append(list, map[string]any{
			"id": ri.ID, "kind": ri.Kind, "user-agent": ri.UserAgent, "remote": ri.Remote,
			"connected": ri.Connected.UTC().Format(time.RFC3339), "pending": ri.Pending,
			"default": boolString(ri.Default), "selected": boolString(ri.ID == selected),
		})
	}
	if list == nil {
		list = []any{}
	}
	b.reply(ed, req, nrepl.Msg{"runtimes": list, "status": []any{"done"}})
}

func boolString(v bool) string {
	if v {
		return "true"
	}
	return "false"
}

// selectRuntime pins an nREPL session to one runtime; an empty id unpins it, so
// the session follows the newest runtime again.
func (b *bridge) selectRuntime(ed editor, req nrepl.Msg) {
	sid, want := req.Str("session"), req.Str("runtime")
	if want != "" && b.rts.get(want) == nil {
		b.fail(ed, req, fmt.Sprintf("no runtime %q is connected; sente/runtimes lists them", want))
		return
	}
	b.mu.Lock()
	s := b.sessions[sid]
	if s != nil {
		s.runtime = want
	}
	b.mu.Unlock()
	if s == nil {
		b.fail(ed, req, "sente/select-runtime needs a session: clone one first", "unknown-session")
		return
	}
	b.reply(ed, req, nrepl.Msg{"selected": want, "status": []any{"done"}})
}

func (b *bridge) selected(sessionID string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s := b.sessions[sessionID]; s != nil {
		return s.runtime
	}
	return ""
}

// forward hands req to a runtime, waiting up to RuntimeWait for one to connect.
// A job (nil for a request passed through as it is) makes the gateway run the
// request through the sente.repl helper, when the runtime has it.
func (b *bridge) forward(ctx context.Context, ed editor, req nrepl.Msg, j *job) {
	rt, arrived, err := b.rts.pick(b.selected(req.Str("session")))
	if err != nil {
		b.fail(ed, req, err.Error())
		return
	}
	if rt == nil {
		b.log.Debug("request waits for a runtime to connect", "op", req.Str("op"), "id", req.Str("id"), "wait", b.cfg.RuntimeWait)
		rt = b.waitForRuntime(ctx, arrived)
	}
	if rt == nil {
		b.fail(ed, req, fmt.Sprintf("no browser runtime is connected (waited %s). Open %s in a browser, or load scittle.nrepl.js on your page with SCITTLE_NREPL_WEBSOCKET_PORT set to this gateway's HTTP port.",
			b.cfg.RuntimeWait, pageURL(b.cfg)), "no-runtime")
		return
	}
	b.send(ed, req, rt, j)
}

func (b *bridge) waitForRuntime(ctx context.Context, arrived <-chan struct{}) *Runtime {
	if b.cfg.RuntimeWait <= 0 {
		return nil
	}
	timer := time.NewTimer(b.cfg.RuntimeWait)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
			return nil
		case <-arrived:
			rt, next, err := b.rts.pick("")
			if err == nil && rt != nil {
				return rt
			}
			arrived = next
		}
	}
}

// send registers the once handler, then hands the request to the runtime: as
// it is, or as the job's first step once the runtime's helper state is known.
func (b *bridge) send(ed editor, req nrepl.Msg, rt *Runtime, j *job) {
	seq := b.seq.Add(1)
	p := &pending{
		gid: "s" + strconv.FormatUint(seq, 36), seq: seq, ed: ed, rt: rt,
		id: req.Str("id"), session: req.Str("session"), op: req.Str("op"), req: req, job: j,
	}
	b.mu.Lock()
	if b.closing || rt.gone {
		b.mu.Unlock()
		b.fail(ed, req, "runtime "+rt.ID+" disconnected before the request could be sent", "runtime-gone")
		return
	}
	b.pending[p.gid] = p
	if b.byEditor[ed] == nil {
		b.byEditor[ed] = map[string]*pending{}
	}
	b.byEditor[ed][p.gid] = p
	rt.pending.Add(1)
	if t := b.cfg.EvalTimeout; t > 0 {
		p.timer = time.AfterFunc(t, func() { b.expire(p) })
	}
	if j != nil && rt.helper == helperAbsent {
		// The common case for runtimes without the helper: sent as it is,
		// encoded outside the lock.
		req, j = plainRequest(req, j.kind), nil
		p.job = nil
	}
	if j != nil {
		j.sid = p.session
		b.startJobLocked(p)
		b.mu.Unlock()
		return
	}
	b.mu.Unlock()
	b.sendPlain(p, req)
}

// sendPlain hands req to the runtime under p's gid.
func (b *bridge) sendPlain(p *pending, req nrepl.Msg) {
	fwd := req.Clone()
	fwd["id"] = p.gid
	if err := p.rt.link.request(fwd); err != nil {
		if errors.Is(err, wsconn.ErrClosed) {
			// It left between being picked and being written to.
			b.abandon(p.gid, "runtime "+p.rt.ID+" disconnected before the request could be sent", "runtime-gone")
			return
		}
		b.abandon(p.gid, fmt.Sprintf("could not send to runtime %s: %v", p.rt.ID, err), "runtime-busy")
	}
}

// unlink removes a pending request; callers hold b.mu.
func (b *bridge) unlink(p *pending) {
	delete(b.pending, p.gid)
	if m := b.byEditor[p.ed]; m != nil {
		delete(m, p.gid)
	}
	if p.timer != nil {
		p.timer.Stop()
	}
	p.rt.pending.Add(-1)
}

// deliver routes one response from a runtime to the editor that asked.
func (b *bridge) deliver(rt *Runtime, m nrepl.Msg) {
	gid := m.Str("id")
	b.mu.Lock()
	defer b.mu.Unlock()
	if gid == idleOutID {
		b.idleOutLocked(rt, m)
		return
	}
	if rt.bootGID != "" && gid == rt.bootGID {
		b.bootAnswerLocked(rt, m)
		return
	}
	p := b.pending[gid]
	if p == nil || p.rt != rt {
		// Late answers after a timeout or interrupt land here by design.
		b.log.Debug("dropped a response nobody waits for", "runtime", rt.ID, "id", gid)
		return
	}
	if p.job != nil {
		b.jobAnswerLocked(p, m)
		return
	}
	out := unknownOp(m).Clone()
	p.address(out)
	if m.HasStatus("done") {
		b.unlink(p)
	}
	// Sent under the lock so that a timeout can never slip in between a value and its done.
	p.ed.send(out)
}

// address gives a response the editor's own id and session; a request without
// an id is answered without one, as nREPL does.
func (p *pending) address(m nrepl.Msg) {
	if p.id != "" {
		m["id"] = p.id
	} else {
		delete(m, "id")
	}
	if p.session != "" {
		m["session"] = p.session
	} else {
		delete(m, "session")
	}
}

// abandon ends one pending request with an error the editor can read.
func (b *bridge) abandon(gid, text string, statuses ...string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.pending[gid]
	if p == nil {
		return
	}
	b.unlink(p)
	b.endLocked(p, text, statuses...)
}

func (b *bridge) endLocked(p *pending, text string, statuses ...string) {
	base := nrepl.Msg{}
	p.address(base)
	errMsg := base.Clone()
	errMsg["err"] = "sente: " + text + "\n"
	p.ed.send(errMsg)
	st := []any{"done", "error"}
	for _, s := range statuses {
		st = append(st, s)
	}
	doneMsg := base.Clone()
	doneMsg["status"] = st
	p.ed.send(doneMsg)
}

// expire ends p, whatever runtime id its current step has (a job's changes).
func (b *bridge) expire(p *pending) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pending[p.gid] != p {
		return // answered, interrupted or abandoned meanwhile
	}
	b.unlink(p)
	b.endLocked(p, fmt.Sprintf("no answer from the runtime within %s (--eval-timeout); the request was abandoned and a late answer will be dropped", b.cfg.EvalTimeout), "timeout")
}

// interrupt is answered by the gateway: a browser cannot stop running JavaScript,
// but the editor can stop waiting, and the late answer is dropped.
func (b *bridge) interrupt(ed editor, req nrepl.Msg) {
	target, sid := req.Str("interrupt-id"), req.Str("session")
	b.mu.Lock()
	var hit *pending
	for _, p := range b.byEditor[ed] {
		if (target == "" || p.id == target) && (sid == "" || p.session == sid) {
			if hit == nil || p.seq > hit.seq {
				hit = p
			}
		}
	}
	if hit != nil {
		b.unlink(hit)
		st := nrepl.Msg{"status": []any{"interrupted", "done"}}
		hit.address(st)
		hit.ed.send(st)
	}
	b.mu.Unlock()
	if hit == nil {
		b.reply(ed, req, nrepl.Msg{"status": []any{"done", "session-idle"}})
		return
	}
	b.reply(ed, req, nrepl.Msg{"status": []any{"done", "interrupted"}})
}

// runtimeGone ends every request the runtime still owed with err and done.
func (b *bridge) runtimeGone(rt *Runtime, reason string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	rt.gone = true
	n := 0
	for _, p := range b.pending {
		if p.rt == rt {
			b.unlink(p)
			b.endLocked(p, fmt.Sprintf("runtime %s disconnected before answering (%s)", rt.ID, reason), "runtime-gone")
			n++
		}
	}
	if n > 0 {
		b.log.Info("ended requests of a departed runtime", "runtime", rt.ID, "requests", n)
	}
}

// editorGone forgets an editor's pending requests and sessions.
func (b *bridge) editorGone(ed editor) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.byEditor[ed] {
		b.unlink(p)
	}
	delete(b.byEditor, ed)
	for _, rt := range b.rts.all() {
		if rt.last.ed == ed {
			rt.last = lastEval{}
		}
	}
	for id, s := range b.sessions {
		if s.owner == ed {
			delete(b.sessions, id)
			b.forgetLocked(id)
		}
	}
}

// shutdown ends every pending request; nothing new is accepted after it.
func (b *bridge) shutdown() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closing = true
	for _, p := range b.pending {
		b.unlink(p)
		b.endLocked(p, "the gateway is shutting down", "shutdown")
	}
}

// pendingCount is for stats and tests.
func (b *bridge) pendingCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.pending)
}
