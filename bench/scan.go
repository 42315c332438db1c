package bench

import "bytes"

// eachEvent calls fn with the bytes of every event in a sente-lite frame: the
// frame itself when it is one event [:ns/id data], each element when it is a
// batch [[:ns/id data] [:ns/id data]]. It understands just enough EDN to find
// where each element ends (strings with escapes, character literals,
// comments and brackets), which makes it many times cheaper than decoding
// the frame; it is exact for frames printed by wire.Print. It reports false
// when the frame is not a vector.
func eachEvent(frame []byte, fn func(ev []byte)) bool {
	i := skipSpace(frame, 0)
	if i >= len(frame) || frame[i] != '[' {
		return false
	}
	j := skipSpace(frame, i+1)
	if j >= len(frame) || frame[j] != '[' {
		fn(frame[i:]) // a single event (or some other vector)
		return true
	}
	for j < len(frame) && frame[j] != ']' {
		end := formEnd(frame, j)
		if end < 0 {
			return false
		}
		if frame[j] == '[' {
			fn(frame[j:end])
		}
		j = skipSpace(frame, end)
	}
	return true
}

// countEvents counts the events named id (with its colon, e.g.
// ":sente-lite/channel-msg") in a frame.
func countEvents(frame []byte, id string) int {
	n := 0
	eachEvent(frame, func(ev []byte) {
		if isEvent(ev, id) {
			n++
		}
	})
	return n
}

// isEvent reports whether ev is the vector [id ...].
func isEvent(ev []byte, id string) bool {
	if len(ev) < len(id)+2 || ev[0] != '[' {
		return false
	}
	rest := ev[1:]
	if !bytes.HasPrefix(rest, []byte(id)) {
		return false
	}
	c := rest[len(id)]
	return c == ' ' || c == ']' || c == ',' || c == '\n' || c == '\t'
}

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', ',', '\n', '\t', '\r':
			i++
		case ';':
			for i < len(b) && b[i] != '\n' {
				i++
			}
		default:
			return i
		}
	}
	return i
}

// formEnd returns the index just past the form starting at b[i], or -1 when
// the frame ends first.
func formEnd(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		switch c := b[i]; c {
		case '"':
			if i = stringEnd(b, i+1); i < 0 {
				return -1
			}
			continue
		case '\\': // a character literal: \a \[ \newline
			i++
		case ';':
			for i < len(b) && b[i] != '\n' {
				i++
			}
			continue
		case '[', '(', '{':
			depth++
		case ']', ')', '}':
			depth--
		default:
			if depth == 0 {
				// A scalar at top level: it ends at the next delimiter.
				for i < len(b) && !isDelim(b[i]) {
					i++
				}
				return i
			}
		}
		i++
		if depth == 0 {
			return i
		}
	}
	return -1
}

// stringEnd returns the index just past the string whose body starts at
// b[i], or -1 when it is not closed. Most strings have no escapes, so it
// looks for the closing quote with bytes.IndexByte first.
func stringEnd(b []byte, i int) int {
	j := bytes.IndexByte(b[i:], '"')
	if j < 0 {
		return -1
	}
	if bytes.IndexByte(b[i:i+j], '\\') < 0 {
		return i + j + 1
	}
	for i < len(b) {
		switch b[i] {
		case '\\':
			i += 2
			continue
		case '"':
			return i + 1
		}
		i++
	}
	return -1
}

func isDelim(c byte) bool {
	switch c {
	case ' ', ',', '\n', '\t', '\r', '[', ']', '(', ')', '{', '}', '"', ';':
		return true
	}
	return false
}
