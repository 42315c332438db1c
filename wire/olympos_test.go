package wire

// The decoder Parse used before the hand-written reader: an iterative
// pre-scan (limits, bracket balance, one value, rewrites of syntax olympos
// cannot lex) followed by olympos.io/encoding/edn and a normalisation pass.
// It is kept verbatim, renamed, as the reference the new reader is
// cross-checked against (TestParseMatchesOlympos, FuzzParse).

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

// parseOlympos is Parse as it was: exactly one EDN value from b, trailing
// whitespace and comments allowed, all errors wrapping ErrParse.
func parseOlympos(b []byte, lim Limits) (any, error) {
	lim = lim.withDefaults()
	if len(b) > lim.MaxBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(b), lim.MaxBytes)
	}
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("%w: invalid UTF-8 at byte %d", ErrParse, olyInvalidUTF8At(b))
	}
	sc, err := olyScan(b, lim.MaxDepth)
	if err != nil {
		return nil, err
	}
	in := b[:sc.end]
	if len(sc.rewrites) > 0 {
		in = olyApplyRewrites(in, sc.rewrites)
	}
	return olyDecode(in, sc.hasTag)
}

func olyInvalidUTF8At(b []byte) int {
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
type olyRewrite struct {
	start, end int
	repl       string
}

type olyScanResult struct {
	end      int // just past the first top-level value
	rewrites []olyRewrite
	hasTag   bool
}

// Pre-scan stack entries. Collections use their opening byte.
const (
	olyFrameTag     = '#'
	olyFrameDiscard = '_'
	olyFrameSet     = 's'
)

// scan walks b once without recursion and checks what the recursive decoder
// cannot be trusted with: nesting depth (collections plus tag and #_ prefixes,
// which olympos recurses on too), bracket balance and that exactly one value
// is present. It tokenises like olympos' lexer wherever that affects which
// brackets are live: strings with escapes, \x characters (so \( and \" are
// not brackets or quotes), and ; comments up to '\n'.
func olyScan(b []byte, maxDepth int) (olyScanResult, error) {
	var res olyScanResult
	var stackBuf [64]byte
	stack := stackBuf[:0]
	end := -1
	n := len(b)
	for i := 0; i < n; {
		c := b[i]
		if olyIsSpaceByte(c) {
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
			j, err := olyScanString(b, i, &res)
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
			if top == olyFrameTag || top == olyFrameDiscard {
				return res, fmt.Errorf("%w: tag or #_ without a value before %q at byte %d", ErrParse, c, i)
			}
			if olyCloserFor(top) != c {
				return res, fmt.Errorf("%w: unbalanced EDN: %q at byte %d closes %q", ErrParse, c, i, olyCloserFor(top))
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
				stack = append(stack, olyFrameSet)
				i += 2
			case '_':
				stack = append(stack, olyFrameDiscard)
				i += 2
			case '#':
				j := olyTokenEnd(b, i+2)
				switch string(b[i:j]) {
				case "##NaN":
					res.rewrites = append(res.rewrites, olyRewrite{i, j, "#" + tagNaN + " nil"})
				case "##Inf":
					res.rewrites = append(res.rewrites, olyRewrite{i, j, "#" + tagInf + " nil"})
				case "##-Inf":
					res.rewrites = append(res.rewrites, olyRewrite{i, j, "#" + tagNegInf + " nil"})
				default:
					return res, fmt.Errorf("%w: unknown symbolic value %q at byte %d", ErrParse, b[i:j], i)
				}
				i = j
				completed = true
			default:
				stack = append(stack, olyFrameTag)
				res.hasTag = true
				i = olyTokenEnd(b, i+1)
			}
		case '\\':
			if i+1 >= n {
				return res, fmt.Errorf("%w: unexpected end of input after '\\'", ErrParse)
			}
			_, size := utf8.DecodeRune(b[i+1:])
			j := olyTokenEnd(b, i+1+size)
			if string(b[i:j]) == `\backspace` {
				res.rewrites = append(res.rewrites, olyRewrite{i, j, `\u0008`})
			}
			i = j
			completed = true
		default:
			i = olyTokenEnd(b, i)
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
				if top == olyFrameTag {
					stack = stack[:len(stack)-1]
					continue
				}
				if top == olyFrameDiscard {
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

func olyCloserFor(open byte) byte {
	switch open {
	case '(':
		return ')'
	case '[':
		return ']'
	default: // '{' and olyFrameSet
		return '}'
	}
}

func olyIsSpaceByte(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\f', '\v', ',':
		return true
	}
	return false
}

// olyTokenEnd returns the end of the atom starting at i, using the delimiters
// of olympos' lexer so both agree on where brackets start.
func olyTokenEnd(b []byte, i int) int {
	for i < len(b) {
		c := b[i]
		switch {
		case olyIsSpaceByte(c):
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

// olyScanString returns the index just past the string starting at b[i]. It
// records a rewrite for each escaped UTF-16 surrogate pair, which olympos
// would otherwise turn into two U+FFFD.
func olyScanString(b []byte, i int, res *olyScanResult) (int, error) {
	start := i
	n := len(b)
	for j := i + 1; j < n; {
		switch b[j] {
		case '"':
			return j + 1, nil
		case '\\':
			if j+12 <= n && b[j+1] == 'u' && b[j+6] == '\\' && b[j+7] == 'u' {
				hi, ok1 := olyHex4(b[j+2 : j+6])
				lo, ok2 := olyHex4(b[j+8 : j+12])
				if ok1 && ok2 && olyUTF16IsHigh(hi) && olyUTF16IsLow(lo) {
					r := rune((hi-0xD800)<<10|(lo-0xDC00)) + 0x10000
					res.rewrites = append(res.rewrites, olyRewrite{j, j + 12, string(r)})
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

func olyUTF16IsHigh(r uint32) bool { return r >= 0xD800 && r < 0xDC00 }
func olyUTF16IsLow(r uint32) bool  { return r >= 0xDC00 && r < 0xE000 }

func olyHex4(b []byte) (uint32, bool) {
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

func olyApplyRewrites(b []byte, rws []olyRewrite) []byte {
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
func olyDecode(in []byte, hasTag bool) (v any, err error) {
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
		if err := d.AddTagFn("base64", olyKeepTag("base64")); err != nil {
			return nil, fmt.Errorf("wire: registering #base64: %w", err)
		}
	}
	if err := d.Decode(&v); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrParse, err)
	}
	return olyNormalize(v, false)
}

func olyKeepTag(name string) func(any) (any, error) {
	return func(x any) (any, error) { return Tagged{Tag: name, Value: x}, nil }
}

// normalize converts olympos' output into the documented types. Its
// recursion is bounded by the depth the scan allowed.
func olyNormalize(v any, isKey bool) (any, error) {
	switch x := v.(type) {
	case nil, bool, string, int64, float64, edn.Keyword, edn.Symbol:
		return v, nil
	case []any:
		if isKey {
			return nil, errCollectionKey
		}
		for i, e := range x {
			n, err := olyNormalize(e, false)
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
		return olyNormalizeMap(x)
	case map[any]bool:
		if isKey {
			return nil, errCollectionKey
		}
		return olyNormalizeSet(x)
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
		inner, err := olyNormalize(x.Value, isKey)
		if err != nil {
			return nil, err
		}
		return Tagged{Tag: x.Tagname, Value: inner}, nil
	case Tagged:
		inner, err := olyNormalize(x.Value, isKey)
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

// olyKeyNeedsWork reports whether normalize would change a key, so the common
// case (keyword keys) can update values in place instead of rebuilding.
func olyKeyNeedsWork(k any) bool {
	switch k.(type) {
	case nil, bool, string, int64, float64, edn.Keyword, edn.Symbol:
		return false
	}
	return true
}

func olyNormalizeMap(m map[any]any) (any, error) {
	rebuild := false
	for k, e := range m {
		n, err := olyNormalize(e, false)
		if err != nil {
			return nil, err
		}
		m[k] = n
		if olyKeyNeedsWork(k) {
			rebuild = true
		}
	}
	if !rebuild {
		return m, nil
	}
	out := make(map[any]any, len(m))
	for k, e := range m {
		nk, err := olyNormalize(k, true)
		if err != nil {
			return nil, err
		}
		out[nk] = e
	}
	return out, nil
}

func olyNormalizeSet(s map[any]bool) (any, error) {
	rebuild := false
	for k := range s {
		if olyKeyNeedsWork(k) {
			rebuild = true
			break
		}
	}
	if !rebuild {
		return s, nil
	}
	out := make(map[any]bool, len(s))
	for k := range s {
		nk, err := olyNormalize(k, true)
		if err != nil {
			return nil, err
		}
		out[nk] = true
	}
	return out, nil
}
