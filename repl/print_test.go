package repl

import (
	"strings"
	"testing"

	"github.com/sente-clj/sente/nrepl"
)

func TestPrinter(t *testing.T) {
	var out, errb strings.Builder
	p := &Printer{Out: &out, Err: &errb}
	for _, m := range []nrepl.Msg{
		{"out": "no newline"},
		{"value": "nil"}, // goes on a line of its own
		{"err": "warn"},
		{"out": "line\n"},
		{"value": "{:a 1}"},
		{"out": "tail"},
		{"status": []any{"done"}},
	} {
		p.Print(m)
	}
	p.Finish(nrepl.EvalResult{Status: []string{"done"}})
	if got, want := out.String(), "no newline\nnil\nline\n{:a 1}\ntail\n"; got != want {
		t.Errorf("out = %q, want %q", got, want)
	}
	if got, want := errb.String(), "warn\n"; got != want {
		t.Errorf("err = %q, want %q", got, want)
	}
}

func TestPrinterSaysWhyWhenTheServerDidNot(t *testing.T) {
	var out, errb strings.Builder
	p := &Printer{Out: &out, Err: &errb}
	p.Finish(nrepl.EvalResult{Status: []string{"done", "error", "namespace-not-found"}})
	if got := errb.String(); got != "sente: the server reported an error: namespace-not-found\n" {
		t.Errorf("err = %q", got)
	}
	// When the server explained, nothing is added.
	errb.Reset()
	p.Print(nrepl.Msg{"err": "Divide by zero\n"})
	p.Finish(nrepl.EvalResult{Ex: "class java.lang.ArithmeticException", Status: []string{"eval-error", "done"}})
	if got := errb.String(); got != "Divide by zero\n" {
		t.Errorf("err = %q", got)
	}
}

func TestFailed(t *testing.T) {
	for _, tt := range []struct {
		res  nrepl.EvalResult
		want bool
	}{
		{nrepl.EvalResult{Status: []string{"done"}}, false},
		{nrepl.EvalResult{Ex: "Error", Status: []string{"done"}}, true}, // nbb: ex without eval-error
		{nrepl.EvalResult{Status: []string{"eval-error", "done"}}, true},
		{nrepl.EvalResult{Status: []string{"done", "error", "no-runtime"}}, true}, // the gateway
	} {
		if got := Failed(tt.res); got != tt.want {
			t.Errorf("Failed(%+v) = %v", tt.res, got)
		}
	}
}

func TestPrompts(t *testing.T) {
	for ns, want := range map[string][2]string{
		"user":   {"user=> ", "  #_=> "},
		"my.app": {"my.app=> ", "    #_=> "},
		"a":      {"a=> ", "#_=> "},
	} {
		if p, c := Prompt(ns), ContinuationPrompt(ns); p != want[0] || c != want[1] {
			t.Errorf("%s: %q %q", ns, p, c)
		}
		if ns != "a" && len(Prompt(ns)) != len(ContinuationPrompt(ns)) {
			t.Errorf("%s: prompts not aligned", ns)
		}
	}
}

func TestCompleterWord(t *testing.T) {
	for _, tt := range []struct {
		line string
		want string
	}{
		{"(ma", "ma"},
		{"(str :fo", ":fo"},
		{"(clojure.string/jo", "clojure.string/jo"},
		{"[@a", "a"},
		{"(f ", ""},
	} {
		if got := wordBefore([]rune(tt.line), len([]rune(tt.line))); got != tt.want {
			t.Errorf("word before the cursor in %q = %q, want %q", tt.line, got, tt.want)
		}
	}
}
