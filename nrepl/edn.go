package nrepl

import (
	"bytes"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"olympos.io/encoding/edn"
)

// maxEDNDepth bounds FromEDN's recursion. Runtime replies are shallow; the
// bound only matters for values built in Go that might be cyclic.
const maxEDNDepth = 1000

// ToEDN converts an nREPL message into an EDN map for a runtime: keys become
// edn.Keyword, strings stay strings, ints stay int64, lists become []any,
// nested dicts become map[any]any with keyword keys.
//
// Go-built messages may hold the other types AppendEncode accepts: integers
// widen to int64, []byte becomes a string, bools stay bools (EDN has them),
// []string and friends become []any. Nil values are dropped.
func ToEDN(m Msg) map[any]any {
	return toEDNMap(map[string]any(m), 0)
}

func toEDNMap(m map[string]any, depth int) map[any]any {
	out := make(map[any]any, len(m))
	for k, v := range m {
		if v == nil {
			continue
		}
		out[edn.Keyword(k)] = toEDNValue(v, depth+1)
	}
	return out
}

func toEDNValue(v any, depth int) any {
	if depth > maxEDNDepth {
		// Only a cyclic Go value gets here; cutting it keeps the process alive.
		return nil
	}
	switch x := v.(type) {
	case string, int64, bool:
		return x
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case int16:
		return int64(x)
	case int8:
		return int64(x)
	case uint:
		return uintToEDN(uint64(x))
	case uint64:
		return uintToEDN(x)
	case uint32:
		return int64(x)
	case uint16:
		return int64(x)
	case uint8:
		return int64(x)
	case []byte:
		return string(x)
	case Msg:
		return toEDNMap(map[string]any(x), depth)
	case map[string]any:
		return toEDNMap(x, depth)
	case map[string]string:
		out := make(map[any]any, len(x))
		for k, s := range x {
			out[edn.Keyword(k)] = s
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = toEDNValue(e, depth+1)
		}
		return out
	case []string:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
		}
		return out
	case []map[string]any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = toEDNMap(e, depth+1)
		}
		return out
	case []Msg:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = toEDNMap(map[string]any(e), depth+1)
		}
		return out
	}
	return v
}

func uintToEDN(u uint64) any {
	if u > math.MaxInt64 {
		return new(big.Int).SetUint64(u)
	}
	return int64(u)
}

// FromEDN converts an EDN value read from a runtime into an nREPL message.
// The top level must be a map (error otherwise). Keys: keywords/symbols →
// their names (":foo/bar" → "foo/bar"), strings stay. Values:
// keywords/symbols → names, bool → "true"/"false", nil → key omitted, floats →
// printed form, big ints → decimal string, vectors/lists/sets → lists, maps →
// dicts (recursively, same key rules), chars → one-char string, tags → their
// printed form as string.
//
// Details the rules above leave open: other keys (numbers, vectors, ...) use
// their printed form; nil inside a list becomes "nil" so positions survive;
// set elements are sorted so the output is deterministic; #inst values
// (decoded by edn as time.Time) print as #inst "RFC 3339"; floats print as
// EDN does (1.0 stays "1.0", NaN is "##NaN").
func FromEDN(v any) (Msg, error) {
	var m map[string]any
	var err error
	switch x := v.(type) {
	case map[any]any:
		m, err = dictFromEDN(x, 0)
	case map[string]any:
		m, err = dictFromEDNString(x, 0)
	case Msg:
		m, err = dictFromEDNString(x, 0)
	default:
		return nil, fmt.Errorf("nrepl: runtime message must be an EDN map, got %s", ednTypeName(v))
	}
	if err != nil {
		return nil, err
	}
	return Msg(m), nil
}

func dictFromEDN(x map[any]any, depth int) (map[string]any, error) {
	if depth > maxEDNDepth {
		return nil, errEDNDepth
	}
	out := make(map[string]any, len(x))
	for k, v := range x {
		if v == nil {
			continue
		}
		key, err := keyFromEDN(k, depth+1)
		if err != nil {
			return nil, err
		}
		val, err := valueFromEDN(v, depth+1)
		if err != nil {
			return nil, fmt.Errorf("%w (key %q)", err, key)
		}
		out[key] = val
	}
	return out, nil
}

func dictFromEDNString(x map[string]any, depth int) (map[string]any, error) {
	if depth > maxEDNDepth {
		return nil, errEDNDepth
	}
	out := make(map[string]any, len(x))
	for k, v := range x {
		if v == nil {
			continue
		}
		val, err := valueFromEDN(v, depth+1)
		if err != nil {
			return nil, fmt.Errorf("%w (key %q)", err, k)
		}
		out[k] = val
	}
	return out, nil
}

var errEDNDepth = fmt.Errorf("nrepl: EDN value nested deeper than %d levels", maxEDNDepth)

func keyFromEDN(k any, depth int) (string, error) {
	switch x := k.(type) {
	case edn.Keyword:
		return string(x), nil
	case edn.Symbol:
		return string(x), nil
	case string:
		return x, nil
	case *any:
		// edn stores unhashable keys (vectors, maps) behind a pointer.
		if x == nil {
			return "nil", nil
		}
		return keyFromEDN(*x, depth)
	}
	v, err := valueFromEDN(k, depth)
	if err != nil {
		return "", err
	}
	switch s := v.(type) {
	case string:
		return s, nil
	case int64:
		return strconv.FormatInt(s, 10), nil
	}
	return printEDN(k)
}

func valueFromEDN(v any, depth int) (any, error) {
	if depth > maxEDNDepth {
		return nil, errEDNDepth
	}
	switch x := v.(type) {
	case nil:
		return "nil", nil
	case string:
		return x, nil
	case edn.Keyword:
		return string(x), nil
	case edn.Symbol:
		return string(x), nil
	case bool:
		return strconv.FormatBool(x), nil
	case int64:
		return x, nil
	case int:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case uint8:
		return int64(x), nil
	case uint:
		return uintFromEDN(uint64(x)), nil
	case uint64:
		return uintFromEDN(x), nil
	case int32:
		// Olympos decodes a character (\a) into an interface as int32; wire.Parse
		// gives edn.Rune. Either may reach FromEDN.
		return string(rune(x)), nil
	case edn.Rune:
		return string(rune(x)), nil
	case float64:
		return formatFloat(x), nil
	case float32:
		return formatFloat(float64(x)), nil
	case *big.Int:
		if x == nil {
			return "nil", nil
		}
		return x.String(), nil
	case big.Int:
		return x.String(), nil
	case *big.Float:
		if x == nil {
			return "nil", nil
		}
		return x.Text('g', -1), nil
	case []byte:
		return string(x), nil
	case *any:
		if x == nil {
			return "nil", nil
		}
		return valueFromEDN(*x, depth)
	case map[any]any:
		return dictFromEDN(x, depth)
	case map[string]any:
		return dictFromEDNString(x, depth)
	case Msg:
		return dictFromEDNString(x, depth)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			c, err := valueFromEDN(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case []string:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
		}
		return out, nil
	case map[any]bool:
		out := make([]any, 0, len(x))
		for e, in := range x {
			if !in {
				continue
			}
			c, err := valueFromEDN(e, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
		sortValues(out)
		return out, nil
	case time.Time:
		return `#inst "` + x.Format(time.RFC3339Nano) + `"`, nil
	case edn.Tag:
		val, err := printEDN(x.Value)
		if err != nil {
			return nil, err
		}
		return "#" + x.Tagname + " " + val, nil
	}
	return printEDN(v)
}

func uintFromEDN(u uint64) any {
	if u > math.MaxInt64 {
		return strconv.FormatUint(u, 10)
	}
	return int64(u)
}

// formatFloat prints f the way EDN reads it back as a float: integral values
// keep a ".0" and non-finite values use the ## forms.
func formatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "##NaN"
	case math.IsInf(f, 1):
		return "##Inf"
	case math.IsInf(f, -1):
		return "##-Inf"
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s
}

// printEDN is the fallback for anything without a rule: its EDN printed form.
func printEDN(v any) (string, error) {
	b, err := edn.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("nrepl: cannot convert %s from EDN: %w", ednTypeName(v), err)
	}
	return string(b), nil
}

// sortValues orders converted set elements by their bencode form, which is
// total over everything valueFromEDN produces.
func sortValues(vs []any) {
	if len(vs) < 2 {
		return
	}
	keys := make(map[int][]byte, len(vs))
	idx := make([]int, len(vs))
	for i, v := range vs {
		idx[i] = i
		b, err := appendValue(nil, v, 0)
		if err != nil {
			b = []byte(fmt.Sprint(v))
		}
		keys[i] = b
	}
	slices.SortStableFunc(idx, func(a, b int) int { return bytes.Compare(keys[a], keys[b]) })
	sorted := make([]any, len(vs))
	for i, j := range idx {
		sorted[i] = vs[j]
	}
	copy(vs, sorted)
}

func ednTypeName(v any) string {
	switch v.(type) {
	case nil:
		return "nil"
	case []any:
		return "a vector or list"
	case map[any]bool:
		return "a set"
	case string:
		return "a string"
	case edn.Keyword:
		return "a keyword"
	case edn.Symbol:
		return "a symbol"
	}
	return fmt.Sprintf("%T", v)
}
