// Package nrepl is sente's side of the nREPL wire protocol: it checks each
// bencode message off an untrusted TCP stream against hard limits (size,
// nesting, syntax) as its bytes arrive, then builds the values from the
// checked bytes itself (no general-purpose decoder runs; jackpal/bencode-go
// is only the tests' oracle); it encodes responses without reflection,
// converts messages to and from the EDN maps that browser runtimes speak, and
// provides a small concurrent nREPL client used by `sente repl`, `sente eval`
// and the tests.
package nrepl

import "maps"

// Msg is one nREPL message, a bencode dictionary. Values are string, int64,
// []any or map[string]any (recursively).
//
// Messages built in Go may also hold the extra types AppendEncode accepts
// ([]string, int, bool, Msg, ...); decoded messages never do.
type Msg map[string]any

// Str returns the string stored under key, or "" when it is absent or not a
// string.
func (m Msg) Str(key string) string {
	s, _ := m[key].(string)
	return s
}

// Status returns the "status" list as strings. Non-string entries are skipped
// because nREPL statuses are always names.
func (m Msg) Status() []string {
	switch v := m["status"].(type) {
	case []string:
		return v
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case string:
		// Some hand-written servers send a bare string; treating it as a
		// one-element list keeps "done" detection working for them.
		return []string{v}
	}
	return nil
}

// HasStatus reports whether the "status" list contains s.
func (m Msg) HasStatus(s string) bool {
	switch v := m["status"].(type) {
	case []any:
		for _, e := range v {
			if e == s {
				return true
			}
		}
	case []string:
		for _, e := range v {
			if e == s {
				return true
			}
		}
	case string:
		return v == s
	}
	return false
}

// Clone returns a shallow copy. Cloning a nil Msg yields an empty, writable
// Msg so callers can add keys without checking.
func (m Msg) Clone() Msg {
	if m == nil {
		return Msg{}
	}
	return maps.Clone(m)
}
