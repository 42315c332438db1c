package wire

import (
	"errors"
	"testing"
)

// FuzzDecodeFrame checks that no input panics or escapes ErrParse, and that
// whatever decodes survives our own encoders and printer unchanged. The
// committed corpus in testdata/fuzz/FuzzDecodeFrame holds the nasty cases.
func FuzzDecodeFrame(f *testing.F) {
	f.Add([]byte(`[:sente-lite/publish {:channel-id "c" :data {:x 1}}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		lim := Limits{MaxBytes: 1 << 16, MaxDepth: 64}
		fr, err := DecodeFrame(b, lim)
		if err != nil {
			if !errors.Is(err, ErrParse) {
				t.Fatalf("DecodeFrame(%q): error %v does not wrap ErrParse", b, err)
			}
		} else if err := checkReencode(fr); err != nil {
			t.Fatalf("DecodeFrame(%q): %v", b, err)
		}

		v, err := Parse(b, lim)
		if err != nil {
			return
		}
		out, err := Print(v)
		if err != nil {
			t.Fatalf("Parse(%q) gave %#v, which Print rejects: %v", b, v, err)
		}
		w, err := Parse(out, Limits{MaxBytes: 1 << 30, MaxDepth: 1 << 10})
		if err != nil {
			t.Fatalf("Parse(%q) then Print gave %q, which Parse rejects: %v", b, out, err)
		}
		if !ednEqual(v, w) {
			t.Fatalf("Parse(%q) = %#v\nPrint = %q\nParse again = %#v", b, v, out, w)
		}
	})
}
