// Package wire implements the sente-lite v2 wire format: each WebSocket text
// frame is one EDN event vector ([:ns/event data], a callback request
// [[:ns/event data] "cb"], a reply [data "cb"] or a batch of events), and
// input from a peer is checked against Limits (size, UTF-8, nesting depth,
// exactly one value) by an iterative pre-scan before the recursive
// olympos.io/encoding/edn decoder sees it, because input nested millions deep
// would exhaust the Go stack, which kills the process rather than panicking.
//
// # Decoded Go types
//
// Parse returns olympos' generic types, normalised so that every value Parse
// returns can be printed again by Print and read back equal:
//
//	nil, true, false      nil, bool
//	"text"                string (valid UTF-8; \uD83D\uDE00 pairs are joined)
//	42                    int64 (integers beyond int64 without N are an error)
//	42N                   *big.Int
//	1.5, 1.5M             float64 (M is accepted; the BigDecimal precision is lost)
//	##NaN ##Inf ##-Inf    float64
//	\a \newline \u00e9    edn.Rune (olympos gives int32; it is converted so a
//	                      character stays distinguishable from a number)
//	:a, :ns/a             edn.Keyword, WITHOUT the leading colon ("ns/a")
//	sym, ns/sym           edn.Symbol
//	[...] and (...)       []any (lists and vectors both)
//	{...}                 map[any]any
//	#{...}                map[any]bool, every value true
//	#inst "..."           time.Time in UTC
//	#uuid "..."           Tagged{Tag: "uuid", Value: "..."}
//	#foo/bar x            Tagged{Tag: "foo/bar", Value: x} (any unknown tag,
//	                      including #base64, which olympos would otherwise decode
//	                      to []byte behind the peer's back)
//
// Map keys and set elements that are collections ({[1] 2}, #{#{}}) are
// rejected: a Go map cannot hold them, and olympos would silently key them by
// pointer. Namespaced-map syntax (#:ns{...}), ::auto-resolved keywords,
// octal characters (\o101) and reader macros are not EDN and are rejected.
// Tag readers registered globally in olympos (edn.AddTagFn) by other code in
// the same process do apply to Parse.
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
