package wire

import "errors"

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
