package nrepl

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/jackpal/bencode-go"
)

// sample messages used across tests; each is a value Decode can produce.
var sampleMsgs = []Msg{
	{},
	{"op": "clone"},
	{"op": "eval", "code": "(+ 1 2)", "id": "1", "session": "3f1c", "ns": "user", "line": int64(12), "column": int64(1)},
	{"id": "7", "status": []any{"done"}, "value": "3", "ns": "user", "session": "s"},
	{"id": "7", "completions": []any{
		map[string]any{"candidate": "map", "ns": "clojure.core", "type": "function"},
		map[string]any{"candidate": "mapv", "ns": "clojure.core"},
	}, "status": []any{"done"}},
	{"ops": map[string]any{"eval": map[string]any{}, "clone": map[string]any{}},
		"versions": map[string]any{"nrepl": map[string]any{"major": int64(1), "minor": int64(0), "incremental": int64(0)}}},
	{"nested": []any{[]any{[]any{}}, map[string]any{"": ""}, int64(-5), int64(0)},
		"min": int64(math.MinInt64), "max": int64(math.MaxInt64)},
	{"bin": "\x00\xff\n:ed", "unicode": "λ → 😀", "": "empty key"},
	{"big": strings.Repeat("x", 100_000)},
}

func TestRoundTrip(t *testing.T) {
	for i, m := range sampleMsgs {
		var buf bytes.Buffer
		if err := Encode(&buf, m); err != nil {
			t.Fatalf("%d: Encode: %v", i, err)
		}
		raw := bytes.Clone(buf.Bytes())
		got, err := decodeOne(raw, Limits{})
		if err != nil {
			t.Fatalf("%d: Decode: %v", i, err)
		}
		if !equalMsg(got, m) {
			t.Errorf("%d: round trip\n got %#v\nwant %#v", i, got, m)
		}
		// bencode-go must read what we write ...
		theirs, err := viaBencodeGo(raw)
		if err != nil {
			t.Fatalf("%d: bencode-go cannot decode our output %q: %v", i, raw, err)
		}
		if !equalMsg(theirs, m) {
			t.Errorf("%d: bencode-go read\n %#v\nwant %#v", i, theirs, m)
		}
		// ... and we must read what bencode-go writes, identically.
		var theirBuf bytes.Buffer
		if err := bencode.Marshal(&theirBuf, map[string]any(m)); err != nil {
			t.Fatalf("%d: bencode.Marshal: %v", i, err)
		}
		if !bytes.Equal(theirBuf.Bytes(), raw) {
			t.Errorf("%d: encodings differ\nours   %q\ntheirs %q", i, raw, theirBuf.Bytes())
		}
		got2, err := decodeOne(theirBuf.Bytes(), Limits{})
		if err != nil || !equalMsg(got2, m) {
			t.Errorf("%d: decoding bencode-go output: %v %#v", i, err, got2)
		}
	}
}

func TestBackToBack(t *testing.T) {
	var stream []byte
	for _, m := range sampleMsgs {
		stream = append(stream, mustEncode(t, m)...)
	}
	readers := map[string]func() io.Reader{
		"bytes":   func() io.Reader { return bytes.NewReader(stream) },
		"onebyte": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(stream)) },
		"halfish": func() io.Reader { return iotest.HalfReader(bytes.NewReader(stream)) },
		// A caller that already wrapped the connection must not lose what
		// its bufio.Reader buffered.
		"bufio": func() io.Reader { return bufio.NewReaderSize(bytes.NewReader(stream), 16) },
	}
	for name, mk := range readers {
		t.Run(name, func(t *testing.T) {
			d := NewDecoder(mk(), Limits{})
			for i, want := range sampleMsgs {
				got, err := d.Decode()
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				if !equalMsg(got, want) {
					t.Fatalf("message %d: got %#v", i, got)
				}
			}
			if _, err := d.Decode(); err != io.EOF {
				t.Fatalf("after last message: %v, want io.EOF", err)
			}
		})
	}
}

func TestDecodeValid(t *testing.T) {
	tests := []struct {
		in   string
		want Msg
	}{
		{"de", Msg{}},
		{"d0:0:e", Msg{"": ""}},
		{"d1:ai0ee", Msg{"a": int64(0)}},
		{"d1:ai-1ee", Msg{"a": int64(-1)}},
		{"d1:ai9223372036854775807ee", Msg{"a": int64(math.MaxInt64)}},
		{"d1:ai-9223372036854775808ee", Msg{"a": int64(math.MinInt64)}},
		{"d1:alee", Msg{"a": []any{}}},
		{"d1:adee", Msg{"a": map[string]any{}}},
		{"d1:ald1:bleeee", Msg{"a": []any{map[string]any{"b": []any{}}}}},
		// Peers may not sort keys; the decoder tolerates it and the last
		// duplicate wins, as in bencode-go.
		{"d1:b1:x1:a1:y1:b1:ze", Msg{"a": "y", "b": "z"}},
		{"d2:op4:eval4:code9:(println)e", Msg{"op": "eval", "code": "(println)"}},
	}
	for _, tt := range tests {
		got, err := decodeOne([]byte(tt.in), Limits{})
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if !equalMsg(got, tt.want) {
			t.Errorf("%q: got %#v want %#v", tt.in, got, tt.want)
		}
		theirs, err := viaBencodeGo([]byte(tt.in))
		if err != nil || !equalMsg(theirs, got) {
			t.Errorf("%q: bencode-go disagrees: %#v %v", tt.in, theirs, err)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	small := Limits{MaxMessage: 64, MaxDepth: 4}
	tests := []struct {
		name string
		in   string
		lim  Limits
		want error
	}{
		{"list at top", "le", Limits{}, ErrNotDict},
		{"string at top", "3:abc", Limits{}, ErrNotDict},
		{"int at top", "i1e", Limits{}, ErrNotDict},
		{"garbage at top", "GET / HTTP/1.1\r\n", Limits{}, ErrNotDict},
		{"int key", "di1ei2ee", Limits{}, ErrSyntax},
		{"list key", "dle1:ae", Limits{}, ErrSyntax},
		{"key without value", "d1:ae", Limits{}, ErrSyntax},
		{"bad type byte", "d1:axe", Limits{}, ErrSyntax},
		{"end at top", "dee", Limits{}, nil}, // first message fine; second is 'e'
		{"leading zero int", "d1:ai03ee", Limits{}, ErrSyntax},
		{"leading zero negative", "d1:ai-03ee", Limits{}, ErrSyntax},
		{"negative zero", "d1:ai-0ee", Limits{}, ErrSyntax},
		{"plus sign", "d1:ai+3ee", Limits{}, ErrSyntax},
		{"empty int", "d1:aiee", Limits{}, ErrSyntax},
		{"lone minus", "d1:ai-ee", Limits{}, ErrSyntax},
		{"double minus", "d1:ai--1ee", Limits{}, ErrSyntax},
		{"non-digit in int", "d1:ai1x2ee", Limits{}, ErrSyntax},
		{"float", "d1:ai1.5ee", Limits{}, ErrSyntax},
		{"space in int", "d1:ai 1ee", Limits{}, ErrSyntax},
		{"int overflow", "d1:ai9223372036854775808ee", Limits{}, ErrSyntax},
		{"int underflow", "d1:ai-9223372036854775809ee", Limits{}, ErrSyntax},
		{"int 20 digits", "d1:ai12345678901234567890ee", Limits{}, ErrSyntax},
		{"int endless digits", "d1:ai" + strings.Repeat("1", 1000) + "ee", Limits{}, ErrSyntax},
		{"zero padded int", "d1:ai00ee", Limits{}, ErrSyntax},
		{"leading zero length", "d01:ae", Limits{}, ErrSyntax},
		{"leading zero value length", "d1:a01:be", Limits{}, ErrSyntax},
		{"length without colon", "d1xae", Limits{}, ErrSyntax},
		{"zero length without colon", "d0xe", Limits{}, ErrSyntax},
		{"negative length", "d1:a-1:xe", Limits{}, ErrSyntax},
		{"huge length prefix", "d4:code99999999999:", Limits{}, ErrTooLarge},
		{"length beyond budget", "d1:a60:", small, ErrTooLarge},
		{"over MaxMessage", "d1:a30:" + strings.Repeat("x", 30) + "1:b30:" + strings.Repeat("x", 30) + "e", small, ErrTooLarge},
		{"many small items", "d1:al" + strings.Repeat("i1e", 30) + "ee", small, ErrTooLarge},
		{"too deep", "d1:alllleeeee", small, ErrTooDeep},
		{"too deep dicts", "d1:ad1:ad1:ad1:adeeeee", small, ErrTooDeep},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs, err := decodeAll([]byte(tt.in), tt.lim)
			if tt.want == nil {
				// "dee": one good message, then a stray 'e' is not a dict.
				if len(msgs) != 1 || !errors.Is(err, ErrNotDict) {
					t.Fatalf("got %d msgs, err %v", len(msgs), err)
				}
				return
			}
			if len(msgs) != 0 {
				t.Fatalf("decoded %#v from bad input", msgs)
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			var fe *FrameError
			if !errors.As(err, &fe) {
				t.Fatalf("err %T is not a *FrameError", err)
			}
			if fe.Offset < 0 || fe.Offset > int64(len(tt.in)) {
				t.Errorf("offset %d outside input of %d bytes", fe.Offset, len(tt.in))
			}
		})
	}
}

func TestDepthBoundary(t *testing.T) {
	lim := Limits{MaxDepth: 100}
	nest := func(levels int) string {
		// the top dict is level 1
		return "d1:a" + strings.Repeat("l", levels-1) + strings.Repeat("e", levels-1) + "e"
	}
	if _, err := decodeOne([]byte(nest(100)), lim); err != nil {
		t.Fatalf("100 levels: %v", err)
	}
	if _, err := decodeOne([]byte(nest(101)), lim); !errors.Is(err, ErrTooDeep) {
		t.Fatalf("101 levels: %v, want ErrTooDeep", err)
	}
}

func TestMillionDeep(t *testing.T) {
	for _, open := range []string{"l", "d1:a"} {
		in := "d1:a" + strings.Repeat(open, 1_000_000)
		_, err := decodeOne([]byte(in), Limits{MaxMessage: 64 << 20})
		if !errors.Is(err, ErrTooDeep) {
			t.Fatalf("open %q: err = %v, want ErrTooDeep", open, err)
		}
	}
	// With no top-level dict it is refused at the first byte.
	_, err := decodeOne([]byte(strings.Repeat("l", 1_000_000)), Limits{})
	if !errors.Is(err, ErrNotDict) {
		t.Fatalf("top-level list: %v", err)
	}
}

// TestHugePrefixFailsFast feeds an endless stream of digits and one of bytes
// after a plausible prefix: the decoder must stop by itself, early, and
// without allocating the declared size.
func TestHugePrefixFailsFast(t *testing.T) {
	cases := []struct {
		name string
		r    func() (io.Reader, *endlessReader)
	}{
		{"endless digits", func() (io.Reader, *endlessReader) {
			e := &endlessReader{b: '9'}
			return io.MultiReader(strings.NewReader("d4:code"), e), e
		}},
		{"declared then endless", func() (io.Reader, *endlessReader) {
			e := &endlessReader{b: 'x'}
			return io.MultiReader(strings.NewReader("d4:code99999999999:"), e), e
		}},
		{"just under the limit then endless", func() (io.Reader, *endlessReader) {
			// The 16 MB of '1's are a valid value; the next '1's then
			// read as a key's length prefix that cannot fit.
			e := &endlessReader{b: '1'}
			return io.MultiReader(strings.NewReader("d4:code16000000:"), e), e
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, e := c.r()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			_, err := NewDecoder(r, Limits{}).Decode()
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("err = %v, want ErrTooLarge", err)
			}
			if e.read > 17<<20 {
				t.Errorf("read %d bytes before giving up", e.read)
			}
			// Growth by doubling: about twice what actually arrived.
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 40<<20 {
				t.Errorf("allocated %d bytes", alloc)
			}
			// Only a decoder that stalls on the endless input takes this long.
			if elapsed > 30*time.Second {
				t.Errorf("took %v", elapsed)
			}
		})
	}
	// The plain case reads nothing beyond its 19 bytes and allocates little:
	// a bound in bytes, since allocation counts vary with -race.
	in := []byte("d4:code99999999999:")
	const runs = 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < runs; i++ {
		if _, err := NewDecoder(bytes.NewReader(in), Limits{}).Decode(); !errors.Is(err, ErrTooLarge) {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / runs; per > 64<<10 {
		t.Errorf("%d bytes allocated for a refused prefix", per)
	}
}

// TestDeclaredLengthNotAllocated checks memory follows the bytes received, not
// the length declared: a 15 MB declaration with 10 bytes behind it.
func TestDeclaredLengthNotAllocated(t *testing.T) {
	in := []byte("d4:code15000000:0123456789")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := decodeOne(in, Limits{})
	runtime.ReadMemStats(&after)
	if err != io.ErrUnexpectedEOF {
		t.Fatalf("err = %v, want io.ErrUnexpectedEOF", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("allocated %d bytes for 26 bytes of input", alloc)
	}
}

func TestTruncatedEverywhere(t *testing.T) {
	for i, m := range sampleMsgs[:8] {
		raw := mustEncode(t, m)
		for cut := 0; cut < len(raw); cut++ {
			_, err := decodeOne(raw[:cut], Limits{})
			want := io.ErrUnexpectedEOF
			if cut == 0 {
				want = io.EOF
			}
			if err != want {
				t.Fatalf("msg %d cut at %d/%d (%q): err = %v, want %v", i, cut, len(raw), raw[:cut], err, want)
			}
		}
		// The same with one byte per Read, the way a slow network delivers.
		for cut := 1; cut < len(raw); cut += 7 {
			d := NewDecoder(iotest.OneByteReader(bytes.NewReader(raw[:cut])), Limits{})
			if _, err := d.Decode(); err != io.ErrUnexpectedEOF {
				t.Fatalf("one-byte reader, msg %d cut %d: %v", i, cut, err)
			}
		}
	}
}

func TestStickyError(t *testing.T) {
	d := NewDecoder(strings.NewReader("d1:ai01ee"+"d2:op5:clonee"), Limits{})
	_, err1 := d.Decode()
	_, err2 := d.Decode()
	if !errors.Is(err1, ErrSyntax) || err2 != err1 {
		t.Fatalf("errors: %v then %v; want the same syntax error twice", err1, err2)
	}
}

func TestReadErrorWrapped(t *testing.T) {
	boom := errors.New("boom")
	_, err := NewDecoder(iotest.ErrReader(boom), Limits{}).Decode()
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	_, err = NewDecoder(io.MultiReader(strings.NewReader("d1:a"), iotest.ErrReader(boom)), Limits{}).Decode()
	if !errors.Is(err, boom) || errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("mid-message err = %v", err)
	}
}

func TestFrameErrorText(t *testing.T) {
	_, err := decodeOne([]byte("d4:code99999999999:"), Limits{})
	if got, want := err.Error(), "nrepl: message exceeds 16777216 bytes"; got != want {
		t.Errorf("too large: %q, want %q", got, want)
	}
	_, err = decodeOne([]byte("d1:ai03ee"), Limits{})
	if got, want := err.Error(), "nrepl: malformed bencode at byte 6: integer has a leading zero"; got != want {
		t.Errorf("syntax: %q, want %q", got, want)
	}
	_, err = decodeOne([]byte("GET /"), Limits{})
	if got, want := err.Error(), `nrepl: message must be a bencode dictionary, got 'G'`; got != want {
		t.Errorf("not dict: %q, want %q", got, want)
	}
	_, err = decodeOne([]byte("d1:alllle"), Limits{MaxDepth: 3})
	if got, want := err.Error(), "nrepl: message nests deeper than 3 levels"; got != want {
		t.Errorf("too deep: %q, want %q", got, want)
	}
}

func TestLimitsDefaults(t *testing.T) {
	if got := DefaultLimits(); got.MaxMessage != 16<<20 || got.MaxDepth != 100 {
		t.Fatalf("DefaultLimits() = %+v", got)
	}
	if got := (Limits{}).normalized(); got != DefaultLimits() {
		t.Fatalf("zero limits normalize to %+v", got)
	}
	if got := (Limits{MaxMessage: math.MaxInt64, MaxDepth: math.MaxInt}).normalized(); got.MaxMessage != ceilMaxMessage || got.MaxDepth != ceilMaxDepth {
		t.Fatalf("huge limits normalize to %+v", got)
	}
}

// TestRandomBytes throws random and mutated input at the decoder: it must
// never panic, and whatever it accepts must match bencode-go and survive a
// re-encode.
func TestRandomBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("dlie0123456789:-xa")
	var valid [][]byte
	for _, m := range sampleMsgs[:8] {
		valid = append(valid, mustEncode(t, m))
	}
	n := 30000
	if testing.Short() {
		n = 3000
	}
	accepted := 0
	for i := 0; i < n; i++ {
		var in []byte
		switch i % 3 {
		case 0:
			in = make([]byte, rng.IntN(64))
			for j := range in {
				in[j] = byte(rng.UintN(256))
			}
			if len(in) > 0 && rng.IntN(2) == 0 {
				in[0] = 'd'
			}
		case 1:
			in = make([]byte, 1+rng.IntN(48))
			in[0] = 'd'
			for j := 1; j < len(in); j++ {
				in[j] = alphabet[rng.IntN(len(alphabet))]
			}
		default:
			in = bytes.Clone(valid[rng.IntN(len(valid))])
			for k := 0; k < 1+rng.IntN(3); k++ {
				if len(in) > 0 {
					in[rng.IntN(len(in))] = alphabet[rng.IntN(len(alphabet))]
				}
			}
		}
		if checkDecode(t, in) {
			accepted++
		}
	}
	t.Logf("%d of %d random inputs decoded", accepted, n)
}

// checkDecode is the property shared by TestRandomBytes and FuzzDecode.
func checkDecode(t testing.TB, in []byte) bool {
	d := NewDecoder(bytes.NewReader(in), Limits{MaxMessage: 1 << 20})
	m, err := d.Decode()
	if err != nil {
		var fe *FrameError
		if err != io.EOF && err != io.ErrUnexpectedEOF && !errors.As(err, &fe) {
			t.Fatalf("%q: unexpected error type %T: %v", in, err, err)
		}
		return false
	}
	raw := in[:d.off]
	theirs, err := viaBencodeGo(raw)
	if err != nil {
		t.Fatalf("%q: accepted by us, rejected by bencode-go: %v", raw, err)
	}
	if !equalMsg(m, theirs) {
		t.Fatalf("%q: we decoded %#v, bencode-go %#v", raw, m, theirs)
	}
	re, err := AppendEncode(nil, m)
	if err != nil {
		t.Fatalf("%q: re-encode: %v", raw, err)
	}
	m2, err := decodeOne(re, Limits{MaxMessage: 1 << 20})
	if err != nil {
		t.Fatalf("%q: re-decode of %q: %v", raw, re, err)
	}
	if !equalMsg(m, m2) {
		t.Fatalf("%q: re-decoded %#v, want %#v", raw, m2, m)
	}
	return true
}
