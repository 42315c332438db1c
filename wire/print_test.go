package wire

import (
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"olympos.io/encoding/edn"
)

func TestPrintExact(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"nil", nil, "nil"},
		{"bools", []any{true, false}, "[true false]"},
		{"string escapes", "q\"b\\n\nt\tr\r", `"q\"b\\n\nt\tr\r"`},
		{"control chars", "\x00\x01\x1f\b\f\x7f", `"\u0000\u0001\u001f\u0008\u000c` + "\x7f" + `"`},
		{"unicode raw", "é😀\u2028", "\"é😀\u2028\""},
		{"invalid utf8 replaced", "a\xffb", "\"a\uFFFDb\""},
		{"ints", []any{0, -1, int8(-8), int16(16), int32(32), int64(math.MinInt64), uint(1), uint8(8), uint16(16), uint32(32)}, "[0 -1 -8 16 32 -9223372036854775808 1 8 16 32]"},
		{"uint64 beyond int64", uint64(math.MaxUint64), "18446744073709551615N"},
		{"uint64 small", uint64(5), "5"},
		{"float whole", 1.0, "1.0"},
		{"float negative zero", math.Copysign(0, -1), "-0.0"},
		{"float", 1.5, "1.5"},
		{"float big", 1e21, "1e+21"},
		{"float big below cutover", 1e20, "100000000000000000000.0"},
		{"float tiny", 1e-7, "1e-7"},
		{"float32", float32(0.1), "0.1"},
		{"NaN", math.NaN(), "##NaN"},
		{"Inf", []any{math.Inf(1), math.Inf(-1)}, "[##Inf ##-Inf]"},
		{"keyword", edn.Keyword("a/b"), ":a/b"},
		{"symbol", edn.Symbol("ns/f"), "ns/f"},
		{"slash symbol", edn.Symbol("/"), "/"},
		{"chars", []any{edn.Rune('a'), edn.Rune('\n'), edn.Rune(' '), edn.Rune('\t'), edn.Rune('\r'), edn.Rune('\f'), edn.Rune('\b'), edn.Rune(','), edn.Rune('('), edn.Rune('é'), edn.Rune(0xD800)},
			`[\a \newline \space \tab \return \formfeed \u0008 \u002c \( \é \ud800]`},
		{"bigint", big.NewInt(-42), "-42N"},
		{"inst", time.Date(2020, 1, 2, 3, 4, 5, 123e6, time.FixedZone("x", 3600)), `#inst "2020-01-02T02:04:05.123Z"`},
		{"tagged", Tagged{"uuid", "x"}, `#uuid "x"`},
		{"olympos tag", edn.Tag{Tagname: "a/b", Value: int64(1)}, `#a/b 1`},
		{"raw", []any{RawEDN(`{:pre "encoded"}`), RawEDN(nil)}, `[{:pre "encoded"} nil]`},
		{"strings", []string{"a", "b"}, `["a" "b"]`},
		{"map any sorted", map[any]any{edn.Keyword("b"): 1, edn.Keyword("a"): 2, "s": nil}, `{"s" nil, :a 2, :b 1}`},
		{"map keyword sorted", map[edn.Keyword]any{"b": 1, "a": "x"}, `{:a "x", :b 1}`},
		{"map string sorted", map[string]any{"b": 1, "a": true}, `{"a" true, "b" 1}`},
		{"map string string", map[string]string{"k": "v"}, `{"k" "v"}`},
		{"set", map[any]bool{int64(2): true, int64(1): true, int64(3): false}, "#{1 2}"},
		{"empty", []any{[]any{}, map[any]any{}, map[any]bool{}}, "[[] {} #{}]"},
		{"event", Event{ID: "a/b", Data: 1, HasData: true}, "[:a/b 1]"},
		{"fallback struct", struct{ X int }{1}, "{:x 1}"},
		{"fallback typed slice", []bool{true}, "[true]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Print(tt.in)
			if err != nil {
				t.Fatalf("Print: %v", err)
			}
			if string(got) != tt.want {
				t.Fatalf("Print = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestPrintErrors(t *testing.T) {
	cyclic := []any{nil}
	cyclic[0] = cyclic
	for name, v := range map[string]any{
		"keyword with space":  edn.Keyword("a b"),
		"empty keyword":       edn.Keyword(""),
		"keyword double ns":   edn.Keyword("a/b/c"),
		"keyword colon":       edn.Keyword(":a"),
		"keyword trailing /":  edn.Keyword("a/"),
		"symbol number":       edn.Symbol("-1"),
		"symbol nil":          edn.Symbol("nil"),
		"symbol bracket":      edn.Symbol("a]"),
		"tag starting with _": Tagged{"_", 1},
		"empty tag":           Tagged{"", 1},
		"bad rune":            edn.Rune(-1),
		"inst year 10000":     time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		"cyclic":              cyclic,
		"unsupported":         make(chan int),
		"bad key in map":      map[edn.Keyword]any{"a b": 1},
	} {
		t.Run(name, func(t *testing.T) {
			if got, err := Print(v); err == nil {
				t.Fatalf("Print = %s, want error", got)
			}
		})
	}
}

func TestAppendPrintAppends(t *testing.T) {
	got, err := AppendPrint([]byte("prefix "), edn.Keyword("a/b"))
	if err != nil || string(got) != "prefix :a/b" {
		t.Fatalf("AppendPrint = %q, %v", got, err)
	}
}

// roundTripValues covers every type Print handles directly; each must read
// back equal (in Parse's types).
func roundTripValues() []struct {
	name string
	in   any
	want any // what Parse returns, if different from in
} {
	return []struct {
		name string
		in   any
		want any
	}{
		{"nil", nil, nil},
		{"true", true, nil},
		{"int64", int64(-5), nil},
		{"int", 7, int64(7)},
		{"uint64 max", uint64(math.MaxUint64), new(big.Int).SetUint64(math.MaxUint64)},
		{"float whole", 3.0, nil},
		{"float fraction", 0.1, nil},
		{"float tiny", 5e-324, nil},
		{"float huge", math.MaxFloat64, nil},
		{"float32", float32(1.5), 1.5},
		{"NaN", math.NaN(), nil},
		{"Inf", math.Inf(1), nil},
		{"-Inf", math.Inf(-1), nil},
		{"string plain", "hello", nil},
		{"string escapes", "\"\\\n\t\r\b\f/", nil},
		{"string control", "\x00\x01\x07\x1b\x1f\x7f", nil},
		{"string unicode", "héllo wörld ∑ 日本語", nil},
		{"string emoji", "😀👍🏽🇩🇪 family: 👨‍👩‍👧", nil},
		{"string separators", "\u2028\u2029\u00a0\ufeff", nil},
		{"string edn-looking", `[:a/b "c"] ; #_ ##NaN \backspace`, nil},
		{"keyword", edn.Keyword("a"), nil},
		{"namespaced keyword", edn.Keyword("sente-lite/publish"), nil},
		{"odd keyword", edn.Keyword("a.b-c*d+e!f_g?h$i%j&k=l<m>n:o#p'q"), nil},
		{"symbol", edn.Symbol("clojure.core/+"), nil},
		{"char", edn.Rune('x'), nil},
		{"char specials", []any{edn.Rune('\n'), edn.Rune(' '), edn.Rune(','), edn.Rune('\\'), edn.Rune('"'), edn.Rune(0), edn.Rune('\b'), edn.Rune(0x2028), edn.Rune(0xD83D)}, nil},
		{"char names as letters", []any{edn.Rune('n'), edn.Rune('s'), edn.Rune('t'), edn.Rune('u'), edn.Rune('f'), edn.Rune('r'), edn.Rune('b')}, nil},
		{"char non-BMP", edn.Rune('😀'), nil},
		{"bigint", new(big.Int).Lsh(big.NewInt(1), 100), nil},
		{"inst", time.Date(2024, 2, 29, 23, 59, 59, 999999999, time.UTC), nil},
		{"tagged", Tagged{"my.app/point", []any{int64(1), int64(2)}}, nil},
		{"uuid", Tagged{"uuid", "550e8400-e29b-41d4-a716-446655440000"}, nil},
		{"raw", RawEDN(`{:a [1 2]}`), map[any]any{edn.Keyword("a"): []any{int64(1), int64(2)}}},
		{"vector", []any{int64(1), "two", edn.Keyword("three"), nil, []any{}}, nil},
		{"strings", []string{"a", "b\n"}, []any{"a", "b\n"}},
		{"map any", map[any]any{edn.Keyword("a"): int64(1), "b": 2.5, int64(3): nil, nil: true, edn.Rune('c'): edn.Keyword("d")}, nil},
		{"map keyword", map[edn.Keyword]any{"channel-id": "c", "data": []any{int64(1)}}, map[any]any{edn.Keyword("channel-id"): "c", edn.Keyword("data"): []any{int64(1)}}},
		{"map string", map[string]any{"candidate": "map", "ns": "clojure.core"}, map[any]any{"candidate": "map", "ns": "clojure.core"}},
		{"set", map[any]bool{int64(1): true, "x": true, edn.Keyword("k"): true}, nil},
		{"NaN key", map[any]any{math.NaN(): int64(1)}, nil},
		{"nested", map[any]any{edn.Keyword("a"): []any{map[any]bool{int64(1): true}, map[any]any{"x": []any{Tagged{"t", 1.5}}}}}, nil},
		{"event", Event{ID: EvPublish, Data: map[edn.Keyword]any{"channel-id": "c"}, HasData: true}, []any{EvPublish, map[any]any{edn.Keyword("channel-id"): "c"}}},
	}
}

func TestPrintParseRoundTrip(t *testing.T) {
	for _, tt := range roundTripValues() {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			if want == nil {
				want = tt.in
			}
			b, err := Print(tt.in)
			if err != nil {
				t.Fatalf("Print: %v", err)
			}
			got, err := Parse(b, DefaultLimits())
			if err != nil {
				t.Fatalf("Parse(%s): %v", b, err)
			}
			if !ednEqual(got, want) {
				t.Fatalf("Print = %s, Parse = %#v, want %#v", b, got, want)
			}
			again, err := Print(got)
			if err != nil || string(again) != string(b) {
				t.Fatalf("second Print = %s (%v), first %s", again, err, b)
			}
		})
	}
}

func TestPrintAllowsParseOfBigOutput(t *testing.T) {
	v := []any{strings.Repeat("x", 1000)}
	b, _ := Print(v)
	if _, err := Parse(b, DefaultLimits()); err != nil {
		t.Fatal(err)
	}
}
