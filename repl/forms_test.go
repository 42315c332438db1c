package repl

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestBalanced(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want bool   // complete
		err  string // substring of the *SyntaxError, "" for none
	}{
		{"empty", "", true, ""},
		{"blank and comment", "  ; just a comment (\n", true, ""},
		{"symbol", "foo", true, ""},
		{"call", "(+ 1 2)", true, ""},
		{"open call", "(+ 1", false, ""},
		{"nested", "(let [a {:b #{1}}] a)", true, ""},
		{"nested open", "(let [a {:b #{1}}]", false, ""},
		{"string with escaped quote", `(str "a\"b(" "[")`, true, ""},
		{"string with escaped backslash", `(str "a\\" ")")`, true, ""},
		{"open string", `(str "abc)`, false, ""},
		{"string with newline", "(str \"a\nb\")", true, ""},
		{"char open paren", `(str \()`, true, ""},
		{"char close paren", `(str \))`, true, ""},
		{"char brackets and braces", `[\[ \] \{ \}]`, true, ""},
		{"char quote", `(str \" "x")`, true, ""},
		{"char semicolon", `(str \; "x")`, true, ""},
		{"char backslash", `(str \\ \()`, true, ""},
		{"named chars", `[\newline \space \tab \u0041 \o101 \a\b]`, true, ""},
		{"lone backslash at end", `(str \`, false, ""},
		{"comment hides closer", "(foo ; )\n", false, ""},
		{"comment then closer", "(foo ; )\n)", true, ""},
		{"comma is whitespace", "(a, b,)", true, ""},
		{"discard", "#_(foo) (bar)", true, ""},
		{"discard open", "#_(foo", false, ""},
		{"discard waiting for its form", "#_", false, ""},
		{"discard waiting after whitespace", "#_ \n", false, ""},
		{"double discard", "#_#_ a b c", true, ""},
		{"double discard waiting", "#_#_ a", false, ""},
		{"discard in collection", "[1 #_2 3]", true, ""},
		{"reader conditional", "#?(:clj 1 :cljs 2)", true, ""},
		{"reader conditional open", "#?(:clj (inc 1)", false, ""},
		{"splicing reader conditional", "[#?@(:clj [1 2])]", true, ""},
		{"regex", `#"a\"(b"`, true, ""},
		{"regex open", `#"a(`, false, ""},
		{"fn literal", "#(+ % 1)", true, ""},
		{"set", "#{1 2}", true, ""},
		{"tagged literal", `#inst "2020-01-01"`, true, ""},
		{"tagged literal waiting", "#js", false, ""},
		{"namespaced map", "#:a{:b 1}", true, ""},
		{"auto namespaced map", "#::{:b 1}", true, ""},
		{"symbolic value", "##Inf", true, ""},
		{"var quote", "#'foo", true, ""},
		{"quote waiting", "'", false, ""},
		{"syntax quote unquote splicing", "`(a ~@b ~c)", true, ""},
		{"metadata", "^:private (def x 1)", true, ""},
		{"metadata waiting for target", "^{:a 1}", false, ""},
		{"deref", "@a", true, ""},
		{"shebang comment", "#!/usr/bin/env bb\n(+ 1 2)", true, ""},
		{"multibyte", `(str "héllo" \é 'λ)`, true, ""},
		{"stray closer", ")", false, "line 1, column 1: unmatched delimiter ): nothing is open"},
		{"extra closer", "(+ 1 2))", false, "line 1, column 8: unmatched delimiter )"},
		{"mismatched", "(foo]", false, "line 1, column 5: unmatched delimiter ]: expected ) to close the ( at line 1, column 1"},
		{"mismatched brace", "[{:a 1]", false, "expected } to close the {"},
		{"mismatched on later line", "(a\n [b\n  c)", false, "line 3, column 4: unmatched delimiter ): expected ] to close the [ at line 2, column 2"},
		{"closer after prefix", "(a ')", false, "unexpected ): the ' at line 1, column 4 needs a form after it"},
		{"closer after discard", "[#_]", false, "the #_ at line 1, column 2"},
		{"closer in string is fine", `")"`, true, ""},
		{"closer in comment is fine", "; )\n", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Balanced(tt.src)
			if tt.err != "" {
				var se *SyntaxError
				if !errors.As(err, &se) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Balanced(%q) error = %v, want a *SyntaxError containing %q", tt.src, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Balanced(%q) error = %v", tt.src, err)
			}
			if got != tt.want {
				t.Errorf("Balanced(%q) = %v, want %v", tt.src, got, tt.want)
			}
		})
	}
}

func texts(forms []Form) []string {
	out := []string{}
	for _, f := range forms {
		out = append(out, f.Text)
	}
	return out
}

func TestSplit(t *testing.T) {
	tests := []struct {
		src  string
		want []string
	}{
		{"1 2 :a \"s\"", []string{"1", "2", ":a", `"s"`}},
		{"(ns foo)\n\n(defn f [x]\n  (inc x)) ; done\n(f 1)\n", []string{"(ns foo)", "(defn f [x]\n  (inc x))", "(f 1)"}},
		{"#_(skip me) (keep) #_ #_ a b c", []string{"(keep)", "c"}},
		{"'(1 2) `x @a #'v ^:m s ^{:a 1} [v]", []string{"'(1 2)", "`x", "@a", "#'v", "^:m s", "^{:a 1} [v]"}},
		{`(str \( \" \;) "a;b" ; trailing`, []string{`(str \( \" \;)`, `"a;b"`}},
		{"#?(:clj 1) #inst \"x\" #:a{:b 1} ##NaN", []string{"#?(:clj 1)", `#inst "x"`, "#:a{:b 1}", "##NaN"}},
		{"foo)bar", nil}, // error, see below
	}
	for _, tt := range tests[:len(tests)-1] {
		got, err := Split(tt.src)
		if err != nil {
			t.Errorf("Split(%q) error: %v", tt.src, err)
			continue
		}
		if !reflect.DeepEqual(texts(got), tt.want) {
			t.Errorf("Split(%q) = %q, want %q", tt.src, texts(got), tt.want)
		}
	}

	got, err := Split("foo)bar")
	var se *SyntaxError
	if !errors.As(err, &se) || se.Line != 1 || se.Column != 4 || se.Unfinished {
		t.Errorf("Split(foo)bar) error = %v, want a SyntaxError at 1:4, not an unfinished form", err)
	}
	if !reflect.DeepEqual(texts(got), []string{"foo"}) {
		t.Errorf("Split(foo)bar) forms = %q, want the form before the error", texts(got))
	}

	for _, src := range []string{"(a", `"abc`, "'", "#_", `\`} {
		if _, err := Split(src); !errors.As(err, &se) || !se.Unfinished || !strings.Contains(err.Error(), "the input ended") {
			t.Errorf("Split(%q) error = %v, want an end-of-input SyntaxError", src, err)
		}
	}
	if _, err := Split("(a\n  [b"); err == nil || err.Error() != "line 2, column 3: the input ended before the [ opened here was closed with ]" {
		t.Errorf("Split unclosed error = %v", err)
	}
}

// TestSplitterStreaming feeds stdin-like lines one at a time and checks that
// forms come out as soon as they are complete, with their positions.
func TestSplitterStreaming(t *testing.T) {
	s := NewSplitter()
	feed := func(line string, want ...string) []Form {
		t.Helper()
		forms, err := s.Feed(line)
		if err != nil {
			t.Fatalf("Feed(%q): %v", line, err)
		}
		if len(want) == 0 {
			want = []string{}
		}
		if !reflect.DeepEqual(texts(forms), want) {
			t.Fatalf("Feed(%q) = %q, want %q", line, texts(forms), want)
		}
		return forms
	}
	feed("(+ 1 2) (defn f\n", "(+ 1 2)")
	if !s.Pending() {
		t.Fatal("Pending() = false inside (defn f")
	}
	feed("  [x] \"a string\n")
	feed("with ) inside\") ; comment (\n", "(defn f\n  [x] \"a string\nwith ) inside\")")
	if s.Pending() {
		t.Fatal("Pending() = true after the form closed")
	}
	forms := feed("\n   :k #_ skipped\n", ":k")
	if forms[0].Line != 5 || forms[0].Column != 4 {
		t.Errorf(":k at %d:%d, want 5:4", forms[0].Line, forms[0].Column)
	}
	feed("nope\n", "nope") // the #_ took "skipped"; nothing is left waiting
	if s.Pending() {
		t.Fatal("Pending() after a finished discard")
	}
	feed("#_\n")
	if !s.Pending() {
		t.Fatal("a #_ at the end of a line waits for its form")
	}
	feed("(dropped) kept\n", "kept")

	// An error drops the rest of its line; Feed("") goes on after it.
	forms, err := s.Feed("(ok)) (lost)\n(next)\n")
	var se *SyntaxError
	if !errors.As(err, &se) || se.Line != 9 || se.Column != 5 {
		t.Fatalf("Feed error = %v, want a SyntaxError at 9:5", err)
	}
	if !reflect.DeepEqual(texts(forms), []string{"(ok)"}) {
		t.Fatalf("forms before the error = %q", texts(forms))
	}
	forms, err = s.Feed("")
	if err != nil || !reflect.DeepEqual(texts(forms), []string{"(next)"}) || forms[0].Line != 10 {
		t.Fatalf("after the error: %q (%+v), %v", texts(forms), forms, err)
	}
	if s.End() != nil {
		t.Fatalf("End() = %v with nothing pending", s.End())
	}
	feed("(unfinished\n")
	if err := s.End(); err == nil || !strings.Contains(err.Error(), "line 11, column 1") {
		t.Fatalf("End() = %v, want the unfinished form's position", err)
	}
	s.Reset()
	if s.Pending() {
		t.Fatal("Pending() after Reset")
	}
	feed("1\n", "1")
}

// TestSplitterLongFormIsIncremental guards against rescanning a pending form
// from its start on every line, which made big inputs quadratic.
func TestSplitterLongFormIsIncremental(t *testing.T) {
	s := NewSplitter()
	s.Feed("[\n")
	for i := 0; i < 200000; i++ {
		if forms, err := s.Feed("  \"a string with ) and ( in it\" \\( 12345 ; c )\n"); err != nil || len(forms) != 0 {
			t.Fatalf("line %d: %v %v", i, forms, err)
		}
	}
	forms, err := s.Feed("]\n")
	if err != nil || len(forms) != 1 || forms[0].Line != 1 {
		t.Fatalf("got %d forms, %v", len(forms), err)
	}
}

func FuzzSplitter(f *testing.F) {
	for _, s := range []string{"(a [b {c}])", `"x\"" \( ;c`, "#_#_ a b c", "#?@(:clj [1])", "(]", "^{:a 1} 'x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		// Line by line or all at once, the same forms come out, and never a panic.
		whole, errWhole := Split(src)
		s := NewSplitter()
		var byLine []Form
		var errLines error
		for _, line := range strings.SplitAfter(src, "\n") {
			forms, err := s.Feed(line)
			byLine = append(byLine, forms...)
			if err != nil {
				errLines = err
				break
			}
		}
		if errLines == nil {
			errLines = s.End()
		}
		if (errWhole == nil) != (errLines == nil) {
			t.Fatalf("whole: %v, by line: %v", errWhole, errLines)
		}
		if errWhole == nil && !reflect.DeepEqual(whole, byLine) {
			t.Fatalf("whole %q != by line %q", texts(whole), texts(byLine))
		}
	})
}

func TestOneLine(t *testing.T) {
	tests := []struct{ in, want string }{
		{"(+ 1 2)", "(+ 1 2)"},
		{"(+ 1\n   2)", "(+ 1 2)"},
		{"(foo ; a comment (\n bar)", "(foo bar)"},
		{"(str \"a\nb ; not a comment\")", `(str "a\nb ; not a comment")`},
		{`(str \; \" "x")`, `(str \; \" "x")`},
		{"[\\\n]", `[\newline]`},
		{"(a)\n;; trailing\n", "(a)"},
	}
	for _, tt := range tests {
		got := OneLine(tt.in)
		if got != tt.want {
			t.Errorf("OneLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
		// Same forms, same balance.
		if ok, err := Balanced(got); !ok || err != nil {
			t.Errorf("OneLine(%q) = %q is not balanced: %v", tt.in, got, err)
		}
	}
}
