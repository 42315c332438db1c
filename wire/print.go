package wire

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"olympos.io/encoding/edn"
)

// maxPrintDepth turns a cyclic value into an error instead of a fatal stack
// overflow; no sane payload nests this deep.
const maxPrintDepth = 10000

var errPrintDepth = errors.New("wire: value nested too deep to print (cyclic?)")

// Print encodes v as EDN that a Clojure reader (and Parse) reads back equal.
//
// Handled directly, without reflection: nil, bool, string, all int and uint
// kinds, float32/64 (always with a '.' or exponent; NaN and infinities as
// ##NaN, ##Inf, ##-Inf), edn.Keyword, edn.Symbol, edn.Rune (a character),
// *big.Int (with an N suffix), time.Time (#inst, UTC), Tagged and edn.Tag,
// RawEDN and edn.RawMessage (verbatim), Event (an event vector), []any,
// []string, []edn.Keyword, []int, []int64, []float64 (vectors),
// map[any]any, map[string]any, map[edn.Keyword]any, map[string]string,
// map[edn.Keyword]string (maps, keys sorted by their printed form) and
// map[any]bool (a set of the keys whose value is true). Anything else goes
// to olympos' edn.Marshal.
//
// Keywords, symbols and tags whose names would not read back as one token are
// an error, as are runes outside Unicode. Invalid UTF-8 in strings becomes
// U+FFFD. A character outside the BMP, or a lone surrogate, has no literal a
// Clojure reader accepts (their chars are UTF-16 units; nbb rejects both), so
// such an edn.Rune is written raw (\😀) or as \ud800 for Parse alone: send
// text as strings.
func Print(v any) ([]byte, error) {
	return appendValue(make([]byte, 0, 64), v, 0)
}

// AppendPrint is Print appending to dst. On error the returned slice holds
// dst plus a partial encoding and must not be sent.
func AppendPrint(dst []byte, v any) ([]byte, error) {
	return appendValue(dst, v, 0)
}

func appendValue(dst []byte, v any, depth int) ([]byte, error) {
	if depth > maxPrintDepth {
		return dst, errPrintDepth
	}
	switch x := v.(type) {
	case nil:
		return append(dst, "nil"...), nil
	case bool:
		return strconv.AppendBool(dst, x), nil
	case string:
		return appendString(dst, x), nil
	case edn.Keyword:
		return appendKeyword(dst, x)
	case int64:
		return strconv.AppendInt(dst, x, 10), nil
	case int:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case float64:
		return appendFloat(dst, x, 64), nil
	case []any:
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ' ')
			}
			var err error
			if dst, err = appendValue(dst, e, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case map[any]any:
		return appendMapAny(dst, x, depth)
	case map[edn.Keyword]any:
		return appendMapKeyword(dst, x, depth)
	case map[string]any:
		return appendMapString(dst, x, depth)
	case RawEDN:
		if len(x) == 0 {
			return append(dst, "nil"...), nil
		}
		return append(dst, x...), nil
	case edn.RawMessage:
		if len(x) == 0 {
			return append(dst, "nil"...), nil
		}
		return append(dst, x...), nil
	case Event:
		return appendEvent(dst, x, depth)
	case int8:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int16:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), nil
	case uint:
		return appendUint(dst, uint64(x)), nil
	case uint8:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint16:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint32:
		return strconv.AppendUint(dst, uint64(x), 10), nil
	case uint64:
		return appendUint(dst, x), nil
	case float32:
		return appendFloat(dst, float64(x), 32), nil
	case edn.Symbol:
		if !validSymbol(string(x)) {
			return dst, fmt.Errorf("wire: symbol %q cannot be printed as EDN", string(x))
		}
		return append(dst, x...), nil
	case edn.Rune:
		return appendChar(dst, rune(x))
	case *big.Int:
		if x == nil {
			return append(dst, "nil"...), nil
		}
		return append(x.Append(dst, 10), 'N'), nil
	case time.Time:
		return appendInst(dst, x)
	case Tagged:
		return appendTagged(dst, x.Tag, x.Value, depth)
	case edn.Tag:
		return appendTagged(dst, x.Tagname, x.Value, depth)
	case map[any]bool:
		return appendSet(dst, x, depth)
	case []string:
		dst = append(dst, '[')
		for i, s := range x {
			if i > 0 {
				dst = append(dst, ' ')
			}
			dst = appendString(dst, s)
		}
		return append(dst, ']'), nil
	case []edn.Keyword:
		dst = append(dst, '[')
		for i, k := range x {
			if i > 0 {
				dst = append(dst, ' ')
			}
			var err error
			if dst, err = appendKeyword(dst, k); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case []int:
		dst = append(dst, '[')
		for i, n := range x {
			if i > 0 {
				dst = append(dst, ' ')
			}
			dst = strconv.AppendInt(dst, int64(n), 10)
		}
		return append(dst, ']'), nil
	case []int64:
		dst = append(dst, '[')
		for i, n := range x {
			if i > 0 {
				dst = append(dst, ' ')
			}
			dst = strconv.AppendInt(dst, n, 10)
		}
		return append(dst, ']'), nil
	case []float64:
		dst = append(dst, '[')
		for i, f := range x {
			if i > 0 {
				dst = append(dst, ' ')
			}
			dst = appendFloat(dst, f, 64)
		}
		return append(dst, ']'), nil
	case map[string]string:
		keys := sortedKeys(x)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = appendString(dst, k)
			dst = append(dst, ' ')
			dst = appendString(dst, x[k])
		}
		return append(dst, '}'), nil
	case map[edn.Keyword]string:
		keys := sortedKeys(x)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			var err error
			if dst, err = appendKeyword(dst, k); err != nil {
				return dst, err
			}
			dst = append(dst, ' ')
			dst = appendString(dst, x[k])
		}
		return append(dst, '}'), nil
	default:
		b, err := marshalFallback(v)
		if err != nil {
			return dst, fmt.Errorf("wire: printing %T: %w", v, err)
		}
		return append(dst, b...), nil
	}
}

// marshalFallback hands foreign types to olympos, whose reflection can panic
// on types it does not expect; a bad value must not take the server down.
func marshalFallback(v any) (b []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			b, err = nil, fmt.Errorf("edn.Marshal panicked: %v", r)
		}
	}()
	return edn.Marshal(v)
}

func appendUint(dst []byte, u uint64) []byte {
	dst = strconv.AppendUint(dst, u, 10)
	if u > math.MaxInt64 {
		// Without N, Parse (int64) could not read it back; Clojure reads
		// either form as a BigInt.
		dst = append(dst, 'N')
	}
	return dst
}

func appendFloat(dst []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "##NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "##Inf"...)
	case math.IsInf(f, -1):
		return append(dst, "##-Inf"...)
	}
	// The same cut-over to exponent form as encoding/json and JavaScript, so
	// 1e+21 does not print as twenty-two digits.
	format := byte('f')
	if abs := math.Abs(f); abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) ||
			bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, format, -1, bits)
	num := dst[start:]
	if format == 'e' {
		// e-07 → e-7
		if n := len(dst); n-start >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
		return dst
	}
	if bytes.IndexByte(num, '.') < 0 {
		// A float must stay a float when read back: 1.0, not 1.
		dst = append(dst, '.', '0')
	}
	return dst
}

func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, s[start:i]...)
				dst = append(dst, "\uFFFD"...)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		if c >= 0x20 && c != '"' && c != '\\' {
			i++
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"':
			dst = append(dst, '\\', '"')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\r':
			dst = append(dst, '\\', 'r')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func appendKeyword(dst []byte, k edn.Keyword) ([]byte, error) {
	if !validKeyword(string(k)) {
		return dst, fmt.Errorf("wire: keyword %q cannot be printed as EDN", string(k))
	}
	dst = append(dst, ':')
	return append(dst, k...), nil
}

func appendChar(dst []byte, r rune) ([]byte, error) {
	const hex = "0123456789abcdef"
	switch r {
	case '\n':
		return append(dst, `\newline`...), nil
	case '\r':
		return append(dst, `\return`...), nil
	case ' ':
		return append(dst, `\space`...), nil
	case '\t':
		return append(dst, `\tab`...), nil
	case '\f':
		return append(dst, `\formfeed`...), nil
	}
	if r < 0 || r > unicode.MaxRune {
		return dst, fmt.Errorf("wire: rune %d is not a Unicode code point", r)
	}
	if r <= 0xFFFF && (r >= 0xD800 && r < 0xE000 || r == ',' || unicode.IsSpace(r) || !unicode.IsPrint(r)) {
		// Readers reject a raw whitespace or comma after '\', and raw
		// control characters are invisible in logs.
		return append(dst, '\\', 'u', hex[r>>12&0xF], hex[r>>8&0xF], hex[r>>4&0xF], hex[r&0xF]), nil
	}
	dst = append(dst, '\\')
	return utf8.AppendRune(dst, r), nil
}

func appendInst(dst []byte, t time.Time) ([]byte, error) {
	u := t.UTC()
	if y := u.Year(); y < 0 || y > 9999 {
		return dst, fmt.Errorf("wire: time %v is outside the #inst years 0000-9999", t)
	}
	dst = append(dst, `#inst "`...)
	dst = u.AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"'), nil
}

func appendTagged(dst []byte, tag string, v any, depth int) ([]byte, error) {
	if !validTag(tag) {
		return dst, fmt.Errorf("wire: tag %q cannot be printed as EDN", tag)
	}
	dst = append(dst, '#')
	dst = append(dst, tag...)
	dst = append(dst, ' ')
	return appendValue(dst, v, depth+1)
}

// appendMapAny sorts entries by their printed keys: deterministic output
// keeps logs, tests and caches stable.
func appendMapAny(dst []byte, m map[any]any, depth int) ([]byte, error) {
	if len(m) == 0 {
		return append(dst, "{}"...), nil
	}
	type entry struct {
		start, end int
		v          any
	}
	var entBuf [8]entry
	ents := entBuf[:0]
	var keyBuf [128]byte
	keys := keyBuf[:0]
	for k, v := range m {
		start := len(keys)
		var err error
		if keys, err = appendValue(keys, k, depth+1); err != nil {
			return dst, err
		}
		ents = append(ents, entry{start, len(keys), v})
	}
	slices.SortFunc(ents, func(a, b entry) int {
		return bytes.Compare(keys[a.start:a.end], keys[b.start:b.end])
	})
	dst = append(dst, '{')
	for i, e := range ents {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		dst = append(dst, keys[e.start:e.end]...)
		dst = append(dst, ' ')
		var err error
		if dst, err = appendValue(dst, e.v, depth+1); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

func appendSet(dst []byte, s map[any]bool, depth int) ([]byte, error) {
	type entry struct{ start, end int }
	var entBuf [8]entry
	ents := entBuf[:0]
	var keyBuf [128]byte
	keys := keyBuf[:0]
	for k, in := range s {
		if !in {
			continue
		}
		start := len(keys)
		var err error
		if keys, err = appendValue(keys, k, depth+1); err != nil {
			return dst, err
		}
		ents = append(ents, entry{start, len(keys)})
	}
	slices.SortFunc(ents, func(a, b entry) int {
		return bytes.Compare(keys[a.start:a.end], keys[b.start:b.end])
	})
	dst = append(dst, '#', '{')
	for i, e := range ents {
		if i > 0 {
			dst = append(dst, ' ')
		}
		dst = append(dst, keys[e.start:e.end]...)
	}
	return append(dst, '}'), nil
}

func sortedKeys[K ~string, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func appendMapKeyword(dst []byte, m map[edn.Keyword]any, depth int) ([]byte, error) {
	var keyBuf [8]edn.Keyword
	keys := keyBuf[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		var err error
		if dst, err = appendKeyword(dst, k); err != nil {
			return dst, err
		}
		dst = append(dst, ' ')
		if dst, err = appendValue(dst, m[k], depth+1); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

func appendMapString(dst []byte, m map[string]any, depth int) ([]byte, error) {
	var keyBuf [8]string
	keys := keyBuf[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		dst = appendString(dst, k)
		dst = append(dst, ' ')
		var err error
		if dst, err = appendValue(dst, m[k], depth+1); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

// Name validation mirrors olympos' lexer, which is slightly stricter than
// Clojure's reader, so that whatever Print writes Parse can read.

func okSymbolFirst(r rune) bool {
	switch r {
	case '.', '*', '+', '!', '-', '_', '?', '$', '%', '&', '=', '<', '>':
		return true
	}
	return unicode.IsLetter(r)
}

func okSymbolRune(r rune) bool {
	switch r {
	case '.', '*', '+', '!', '-', '_', '?', '$', '%', '&', '=', '<', '>', ':', '#', '\'':
		return true
	}
	return unicode.IsLetter(r) || '0' <= r && r <= '9'
}

// validNameRest checks what olympos' symbol state accepts after the first
// rune: name runes with at most one '/', which must be followed by more.
func validNameRest(s string) bool {
	slash := false
	afterSlash := false
	for _, r := range s {
		if r == '/' {
			if slash {
				return false
			}
			slash = true
			continue
		}
		if !okSymbolRune(r) {
			return false
		}
		if slash {
			afterSlash = true
		}
	}
	return !slash || afterSlash
}

func validKeyword(s string) bool {
	r, size := utf8.DecodeRuneInString(s)
	if s == "" || r == ':' || r == '/' || !okSymbolRune(r) {
		return false
	}
	return validNameRest(s[size:])
}

func validSymbol(s string) bool {
	switch s {
	case "/":
		return true
	case "", "nil", "true", "false":
		return false
	}
	r, size := utf8.DecodeRuneInString(s)
	if !okSymbolFirst(r) {
		return false
	}
	rest := s[size:]
	if r == '+' || r == '-' || r == '.' {
		// +1, -1 are numbers and .5 is a lexer error.
		if next, _ := utf8.DecodeRuneInString(rest); '0' <= next && next <= '9' {
			return false
		}
	}
	return validNameRest(rest)
}

func validTag(s string) bool {
	r, size := utf8.DecodeRuneInString(s)
	if s == "" || !unicode.IsLetter(r) {
		return false
	}
	return validNameRest(s[size:])
}

// isNamespaced reports whether k has a non-empty namespace and name, the
// rule sente-lite applies to event ids.
func isNamespaced(k edn.Keyword) bool {
	i := strings.IndexByte(string(k), '/')
	return i > 0 && i < len(k)-1
}
