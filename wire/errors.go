package wire

import (
	"errors"
	"strconv"
	"strings"
)

// ErrParse is wrapped by every error DecodeFrame, Parse and ParseHandshake
// return, so a server can count and log bad input with one errors.Is check.
var ErrParse = errors.New("wire: parse error")

// ErrTooLarge is returned when input exceeds Limits.MaxBytes. It wraps
// ErrParse; it is separate so a server can close the connection instead of
// just dropping the frame.
var ErrTooLarge error = &sentinelError{"wire: frame too large", ErrParse}

// ErrTooDeep is returned when input nests deeper than Limits.MaxDepth. It
// wraps ErrParse.
var ErrTooDeep error = &sentinelError{"wire: EDN nested too deep", ErrParse}

// ErrV1Format is returned for a top-level map: the retired sente-lite v1
// format. The message tells the peer what to send instead. It wraps ErrParse.
var ErrV1Format error = &sentinelError{
	"wire: v1 map messages are not supported; send an event vector [:ns/event data] (sente-lite v2)",
	ErrParse,
}

// sentinelError lets a sentinel carry its own message and still match
// ErrParse, which errors.New cannot express.
type sentinelError struct {
	msg    string
	parent error
}

func (e *sentinelError) Error() string { return e.msg }
func (e *sentinelError) Unwrap() error { return e.parent }

// SyntaxError is an error of Parse (and so of DecodeFrame) that points at a
// byte of the input: where it is malformed, nested too deep, or ends early.
// It wraps ErrParse (ErrTooDeep for nesting). Errors that name no byte (a
// float out of range, a collection as a map key) are not SyntaxErrors.
type SyntaxError struct {
	Offset int    // the byte, from 0; the input's length when it ended early
	Detail string // what is wrong, without the position: "invalid keyword \":\""
	msg    string
	kind   error
}

func (e *SyntaxError) Error() string { return e.msg }
func (e *SyntaxError) Unwrap() error { return e.kind }

// syntaxAt is "KIND: DETAIL at byte OFF" + after, with Detail DETAIL + after
// (after the kind's own words, unless it is plain ErrParse).
func syntaxAt(kind error, off int, detail, after string) *SyntaxError {
	e := &SyntaxError{Offset: off, Detail: detail + after, kind: kind,
		msg: kind.Error() + ": " + detail + " at byte " + strconv.Itoa(off) + after}
	if kind != ErrParse {
		// "EDN nested too deep: more than 100 levels"
		e.Detail = strings.TrimPrefix(kind.Error(), "wire: ") + ": " + e.Detail
	}
	return e
}

// syntaxStarting is "wire: parse error: DETAIL starting at byte OFF".
func syntaxStarting(off int, detail string) *SyntaxError {
	return &SyntaxError{Offset: off, Detail: detail, kind: ErrParse,
		msg: ErrParse.Error() + ": " + detail + " starting at byte " + strconv.Itoa(off)}
}

// syntaxEnd is input that ended early: the message names no byte, Offset is
// the input's length.
func syntaxEnd(length int, detail string) *SyntaxError {
	return &SyntaxError{Offset: length, Detail: detail, kind: ErrParse, msg: ErrParse.Error() + ": " + detail}
}

// Reason is a Parse error's words without the package's prefix ("wire: parse
// error: ") and, for a SyntaxError, without the position: what a command
// shows a user next to where the input broke.
func Reason(err error) string {
	var se *SyntaxError
	if errors.As(err, &se) {
		return se.Detail
	}
	msg := strings.TrimPrefix(err.Error(), ErrParse.Error()+": ")
	return strings.TrimPrefix(msg, "wire: ")
}
