package nrepl

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
)

// Limits bounds what a Decoder accepts from a peer. The zero value of a field
// means "use the default".
type Limits struct {
	MaxMessage int64 // bytes in one message; default 16 MiB
	MaxDepth   int   // nesting of lists/dicts; default 100
}

const (
	defaultMaxMessage = 16 << 20
	defaultMaxDepth   = 100

	// Ceilings keep arithmetic and recursion safe whatever a caller asks for:
	// length prefixes are accumulated in int64 (so MaxMessage*10 must not
	// overflow) and the value builder recurses once per nesting level.
	ceilMaxMessage = 1 << 40
	ceilMaxDepth   = 10000

	// Strings are copied in chunks of at most this size so a declared length
	// costs memory only as its bytes actually arrive.
	stringChunk = 64 << 10

	// A scratch buffer that grew past this for one big message is dropped
	// afterwards so an idle connection does not pin megabytes.
	keepScratch = 256 << 10
)

// DefaultLimits returns the limits used for editor connections.
func DefaultLimits() Limits {
	return Limits{MaxMessage: defaultMaxMessage, MaxDepth: defaultMaxDepth}
}

func (l Limits) normalized() Limits {
	if l.MaxMessage <= 0 {
		l.MaxMessage = defaultMaxMessage
	}
	if l.MaxMessage > ceilMaxMessage {
		l.MaxMessage = ceilMaxMessage
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = defaultMaxDepth
	}
	if l.MaxDepth > ceilMaxDepth {
		l.MaxDepth = ceilMaxDepth
	}
	return l
}

// Sentinel causes of a FrameError, for errors.Is.
var (
	ErrTooLarge = errors.New("nrepl: message too large")
	ErrTooDeep  = errors.New("nrepl: message nested too deeply")
	ErrSyntax   = errors.New("nrepl: malformed bencode")
	ErrNotDict  = errors.New("nrepl: message is not a dictionary")
)

// FrameError reports input a Decoder refused. Err is one of ErrTooLarge,
// ErrTooDeep, ErrSyntax or ErrNotDict; Offset is the position in the stream
// (counting from the Decoder's first byte) where the problem was detected.
type FrameError struct {
	Reason string
	Offset int64
	Err    error
}

func (e *FrameError) Error() string {
	if e.Err == ErrSyntax {
		return fmt.Sprintf("nrepl: malformed bencode at byte %d: %s", e.Offset, e.Reason)
	}
	return "nrepl: " + e.Reason
}

func (e *FrameError) Unwrap() error { return e.Err }

// Decoder reads nREPL messages from one stream.
//
// Every message is checked by an iterative scanner before it is turned into
// values, so hostile input (huge length prefixes, deep nesting, endless
// integers) is rejected after reading at most MaxMessage bytes and without
// allocating anything the peer merely declared.
//
// After Decode returns any error other than io.EOF the stream position is
// unknown and the connection must be closed: the Decoder keeps returning that
// error.
type Decoder struct {
	br    *bufio.Reader
	lim   Limits
	off   int64  // bytes consumed from br so far
	raw   []byte // the current message's bytes; reused between messages
	stack []byte // scanner state per open container
	err   error  // sticky: framing is lost after the first failure
}

// NewDecoder returns a Decoder reading from r with lim (zero fields take their
// defaults). It keeps one bufio.Reader for the connection's whole life because
// read-ahead belongs to the stream, not to a message; if r already is a
// *bufio.Reader it is used as is.
func NewDecoder(r io.Reader, lim Limits) *Decoder {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, 16<<10)
	}
	return &Decoder{br: br, lim: lim.normalized()}
}

// Scanner states for an open container.
const (
	stList byte = iota // expecting a value or 'e'
	stKey              // dictionary expecting a key or 'e'
	stVal              // dictionary expecting the value for a key
)

// Decode reads exactly one top-level bencode dictionary.
//
// It returns io.EOF when the stream ends cleanly between messages,
// io.ErrUnexpectedEOF when it ends inside one, a *FrameError for input that
// breaks the limits or the grammar, and other read errors wrapped.
func (d *Decoder) Decode() (Msg, error) {
	if d.err != nil {
		return nil, d.err
	}
	if err := d.scan(); err != nil {
		d.err = err
		d.raw, d.stack = nil, nil
		return nil, err
	}
	b := builder{raw: d.raw}
	m := b.dict()
	if cap(d.raw) > keepScratch {
		d.raw = nil
	} else {
		d.raw = d.raw[:0]
	}
	return Msg(m), nil
}

func (d *Decoder) scan() error {
	d.raw = d.raw[:0]
	d.stack = d.stack[:0]
	c, err := d.br.ReadByte()
	if err != nil {
		if err == io.EOF {
			return io.EOF
		}
		return d.readErr(err)
	}
	d.off++
	d.raw = append(d.raw, c)
	if c != 'd' {
		return d.fail(ErrNotDict, d.off-1, "message must be a bencode dictionary, got "+quoteByte(c))
	}
	d.stack = append(d.stack, stKey)
	for len(d.stack) > 0 {
		c, err := d.next()
		if err != nil {
			return err
		}
		top := &d.stack[len(d.stack)-1]
		if c == 'e' {
			if *top == stVal {
				return d.fail(ErrSyntax, d.off-1, "dictionary key has no value")
			}
			d.stack = d.stack[:len(d.stack)-1]
			continue
		}
		if *top == stKey {
			if !isDigit(c) {
				return d.fail(ErrSyntax, d.off-1, "dictionary key must be a string, got "+quoteByte(c))
			}
			if err := d.scanString(c); err != nil {
				return err
			}
			*top = stVal
			continue
		}
		if *top == stVal {
			*top = stKey
		}
		switch {
		case isDigit(c):
			err = d.scanString(c)
		case c == 'i':
			err = d.scanInt()
		case c == 'l' || c == 'd':
			if len(d.stack) >= d.lim.MaxDepth {
				return d.fail(ErrTooDeep, d.off-1, fmt.Sprintf("message nests deeper than %d levels", d.lim.MaxDepth))
			}
			st := stList
			if c == 'd' {
				st = stKey
			}
			d.stack = append(d.stack, st)
		default:
			err = d.fail(ErrSyntax, d.off-1, "unexpected "+quoteByte(c))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// next reads one byte of the current message, enforcing MaxMessage.
func (d *Decoder) next() (byte, error) {
	if int64(len(d.raw)) >= d.lim.MaxMessage {
		return 0, d.tooLarge()
	}
	c, err := d.br.ReadByte()
	if err != nil {
		return 0, d.readErr(err)
	}
	d.off++
	d.raw = append(d.raw, c)
	return c, nil
}

func (d *Decoder) remaining() int64 { return d.lim.MaxMessage - int64(len(d.raw)) }

// scanString validates "<len>:<bytes>" whose first digit c was already read.
// The length is compared with the remaining budget digit by digit, so a prefix
// like 99999999999 is refused before its ':' arrives.
func (d *Decoder) scanString(c byte) error {
	var n int64
	if c == '0' {
		c, err := d.next()
		if err != nil {
			return err
		}
		if c != ':' {
			if isDigit(c) {
				return d.fail(ErrSyntax, d.off-1, "string length has a leading zero")
			}
			return d.fail(ErrSyntax, d.off-1, "string length must be followed by ':', got "+quoteByte(c))
		}
		return nil
	}
	n = int64(c - '0')
	for {
		if n > d.remaining() {
			return d.tooLarge()
		}
		c, err := d.next()
		if err != nil {
			return err
		}
		if c == ':' {
			break
		}
		if !isDigit(c) {
			return d.fail(ErrSyntax, d.off-1, "string length must be digits followed by ':', got "+quoteByte(c))
		}
		n = n*10 + int64(c-'0')
	}
	if n > d.remaining() {
		return d.tooLarge()
	}
	for n > 0 {
		k := int(min(n, stringChunk))
		l := len(d.raw)
		if cap(d.raw)-l < k {
			// Double: amortised linear copying however many strings follow, and
			// memory within about twice the bytes that really arrived (k is
			// what was read for this chunk, never the declared length).
			c := max(2*cap(d.raw), l+k)
			d.raw = append(make([]byte, 0, c), d.raw...)
		}
		got, err := io.ReadFull(d.br, d.raw[l:l+k])
		d.raw = d.raw[:l+got]
		d.off += int64(got)
		n -= int64(got)
		if err != nil {
			return d.readErr(err)
		}
	}
	return nil
}

// scanInt validates "i<digits>e" after the 'i'. It is stricter than
// strconv.ParseInt on purpose: no '+', no leading zeros, no "-0", and the value
// must fit in int64, which is what every nREPL peer sends.
func (d *Decoder) scanInt() error {
	c, err := d.next()
	if err != nil {
		return err
	}
	neg := c == '-'
	if neg {
		if c, err = d.next(); err != nil {
			return err
		}
	}
	if !isDigit(c) {
		return d.fail(ErrSyntax, d.off-1, "integer must start with a digit, got "+quoteByte(c))
	}
	if c == '0' {
		if neg {
			return d.fail(ErrSyntax, d.off-1, "negative zero is not a valid integer")
		}
		if c, err = d.next(); err != nil {
			return err
		}
		if c != 'e' {
			if isDigit(c) {
				return d.fail(ErrSyntax, d.off-1, "integer has a leading zero")
			}
			return d.fail(ErrSyntax, d.off-1, "integer must end with 'e', got "+quoteByte(c))
		}
		return nil
	}
	u := uint64(c - '0')
	digits := 1
	for {
		if c, err = d.next(); err != nil {
			return err
		}
		if c == 'e' {
			break
		}
		if !isDigit(c) {
			return d.fail(ErrSyntax, d.off-1, "integer must be digits ending with 'e', got "+quoteByte(c))
		}
		// 19 digits always fit in uint64, so the check below cannot be fooled
		// by wrap-around.
		if digits++; digits > 19 {
			return d.fail(ErrSyntax, d.off-1, "integer does not fit in 64 bits")
		}
		u = u*10 + uint64(c-'0')
	}
	limit := uint64(math.MaxInt64)
	if neg {
		limit++
	}
	if u > limit {
		return d.fail(ErrSyntax, d.off-1, "integer does not fit in 64 bits")
	}
	return nil
}

func (d *Decoder) fail(kind error, off int64, reason string) error {
	return &FrameError{Reason: reason, Offset: off, Err: kind}
}

func (d *Decoder) tooLarge() error {
	return d.fail(ErrTooLarge, d.off, fmt.Sprintf("message exceeds %d bytes", d.lim.MaxMessage))
}

func (d *Decoder) readErr(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return io.ErrUnexpectedEOF
	}
	return fmt.Errorf("nrepl: read message: %w", err)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return fmt.Sprintf("%q", rune(c))
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

// builder turns bytes the scanner accepted into values. Because the input is
// known to be well formed and within MaxDepth it needs no error paths; the
// fuzz target checks it against bencode-go.
//
// It replaces bencode.Decode on the hot path: bencode-go would re-parse the
// same bytes through a pooled bufio.Reader and strconv, and
// BenchmarkDecodeEvalBencodeGo shows it is slower (see bench_test.go).
type builder struct {
	raw []byte
	pos int
}

// dict expects raw[pos] == 'd'.
func (b *builder) dict() map[string]any {
	b.pos++
	m := make(map[string]any, 8)
	for b.raw[b.pos] != 'e' {
		k := b.str()
		m[k] = b.value()
	}
	b.pos++
	return m
}

func (b *builder) value() any {
	switch c := b.raw[b.pos]; c {
	case 'd':
		return b.dict()
	case 'l':
		b.pos++
		l := []any{}
		for b.raw[b.pos] != 'e' {
			l = append(l, b.value())
		}
		b.pos++
		return l
	case 'i':
		b.pos++
		neg := b.raw[b.pos] == '-'
		if neg {
			b.pos++
		}
		var u uint64
		for ; b.raw[b.pos] != 'e'; b.pos++ {
			u = u*10 + uint64(b.raw[b.pos]-'0')
		}
		b.pos++
		if neg {
			// Two's complement negation also covers math.MinInt64.
			return -int64(u)
		}
		return int64(u)
	default:
		return b.str()
	}
}

func (b *builder) str() string {
	n := 0
	for ; b.raw[b.pos] != ':'; b.pos++ {
		n = n*10 + int(b.raw[b.pos]-'0')
	}
	b.pos++
	s := intern(b.raw[b.pos : b.pos+n])
	b.pos += n
	return s
}

// intern returns constant strings for the keys and values nearly every message
// carries; the compiler turns this switch into comparisons without allocating.
func intern(s []byte) string {
	switch string(s) {
	case "op":
		return "op"
	case "id":
		return "id"
	case "session":
		return "session"
	case "code":
		return "code"
	case "ns":
		return "ns"
	case "status":
		return "status"
	case "done":
		return "done"
	case "value":
		return "value"
	case "out":
		return "out"
	case "err":
		return "err"
	case "ex":
		return "ex"
	case "root-ex":
		return "root-ex"
	case "eval":
		return "eval"
	case "file":
		return "file"
	case "line":
		return "line"
	case "column":
		return "column"
	case "user":
		return "user"
	case "prefix":
		return "prefix"
	case "symbol":
		return "symbol"
	case "sym":
		return "sym"
	case "complete":
		return "complete"
	case "completions":
		return "completions"
	case "candidate":
		return "candidate"
	case "type":
		return "type"
	case "clone":
		return "clone"
	case "new-session":
		return "new-session"
	case "describe":
		return "describe"
	case "interrupt":
		return "interrupt"
	case "interrupt-id":
		return "interrupt-id"
	case "load-file":
		return "load-file"
	case "info":
		return "info"
	case "eldoc":
		return "eldoc"
	case "lookup":
		return "lookup"
	case "close":
		return "close"
	case "stdin":
		return "stdin"
	case "ls-sessions":
		return "ls-sessions"
	}
	return string(s)
}
