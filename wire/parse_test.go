package wire

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	"olympos.io/encoding/edn"
)

func TestParseValues(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want any
	}{
		{"nil", "nil", nil},
		{"true", "true", true},
		{"false", " false ", false},
		{"int", "42", int64(42)},
		{"negative int", "-7", int64(-7)},
		{"min int64", "-9223372036854775808", int64(math.MinInt64)},
		{"bigint top level", "12N", big.NewInt(12)},
		{"bigint nested", "[12N]", []any{big.NewInt(12)}},
		// Clojure reads these as BigInt and prints them without N.
		{"int past int64", "9223372036854775808", func() *big.Int { z, _ := new(big.Int).SetString("9223372036854775808", 10); return z }()},
		{"int below int64", "[-9223372036854775809]", []any{func() *big.Int { z, _ := new(big.Int).SetString("-9223372036854775809", 10); return z }()}},
		// Clojure prints a map whose keys share a namespace this way.
		{"namespace map", `#:user{:id 1, :name "Ada"}`, map[any]any{edn.Keyword("user/id"): int64(1), edn.Keyword("user/name"): "Ada"}},
		{"namespace map keeps other namespaces, drops _", "#:a {:b 1 :c/d 2 :_/e 3 f 4 \"s\" 5}",
			map[any]any{edn.Keyword("a/b"): int64(1), edn.Keyword("c/d"): int64(2), edn.Keyword("e"): int64(3), edn.Symbol("a/f"): int64(4), "s": int64(5)}},
		{"nested namespace maps", "#:a{:b #:c{:d 1}}", map[any]any{edn.Keyword("a/b"): map[any]any{edn.Keyword("c/d"): int64(1)}}},
		{"float", "1.5", 1.5},
		{"float stays float", "1.0", 1.0},
		{"exponent", "1e+21", 1e21},
		{"bigdec top level", "1.5M", 1.5},
		{"bigdec nested", "[1.5M]", []any{1.5}},
		{"NaN", "##NaN", math.NaN()},
		{"Inf in vector", "[##Inf ##-Inf]", []any{math.Inf(1), math.Inf(-1)}},
		{"string escapes", `"a\"b\\c\nd\te\rf\bg\fh\/i"`, "a\"b\\c\nd\te\rf\bg\fh/i"},
		{"unicode escape", `"\u00e9"`, "é"},
		{"surrogate pair escape", `"x\uD83D\uDE00y"`, "x😀y"},
		{"raw emoji", `"😀"`, "😀"},
		{"raw control char", "\"a\x01b\"", "a\x01b"},
		{"char", `\a`, edn.Rune('a')},
		{"named chars", `[\newline \space \tab \return \formfeed \backspace]`, []any{edn.Rune('\n'), edn.Rune(' '), edn.Rune('\t'), edn.Rune('\r'), edn.Rune('\f'), edn.Rune('\b')}},
		{"unicode char", `\u00e9`, edn.Rune('é')},
		{"bracket chars", `[\( \) \[ \] \{ \} \" \\ \;]`, []any{edn.Rune('('), edn.Rune(')'), edn.Rune('['), edn.Rune(']'), edn.Rune('{'), edn.Rune('}'), edn.Rune('"'), edn.Rune('\\'), edn.Rune(';')}},
		{"keyword", ":a", edn.Keyword("a")},
		{"namespaced keyword", ":my-app/hello", edn.Keyword("my-app/hello")},
		{"symbol", "ns/sym", edn.Symbol("ns/sym")},
		{"list is a slice", "(1 2)", []any{int64(1), int64(2)}},
		{"map", `{:a 1 "b" [2]}`, map[any]any{edn.Keyword("a"): int64(1), "b": []any{int64(2)}}},
		{"set", "#{1 :a}", map[any]bool{int64(1): true, edn.Keyword("a"): true}},
		{"char key", `{\a 1}`, map[any]any{edn.Rune('a'): int64(1)}},
		{"nil key", `{nil 1}`, map[any]any{nil: int64(1)}},
		{"inst", `#inst "2020-01-02T03:04:05.123-00:00"`, time.Date(2020, 1, 2, 3, 4, 5, 123e6, time.UTC)},
		{"inst with offset", `#inst "2020-01-02T03:04:05+02:00"`, time.Date(2020, 1, 2, 1, 4, 5, 0, time.UTC)},
		{"uuid", `#uuid "550e8400-e29b-41d4-a716-446655440000"`, Tagged{"uuid", "550e8400-e29b-41d4-a716-446655440000"}},
		{"unknown tag", `#foo/bar [1 \x]`, Tagged{"foo/bar", []any{int64(1), edn.Rune('x')}}},
		{"nested tags", `#a #b 1`, Tagged{"a", Tagged{"b", int64(1)}}},
		{"base64 stays tagged", `#base64 "aGk="`, Tagged{"base64", "aGk="}},
		{"tagged key", `{#t 1 2}`, map[any]any{Tagged{"t", int64(1)}: int64(2)}},
		{"discard", "[1 #_ 2 3]", []any{int64(1), int64(3)}},
		{"discard before value", "#_ [1] 2", int64(2)},
		{"tag over discard", "#t #_ 1 2", Tagged{"t", int64(2)}},
		{"comment", "[1 ; c ]]]\n 2] ; trailing\n", []any{int64(1), int64(2)}},
		{"comment right after a discard", "#_0;1\n2", int64(2)},
		{"commas", "{:a 1,,, :b 2,}", map[any]any{edn.Keyword("a"): int64(1), edn.Keyword("b"): int64(2)}},
		{"unicode whitespace", "\u00a0[1\u00a02]\u2028", []any{int64(1), int64(2)}},
		{"string then symbol", `["a"b]`, []any{"a", edn.Symbol("b")}},
		{"depth 100", strings.Repeat("[", 100) + strings.Repeat("]", 100), nest(100)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.in), DefaultLimits())
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if !ednEqual(got, tt.want) {
				t.Fatalf("Parse(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
		})
	}
}

func nest(n int) any {
	var v any = []any{}
	for i := 1; i < n; i++ {
		v = []any{v}
	}
	return v
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		lim     Limits
		wantErr error  // checked with errors.Is, in addition to ErrParse
		msg     string // substring of the message
	}{
		{"empty", "", Limits{}, nil, "no EDN value"},
		{"only whitespace", "  \n", Limits{}, nil, "no EDN value"},
		{"only discard", "#_ 1", Limits{}, nil, "no EDN value"},
		{"unclosed", "[1 2", Limits{}, nil, "unclosed"},
		{"stray closer", "]", Limits{}, nil, "unexpected"},
		{"mismatched", "[1}", Limits{}, nil, "closes"},
		{"unterminated string", `"abc`, Limits{}, nil, "unterminated string"},
		{"bracket in string is not a bracket", `["]"`, Limits{}, nil, "1 unclosed"},
		{"trailing value", "[1] 2", Limits{}, nil, "after the value"},
		{"trailing closer", "1]", Limits{}, nil, "after the value"},
		{"trailing discard", "[1] #_ 2", Limits{}, nil, "after the value"},
		{"tag without value", "[#foo]", Limits{}, nil, "without a value"},
		{"too deep", strings.Repeat("[", 101) + strings.Repeat("]", 101), Limits{}, ErrTooDeep, "more than 100"},
		{"custom depth", "[[[1]]]", Limits{MaxDepth: 2}, ErrTooDeep, "more than 2"},
		{"tag chain too deep", strings.Repeat("#a ", 101) + "1", Limits{}, ErrTooDeep, ""},
		{"discard chain too deep", strings.Repeat("#_ ", 101) + "1", Limits{}, ErrTooDeep, ""},
		{"too large", `"` + strings.Repeat("x", 100) + `"`, Limits{MaxBytes: 50}, ErrTooLarge, "limit 50"},
		{"invalid utf8", "\"ab\xff\"", Limits{}, nil, "invalid UTF-8 at byte 3"},
		{"collection key", "{[1] 2}", Limits{}, nil, "collections are not supported"},
		{"set element collection", "#{[1]}", Limits{}, nil, "collections are not supported"},
		{"map key map", "{{} 1}", Limits{}, nil, "collections are not supported"},
		{"tagged collection key", "{#foo [1] 2}", Limits{}, nil, "unhashable"},
		{"bigint key", "{1N 2}", Limits{}, nil, "unhashable"},
		{"bad inst", `#inst "yesterday"`, Limits{}, nil, ""},
		{"inst beyond 9999 in UTC", `#inst "9999-12-31T23:59:59-01:00"`, Limits{}, nil, "outside"},
		{"unknown symbolic", "##Foo", Limits{}, nil, "symbolic"},
		{"namespace map without a map", "#:a 1", Limits{}, nil, "namespace map"},
		{"namespace map with a qualified ns", "#:a/b{:c 1}", Limits{}, nil, "namespace map"},
		{"namespace map without a name", "#:{:c 1}", Limits{}, nil, "namespace map"},
		{"auto-resolved keyword", "::a", Limits{}, nil, ""},
		{"bad string escape", `"\q"`, Limits{}, nil, ""},
		{"dangling backslash", `\`, Limits{}, nil, ""},
		{"dangling hash", `#`, Limits{}, nil, ""},
		{"reader macro", "'a", Limits{}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.in), tt.lim)
			if err == nil {
				t.Fatalf("Parse(%q) = %#v, want error", tt.in, got)
			}
			if !errors.Is(err, ErrParse) {
				t.Errorf("error %v does not wrap ErrParse", err)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v does not wrap %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not mention %q", err, tt.msg)
			}
		})
	}
}

// A million levels would overflow the Go stack inside olympos, which is a
// fatal error, not a panic: the pre-scan must stop it first, and quickly.
func TestParseMillionDeep(t *testing.T) {
	inputs := map[string][]byte{
		"vectors":   []byte(strings.Repeat("[", 1_000_000)),
		"balanced":  []byte(strings.Repeat("[", 1_000_000) + strings.Repeat("]", 1_000_000)),
		"maps":      []byte(strings.Repeat("{:a ", 1_000_000)),
		"sets":      []byte(strings.Repeat("#{", 1_000_000)),
		"lists":     []byte(strings.Repeat("(", 1_000_000)),
		"tags":      []byte(strings.Repeat("#a ", 1_000_000) + "1"),
		"discards":  []byte(strings.Repeat("#_", 1_000_000) + "1"),
		"after str": []byte(`["\"]" ` + strings.Repeat("[", 1_000_000)),
	}
	lim := Limits{MaxBytes: 8 << 20}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			_, err := DecodeFrame(in, lim)
			if !errors.Is(err, ErrTooDeep) {
				t.Fatalf("err = %v, want ErrTooDeep", err)
			}
			// Only a parse that walks the input once per level takes this long.
			if d := time.Since(start); d > 30*time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// Brackets inside strings, characters and comments must not count, or valid
// frames would be rejected as too deep or unbalanced.
func TestParseBracketsInsideAtoms(t *testing.T) {
	deep := strings.Repeat("[", 150)
	for _, in := range []string{
		`"` + deep + `"`,
		`["\"` + deep + `"]`,
		"[; " + deep + "\n 1]",
		`[\[ \[ \[ \( \{ 1]`,
		`[\" "x"]`,
	} {
		if _, err := Parse([]byte(in), DefaultLimits()); err != nil {
			t.Errorf("Parse(%.40q): %v", in, err)
		}
	}
}

func TestParseZeroLimitsMeanDefaults(t *testing.T) {
	if _, err := Parse([]byte(strings.Repeat("[", 100)+strings.Repeat("]", 100)), Limits{}); err != nil {
		t.Fatalf("depth 100 with zero Limits: %v", err)
	}
	big := make([]byte, defaultMaxBytes+1)
	for i := range big {
		big[i] = ' '
	}
	if _, err := Parse(big, Limits{}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("over 1 MiB with zero Limits: %v", err)
	}
}

func TestDefaultLimits(t *testing.T) {
	if got := DefaultLimits(); got != (Limits{MaxBytes: 1 << 20, MaxDepth: 100}) {
		t.Fatalf("DefaultLimits() = %+v", got)
	}
}

// Duplicate keys are not an error (olympos did not reject them either); the
// last one wins, including for keys Go maps cannot find again (NaN) and for
// #inst keys that are the same instant in different zones.
func TestParseDuplicateKeys(t *testing.T) {
	tests := []struct {
		in   string
		want any
	}{
		{"{:a 1 :a 2}", map[any]any{edn.Keyword("a"): int64(2)}},
		{"#{1 1 :a :a}", map[any]bool{int64(1): true, edn.Keyword("a"): true}},
		{"{##NaN 1 ##NaN 2}", map[any]any{math.NaN(): int64(2)}},
		{"#{##NaN ##NaN}", map[any]bool{math.NaN(): true}},
		{"{#t ##NaN 1 #t ##NaN 2 #u ##NaN 3}", map[any]any{Tagged{"t", math.NaN()}: int64(2), Tagged{"u", math.NaN()}: int64(3)}},
		{`{#inst "2020-01-01T00:00:00Z" 1 #inst "2020-01-01T01:00:00+01:00" 2}`, map[any]any{time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC): int64(2)}},
	}
	for _, tt := range tests {
		for range 20 { // map order must not matter
			got, err := Parse([]byte(tt.in), DefaultLimits())
			if err != nil {
				t.Fatalf("Parse(%s): %v", tt.in, err)
			}
			if !ednEqual(got, tt.want) {
				t.Fatalf("Parse(%s) = %#v, want %#v", tt.in, got, tt.want)
			}
		}
	}
}

func TestParseMoreErrors(t *testing.T) {
	for _, in := range []string{
		"{1}", "{:a 1 :b}", "#_ {1} {1}", `#inst 1`, `#inst nil`, `#inst #uuid "x"`, `"\u12"`, `"\uD83D\uDC0"`,
		`\ne`, `\u00e`, `\ `, `1.`, `1.5N`, "01", ".5", "a/b/c", ":a/", "#1 2", "[1e400]", "#{1N}", "{#t 1N 2}",
		"{#base64 [1] 2}", "[\x01]", "{0 1 0 {[1] 2}}", "[{0 {[1] 2} 1 2}]",
	} {
		if got, err := Parse([]byte(in), DefaultLimits()); !errors.Is(err, ErrParse) {
			t.Errorf("Parse(%q) = %#v, %v; want ErrParse", in, got, err)
		}
	}
}

// Keywords are cached by name; a cache slot shared by two names must never
// hand out the wrong one.
func TestParseKeywordCache(t *testing.T) {
	var sb strings.Builder
	sb.WriteByte('[')
	const n = 3 * kwCacheSlots
	for i := range n {
		sb.WriteString(":k")
		sb.WriteString(strings.Repeat("x", i%70))
		sb.WriteString(strconv.Itoa(i))
		sb.WriteByte(' ')
	}
	sb.WriteByte(']')
	for range 3 {
		v, err := Parse([]byte(sb.String()), Limits{MaxBytes: 1 << 24})
		if err != nil {
			t.Fatal(err)
		}
		for i, k := range v.([]any) {
			if want := edn.Keyword("k" + strings.Repeat("x", i%70) + strconv.Itoa(i)); k != want {
				t.Fatalf("element %d = %#v, want %#v", i, k, want)
			}
		}
	}
}

// manyNaNKeys is a map of n distinct keys that contain NaN.
func manyNaNKeys(n int) []byte {
	var sb strings.Builder
	sb.WriteByte('{')
	for i := range n {
		fmt.Fprintf(&sb, "#a%d ##NaN %d ", i, i)
	}
	sb.WriteByte('}')
	return []byte(sb.String())
}

// Keys that contain NaN are deduplicated by hand; many distinct ones must
// not take quadratic time, which BenchmarkParseScaling shows (a test does
// not time it: on a loaded machine a bound in seconds is a coin toss).
func TestParseManyNaNKeys(t *testing.T) {
	const n = 60_000
	v, err := Parse(manyNaNKeys(n), Limits{MaxBytes: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if m := v.(map[any]any); len(m) != n {
		t.Fatalf("%d keys, want %d", len(m), n)
	}
}

// replacedValues is a map whose key 0 is given n times a value with a
// collection key, before a last, valid one.
func replacedValues(n int) []byte {
	var sb strings.Builder
	sb.WriteByte('{')
	for range n {
		sb.WriteString("0 {[1] 2} ")
	}
	sb.WriteString("0 1}")
	return []byte(sb.String())
}

// Olympos rejected collection keys and #inst years beyond 9999 only in the
// value it returned, so a map value that a later duplicate key replaces may
// hold them; finding out must not take quadratic time either (see
// BenchmarkParseScaling).
func TestParseReplacedValuesAreNotChecked(t *testing.T) {
	for _, in := range []string{
		"{0 {[1] 2} 0 1}",
		`{:t #inst "9999-12-31T23:59:59-01:00" :t 1}`,
		"[{:a [{#{} 1}] :a nil}]",
	} {
		if _, err := Parse([]byte(in), DefaultLimits()); err != nil {
			t.Errorf("Parse(%s): %v", in, err)
		}
	}
	v, err := Parse(replacedValues(80_000), Limits{MaxBytes: 8 << 20})
	if err != nil || !ednEqual(v, map[any]any{int64(0): int64(1)}) {
		t.Fatalf("got %#v, %v", v, err)
	}
}

// A SyntaxError says where the input broke, and what is wrong without the
// position; its message is the error's whole text.
func TestSyntaxError(t *testing.T) {
	for _, tc := range []struct {
		in     string
		offset int    // -1: not a SyntaxError
		reason string // Reason(err)
		msg    string
		deep   bool // wraps ErrTooDeep
	}{
		{"[1 2 ]]", 6, "unexpected data after the value; a frame holds exactly one EDN value",
			"wire: parse error: unexpected data after the value at byte 6; a frame holds exactly one EDN value", false},
		{"{:a : 1}", 4, `invalid keyword ":"`, `wire: parse error: invalid keyword ":" at byte 4`, false},
		{"[:a 1", 5, "unbalanced EDN: unexpected end of input with 1 unclosed",
			"wire: parse error: unbalanced EDN: unexpected end of input with 1 unclosed", false},
		{`"abc`, 0, "unterminated string", "wire: parse error: unterminated string starting at byte 0", false},
		{"[1)", 2, `unbalanced EDN: ')' closes ']'`, `wire: parse error: unbalanced EDN: ')' at byte 2 closes ']'`, false},
		{strings.Repeat("[", 101), 101, "EDN nested too deep: more than 100 levels",
			"wire: EDN nested too deep: more than 100 levels at byte 101", true},
		{"1e400", -1, "float 1e400 is out of range", "wire: parse error: float 1e400 is out of range", false},
	} {
		_, err := Parse([]byte(tc.in), DefaultLimits())
		if err == nil {
			t.Errorf("%q parsed", tc.in)
			continue
		}
		var se *SyntaxError
		offset := -1
		if errors.As(err, &se) {
			offset = se.Offset
		}
		if offset != tc.offset || Reason(err) != tc.reason || err.Error() != tc.msg || !errors.Is(err, ErrParse) || errors.Is(err, ErrTooDeep) != tc.deep {
			t.Errorf("%q: offset %d, reason %q, message %q, too deep %v\nwant offset %d, reason %q, message %q, too deep %v",
				tc.in, offset, Reason(err), err, errors.Is(err, ErrTooDeep), tc.offset, tc.reason, tc.msg, tc.deep)
		}
	}
}
