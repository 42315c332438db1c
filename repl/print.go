package repl

import (
	"io"
	"slices"
	"strings"

	"github.com/sente-clj/sente/nrepl"
)

// Printer shows eval responses as they stream in: "out" on Out, "err" on Err,
// and each "value" on Out on a line of its own.
type Printer struct {
	Out, Err io.Writer

	outOpen, errOpen bool // the last text written did not end a line
	sawErr           bool
}

// Print shows one response.
func (p *Printer) Print(m nrepl.Msg) {
	if s := m.Str("out"); s != "" {
		io.WriteString(p.Out, s)
		p.outOpen = !strings.HasSuffix(s, "\n")
	}
	if s := m.Str("err"); s != "" {
		io.WriteString(p.Err, s)
		p.errOpen = !strings.HasSuffix(s, "\n")
		p.sawErr = true
	}
	if v, ok := m["value"].(string); ok {
		if p.outOpen {
			io.WriteString(p.Out, "\n")
		}
		io.WriteString(p.Out, v+"\n")
		p.outOpen = false
	}
}

// Finish ends the eval: it closes lines left open and, when the eval failed
// without any "err" text to say so, writes why to Err.
func (p *Printer) Finish(res nrepl.EvalResult) {
	if p.outOpen {
		io.WriteString(p.Out, "\n")
		p.outOpen = false
	}
	if p.errOpen {
		io.WriteString(p.Err, "\n")
		p.errOpen = false
	}
	if !p.sawErr && Failed(res) {
		io.WriteString(p.Err, "sente: "+FailureSummary(res)+"\n")
	}
	p.sawErr = false
}

// Failed reports whether an eval went wrong: it threw (an "ex"), or the server
// answered with an error status.
func Failed(res nrepl.EvalResult) bool {
	if res.Ex != "" {
		return true
	}
	for _, s := range res.Status {
		switch s {
		case "error", "eval-error", "namespace-not-found", "unknown-op", "unknown-session":
			return true
		}
	}
	return false
}

// FailureSummary says why an eval failed, for when the server sent no "err".
func FailureSummary(res nrepl.EvalResult) string {
	if res.Ex != "" {
		return "evaluation threw " + res.Ex
	}
	var notable []string
	for _, s := range res.Status {
		if !slices.Contains([]string{"done", "error", "eval-error"}, s) {
			notable = append(notable, s)
		}
	}
	if len(notable) == 0 {
		return "the server reported an error"
	}
	return "the server reported an error: " + strings.Join(notable, ", ")
}
