package wire

import (
	"fmt"
	"strings"
	"testing"

	"olympos.io/encoding/edn"
)

func BenchmarkDecodeFrame(b *testing.B) {
	in := []byte(`[:sente-lite/publish {:channel-id "chat/room-1" :data {:user "alice" :text "hello, world" :ts 1734567890123 :tags #{:greeting}} :exclude-sender? true}]`)
	lim := DefaultLimits()
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := DecodeFrame(in, lim); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeEvent(b *testing.B) {
	ev := Event{ID: EvChannelMsg, HasData: true, Data: map[edn.Keyword]any{
		"channel-id": "chat/room-1",
		"data":       map[edn.Keyword]any{"user": "alice", "text": "hello, world", "ts": int64(1734567890123)},
		"from":       "conn-7f3a",
	}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeEvent(ev); err != nil {
			b.Fatal(err)
		}
	}
}

// The hub's path: payload printed once as RawEDN, then appended per frame
// into a reused buffer.
func BenchmarkAppendEventRaw(b *testing.B) {
	payload, _ := Print(map[any]any{edn.Keyword("user"): "alice", edn.Keyword("text"): "hello, world"})
	ev := Event{ID: EvChannelMsg, HasData: true, Data: map[edn.Keyword]any{
		"channel-id": "chat/room-1", "data": RawEDN(payload), "from": "conn-7f3a",
	}}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendEvent(buf[:0], ev); err != nil {
			b.Fatal(err)
		}
	}
}

// The gateway's hot path: every answer a runtime sends back is parsed.
func BenchmarkParseNREPLResponse(b *testing.B) {
	for _, bc := range []struct{ name, in string }{
		{"value", `{:value "3", :id "s1", :session "0c8f3a6e-5b1d-4c2e-9f7a-2d8e4b6c1a90", :ns "user"}`},
		{"status", `{:status ["done"], :id "s1", :session "0c8f3a6e-5b1d-4c2e-9f7a-2d8e4b6c1a90", :ns "user"}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			in := []byte(bc.in)
			lim := DefaultLimits()
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				if _, err := Parse(in, lim); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParse runs Parse beside the decoders it replaced, on frames of
// the shapes the gateway and the hub read: "olympos" is olympos.io/encoding/edn
// decoding into an interface, with none of the checks a peer's input needs
// (no limits, no UTF-8 check, recursion per level of nesting); "olympos-checked"
// is the pre-scan, olympos and normalisation pass Parse replaced
// (parseOlympos in olympos_test.go), which gave the same values as Parse.
func BenchmarkParse(b *testing.B) {
	inputs := []struct{ name, in string }{
		{"nrepl-response", `{:value "3", :id "s1", :session "0c8f3a6e-5b1d-4c2e-9f7a-2d8e4b6c1a90", :ns "user"}`},
		{"publish", `[:sente-lite/publish {:channel-id "chat/room-1" :data {:user "alice" :text "hello, world" :ts 1734567890123 :tags #{:greeting}} :exclude-sender? true}]`},
		{"batch", `[[:app/tick {:n 1 :at #inst "2024-01-02T03:04:05.000Z"}] [:app/tick {:n 2 :xs [1 2.5 "three" \4 nil true]}] [:app/tick {:n 3 :id #uuid "0c8f3a6e-5b1d-4c2e-9f7a-2d8e4b6c1a90"}]]`},
		{"nested-90", strings.Repeat("[", 90) + "1" + strings.Repeat("]", 90)},
	}
	decoders := []struct {
		name  string
		parse func([]byte) error
	}{
		{"wire", func(in []byte) error { _, err := Parse(in, DefaultLimits()); return err }},
		{"olympos", func(in []byte) error { var v any; return edn.Unmarshal(in, &v) }},
		{"olympos-checked", func(in []byte) error { _, err := parseOlympos(in, DefaultLimits()); return err }},
	}
	for _, in := range inputs {
		for _, d := range decoders {
			b.Run(in.name+"/"+d.name, func(b *testing.B) {
				data := []byte(in.in)
				b.ReportAllocs()
				b.SetBytes(int64(len(data)))
				for b.Loop() {
					if err := d.parse(data); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkParseScaling parses inputs that a careless reader handles in
// quadratic time, at two sizes eight times apart: ns/entry stays about the
// same when the time is linear.
func BenchmarkParseScaling(b *testing.B) {
	for _, bc := range []struct {
		name  string
		build func(n int) []byte
	}{
		{"nan-keys", manyNaNKeys},
		{"replaced-values", replacedValues},
	} {
		for _, n := range []int{10_000, 80_000} {
			b.Run(fmt.Sprintf("%s/%d", bc.name, n), func(b *testing.B) {
				in := bc.build(n)
				lim := Limits{MaxBytes: 8 << 20}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := Parse(in, lim); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/entry")
			})
		}
	}
}
