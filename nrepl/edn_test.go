package nrepl

import (
	"math"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"olympos.io/encoding/edn"
)

func readEDN(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := edn.UnmarshalString(s, &v); err != nil {
		t.Fatalf("edn %q: %v", s, err)
	}
	return v
}

func TestFromEDN(t *testing.T) {
	tests := []struct {
		name string
		edn  string
		want Msg
	}{
		{"completions example",
			`{:completions [{"candidate" "map", "ns" "clojure.core"}] :status ["done"] :id "7" :session "s" :ns "user"}`,
			Msg{"completions": []any{map[string]any{"candidate": "map", "ns": "clojure.core"}},
				"status": []any{"done"}, "id": "7", "session": "s", "ns": "user"}},
		{"keyword values and namespaced keys",
			`{:status [:done :eval-error] :foo/bar :baz/qux}`,
			Msg{"status": []any{"done", "eval-error"}, "foo/bar": "baz/qux"}},
		{"symbol keys and values", `{sym clojure.core/map}`, Msg{"sym": "clojure.core/map"}},
		{"string keys", `{"value" "3"}`, Msg{"value": "3"}},
		{"ints", `{:a 1 :b -42 :c 0}`, Msg{"a": int64(1), "b": int64(-42), "c": int64(0)}},
		{"bools", `{:t true :f false}`, Msg{"t": "true", "f": "false"}},
		{"nil omitted", `{:a nil :b "x"}`, Msg{"b": "x"}},
		{"nil inside list kept as printed", `{:l [1 nil 2]}`, Msg{"l": []any{int64(1), "nil", int64(2)}}},
		{"floats", `{:a 1.5 :b 1.0 :c -0.25 :d 1e300 :e 2.5M}`,
			Msg{"a": "1.5", "b": "1.0", "c": "-0.25", "d": "1e+300", "e": "2.5"}},
		{"big ints", `{:a 123N :b 123456789012345678901234567890N}`,
			Msg{"a": "123", "b": "123456789012345678901234567890"}},
		{"lists and vectors", `{:v [1 [2]] :l (1 "a" :k)}`,
			Msg{"v": []any{int64(1), []any{int64(2)}}, "l": []any{int64(1), "a", "k"}}},
		{"sets sorted", `{:s #{3 1 2} :t #{"b" "a"}}`,
			Msg{"s": []any{int64(1), int64(2), int64(3)}, "t": []any{"a", "b"}}},
		{"nested maps use key rules", `{:info {:arglists-str "([f coll])" :doc nil :meta {:line 10}}}`,
			Msg{"info": map[string]any{"arglists-str": "([f coll])", "meta": map[string]any{"line": int64(10)}}}},
		{"chars", `{:c \a :nl \newline :u \u03bb}`, Msg{"c": "a", "nl": "\n", "u": "λ"}},
		{"tags", `{:t #foo/bar [1 2] :u #uuid "f81d4fae-7dec-11d0-a765-00a0c91e6bf6"}`,
			Msg{"t": "#foo/bar [1 2]", "u": `#uuid "f81d4fae-7dec-11d0-a765-00a0c91e6bf6"`}},
		{"inst", `{:i #inst "2020-01-02T03:04:05Z"}`, Msg{"i": `#inst "2020-01-02T03:04:05Z"`}},
		{"number and vector keys", `{1 "one" [1 2] "pair" true "t"}`, Msg{"1": "one", "[1 2]": "pair", "true": "t"}},
		{"empty", `{}`, Msg{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromEDN(readEDN(t, tt.edn))
			if err != nil {
				t.Fatal(err)
			}
			if !equalMsg(got, tt.want) {
				t.Fatalf("got  %#v\nwant %#v", got, tt.want)
			}
			// Whatever FromEDN yields must be encodable as bencode.
			mustEncode(t, got)
		})
	}
}

func TestFromEDNGoValues(t *testing.T) {
	// Values built in Go rather than read by edn take the same rules.
	in := map[any]any{
		edn.Keyword("rune"):  edn.Rune('x'),
		edn.Keyword("big"):   big.NewInt(-7),
		edn.Keyword("bigv"):  *big.NewInt(8),
		edn.Keyword("int"):   42,
		edn.Keyword("uint"):  uint64(math.MaxUint64),
		edn.Keyword("f32"):   float32(0.5),
		edn.Keyword("nan"):   math.NaN(),
		edn.Keyword("inf"):   math.Inf(1),
		edn.Keyword("ninf"):  math.Inf(-1),
		edn.Keyword("strs"):  []string{"a"},
		edn.Keyword("smap"):  map[string]any{"k": edn.Keyword("v")},
		edn.Keyword("bytes"): []byte("b"),
		edn.Keyword("time"):  time.Date(2021, 5, 6, 7, 8, 9, 0, time.UTC),
		edn.Keyword("tag"):   edn.Tag{Tagname: "x", Value: map[any]any{edn.Keyword("a"): int64(1)}},
	}
	want := Msg{
		"rune": "x", "big": "-7", "bigv": "8", "int": int64(42), "uint": "18446744073709551615",
		"f32": "0.5", "nan": "##NaN", "inf": "##Inf", "ninf": "##-Inf", "strs": []any{"a"},
		"smap": map[string]any{"k": "v"}, "bytes": "b", "time": `#inst "2021-05-06T07:08:09Z"`,
		"tag": "#x {:a 1}",
	}
	got, err := FromEDN(in)
	if err != nil {
		t.Fatal(err)
	}
	if !equalMsg(got, want) {
		t.Fatalf("got  %#v\nwant %#v", got, want)
	}
	if m, err := FromEDN(map[string]any{"a": true}); err != nil || m.Str("a") != "true" {
		t.Fatalf("map[string]any top level: %v %v", m, err)
	}
}

func TestFromEDNErrors(t *testing.T) {
	for _, v := range []any{nil, []any{}, "s", edn.Keyword("k"), int64(1), map[any]bool{}} {
		if _, err := FromEDN(v); err == nil || !strings.Contains(err.Error(), "must be an EDN map") {
			t.Errorf("FromEDN(%#v) err = %v", v, err)
		}
	}
	if _, err := FromEDN(map[any]any{edn.Keyword("f"): func() {}}); err == nil {
		t.Error("func value accepted")
	}
	deep := map[any]any{}
	cur := deep
	for i := 0; i < 2*maxEDNDepth; i++ {
		next := map[any]any{}
		cur[edn.Keyword("a")] = next
		cur = next
	}
	if _, err := FromEDN(deep); err == nil || !strings.Contains(err.Error(), "nested deeper") {
		t.Errorf("deep value err = %v", err)
	}
}

func TestToEDN(t *testing.T) {
	in := Msg{
		"op": "eval", "id": "1", "line": int64(3), "col": 4,
		"status":  []any{"done"},
		"strs":    []string{"a", "b"},
		"nested":  map[string]any{"k": []any{map[string]any{"x": "y"}}},
		"msg":     Msg{"m": "n"},
		"smap":    map[string]string{"s": "t"},
		"flag":    true,
		"bytes":   []byte("raw"),
		"nothing": nil,
		"dicts":   []map[string]any{{"a": 1}},
		"msgs":    []Msg{{"b": uint8(2)}},
		"u64":     uint64(math.MaxUint64),
	}
	kw := func(s string) edn.Keyword { return edn.Keyword(s) }
	want := map[any]any{
		kw("op"): "eval", kw("id"): "1", kw("line"): int64(3), kw("col"): int64(4),
		kw("status"): []any{"done"},
		kw("strs"):   []any{"a", "b"},
		kw("nested"): map[any]any{kw("k"): []any{map[any]any{kw("x"): "y"}}},
		kw("msg"):    map[any]any{kw("m"): "n"},
		kw("smap"):   map[any]any{kw("s"): "t"},
		kw("flag"):   true,
		kw("bytes"):  "raw",
		kw("dicts"):  []any{map[any]any{kw("a"): int64(1)}},
		kw("msgs"):   []any{map[any]any{kw("b"): int64(2)}},
		kw("u64"):    new(big.Int).SetUint64(math.MaxUint64),
	}
	got := ToEDN(in)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %#v\nwant %#v", got, want)
	}
	// The result must print as EDN a runtime can read.
	b, err := edn.Marshal(got)
	if err != nil {
		t.Fatalf("edn.Marshal: %v", err)
	}
	var back any
	if err := edn.Unmarshal(b, &back); err != nil {
		t.Fatalf("edn read back %s: %v", b, err)
	}
}

func TestEDNRoundTrip(t *testing.T) {
	// A decoded nREPL message survives ToEDN → print → read → FromEDN.
	// Later samples hold empty keys and non-UTF-8 bytes, which EDN keywords
	// and strings cannot carry.
	for i, m := range sampleMsgs[:6] {
		b, err := edn.Marshal(ToEDN(m))
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		var v any
		if err := edn.Unmarshal(b, &v); err != nil {
			t.Fatalf("%d: read %s: %v", i, b, err)
		}
		got, err := FromEDN(v)
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if !equalMsg(got, m) {
			t.Errorf("%d: got %#v\nwant %#v", i, got, m)
		}
	}
}
