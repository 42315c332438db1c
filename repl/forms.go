package repl

import (
	"bytes"
	"fmt"
	"unicode/utf8"
)

// Form is one complete top-level form read from the input.
type Form struct {
	Text         string
	Line, Column int // where the form starts, 1-based (columns count characters)
}

// SyntaxError is input that no further input can make readable, such as a
// closing delimiter with nothing open or one that does not match.
type SyntaxError struct {
	Line, Column int // of the offending character, 1-based
	Msg          string
	// Unfinished: the input ended before the form did (End's error), as
	// opposed to a character that cannot be read.
	Unfinished bool
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Msg)
}

// frame is an open construct: a collection waiting for its closer, or a prefix
// (' ` ~ @ ^ #' #_ #? #:ns #tag ...) waiting for the forms it applies to.
type frame struct {
	closer  byte // ')' ']' '}' for a collection; 0 for a prefix
	open    int  // buffer offset of the opener, for messages
	need    int  // prefix: forms still needed
	discard bool // prefix #_: the form it takes is dropped
}

// Splitter reads Clojure text just far enough to tell where top-level forms end,
// the way a REPL decides whether to evaluate or to ask for another line. It
// knows strings and regexes (with escapes), character literals such as \( \"
// \; and \newline, ; and #! comments, #_ discards, reader conditionals, tagged
// literals, metadata and quote-like prefixes. It does not check tokens: the
// server reports bad numbers or symbols.
//
// Feed it whole lines (ending in "\n"), or a whole text: a token that ends the
// input is taken as complete.
type Splitter struct {
	buf   []byte // unconsumed input
	pos   int    // scan position in buf
	start int    // buf offset where the pending top-level form began; -1 if none
	stack []frame

	inString bool
	strOpen  int // buf offset of the open string's quote

	// Position of buf[0] in the whole input, and a cursor to turn buf offsets
	// into lines and columns without rescanning from the start each time.
	baseLine, baseCol int
	cur               struct{ off, line, col int }
}

// NewSplitter returns a Splitter at line 1, column 1.
func NewSplitter() *Splitter {
	s := &Splitter{}
	s.Reset()
	return s
}

// Reset forgets any pending input; positions keep counting from where they were.
func (s *Splitter) Reset() {
	if s.baseLine == 0 {
		s.baseLine, s.baseCol = 1, 1
	}
	s.trim(len(s.buf))
	s.pos, s.start, s.stack, s.inString = 0, -1, s.stack[:0], false
}

// Pending reports whether an unfinished form is waiting for more input.
func (s *Splitter) Pending() bool {
	return len(s.stack) > 0 || s.inString || s.pos < len(s.buf)
}

// Feed adds text and returns the top-level forms it completed, in order.
// Comments, whitespace and #_-discarded forms between forms are dropped.
//
// On a syntax error Feed returns the forms completed before it and a
// *SyntaxError; the rest of the line holding the error is dropped with the
// unfinished form, and Feed("") goes on with whatever input followed that line.
func (s *Splitter) Feed(text string) ([]Form, error) {
	s.buf = append(s.buf, text...)
	var forms []Form
	err := s.scan(&forms)
	if err != nil {
		// Resume after the line with the error.
		skip := len(s.buf)
		if i := bytes.IndexByte(s.buf[s.pos:], '\n'); i >= 0 {
			skip = s.pos + i + 1
		}
		s.stack, s.inString, s.start = s.stack[:0], false, -1
		s.pos = skip
	}
	cut := s.pos
	if s.start >= 0 && s.start < cut {
		cut = s.start
	}
	s.trim(cut)
	return forms, err
}

// End reports an unfinished form at the end of the input as a *SyntaxError,
// naming where it was opened; nil when nothing is pending.
func (s *Splitter) End() error {
	if err := s.unfinished(); err != nil {
		err.Unfinished = true
		return err
	}
	return nil
}

// unfinished is End's error, or nil when nothing is pending.
func (s *Splitter) unfinished() *SyntaxError {
	switch {
	case s.inString:
		return s.errorAt(s.strOpen, "the input ended inside a string opened here")
	case len(s.stack) > 0:
		for i := len(s.stack) - 1; i >= 0; i-- {
			if f := s.stack[i]; f.closer != 0 {
				return s.errorAt(f.open, fmt.Sprintf("the input ended before the %c opened here was closed with %c", s.buf[f.open], f.closer))
			}
		}
		f := s.stack[len(s.stack)-1]
		return s.errorAt(f.open, fmt.Sprintf("the input ended before the form that the %s here applies to", s.prefixText(f.open)))
	case s.pos < len(s.buf):
		return s.errorAt(s.pos, "the input ended in the middle of a form")
	}
	return nil
}

// Split reads a whole text into its top-level forms. Unfinished input at the
// end is an error, like any *SyntaxError.
func Split(src string) ([]Form, error) {
	s := NewSplitter()
	forms, err := s.Feed(src)
	if err != nil {
		return forms, err
	}
	return forms, s.End()
}

// Balanced reports whether src is ready to evaluate: every form in it is
// complete. An unmatched closing delimiter is an error.
func Balanced(src string) (bool, error) {
	s := NewSplitter()
	if _, err := s.Feed(src); err != nil {
		return false, err
	}
	return !s.Pending(), nil
}

// trim drops buf[:n], moving the base position past it.
func (s *Splitter) trim(n int) {
	if n <= 0 {
		return
	}
	s.baseLine, s.baseCol = s.position(n)
	s.buf = s.buf[:copy(s.buf, s.buf[n:])]
	s.pos -= n
	if s.start >= 0 {
		s.start -= n
	}
	if s.inString {
		s.strOpen -= n
	}
	for i := range s.stack {
		s.stack[i].open -= n
	}
	s.cur.off, s.cur.line, s.cur.col = 0, s.baseLine, s.baseCol
}

// position turns a buf offset into a line and column.
func (s *Splitter) position(off int) (line, col int) {
	if off < s.cur.off || s.cur.line == 0 {
		s.cur.off, s.cur.line, s.cur.col = 0, s.baseLine, s.baseCol
	}
	for s.cur.off < off && s.cur.off < len(s.buf) {
		r, size := utf8.DecodeRune(s.buf[s.cur.off:])
		if r == '\n' {
			s.cur.line, s.cur.col = s.cur.line+1, 1
		} else {
			s.cur.col++
		}
		s.cur.off += size
	}
	return s.cur.line, s.cur.col
}

func (s *Splitter) errorAt(off int, msg string) *SyntaxError {
	line, col := s.position(off)
	return &SyntaxError{Line: line, Column: col, Msg: msg}
}

func isSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\f', '\v', ',':
		return true
	}
	return false
}

// isDelimiter ends a token: whitespace and Clojure's terminating macro characters.
func isDelimiter(c byte) bool {
	switch c {
	case '"', ';', '@', '^', '`', '~', '(', ')', '[', ']', '{', '}', '\\':
		return true
	}
	return isSpace(c)
}

func (s *Splitter) token() {
	for s.pos < len(s.buf) && !isDelimiter(s.buf[s.pos]) {
		s.pos++
	}
}

func (s *Splitter) skipLine() {
	if i := bytes.IndexByte(s.buf[s.pos:], '\n'); i >= 0 {
		s.pos += i + 1
	} else {
		s.pos = len(s.buf)
	}
}

func (s *Splitter) prefix(at, need int, discard bool) {
	s.stack = append(s.stack, frame{open: at, need: need, discard: discard})
}

// scan reads from pos to the end of buf, appending finished forms. It stops
// early, leaving pos at the construct, when a construct needs more input to be
// told apart (a lone # or \ at the very end).
func (s *Splitter) scan(forms *[]Form) error {
	for s.pos < len(s.buf) {
		if s.inString {
			if !s.stringBody() {
				return nil
			}
			s.complete(forms, true)
			continue
		}
		c := s.buf[s.pos]
		if isSpace(c) {
			s.pos++
			continue
		}
		if c == ';' {
			s.skipLine()
			continue
		}
		at := s.pos
		if len(s.stack) == 0 && s.start < 0 {
			s.start = at
		}
		switch c {
		case '(', '[', '{':
			s.stack = append(s.stack, frame{closer: closerOf(c), open: at})
			s.pos++
		case ')', ']', '}':
			if n := len(s.stack); n > 0 && s.stack[n-1].closer == c {
				s.stack = s.stack[:n-1]
				s.pos++
				s.complete(forms, true)
				continue
			}
			return s.unmatched(at, c)
		case '"':
			s.pos++
			s.inString, s.strOpen = true, at
		case '\\':
			if at+1 >= len(s.buf) {
				return nil // the character itself has not arrived yet
			}
			r, size := utf8.DecodeRune(s.buf[at+1:])
			s.pos = at + 1 + size
			if r > ' ' {
				s.token() // \newline, \u00e9, \o377 ...
			}
			s.complete(forms, true)
		case '\'', '`', '@':
			s.pos++
			s.prefix(at, 1, false)
		case '~':
			if at+1 >= len(s.buf) {
				return nil
			}
			s.pos++
			if s.buf[s.pos] == '@' {
				s.pos++
			}
			s.prefix(at, 1, false)
		case '^':
			s.pos++
			s.prefix(at, 2, false) // the metadata, then what it is attached to
		case '#':
			if at+1 >= len(s.buf) {
				return nil
			}
			if done := s.dispatch(at); done {
				s.complete(forms, true)
			}
		default:
			s.token()
			s.complete(forms, true)
		}
	}
	return nil
}

// dispatch reads the construct after #; it reports whether a whole form ended.
func (s *Splitter) dispatch(at int) (formDone bool) {
	d := s.buf[at+1]
	s.pos = at + 2
	switch d {
	case '{':
		s.stack = append(s.stack, frame{closer: '}', open: at + 1})
	case '(':
		s.stack = append(s.stack, frame{closer: ')', open: at + 1})
	case '"': // regex
		s.inString, s.strOpen = true, at+1
	case '_':
		s.prefix(at, 1, true)
	case '\'', '=': // var quote, read-eval
		s.prefix(at, 1, false)
	case '^': // old-style metadata
		s.prefix(at, 2, false)
	case '?': // reader conditional #?( or #?@(
		if s.pos < len(s.buf) && s.buf[s.pos] == '@' {
			s.pos++
		}
		s.prefix(at, 1, false)
	case ':': // namespaced map #:ns{...}, #::{...}, #::alias{...}
		s.token()
		s.prefix(at, 1, false)
	case '#': // ##Inf ##-Inf ##NaN
		s.token()
		return true
	case '!': // comment to end of line, as for a shebang
		s.skipLine()
		if len(s.stack) == 0 {
			s.start = -1
		}
	default: // tagged literal: #inst "...", #js {...}, #uuid "..."
		s.pos = at + 1
		s.token()
		s.prefix(at, 1, false)
	}
	return false
}

// stringBody scans to the closing quote of the open string or regex; false
// means the input ended first.
func (s *Splitter) stringBody() bool {
	for s.pos < len(s.buf) {
		switch s.buf[s.pos] {
		case '\\':
			if s.pos+1 >= len(s.buf) {
				return false // resume at the backslash
			}
			s.pos += 2
		case '"':
			s.pos++
			s.inString = false
			return true
		default:
			s.pos++
		}
	}
	return false
}

// complete records that a form ended at pos. real is false for a form a #_
// dropped. Prefixes waiting for forms take it; at top level it is emitted.
func (s *Splitter) complete(forms *[]Form, real bool) {
	for {
		n := len(s.stack)
		if n == 0 {
			if real && s.start >= 0 {
				line, col := s.position(s.start)
				*forms = append(*forms, Form{Text: string(s.buf[s.start:s.pos]), Line: line, Column: col})
			}
			s.start = -1
			return
		}
		top := &s.stack[n-1]
		if top.closer != 0 || !real {
			// An element of a collection, or a dropped form nothing counts.
			return
		}
		top.need--
		if top.need > 0 {
			return
		}
		real = !top.discard
		s.stack = s.stack[:n-1]
	}
}

func closerOf(open byte) byte {
	switch open {
	case '(':
		return ')'
	case '[':
		return ']'
	}
	return '}'
}

func (s *Splitter) unmatched(at int, c byte) error {
	if n := len(s.stack); n > 0 && s.stack[n-1].closer == 0 {
		f := s.stack[n-1]
		line, col := s.position(f.open)
		s.pos = at
		return s.errorAt(at, fmt.Sprintf("unexpected %c: the %s at line %d, column %d needs a form after it", c, s.prefixText(f.open), line, col))
	}
	for i := len(s.stack) - 1; i >= 0; i-- {
		if f := s.stack[i]; f.closer != 0 {
			line, col := s.position(f.open)
			s.pos = at
			return s.errorAt(at, fmt.Sprintf("unmatched delimiter %c: expected %c to close the %c at line %d, column %d", c, f.closer, s.buf[f.open], line, col))
		}
	}
	s.pos = at
	return s.errorAt(at, fmt.Sprintf("unmatched delimiter %c: nothing is open", c))
}

// prefixText names the prefix at off for messages: ', ^, #_, #? ...
func (s *Splitter) prefixText(off int) string {
	if s.buf[off] == '#' && off+1 < len(s.buf) {
		return string(s.buf[off : off+2])
	}
	return string(s.buf[off])
}

// OneLine rewrites a multi-line input as one line with the same meaning, for a
// history file that holds one entry per line: comments are dropped, newlines
// between tokens become spaces, and newlines inside strings become \n.
func OneLine(src string) string {
	var b []byte
	inString := false
	joined := false // the last byte out is the space that replaced a line break
	for i := 0; i < len(src); i++ {
		c := src[i]
		if joined && !inString && (c == ' ' || c == '\t') {
			continue // indentation of the next line
		}
		joined = false
		switch {
		case inString:
			switch c {
			case '\\':
				b = append(b, c)
				if i+1 < len(src) {
					i++
					b = append(b, src[i])
				}
				continue
			case '"':
				inString = false
			case '\n':
				b = append(b, '\\', 'n')
				continue
			case '\r':
				b = append(b, '\\', 'r')
				continue
			}
			b = append(b, c)
		case c == '"':
			inString = true
			b = append(b, c)
		case c == '\\':
			if i+1 >= len(src) {
				b = append(b, c)
				continue
			}
			switch src[i+1] {
			case '\n':
				b = append(b, `\newline`...)
				i++
			case '\r':
				b = append(b, `\return`...)
				i++
			default:
				_, size := utf8.DecodeRuneInString(src[i+1:])
				b = append(b, src[i:i+1+size]...)
				i += size
			}
		case c == ';':
			for i+1 < len(src) && src[i+1] != '\n' {
				i++
			}
		case c == '\n' || c == '\r':
			if len(b) > 0 && b[len(b)-1] != ' ' {
				b = append(b, ' ')
			}
			joined = len(b) > 0
		default:
			b = append(b, c)
		}
	}
	return string(bytes.TrimRight(b, " "))
}
