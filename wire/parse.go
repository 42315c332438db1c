package wire

import (
	"bytes"
	"fmt"
	"math"
	"math/big"
	"time"
	"unicode"
	"unicode/utf8"

	"olympos.io/encoding/edn"
)

// Limits bound what Parse and DecodeFrame accept from a peer.
type Limits struct {
	// MaxBytes is the largest input accepted; 0 or less means the default.
	MaxBytes int
	// MaxDepth bounds nesting of ( [ { #{ and of tag / #_ prefixes, which the
	// decoder also recurses on; 0 or less means the default.
	MaxDepth int
}

const (
	defaultMaxBytes = 1 << 20 // the seed's 1 MiB message limit
	defaultMaxDepth = 100
)

// DefaultLimits returns 1 MiB and 100 levels, the sente-lite defaults.
func DefaultLimits() Limits {
	return Limits{MaxBytes: defaultMaxBytes, MaxDepth: defaultMaxDepth}
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = defaultMaxBytes
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = defaultMaxDepth
	}
	return l
}

// Tagged is an EDN tagged literal whose tag has no Go reader, e.g.
// #uuid "..." or #my.app/point [1 2]. Tag has no leading '#'.
type Tagged struct {
	Tag   string
	Value any
}

// MarshalEDN lets olympos' edn.Marshal embed a Tagged found inside types
// that Print hands over to it.
func (t Tagged) MarshalEDN() ([]byte, error) { return Print(t) }

// RawEDN is already-encoded EDN that Print copies verbatim, so a hub can
// encode a payload once and embed it in many frames. It is not validated.
type RawEDN []byte

// MarshalEDN lets olympos' edn.Marshal embed RawEDN verbatim too.
func (r RawEDN) MarshalEDN() ([]byte, error) {
	if len(r) == 0 {
		return []byte("nil"), nil
	}
	return r, nil
}

// Tag names that the pre-scan substitutes for ##NaN, ##Inf and ##-Inf, which
// olympos' lexer does not know. A peer sending these tags with a nil value
// gets the same floats, which is harmless.
const (
	tagNaN    = "sente.wire/NaN"
	tagInf    = "sente.wire/Inf"
	tagNegInf = "sente.wire/-Inf"
)

// Parse reads exactly one EDN value from b; trailing whitespace and comments
// are allowed, anything else after the value is an error. See the package
// documentation for the Go types it returns. All errors wrap ErrParse.
func Parse(b []byte, lim Limits) (any, error) {
	lim = lim.withDefaults()
	if len(b) > lim.MaxBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(b), lim.MaxBytes)
	}
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("%w: invalid UTF-8 at byte %d", ErrParse, invalidUTF8At(b))
	}
	sc, err := scan(b, lim.MaxDepth)
	if err != nil {
		return nil, err
	}
	in := b[:sc.end]
	if len(sc.rewrites) > 0 {
		in = applyRewrites(in, sc.rewrites)
	}
	return decode(in, sc.hasTag)
}

func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return -1
}

// rewrite replaces b[start:end] with repl before decoding. It exists for
// syntax real Clojure printers emit but olympos cannot lex.
type rewrite struct {
	start, end int
	repl       string
}

type scanResult struct {
	end      int // just past the first top-level value
	rewrites []rewrite
	hasTag   bool
}

// Pre-scan stack entries. Collections use their opening byte.
const (
	frameTag     = '#'
	frameDiscard = '_'
	frameSet     = 's'
)

// scan walks b once without recursion and checks what the recursive decoder
// cannot be trusted with: nesting depth (collections plus tag and #_ prefixes,
// which olympos recurses on too), bracket balance and that exactly one value
// is present. It tokenises like olympos' lexer wherever that affects which
// brackets are live: strings with escapes, \x characters (so \( and \" are
// not brackets or quotes), and ; comments up to '\n'.
func scan(b []byte, maxDepth int) (scanResult, error) {
	var res scanResult
	var stackBuf [64]byte
	stack := stackBuf[:0]
	end := -1
	n := len(b)
	for i := 0; i < n; {
		c := b[i]
		if isSpaceByte(c) {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			if r, size := utf8.DecodeRune(b[i:]); unicode.IsSpace(r) {
				i += size
				continue
			}
		}
		if c == ';' {
			for i < n && b[i] != '\n' {
				i++
			}
			continue
		}
		if end >= 0 {
			return res, fmt.Errorf("%w: unexpected data after the value at byte %d; a frame holds exactly one EDN value", ErrParse, i)
		}
		completed := false
		switch c {
		case '"':
			j, err := scanString(b, i, &res)
			if err != nil {
				return res, err
			}
			i = j
			completed = true
		case '(', '[', '{':
			stack = append(stack, c)
			i++
		case ')', ']', '}':
			if len(stack) == 0 {
				return res, fmt.Errorf("%w: unbalanced EDN: unexpected %q at byte %d", ErrParse, c, i)
			}
			top := stack[len(stack)-1]
			if top == frameTag || top == frameDiscard {
				return res, fmt.Errorf("%w: tag or #_ without a value before %q at byte %d", ErrParse, c, i)
			}
			if closerFor(top) != c {
				return res, fmt.Errorf("%w: unbalanced EDN: %q at byte %d closes %q", ErrParse, c, i, closerFor(top))
			}
			stack = stack[:len(stack)-1]
			i++
			completed = true
		case '#':
			if i+1 >= n {
				return res, fmt.Errorf("%w: unexpected end of input after '#'", ErrParse)
			}
			switch b[i+1] {
			case '{':
				stack = append(stack, frameSet)
				i += 2
			case '_':
				stack = append(stack, frameDiscard)
				i += 2
			case '#':
				j := tokenEnd(b, i+2)
				switch string(b[i:j]) {
				case "##NaN":
					res.rewrites = append(res.rewrites, rewrite{i, j, "#" + tagNaN + " nil"})
				case "##Inf":
					res.rewrites = append(res.rewrites, rewrite{i, j, "#" + tagInf + " nil"})
				case "##-Inf":
					res.rewrites = append(res.rewrites, rewrite{i, j, "#" + tagNegInf + " nil"})
				default:
					return res, fmt.Errorf("%w: unknown symbolic value %q at byte %d", ErrParse, b[i:j], i)
				}
				i = j
				completed = true
			default:
				stack = append(stack, frameTag)
				res.hasTag = true
				i = tokenEnd(b, i+1)
			}
		case '\\':
			if i+1 >= n {
				return res, fmt.Errorf("%w: unexpected end of input after '\\'", ErrParse)
			}
			_, size := utf8.DecodeRune(b[i+1:])
			j := tokenEnd(b, i+1+size)
			if string(b[i:j]) == `\backspace` {
				res.rewrites = append(res.rewrites, rewrite{i, j, `\u0008`})
			}
			i = j
			completed = true
		default:
			i = tokenEnd(b, i)
			completed = true
		}
		if len(stack) > maxDepth {
			return res, fmt.Errorf("%w: more than %d levels at byte %d", ErrTooDeep, maxDepth, i)
		}
		if completed {
			// A finished value satisfies pending tags (a tagged value is
			// itself a value) up to the nearest #_, which swallows it.
			for {
				if len(stack) == 0 {
					end = i
					break
				}
				top := stack[len(stack)-1]
				if top == frameTag {
					stack = stack[:len(stack)-1]
					continue
				}
				if top == frameDiscard {
					stack = stack[:len(stack)-1]
				}
				break
			}
		}
	}
	if end < 0 {
		if len(stack) > 0 {
			return res, fmt.Errorf("%w: unbalanced EDN: unexpected end of input with %d unclosed", ErrParse, len(stack))
		}
		return res, fmt.Errorf("%w: no EDN value in input", ErrParse)
	}
	res.end = end
	return res, nil
}

func closerFor(open byte) byte {
	switch open {
	case '(':
		return ')'
	case '[':
		return ']'
	default: // '{' and frameSet
		return '}'
	}
}

func isSpaceByte(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\f', '\v', ',':
		return true
	}
	return false
}

// tokenEnd returns the end of the atom starting at i, using the delimiters
// of olympos' lexer so both agree on where brackets start.
func tokenEnd(b []byte, i int) int {
	for i < len(b) {
		c := b[i]
		switch {
		case isSpaceByte(c):
			return i
		case c == '"' || c == ';' || c == '\\' || c == '(' || c == ')' || c == '[' || c == ']' || c == '{' || c == '}':
			return i
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(b[i:])
			if unicode.IsSpace(r) {
				return i
			}
			i += size
		default:
			i++
		}
	}
	return i
}

// scanString returns the index just past the string starting at b[i]. It
// records a rewrite for each escaped UTF-16 surrogate pair, which olympos
// would otherwise turn into two U+FFFD.
func scanString(b []byte, i int, res *scanResult) (int, error) {
	start := i
	n := len(b)
	for j := i + 1; j < n; {
		switch b[j] {
		case '"':
			return j + 1, nil
		case '\\':
			if j+12 <= n && b[j+1] == 'u' && b[j+6] == '\\' && b[j+7] == 'u' {
				hi, ok1 := hex4(b[j+2 : j+6])
				lo, ok2 := hex4(b[j+8 : j+12])
				if ok1 && ok2 && utf16IsHigh(hi) && utf16IsLow(lo) {
					r := rune((hi-0xD800)<<10|(lo-0xDC00)) + 0x10000
					res.rewrites = append(res.rewrites, rewrite{j, j + 12, string(r)})
					j += 12
					continue
				}
			}
			j += 2
		default:
			j++
		}
	}
	return n, fmt.Errorf("%w: unterminated string starting at byte %d", ErrParse, start)
}

func utf16IsHigh(r uint32) bool { return r >= 0xD800 && r < 0xDC00 }
func utf16IsLow(r uint32) bool  { return r >= 0xDC00 && r < 0xE000 }

func hex4(b []byte) (uint32, bool) {
	var v uint32
	for _, c := range b {
		v <<= 4
		switch {
		case '0' <= c && c <= '9':
			v |= uint32(c - '0')
		case 'a' <= c && c <= 'f':
			v |= uint32(c-'a') + 10
		case 'A' <= c && c <= 'F':
			v |= uint32(c-'A') + 10
		default:
			return 0, false
		}
	}
	return v, true
}

func applyRewrites(b []byte, rws []rewrite) []byte {
	out := make([]byte, 0, len(b)+16*len(rws))
	prev := 0
	for _, rw := range rws {
		out = append(out, b[prev:rw.start]...)
		out = append(out, rw.repl...)
		prev = rw.end
	}
	return append(out, b[prev:]...)
}

// decode runs olympos on input the scan has vetted. Olympos reports its own
// errors by panicking and re-panics on anything it does not recognise, so
// everything is recovered here, normalisation included.
func decode(in []byte, hasTag bool) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			v = nil
			err = fmt.Errorf("%w: EDN decoder failed: %v", ErrParse, r)
		}
	}()
	d := edn.NewDecoder(bytes.NewReader(in))
	if hasTag {
		// Per decoder, not global: olympos' built-in #base64 reader would
		// hand us []byte, which Print cannot turn back into the same tag.
		if err := d.AddTagFn("base64", keepTag("base64")); err != nil {
			return nil, fmt.Errorf("wire: registering #base64: %w", err)
		}
	}
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrParse, err)
	}
	return normalize(v, false)
}

func keepTag(name string) func(any) (any, error) {
	return func(x any) (any, error) { return Tagged{Tag: name, Value: x}, nil }
}

// normalize converts olympos' output into the documented types. Its
// recursion is bounded by the depth the scan allowed.
func normalize(v any, isKey bool) (any, error) {
	switch x := v.(type) {
	case nil, bool, string, int64, float64, edn.Keyword, edn.Symbol:
		return v, nil
	case []any:
		if isKey {
			return nil, errCollectionKey
		}
		for i, e := range x {
			n, err := normalize(e, false)
			if err != nil {
				return nil, err
			}
			x[i] = n
		}
		return x, nil
	case map[any]any:
		if isKey {
			return nil, errCollectionKey
		}
		return normalizeMap(x)
	case map[any]bool:
		if isKey {
			return nil, errCollectionKey
		}
		return normalizeSet(x)
	case *any:
		// Olympos' way of storing a collection key in a Go map.
		return nil, errCollectionKey
	case int32:
		return edn.Rune(x), nil
	case big.Int:
		return &x, nil
	case *big.Int:
		return x, nil
	case *big.Float:
		f, _ := x.Float64()
		return f, nil
	case time.Time:
		u := x.UTC()
		if y := u.Year(); y < 0 || y > 9999 {
			return nil, fmt.Errorf("%w: #inst year %d is outside 0000-9999 in UTC", ErrParse, y)
		}
		return u, nil
	case edn.Tag:
		if x.Value == nil {
			switch x.Tagname {
			case tagNaN:
				return math.NaN(), nil
			case tagInf:
				return math.Inf(1), nil
			case tagNegInf:
				return math.Inf(-1), nil
			}
		}
		inner, err := normalize(x.Value, isKey)
		if err != nil {
			return nil, err
		}
		return Tagged{Tag: x.Tagname, Value: inner}, nil
	case Tagged:
		inner, err := normalize(x.Value, isKey)
		if err != nil {
			return nil, err
		}
		x.Value = inner
		return x, nil
	default:
		// A type from a tag reader registered globally by other code; it
		// is theirs to interpret.
		return v, nil
	}
}

var errCollectionKey error = &sentinelError{
	"wire: parse error: map keys and set elements that are collections are not supported",
	ErrParse,
}

// keyNeedsWork reports whether normalize would change a key, so the common
// case (keyword keys) can update values in place instead of rebuilding.
func keyNeedsWork(k any) bool {
	switch k.(type) {
	case nil, bool, string, int64, float64, edn.Keyword, edn.Symbol:
		return false
	}
	return true
}

func normalizeMap(m map[any]any) (any, error) {
	rebuild := false
	for k, e := range m {
		n, err := normalize(e, false)
		if err != nil {
			return nil, err
		}
		m[k] = n
		if keyNeedsWork(k) {
			rebuild = true
		}
	}
	if !rebuild {
		return m, nil
	}
	out := make(map[any]any, len(m))
	for k, e := range m {
		nk, err := normalize(k, true)
		if err != nil {
			return nil, err
		}
		out[nk] = e
	}
	return out, nil
}

func normalizeSet(s map[any]bool) (any, error) {
	rebuild := false
	for k := range s {
		if keyNeedsWork(k) {
			rebuild = true
			break
		}
	}
	if !rebuild {
		return s, nil
	}
	out := make(map[any]bool, len(s))
	for k := range s {
		nk, err := normalize(k, true)
		if err != nil {
			return nil, err
		}
		out[nk] = true
	}
	return out, nil
}
