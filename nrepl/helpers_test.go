package nrepl

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"

	"github.com/jackpal/bencode-go"
)

// decodeAll decodes every message in data, returning them and the error that
// stopped decoding (io.EOF for a clean end).
func decodeAll(data []byte, lim Limits) ([]Msg, error) {
	d := NewDecoder(bytes.NewReader(data), lim)
	var out []Msg
	for {
		m, err := d.Decode()
		if err != nil {
			return out, err
		}
		out = append(out, m)
	}
}

// decodeOne decodes the first message of data.
func decodeOne(data []byte, lim Limits) (Msg, error) {
	return NewDecoder(bytes.NewReader(data), lim).Decode()
}

// viaBencodeGo decodes raw with github.com/jackpal/bencode-go, the oracle our
// builder is checked against.
func viaBencodeGo(raw []byte) (Msg, error) {
	v, err := bencode.Decode(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("bencode-go: top level is not a dict")
	}
	return Msg(m), nil
}

func mustEncode(t testing.TB, m Msg) []byte {
	t.Helper()
	b, err := AppendEncode(nil, m)
	if err != nil {
		t.Fatalf("AppendEncode(%v): %v", m, err)
	}
	return b
}

func equalMsg(a, b Msg) bool {
	return reflect.DeepEqual(map[string]any(a), map[string]any(b))
}

// loopReader yields data over and over, for benchmarks over one long stream.
type loopReader struct {
	data []byte
	pos  int
}

func (r *loopReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.data[r.pos:])
		n += c
		r.pos = (r.pos + c) % len(r.data)
	}
	return n, nil
}

// endlessReader yields the same byte forever, to prove the decoder stops by
// itself instead of waiting for a declared length.
type endlessReader struct {
	b    byte
	read int64
}

func (r *endlessReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.b
	}
	r.read += int64(len(p))
	return len(p), nil
}

var _ io.Reader = (*endlessReader)(nil)
