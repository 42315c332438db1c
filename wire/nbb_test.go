package wire

import (
	"bytes"
	"math"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"olympos.io/encoding/edn"
)

// nbb (ClojureScript on Node) is the independent reader and printer: if our
// EDN only round-tripped through our own parser, a shared misunderstanding
// would go unnoticed.

const nbbMissing = "nbb not installed: run `npm ci` at the repository root"

func nbbCommand(t *testing.T, script string) *exec.Cmd {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's working directory")
		}
		dir = parent
	}
	nbb := filepath.Join(dir, "node_modules", ".bin", "nbb")
	_, statErr := os.Stat(nbb)
	_, nodeErr := exec.LookPath("node")
	if statErr != nil || nodeErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(nbbMissing)
		}
		t.Skip(nbbMissing)
	}
	path := filepath.Join(t.TempDir(), "script.cljs")
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	return exec.Command(nbb, path)
}

func runNBB(t *testing.T, script string, stdin []byte) []string {
	t.Helper()
	cmd := nbbCommand(t, script)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("nbb: %v\n%s", err, stderr.Bytes())
	}
	return strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
}

// cljsView maps a decoded value to what survives ClojureScript: numbers are
// JS doubles, characters are one-character strings and #inst has
// millisecond precision.
func cljsView(v any) any {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case *big.Int:
		f, _ := new(big.Float).SetInt(x).Float64()
		return f
	case edn.Rune:
		return string(rune(x))
	case time.Time:
		return x.Truncate(time.Millisecond)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = cljsView(e)
		}
		return out
	case map[any]any:
		out := make(map[any]any, len(x))
		for k, e := range x {
			out[cljsView(k)] = cljsView(e)
		}
		return out
	case map[any]bool:
		out := make(map[any]bool, len(x))
		for k := range x {
			out[cljsView(k)] = true
		}
		return out
	case Tagged:
		return Tagged{x.Tag, cljsView(x.Value)}
	}
	return v
}

// Go prints, nbb reads with clojure.edn and prints back, Go parses that.
func TestNBBReadsWhatWePrint(t *testing.T) {
	const script = `(ns roundtrip (:require [clojure.edn :as edn] ["fs" :as fs]))
(doseq [line (.split (str (fs/readFileSync 0 "utf8")) "\n")
        :when (not= "" line)]
  (println (try (pr-str (edn/read-string {:default tagged-literal} line))
                (catch :default e (str "ERROR " (ex-message e))))))
`
	values := []struct {
		name string
		v    any
	}{
		{"nil", nil},
		{"bools", []any{true, false}},
		{"ints", []any{0, -1, int64(1) << 52, uint8(7)}},
		{"floats", []any{1.0, -2.5, 0.1, 1e21, 1e-7, 5e-324, math.MaxFloat64, float32(0.5), math.Copysign(0, -1)}},
		{"NaN and infinities", []any{math.NaN(), math.Inf(1), math.Inf(-1)}},
		{"bigint", big.NewInt(12345)},
		{"string escapes", "quote\" backslash\\ newline\n tab\t return\r"},
		{"string controls", "\x00\x01\x07\b\f\x1b\x1f\x7f"},
		{"string unicode", "héllo ∑ 日本語 \u2028\u2029\u00a0"},
		{"string emoji", "😀👍🏽🇩🇪👨‍👩‍👧"},
		{"string edn-looking", `[:a/b "c"] ; #_ ##NaN \backspace {`},
		{"keywords", []any{edn.Keyword("a"), edn.Keyword("my-app/hello"), edn.Keyword("a.b-c*d+e!f_g?h$i%j&k=l<m>n:o#p'q")}},
		{"symbols", []any{edn.Symbol("clojure.core/+"), edn.Symbol("/"), edn.Symbol("-"), edn.Symbol("a.b")}},
		{"chars", []any{edn.Rune('a'), edn.Rune('\n'), edn.Rune(' '), edn.Rune('\t'), edn.Rune('\r'), edn.Rune('\f'), edn.Rune('\b'), edn.Rune(','), edn.Rune('('), edn.Rune('"'), edn.Rune('\\'), edn.Rune('é'), edn.Rune(0), edn.Rune(0x2028)}},
		{"inst", time.Date(2024, 2, 29, 23, 59, 59, 999e6, time.UTC)},
		{"inst nanos", time.Date(2024, 2, 29, 23, 59, 59, 123456789, time.UTC)},
		{"uuid", Tagged{"uuid", "550e8400-e29b-41d4-a716-446655440000"}},
		{"unknown tag", Tagged{"my.app/point", []any{int64(1), int64(2)}}},
		{"map any", map[any]any{edn.Keyword("a"): int64(1), "b": []any{2.5}, nil: true, edn.Keyword("x/y"): map[any]any{}}},
		{"map keyword", map[edn.Keyword]any{"channel-id": "c", "exclude-sender?": false}},
		{"map string", map[string]any{"candidate": "map", "ns": "clojure.core"}},
		{"set", map[any]bool{int64(1): true, "s": true, edn.Keyword("k"): true}},
		{"raw", RawEDN(`{:pre [1 2]}`)},
		{"event", Event{ID: EvPublish, Data: map[edn.Keyword]any{"channel-id": "c", "data": map[edn.Keyword]any{"x": 1}}, HasData: true}},
		{"nested", []any{map[any]any{edn.Keyword("a"): []any{map[any]bool{}, []any{[]any{}}}}}},
	}
	var in bytes.Buffer
	for _, tc := range values {
		b, err := Print(tc.v)
		if err != nil {
			t.Fatalf("%s: Print: %v", tc.name, err)
		}
		if bytes.ContainsAny(b, "\n\r") {
			t.Fatalf("%s: printed value spans lines: %q", tc.name, b)
		}
		in.Write(b)
		in.WriteByte('\n')
	}
	lines := runNBB(t, script, in.Bytes())
	if len(lines) != len(values) {
		t.Fatalf("nbb printed %d lines for %d values:\n%s", len(lines), len(values), strings.Join(lines, "\n"))
	}
	for i, tc := range values {
		t.Run(tc.name, func(t *testing.T) {
			line := lines[i]
			if strings.HasPrefix(line, "ERROR") {
				t.Fatalf("nbb could not read our output: %s", line)
			}
			got, err := Parse([]byte(line), DefaultLimits())
			if err != nil {
				t.Fatalf("Parse(nbb's %s): %v", line, err)
			}
			ours, _ := Print(tc.v)
			want, err := Parse(ours, DefaultLimits())
			if err != nil {
				t.Fatalf("Parse(our %s): %v", ours, err)
			}
			if !ednEqual(cljsView(got), cljsView(want)) {
				t.Fatalf("we printed %s\nnbb printed %s\nwhich parses as %#v", ours, line, got)
			}
		})
	}
}

// nbb prints with pr-str, Go parses.
func TestWeReadWhatNBBPrints(t *testing.T) {
	const script = `(ns printer)
(doseq [v [:a
           :my-app/hello
           {:a {:b [1 2 #{3}] :c "x"}}
           #{1 :k "s"}
           "q\"b\\s\nt\tr\r\u0001\u0000é😀\u2028"
           1.5 1.0 -0.25 1e21 1e-7
           \a \newline
           nil true false
           (js/Date. 1577934245123)
           #uuid "550e8400-e29b-41d4-a716-446655440000"
           [:sente-lite/publish {:channel-id "c" :data {:x 1} :exclude-sender? true}]
           [[:my-app/ask {:q 1}] "cb-uuid"]
           'my.ns/sym
           '(1 2 3)
           ##NaN ##Inf ##-Inf
           (tagged-literal 'my/tag [1 2])
           [:nrepl/request {:edn (pr-str {:op "eval" :code "(str \"a\" \\b)" :id "1"})}]]]
  (prn v))
`
	kw := func(s string) edn.Keyword { return edn.Keyword(s) }
	want := []any{
		kw("a"),
		kw("my-app/hello"),
		map[any]any{kw("a"): map[any]any{kw("b"): []any{int64(1), int64(2), map[any]bool{int64(3): true}}, kw("c"): "x"}},
		map[any]bool{int64(1): true, kw("k"): true, "s": true},
		"q\"b\\s\nt\tr\r\x01\x00é😀\u2028",
		1.5, 1.0, -0.25, 1e21, 1e-7,
		"a", "\n",
		nil, true, false,
		time.Date(2020, 1, 2, 3, 4, 5, 123e6, time.UTC),
		Tagged{"uuid", "550e8400-e29b-41d4-a716-446655440000"},
		[]any{kw("sente-lite/publish"), map[any]any{kw("channel-id"): "c", kw("data"): map[any]any{kw("x"): int64(1)}, kw("exclude-sender?"): true}},
		[]any{[]any{kw("my-app/ask"), map[any]any{kw("q"): int64(1)}}, "cb-uuid"},
		edn.Symbol("my.ns/sym"),
		[]any{int64(1), int64(2), int64(3)},
		math.NaN(), math.Inf(1), math.Inf(-1),
		Tagged{"my/tag", []any{int64(1), int64(2)}},
		[]any{kw("nrepl/request"), map[any]any{kw("edn"): `{:op "eval", :code "(str \"a\" \\b)", :id "1"}`}},
	}
	lines := runNBB(t, script, nil)
	if len(lines) != len(want) {
		t.Fatalf("nbb printed %d lines, want %d:\n%s", len(lines), len(want), strings.Join(lines, "\n"))
	}
	for i, line := range lines {
		got, err := Parse([]byte(line), DefaultLimits())
		if err != nil {
			t.Errorf("Parse(%s): %v", line, err)
			continue
		}
		if !ednEqual(cljsView(got), cljsView(want[i])) {
			t.Errorf("Parse(%s) = %#v, want %#v", line, got, want[i])
		}
	}

	// The publish line is a frame, and the wrapped nREPL message inside the
	// last one is EDN again.
	f, err := DecodeFrame([]byte(lines[17]), DefaultLimits())
	if err != nil || f.Kind != KindEvent || f.Event.ID != EvPublish || !GetBool(f.Event.Data, "exclude-sender?") {
		t.Errorf("DecodeFrame(%s) = %+v, %v", lines[17], f, err)
	}
	f, err = DecodeFrame([]byte(lines[18]), DefaultLimits())
	if err != nil || f.Kind != KindCallback || f.CallbackID != "cb-uuid" {
		t.Errorf("DecodeFrame(%s) = %+v, %v", lines[18], f, err)
	}
	f, err = DecodeFrame([]byte(lines[len(lines)-1]), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	inner, _ := GetString(f.Event.Data, "edn")
	msg, err := Parse([]byte(inner), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := GetString(msg, "code"); code != `(str "a" \b)` {
		t.Errorf("wrapped nREPL code = %q", code)
	}
}
