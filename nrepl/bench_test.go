package nrepl

import (
	"bufio"
	"bytes"
	"testing"

	"github.com/jackpal/bencode-go"
)

var benchEval = Msg{
	"op":                           "eval",
	"code":                         "(defn greet [name] (str \"Hello, \" name \"!\"))",
	"id":                           "42",
	"session":                      "6c0a8d2e-8b1e-4b3f-9d55-0f6c2c3a1e77",
	"ns":                           "user",
	"file":                         "/home/me/project/src/app/core.cljs",
	"line":                         int64(12),
	"column":                       int64(1),
	"nrepl.middleware.print/print": "cider.nrepl.pprint/pprint",
}

var benchResponse = Msg{
	"id":      "42",
	"session": "6c0a8d2e-8b1e-4b3f-9d55-0f6c2c3a1e77",
	"ns":      "user",
	"value":   "#'user/greet",
	"status":  []any{"done"},
}

func BenchmarkDecodeEval(b *testing.B) {
	raw := mustEncode(b, benchEval)
	d := NewDecoder(&loopReader{data: raw}, DefaultLimits())
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Decode(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeEvalBencodeGo is the alternative the Decoder's builder
// replaced: validate with the scanner, then hand the bytes to bencode-go.
func BenchmarkDecodeEvalBencodeGo(b *testing.B) {
	raw := mustEncode(b, benchEval)
	d := NewDecoder(&loopReader{data: raw}, DefaultLimits())
	br := bufio.NewReader(nil)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if err := d.scan(); err != nil {
			b.Fatal(err)
		}
		br.Reset(bytes.NewReader(d.raw))
		v, err := bencode.Decode(br)
		if err != nil {
			b.Fatal(err)
		}
		_ = Msg(v.(map[string]any))
	}
}

func BenchmarkEncodeResponse(b *testing.B) {
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendEncode(buf[:0], benchResponse); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkEncodeResponseBencodeGo(b *testing.B) {
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := bencode.Marshal(&buf, map[string]any(benchResponse)); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(buf.Len()))
}
