package nrepl

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
)

// maxEncodeDepth stops a cyclic Msg built in Go from recursing forever.
const maxEncodeDepth = 1000

// Encode writes m to w as one bencode dictionary with sorted keys. It writes
// nothing when m cannot be encoded, so a failed Encode never leaves half a
// message on a connection.
func Encode(w io.Writer, m Msg) error {
	b, err := AppendEncode(make([]byte, 0, 256), m)
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("nrepl: write message: %w", err)
	}
	return nil
}

// AppendEncode appends the bencode form of m to dst.
//
// Values may be string, []byte, any Go integer type, bool (sent as
// "true"/"false" because bencode has no booleans), []any, []string,
// []map[string]any, []Msg, map[string]any, map[string]string or Msg, nested
// freely. A nil value in a dictionary omits the key, matching how nREPL
// treats nil. On error dst is returned unchanged.
func AppendEncode(dst []byte, m Msg) ([]byte, error) {
	out, err := appendDict(dst, map[string]any(m), 0)
	if err != nil {
		return dst, err
	}
	return out, nil
}

func appendString(dst []byte, s string) []byte {
	dst = strconv.AppendInt(dst, int64(len(s)), 10)
	dst = append(dst, ':')
	return append(dst, s...)
}

func appendInt(dst []byte, i int64) []byte {
	dst = append(dst, 'i')
	dst = strconv.AppendInt(dst, i, 10)
	return append(dst, 'e')
}

// sortedKeys returns the keys of m in byte order (bencode requires it) using
// buf as backing storage to avoid an allocation for small dictionaries.
func sortedKeys[V any](m map[string]V, buf []string) []string {
	keys := buf[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func appendDict(dst []byte, m map[string]any, depth int) ([]byte, error) {
	if depth > maxEncodeDepth {
		return dst, fmt.Errorf("nrepl: cannot encode message: nested deeper than %d levels", maxEncodeDepth)
	}
	var buf [16]string
	dst = append(dst, 'd')
	var err error
	for _, k := range sortedKeys(m, buf[:]) {
		v := m[k]
		if v == nil {
			continue
		}
		dst = appendString(dst, k)
		if dst, err = appendValue(dst, v, depth+1); err != nil {
			return dst, fmt.Errorf("%w (key %q)", err, k)
		}
	}
	return append(dst, 'e'), nil
}

func appendValue(dst []byte, v any, depth int) ([]byte, error) {
	var err error
	switch x := v.(type) {
	case string:
		return appendString(dst, x), nil
	case []byte:
		dst = strconv.AppendInt(dst, int64(len(x)), 10)
		dst = append(dst, ':')
		return append(dst, x...), nil
	case int64:
		return appendInt(dst, x), nil
	case int:
		return appendInt(dst, int64(x)), nil
	case int32:
		return appendInt(dst, int64(x)), nil
	case int16:
		return appendInt(dst, int64(x)), nil
	case int8:
		return appendInt(dst, int64(x)), nil
	case uint:
		return appendUint(dst, uint64(x))
	case uint64:
		return appendUint(dst, x)
	case uint32:
		return appendInt(dst, int64(x)), nil
	case uint16:
		return appendInt(dst, int64(x)), nil
	case uint8:
		return appendInt(dst, int64(x)), nil
	case bool:
		if x {
			return appendString(dst, "true"), nil
		}
		return appendString(dst, "false"), nil
	case Msg:
		return appendDict(dst, map[string]any(x), depth)
	case map[string]any:
		return appendDict(dst, x, depth)
	case map[string]string:
		var buf [16]string
		dst = append(dst, 'd')
		for _, k := range sortedKeys(x, buf[:]) {
			dst = appendString(dst, k)
			dst = appendString(dst, x[k])
		}
		return append(dst, 'e'), nil
	case []any:
		if depth > maxEncodeDepth {
			return dst, fmt.Errorf("nrepl: cannot encode message: nested deeper than %d levels", maxEncodeDepth)
		}
		dst = append(dst, 'l')
		for i, e := range x {
			if e == nil {
				return dst, fmt.Errorf("nrepl: cannot encode nil list element %d", i)
			}
			if dst, err = appendValue(dst, e, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, 'e'), nil
	case []string:
		dst = append(dst, 'l')
		for _, e := range x {
			dst = appendString(dst, e)
		}
		return append(dst, 'e'), nil
	case []map[string]any:
		dst = append(dst, 'l')
		for _, e := range x {
			if dst, err = appendDict(dst, e, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, 'e'), nil
	case []Msg:
		dst = append(dst, 'l')
		for _, e := range x {
			if dst, err = appendDict(dst, map[string]any(e), depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, 'e'), nil
	}
	return dst, fmt.Errorf("nrepl: cannot encode value of type %T", v)
}

// appendUint refuses values above math.MaxInt64 because the Decoder (and most
// nREPL peers) only accept 64-bit signed integers.
func appendUint(dst []byte, u uint64) ([]byte, error) {
	if u > math.MaxInt64 {
		return dst, fmt.Errorf("nrepl: cannot encode integer %d: larger than int64", u)
	}
	return appendInt(dst, int64(u)), nil
}
