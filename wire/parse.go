package wire

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"math"
	"math/big"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"olympos.io/encoding/edn"
)

// Limits bound what Parse and DecodeFrame accept from a peer.
type Limits struct {
	// MaxBytes is the largest input accepted; 0 or less means the default.
	MaxBytes int
	// MaxDepth bounds nesting of ( [ { #{ and of tag / #_ prefixes, each of
	// which counts as one level; 0 or less means the default.
	MaxDepth int
}

const (
	defaultMaxBytes = 1 << 20 // sente-lite's 1 MiB message limit
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

// Tags that read as ##NaN, ##Inf and ##-Inf when their value is nil. The
// decoder Parse used before rewrote the symbolic values into these tags, so a
// peer sending them got the floats; that is harmless and kept.
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
	p := parserPool.Get().(*parser)
	v, err := p.parse(b, lim.MaxDepth)
	p.release()
	return v, err
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

// The reader makes one pass over the input with an explicit stack, so input
// nested millions deep cannot exhaust the Go stack (which kills the process
// rather than panicking).
//
// It accepts what the decoder it replaced (a pre-scan, then olympos, then a
// normalisation pass; see olympos_test.go) accepted, and its errors come in
// the same three classes, in the same order of precedence:
//
//   - structural ones (nesting too deep, unbalanced brackets, more than one
//     value, unterminated strings, unknown ##symbols, a tag or #_ without a
//     value) end the parse at once, with the old messages, and invalid UTF-8
//     anywhere in the input takes precedence over them;
//   - olympos' (malformed tokens, integers out of range, odd maps, unhashable
//     keys, bad #inst strings) are recorded in p.err; the parse goes on
//     checking structure without building values, and p.err is returned at
//     the end unless a structural error turns up first;
//   - the normalisation's (collection keys, #inst years beyond 9999) only
//     counted in the value returned, not in map values that a later
//     duplicate key replaced: they taint values (see parser.tainted).
//
// Like olympos, the reader only lexes what #_ discards: 99999999999999999999
// or {1} under #_ is fine, a malformed token is not.

// Stack entries. Collections use their opening byte.
const (
	frameTag     = '#'
	frameDiscard = '_'
	frameSet     = 's'
	frameNSMap   = 'n' // #:ns{...}, which Clojure prints for maps whose keys share a namespace
)

type frame struct {
	kind byte
	// start is where the collection's elements begin in parser.vals, or,
	// for a tag, where its name begins in the input; end is where the
	// tag's name ends.
	start, end int
	// ns is the namespace of a #:ns{...} map, whose keys it qualifies.
	ns string
}

type parser struct {
	b        []byte
	maxDepth int
	stack    []frame
	vals     []any  // elements of the open collections, innermost last
	buf      []byte // string unescaping
	skip     int    // open #_ frames: values are checked, not built
	err      error  // the first non-structural error; values are no longer built
	// Late errors: olympos found collection keys and #inst years beyond
	// 9999 only in what it returned, so a map value dropped for a later
	// duplicate key could hold them. A value holding one is tainted;
	// tainted lists the indexes in vals of tainted elements, ascending.
	tainted []int
	lateErr error // the first late error
}

var parserPool = sync.Pool{New: func() any {
	return &parser{stack: make([]frame, 0, 16), vals: make([]any, 0, 32)}
}}

func (p *parser) release() {
	// Closed collections clear their elements; only a failed parse leaves
	// values behind, below len.
	clear(p.vals)
	p.vals = p.vals[:0]
	p.stack = p.stack[:0]
	p.tainted = p.tainted[:0]
	p.b, p.err, p.lateErr, p.skip = nil, nil, nil, 0
	if cap(p.vals) > 4096 || cap(p.stack) > 1024 || cap(p.buf) > 64<<10 {
		return // let an outsized parser go
	}
	parserPool.Put(p)
}

func (p *parser) building() bool { return p.skip == 0 && p.err == nil }

// setErr records a non-structural error; only the first one is kept.
func (p *parser) setErr(err error) {
	if p.err == nil {
		p.err = err
	}
}

// late records a late error and returns true, the taint of the value.
func (p *parser) late(err error) bool {
	if p.lateErr == nil {
		p.lateErr = err
	}
	return true
}

// fail returns err, unless the input is not valid UTF-8, which the old
// decoder checked before anything else.
func (p *parser) fail(err error) (any, error) {
	if !utf8.Valid(p.b) {
		return nil, syntaxAt(ErrParse, invalidUTF8At(p.b), "invalid UTF-8", "")
	}
	return nil, err
}

// errBadUTF8 is replaced by fail with the message that has the position.
var errBadUTF8 error = &sentinelError{"wire: parse error: invalid UTF-8", ErrParse}

func (p *parser) push(kind byte, start, end, pos int) error {
	p.stack = append(p.stack, frame{kind: kind, start: start, end: end})
	if len(p.stack) > p.maxDepth {
		return syntaxAt(ErrTooDeep, pos, fmt.Sprintf("more than %d levels", p.maxDepth), "")
	}
	return nil
}

func (p *parser) parse(b []byte, maxDepth int) (any, error) {
	p.b, p.maxDepth = b, maxDepth
	n := len(b)
	var result any
	done, resultTainted := false, false
	i := 0
	for {
		var ok bool
		if i, ok = p.skipSpace(i); !ok {
			return p.fail(errBadUTF8)
		}
		if i >= n {
			break
		}
		if done {
			return p.fail(syntaxAt(ErrParse, i, "unexpected data after the value", "; a frame holds exactly one EDN value"))
		}
		var v any
		tainted := false
		switch c := b[i]; c {
		case '"':
			var err error
			if v, i, err = p.str(i); err != nil {
				return p.fail(err)
			}
		case '(', '[', '{':
			if err := p.push(c, len(p.vals), 0, i+1); err != nil {
				return p.fail(err)
			}
			i++
			continue
		case ')', ']', '}':
			if len(p.stack) == 0 {
				return p.fail(syntaxAt(ErrParse, i, fmt.Sprintf("unbalanced EDN: unexpected %q", c), ""))
			}
			top := p.stack[len(p.stack)-1]
			if top.kind == frameTag || top.kind == frameDiscard {
				return p.fail(syntaxAt(ErrParse, i, fmt.Sprintf("tag or #_ without a value before %q", c), ""))
			}
			if closer := closerFor(top.kind); closer != c {
				return p.fail(syntaxAt(ErrParse, i, fmt.Sprintf("unbalanced EDN: %q", c), fmt.Sprintf(" closes %q", closer)))
			}
			p.stack = p.stack[:len(p.stack)-1]
			i++
			if p.building() {
				v, tainted = p.closeCollection(top)
			}
		case '#':
			if i+1 >= n {
				return p.fail(syntaxEnd(len(b), "unexpected end of input after '#'"))
			}
			switch b[i+1] {
			case '{':
				if err := p.push(frameSet, len(p.vals), 0, i+2); err != nil {
					return p.fail(err)
				}
				i += 2
				continue
			case '_':
				p.skip++
				if err := p.push(frameDiscard, 0, 0, i+2); err != nil {
					return p.fail(err)
				}
				i += 2
				continue
			case '#':
				j, ok := p.tokenEnd(i + 2)
				if !ok {
					return p.fail(errBadUTF8)
				}
				switch string(b[i:j]) {
				case "##NaN":
					v = math.NaN()
				case "##Inf":
					v = math.Inf(1)
				case "##-Inf":
					v = math.Inf(-1)
				default:
					return p.fail(syntaxAt(ErrParse, i, fmt.Sprintf("unknown symbolic value %q", b[i:j]), ""))
				}
				i = j
			case ':':
				// A namespace map: #:user{:id 1} is {:user/id 1}.
				j, ok := p.tokenEnd(i + 2)
				if !ok {
					return p.fail(errBadUTF8)
				}
				ns := string(b[i+2 : j])
				if k, ok := p.skipSpace(j); ok {
					j = k
				}
				if ns == "" || strings.Contains(ns, "/") || j >= n || b[j] != '{' || !validTagBytes(b[i+2:i+2+len(ns)]) {
					return p.fail(syntaxAt(ErrParse, i, fmt.Sprintf("a namespace map is #:ns{...}, got %q", short(string(b[i:min(j+1, n)]))), ""))
				}
				if err := p.push(frameNSMap, len(p.vals), 0, j+1); err != nil {
					return p.fail(err)
				}
				p.stack[len(p.stack)-1].ns = ns
				i = j + 1
				continue
			default:
				j, ok := p.tokenEnd(i + 1)
				if !ok {
					return p.fail(errBadUTF8)
				}
				if !validTagBytes(b[i+1 : j]) {
					p.setErr(syntaxAt(ErrParse, i, fmt.Sprintf("invalid tag %q", short(string(b[i:j]))), ""))
				}
				if err := p.push(frameTag, i+1, j, j); err != nil {
					return p.fail(err)
				}
				i = j
				continue
			}
		case '\\':
			var err error
			if v, i, err = p.char(i); err != nil {
				return p.fail(err)
			}
		default:
			j, ok := p.tokenEnd(i)
			if !ok {
				return p.fail(errBadUTF8)
			}
			v = p.atom(i, j)
			i = j
		}

		// A finished value satisfies pending tags (a tagged value is itself
		// a value) up to the nearest #_, which swallows it, or else goes
		// into the innermost collection or becomes the result.
		for {
			if len(p.stack) == 0 {
				result, resultTainted, done = v, tainted, true
				break
			}
			top := p.stack[len(p.stack)-1]
			if top.kind == frameTag {
				p.stack = p.stack[:len(p.stack)-1]
				if p.building() {
					var t bool
					v, t = p.tagged(top, v)
					tainted = tainted || t
				}
				continue
			}
			if top.kind == frameDiscard {
				p.stack = p.stack[:len(p.stack)-1]
				p.skip--
			} else if p.building() {
				if tainted {
					p.tainted = append(p.tainted, len(p.vals))
				}
				p.vals = append(p.vals, v)
			}
			break
		}
	}
	if !done {
		if len(p.stack) > 0 {
			return p.fail(syntaxEnd(len(b), fmt.Sprintf("unbalanced EDN: unexpected end of input with %d unclosed", len(p.stack))))
		}
		return p.fail(fmt.Errorf("%w: no EDN value in input", ErrParse))
	}
	if p.err != nil {
		return p.fail(p.err)
	}
	if resultTainted {
		return p.fail(p.lateErr)
	}
	return result, nil
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

// Byte classes of ASCII. Delimiters end a token: whitespace (commas
// included), quotes, backslashes, semicolons and brackets, as in olympos'
// lexer. Name bytes may appear in symbols, keywords and tags after the first.
const (
	classSpace = 1 << iota
	classDelim
	className
)

var asciiClass = func() (t [utf8.RuneSelf]uint8) {
	for _, c := range " \t\n\v\f\r," {
		t[c] = classSpace | classDelim
	}
	for _, c := range "\";\\()[]{}" {
		t[c] = classDelim
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = className
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = className
		t[c-'a'+'A'] = className
	}
	for _, c := range ".*+!-_?$%&=<>:#'" {
		t[c] = className
	}
	return t
}()

// skipSpace skips whitespace and comments from i; ok is false if it met
// invalid UTF-8.
func (p *parser) skipSpace(i int) (_ int, ok bool) {
	b := p.b
	for i < len(b) {
		c := b[i]
		if c < utf8.RuneSelf {
			if asciiClass[c]&classSpace != 0 {
				i++
				continue
			}
			if c != ';' {
				return i, true
			}
			end := len(b)
			if k := bytes.IndexByte(b[i:], '\n'); k >= 0 {
				end = i + k
			}
			if !utf8.Valid(b[i:end]) {
				return i, false
			}
			i = end
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i, false
		}
		if !unicode.IsSpace(r) {
			return i, true
		}
		i += size
	}
	return i, true
}

// tokenEnd returns the end of the token that continues at i; ok is false if
// it met invalid UTF-8.
func (p *parser) tokenEnd(i int) (_ int, ok bool) {
	b := p.b
	for i < len(b) {
		c := b[i]
		if c < utf8.RuneSelf {
			if asciiClass[c]&classDelim != 0 {
				return i, true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i, false
		}
		if unicode.IsSpace(r) {
			return i, true
		}
		i += size
	}
	return i, true
}

// str reads the string starting at the quote b[i] and returns it (nil when
// values are not being built) and the index after the closing quote.
func (p *parser) str(i int) (any, int, error) {
	b := p.b
	start := i + 1
	j := start
	for j < len(b) {
		c := b[j]
		if c == '"' {
			if !p.building() {
				return nil, j + 1, nil
			}
			return string(b[start:j]), j + 1, nil
		}
		if c == '\\' {
			return p.strEscaped(i, j)
		}
		if c < utf8.RuneSelf {
			j++
			continue
		}
		r, size := utf8.DecodeRune(b[j:])
		if r == utf8.RuneError && size == 1 {
			return nil, j, errBadUTF8
		}
		j += size
	}
	return nil, j, syntaxStarting(i, "unterminated string")
}

// strEscaped continues str from the first backslash at b[j]. An escaped
// UTF-16 surrogate pair is joined; a lone surrogate becomes U+FFFD.
func (p *parser) strEscaped(i, j int) (any, int, error) {
	b := p.b
	buf := append(p.buf[:0], b[i+1:j]...)
	bad := false
	for j < len(b) {
		c := b[j]
		switch {
		case c == '"':
			p.buf = buf
			if bad || !p.building() {
				return nil, j + 1, nil
			}
			return string(buf), j + 1, nil
		case c == '\\':
			if j+1 >= len(b) {
				j = len(b)
				continue
			}
			switch e := b[j+1]; e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				h, ok := hex4(b, j+2)
				if !ok {
					bad = true
					p.setErr(syntaxAt(ErrParse, j, "invalid \\u escape in string", ""))
					break
				}
				r := rune(h)
				if utf16IsHigh(h) {
					if lo, ok := hex4(b, j+8); ok && utf16IsLow(lo) && b[j+6] == '\\' && b[j+7] == 'u' {
						r = (r-0xD800)<<10 | (rune(lo) - 0xDC00) + 0x10000
						j += 6
					} else {
						r = utf8.RuneError
					}
				} else if utf16IsLow(h) {
					r = utf8.RuneError
				}
				buf = utf8.AppendRune(buf, r)
				j += 6
				continue
			default:
				bad = true
				p.setErr(syntaxAt(ErrParse, j, "invalid escape in string", ""))
				r, size := utf8.DecodeRune(b[j+1:])
				if r == utf8.RuneError && size == 1 {
					return nil, j + 1, errBadUTF8
				}
				j += 1 + size
				continue
			}
			j += 2
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			j++
		default:
			r, size := utf8.DecodeRune(b[j:])
			if r == utf8.RuneError && size == 1 {
				return nil, j, errBadUTF8
			}
			buf = append(buf, b[j:j+size]...)
			j += size
		}
	}
	p.buf = buf
	return nil, j, syntaxStarting(i, "unterminated string")
}

func utf16IsHigh(r uint32) bool { return r >= 0xD800 && r < 0xDC00 }
func utf16IsLow(r uint32) bool  { return r >= 0xDC00 && r < 0xE000 }

// hex4 decodes the four hex digits at b[i:i+4], if they are there.
func hex4(b []byte, i int) (uint32, bool) {
	if i < 0 || i+4 > len(b) {
		return 0, false
	}
	var v uint32
	for _, c := range b[i : i+4] {
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

// char reads the character literal starting at the backslash b[i]: one
// rune, \newline \return \space \tab \formfeed \backspace, or \uXXXX (kept
// as is, surrogates included).
func (p *parser) char(i int) (any, int, error) {
	b := p.b
	if i+1 >= len(b) {
		return nil, i, syntaxEnd(len(b), "unexpected end of input after '\\'")
	}
	r, size := utf8.DecodeRune(b[i+1:])
	if r == utf8.RuneError && size == 1 {
		return nil, i + 1, errBadUTF8
	}
	j, ok := p.tokenEnd(i + 1 + size)
	if !ok {
		return nil, j, errBadUTF8
	}
	rest := b[i+1+size : j]
	valid := true
	switch {
	case r == ',' || unicode.IsSpace(r):
		valid = false
	case len(rest) == 0:
	case r == 'u':
		h, ok := hex4(rest, 0)
		valid = ok && len(rest) == 4
		r = rune(h)
	default:
		switch string(b[i:j]) {
		case `\newline`:
			r = '\n'
		case `\return`:
			r = '\r'
		case `\space`:
			r = ' '
		case `\tab`:
			r = '\t'
		case `\formfeed`:
			r = '\f'
		case `\backspace`:
			r = '\b'
		default:
			valid = false
		}
	}
	if !valid {
		p.setErr(syntaxAt(ErrParse, i, fmt.Sprintf("invalid character literal %q", short(string(b[i:j]))), ""))
		return nil, j, nil
	}
	if !p.building() {
		return nil, j, nil
	}
	return edn.Rune(r), j, nil
}

// atom reads the symbol, keyword or number b[i:j], or nil, true or false.
func (p *parser) atom(i, j int) any {
	tok := p.b[i:j]
	c := tok[0]
	switch {
	case c == ':':
		return p.keyword(i, tok[1:])
	case '0' <= c && c <= '9', (c == '+' || c == '-') && len(tok) > 1 && '0' <= tok[1] && tok[1] <= '9':
		return p.number(i, tok)
	}
	switch string(tok) {
	case "nil":
		return nil
	case "true":
		return true
	case "false":
		return false
	}
	if !validSymbolBytes(tok) {
		p.setErr(syntaxAt(ErrParse, i, fmt.Sprintf("invalid token %q", short(string(tok))), ""))
		return nil
	}
	if !p.building() {
		return nil
	}
	return edn.Symbol(tok)
}

func (p *parser) keyword(i int, name []byte) any {
	if v, ok := keywordCache.get(name); ok {
		if !p.building() {
			return nil
		}
		return v
	}
	if !validNameBytes(name, true) {
		p.setErr(syntaxAt(ErrParse, i, fmt.Sprintf("invalid keyword %q", short(":"+string(name))), ""))
		return nil
	}
	if !p.building() {
		return nil
	}
	return keywordCache.add(name)
}

// number reads an integer (42, -7, 42N) or a float (1.5, 1e3, 1.5M) in
// olympos' grammar: no leading zeros, digits after a '.', N only on
// integers.
func (p *parser) number(pos int, tok []byte) any {
	k := 0
	if tok[0] == '+' || tok[0] == '-' {
		k = 1
	}
	if tok[k] == '0' {
		k++
	} else {
		k = skipDigits(tok, k)
	}
	isFloat, ok := false, true
	suffix := byte(0)
	if k < len(tok) && tok[k] == '.' {
		isFloat = true
		from := k + 1
		k = skipDigits(tok, from)
		ok = k > from
	}
	if ok && k < len(tok) && (tok[k] == 'e' || tok[k] == 'E') {
		isFloat = true
		k++
		if k < len(tok) && (tok[k] == '+' || tok[k] == '-') {
			k++
		}
		from := k
		k = skipDigits(tok, from)
		ok = k > from
	}
	if ok && k < len(tok) && (tok[k] == 'M' || tok[k] == 'N' && !isFloat) {
		suffix = tok[k]
		k++
	}
	if !ok || k != len(tok) {
		p.setErr(syntaxAt(ErrParse, pos, fmt.Sprintf("invalid number %q", short(string(tok))), ""))
		return nil
	}
	if !p.building() {
		return nil
	}
	if suffix == 'N' {
		n, _ := new(big.Int).SetString(string(tok[:len(tok)-1]), 10)
		return n
	}
	if !isFloat && suffix == 0 {
		if len(tok) <= 18 { // cannot overflow
			var n int64
			for _, c := range tok {
				if c >= '0' {
					n = n*10 + int64(c-'0')
				}
			}
			if tok[0] == '-' {
				n = -n
			}
			return n
		}
		n, err := strconv.ParseInt(string(tok), 10, 64)
		if err != nil {
			// Clojure reads an integer past int64 as a BigInt, and its printer
			// writes such values (JavaScript's whole doubles too) without N.
			z, ok := new(big.Int).SetString(strings.TrimPrefix(string(tok), "+"), 10)
			if !ok {
				p.setErr(fmt.Errorf("%w: malformed integer %s", ErrParse, short(string(tok))))
				return nil
			}
			return z
		}
		return n
	}
	s := tok
	if suffix == 'M' {
		s = tok[:len(tok)-1]
		if p.bigDecimalContext() {
			// Olympos reads 1.5M as a *big.Float when it decodes into an
			// interface directly (the top-level value, and the value of
			// #base64), so 1e400M is +Inf there instead of an error.
			mc := edn.GlobalMathContext
			f, _, err := new(big.Float).SetPrec(mc.Precision).SetMode(mc.Mode).Parse(string(s), 10)
			if err != nil {
				p.setErr(syntaxAt(ErrParse, pos, fmt.Sprintf("invalid number %q", short(string(tok))), ""))
				return nil
			}
			x, _ := f.Float64()
			return x
		}
	}
	f, err := strconv.ParseFloat(string(s), 64)
	if err != nil {
		p.setErr(fmt.Errorf("%w: float %s is out of range", ErrParse, short(string(tok))))
		return nil
	}
	return f
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}

func (p *parser) bigDecimalContext() bool {
	if len(p.stack) == 0 {
		return true
	}
	top := p.stack[len(p.stack)-1]
	return top.kind == frameTag && string(p.b[top.start:top.end]) == "base64"
}

// tagged applies the tag of frame f to v: #inst gives a time.Time in UTC,
// anything else a Tagged. A year beyond 0000-9999 taints the time.
func (p *parser) tagged(f frame, v any) (any, bool) {
	name := p.b[f.start:f.end]
	var tag string
	switch string(name) {
	case "inst":
		s, ok := v.(string)
		if !ok {
			p.setErr(fmt.Errorf("%w: #inst needs a string, got %s", ErrParse, describe(v)))
			return nil, false
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			p.setErr(fmt.Errorf("%w: #inst %q is not an RFC 3339 timestamp", ErrParse, short(s)))
			return nil, false
		}
		u := t.UTC()
		if y := u.Year(); y < 0 || y > 9999 {
			return u, p.late(fmt.Errorf("%w: #inst year %d is outside 0000-9999 in UTC", ErrParse, y))
		}
		return u, false
	case "uuid":
		tag = "uuid"
	case "base64":
		tag = "base64"
	case tagNaN, tagInf, tagNegInf:
		if v == nil {
			switch string(name) {
			case tagNaN:
				return math.NaN(), false
			case tagInf:
				return math.Inf(1), false
			}
			return math.Inf(-1), false
		}
		tag = string(name)
	default:
		tag = string(name)
	}
	return Tagged{Tag: tag, Value: v}, false
}

var (
	errCollectionKey error = &sentinelError{
		"wire: parse error: map keys and set elements that are collections are not supported",
		ErrParse,
	}
	errUnhashable error = &sentinelError{
		"wire: parse error: unhashable map key or set element: a tagged collection or a big integer",
		ErrParse,
	}
	errOddMap error = &sentinelError{"wire: parse error: a map needs an even number of forms", ErrParse}
)

// qualifyKeys gives the keys of a #:ns{...} map their namespace, as Clojure's
// reader does: bare keywords and symbols get ns, :_/name loses its namespace,
// and keys with another namespace or of other kinds stay as they are.
func qualifyKeys(elems []any, ns string) {
	for k := 0; k < len(elems); k += 2 {
		switch key := elems[k].(type) {
		case edn.Keyword:
			elems[k] = edn.Keyword(qualify(string(key), ns))
		case edn.Symbol:
			elems[k] = edn.Symbol(qualify(string(key), ns))
		}
	}
}

func qualify(name, ns string) string {
	if rest, ok := strings.CutPrefix(name, "_/"); ok {
		return rest
	}
	if strings.Contains(name, "/") && name != "/" {
		return name
	}
	return ns + "/" + name
}

func (p *parser) closeCollection(f frame) (any, bool) {
	elems := p.vals[f.start:]
	k := len(p.tainted)
	for k > 0 && p.tainted[k-1] >= f.start {
		k--
	}
	taints := p.tainted[k:] // indexes in vals of tainted elements
	var v any
	tainted := len(taints) > 0
	switch f.kind {
	case '(', '[':
		s := make([]any, len(elems))
		copy(s, elems)
		v = s
	case '{':
		v, tainted = p.makeMap(elems, taints, f.start)
	case frameNSMap:
		qualifyKeys(elems, f.ns)
		v, tainted = p.makeMap(elems, taints, f.start)
	default:
		v, tainted = p.makeSet(elems, tainted)
	}
	p.tainted = p.tainted[:k]
	clear(elems)
	p.vals = p.vals[:f.start]
	return v, tainted
}

// Kinds of map keys and set elements: plainKey can go into a Go map as is;
// nanKey contains a NaN, which Go maps never find again, so such keys are
// deduplicated by hand; collKey is a collection, which olympos kept by
// pointer and rejected late (see parser.tainted); badKey is an error.
const (
	plainKey = iota
	nanKey
	collKey
	badKey
)

func keyKind(k any) (int, error) {
	switch x := k.(type) {
	case string, edn.Keyword, int64, nil, bool, edn.Symbol, edn.Rune, time.Time:
		return plainKey, nil
	case float64:
		if x != x {
			return nanKey, nil
		}
		return plainKey, nil
	case []any, map[any]any, map[any]bool:
		return collKey, errCollectionKey
	case *big.Int:
		// Olympos read 1N as a big.Int value, which a Go map cannot hash.
		return badKey, errUnhashable
	case Tagged:
		for parent := x.Tag; ; {
			switch y := x.Value.(type) {
			case Tagged:
				parent, x = y.Tag, y
				continue
			case float64:
				if y != y {
					return nanKey, nil
				}
			case []any, map[any]any, map[any]bool:
				return badKey, errUnhashable
			case *big.Int:
				// #base64 1N was the one place olympos made a *big.Int.
				if parent != "base64" {
					return badKey, errUnhashable
				}
			}
			return plainKey, nil
		}
	}
	return plainKey, nil
}

// makeMap builds a map from keys and values alternating in elems; taints
// are the indexes (offset by start) of tainted elements. The map is tainted
// if a key is, or a value that no later duplicate key replaces.
func (p *parser) makeMap(elems []any, taints []int, start int) (any, bool) {
	if len(elems)%2 != 0 {
		p.setErr(errOddMap)
		return nil, false
	}
	m := make(map[any]any, len(elems)/2)
	tainted := false
	for _, t := range taints {
		if (t-start)%2 == 0 {
			tainted = true
		}
	}
	if !tainted && len(taints) > 0 {
		return p.makeMapBackwards(m, elems, taints, start)
	}
	var nans nanKeys
	for k := 0; k < len(elems); k += 2 {
		switch kind, err := keyKind(elems[k]); kind {
		case plainKey:
			m[elems[k]] = elems[k+1]
		case nanKey:
			nans.add(elems[k], elems[k+1], true)
		case collKey:
			tainted = p.late(err)
		default:
			p.setErr(err)
			return nil, false
		}
	}
	for _, e := range nans.entries {
		m[e.key] = e.value
	}
	return m, tainted
}

// makeMapBackwards is makeMap for maps with tainted values: it goes from
// the last pair to the first and skips keys it has, which gives the same
// map as going forwards and overwriting, and tells which values remain.
func (p *parser) makeMapBackwards(m map[any]any, elems []any, taints []int, start int) (any, bool) {
	tainted := false
	var nans nanKeys
	next := len(taints) - 1
	for k := len(elems) - 2; k >= 0; k -= 2 {
		valueTainted := next >= 0 && taints[next]-start == k+1
		if valueTainted {
			next--
		}
		added := false
		switch kind, err := keyKind(elems[k]); kind {
		case plainKey:
			if _, dup := m[elems[k]]; !dup {
				m[elems[k]] = elems[k+1]
				added = true
			}
		case nanKey:
			added = nans.add(elems[k], elems[k+1], false)
		case collKey:
			tainted = p.late(err)
		default:
			p.setErr(err)
			return nil, false
		}
		if added && valueTainted {
			tainted = true
		}
	}
	for _, e := range nans.entries {
		m[e.key] = e.value
	}
	return m, tainted
}

func (p *parser) makeSet(elems []any, tainted bool) (any, bool) {
	s := make(map[any]bool, len(elems))
	var nans nanKeys
	for _, e := range elems {
		switch kind, err := keyKind(e); kind {
		case plainKey:
			s[e] = true
		case nanKey:
			nans.add(e, nil, true)
		case collKey:
			tainted = p.late(err)
		default:
			p.setErr(err)
			return nil, false
		}
	}
	for _, e := range nans.entries {
		s[e.key] = true
	}
	return s, tainted
}

// nanKeys collects the entries of a map or set whose keys contain NaN,
// which a Go map would keep apart even when they are equal: ##NaN and ##NaN,
// or #t ##NaN and #t ##NaN.
type nanKeys struct {
	entries []struct{ key, value any }
	index   map[string]int // by the tags around NaN
}

// add adds an entry and reports whether its key was new; for a key it has,
// it replaces the value if replace is true.
func (n *nanKeys) add(key, value any, replace bool) bool {
	var id []byte
	for k := key; ; {
		t, ok := k.(Tagged)
		if !ok {
			break
		}
		id = append(append(id, t.Tag...), ' ') // tags have no spaces
		k = t.Value
	}
	if n.index == nil {
		n.index = make(map[string]int)
	}
	if i, ok := n.index[string(id)]; ok {
		if replace {
			n.entries[i] = struct{ key, value any }{key, value}
		}
		return false
	}
	n.index[string(id)] = len(n.entries)
	n.entries = append(n.entries, struct{ key, value any }{key, value})
	return true
}

// validNameBytes checks a keyword name (without the colon) or, with
// keyword false, the rest of a symbol or tag after its first rune: name
// runes (letters, digits, .*+!-_?$%&=<>:#') with at most one '/', which must
// be followed by more. A keyword name may not start with ':' or '/'.
func validNameBytes(s []byte, keyword bool) bool {
	if keyword && (len(s) == 0 || s[0] == ':' || s[0] == '/') {
		return false
	}
	slash, afterSlash := false, false
	for i := 0; i < len(s); {
		c := s[i]
		if c == '/' {
			if slash {
				return false
			}
			slash = true
			i++
			continue
		}
		if c < utf8.RuneSelf {
			if asciiClass[c]&className == 0 {
				return false
			}
			i++
		} else {
			r, size := utf8.DecodeRune(s[i:])
			if !unicode.IsLetter(r) {
				return false
			}
			i += size
		}
		if slash {
			afterSlash = true
		}
	}
	return !slash || afterSlash
}

// validSymbolBytes is validSymbol for a token that is not nil, true, false
// or a number.
func validSymbolBytes(s []byte) bool {
	c := s[0]
	if c == '/' {
		return len(s) == 1
	}
	size := 1
	if c < utf8.RuneSelf {
		switch c {
		case '.', '*', '+', '!', '-', '_', '?', '$', '%', '&', '=', '<', '>':
		default:
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
				return false
			}
		}
	} else {
		var r rune
		r, size = utf8.DecodeRune(s)
		if !unicode.IsLetter(r) {
			return false
		}
	}
	if c == '.' && len(s) > 1 && '0' <= s[1] && s[1] <= '9' {
		return false // .5 is not a number in EDN, nor a symbol
	}
	return validNameBytes(s[size:], false)
}

// validTagBytes is validTag: a letter, then what a symbol allows.
func validTagBytes(s []byte) bool {
	if len(s) == 0 {
		return false
	}
	c := s[0]
	size := 1
	if c < utf8.RuneSelf {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	} else {
		var r rune
		r, size = utf8.DecodeRune(s)
		if !unicode.IsLetter(r) {
			return false
		}
	}
	return validNameBytes(s[size:], false)
}

// keywordCache holds boxed keywords, so a keyword seen before costs no
// allocation: protocol vocabulary (:channel-id, :id, :status...) repeats in
// every frame. It is direct-mapped and overwrites on collision, so peers
// sending ever new keywords cannot grow it; entries are immutable.
var keywordCache = newKwCache()

const (
	kwCacheSlots  = 1 << 11
	kwCacheMaxLen = 64
)

type kwEntry struct {
	name string
	v    any // edn.Keyword(name)
}

type kwCache struct {
	seed  maphash.Seed
	slots [kwCacheSlots]atomic.Pointer[kwEntry]
}

func newKwCache() *kwCache { return &kwCache{seed: maphash.MakeSeed()} }

func (c *kwCache) slot(name []byte) *atomic.Pointer[kwEntry] {
	return &c.slots[maphash.Bytes(c.seed, name)&(kwCacheSlots-1)]
}

func (c *kwCache) get(name []byte) (any, bool) {
	if len(name) > kwCacheMaxLen {
		return nil, false
	}
	if e := c.slot(name).Load(); e != nil && e.name == string(name) {
		return e.v, true
	}
	return nil, false
}

// add boxes a validated keyword name and caches it if it is short.
func (c *kwCache) add(name []byte) any {
	s := string(name)
	v := any(edn.Keyword(s))
	if len(name) <= kwCacheMaxLen {
		c.slot(name).Store(&kwEntry{s, v})
	}
	return v
}
