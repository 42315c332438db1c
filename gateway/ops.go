package gateway

import (
	"context"

	"github.com/sente-clj/sente/nrepl"
)

// opHandler serves one nREPL op. Every handler ends its request with done,
// itself or through the runtime it forwards to.
type opHandler func(ctx context.Context, ed editor, req nrepl.Msg)

// opTable is every op the gateway serves, one handler each (as babashka.nrepl
// does); describe lists exactly these, plus ops a runtime announces itself.
func (b *bridge) opTable() map[string]opHandler {
	return map[string]opHandler{
		"clone":       func(_ context.Context, ed editor, req nrepl.Msg) { b.clone(ed, req) },
		"close":       func(_ context.Context, ed editor, req nrepl.Msg) { b.closeSession(ed, req) },
		"describe":    func(_ context.Context, ed editor, req nrepl.Msg) { b.describe(ed, req) },
		"ls-sessions": func(_ context.Context, ed editor, req nrepl.Msg) { b.lsSessions(ed, req) },
		"interrupt":   func(_ context.Context, ed editor, req nrepl.Msg) { b.interrupt(ed, req) },
		"stdin": func(_ context.Context, ed editor, req nrepl.Msg) {
			// Browser runtimes never read stdin; acknowledge so the editor moves on.
			b.reply(ed, req, nrepl.Msg{"status": []any{"done"}})
		},
		"sente/runtimes":       func(_ context.Context, ed editor, req nrepl.Msg) { b.listRuntimes(ed, req) },
		"sente/select-runtime": func(_ context.Context, ed editor, req nrepl.Msg) { b.selectRuntime(ed, req) },
		"eval":                 b.evalOp,
		"load-file":            b.loadFileOp,
		"complete":             b.lookupOp(jobComplete),
		"completions":          b.lookupOp(jobCompletions),
		"info":                 b.lookupOp(jobInfo),
		"eldoc":                b.lookupOp(jobEldoc),
		"lookup":               b.lookupOp(jobLookup),
	}
}

func (b *bridge) evalOp(ctx context.Context, ed editor, req nrepl.Msg) {
	code := req.Str("code")
	if isJVMSetup(code) {
		b.reply(ed, req, nrepl.Msg{"value": "nil", "ns": nsOr(req, b.sessionNS(req.Str("session")))})
		b.reply(ed, req, nrepl.Msg{"status": []any{"done"}})
		return
	}
	b.forward(ctx, ed, req, newEvalJob(req, code, req.Str("file"), false))
}

// loadFileOp evaluates the file's text (stock runtimes have no load-file) and,
// as nREPL's load-file does, answers the last form's value only.
func (b *bridge) loadFileOp(ctx context.Context, ed editor, req nrepl.Msg) {
	name := req.Str("file-path")
	if name == "" {
		name = req.Str("file-name")
	}
	b.forward(ctx, ed, req, newEvalJob(req, req.Str("file"), name, true))
}

// lookupOp serves the ops that ask about symbols. Editors name the symbol sym
// (CIDER) or symbol (Calva, Conjure), and the prefix prefix or symbol.
func (b *bridge) lookupOp(kind jobKind) opHandler {
	return func(ctx context.Context, ed editor, req nrepl.Msg) {
		b.forward(ctx, ed, req, &job{kind: kind})
	}
}

func nsOr(m nrepl.Msg, def string) string {
	if ns := m.Str("ns"); ns != "" {
		return ns
	}
	return def
}

// sessionNS is the namespace an eval without ns runs in for session id.
func (b *bridge) sessionNS(id string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s := b.sessions[id]; s != nil && s.ns != "" {
		return s.ns
	}
	return "user"
}
