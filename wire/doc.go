// Package wire implements the sente-lite v2 wire format: each WebSocket text
// frame is one EDN event vector ([:ns/event data], a callback request
// [[:ns/event data] "cb"], a reply [data "cb"] or a batch of events), and
// input from a peer is checked against Limits (size, UTF-8, nesting depth,
// exactly one value) by the EDN reader itself, which makes one pass over the
// bytes with an explicit stack, so input nested millions deep is an error
// rather than a blown Go stack.
//
// # Decoded Go types
//
// Parse returns generic types (those olympos.io/encoding/edn, which Parse
// used before, decodes into an interface), normalised so that every value
// Parse returns can be printed again by Print and read back equal:
//
//	nil, true, false      nil, bool
//	"text"                string (valid UTF-8; \uD83D\uDE00 pairs are joined)
//	42                    int64 (integers beyond int64 without N are an error)
//	42N                   *big.Int
//	1.5, 1.5M             float64 (M is accepted; the BigDecimal precision is lost)
//	##NaN ##Inf ##-Inf    float64
//	\a \newline \u00e9    edn.Rune (not int32, so a character stays
//	                      distinguishable from a number)
//	:a, :ns/a             edn.Keyword, WITHOUT the leading colon ("ns/a")
//	sym, ns/sym           edn.Symbol
//	[...] and (...)       []any (lists and vectors both)
//	{...}                 map[any]any (of duplicate keys the last wins)
//	#{...}                map[any]bool, every value true
//	#inst "..."           time.Time in UTC
//	#uuid "..."           Tagged{Tag: "uuid", Value: "..."}
//	#foo/bar x            Tagged{Tag: "foo/bar", Value: x} (any unknown tag,
//	                      including #base64, which olympos would decode to
//	                      []byte behind the peer's back)
//
// Map keys and set elements that are collections ({[1] 2}, #{#{}}) are
// rejected: a Go map cannot hold them. So are big integers and tagged
// collections as keys, which olympos could not hash. Namespaced-map syntax
// (#:ns{...}), ::auto-resolved keywords, octal characters (\o101) and reader
// macros are not EDN and are rejected. Tag readers registered in olympos
// (edn.AddTagFn) do not apply to Parse: its output types are the ones above.
//
// # Frames and their ambiguities
//
// DecodeFrame classifies a parsed value into a Frame (see Kind). The Sente
// wire forms overlap, and DecodeFrame resolves them by shape alone:
// [:a/b "x"] is the event :a/b with string data, never a reply to callback
// "x"; a client with a pending callback "x" that expects a namespaced-keyword
// reply may choose to reinterpret it. Likewise [[:a/b 1] "x"] is a callback
// request, never a reply whose data is [:a/b 1], and [[:a/b 1]] is a batch of
// one event.
package wire
