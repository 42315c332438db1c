// Package wire implements the sente-lite v2 wire format: each WebSocket text
// frame is one EDN event vector ([:ns/event data], a callback request
// [[:ns/event data] "cb"], a reply [data "cb"] or a batch of events), and
// input from a peer is checked against Limits (size, UTF-8, nesting depth,
// exactly one value) by the EDN reader itself.
//
// # Why the EDN reader is hand-written
//
// Parse is this package's own reader, not olympos.io/encoding/edn, for two
// reasons. Olympos recurses once per level of nesting, and a Go stack
// overflow kills the process rather than panicking, so a peer sending
// [[[[... a few million deep would take the gateway down with it; the reader
// here makes one pass over the bytes with an explicit stack and reports such
// input as an error. And every frame from every peer goes through it: one
// pass that checks the limits while it builds the values is several times
// faster, with fewer allocations, than the pre-scan, olympos decode and
// normalisation pass it replaced (BenchmarkParse in bench_test.go runs both,
// and plain olympos, on the same frames; olympos_test.go keeps the old
// decoder, against which differential_test.go and the fuzz tests check that
// both accept the same input and return the same values).
//
// # Decoded Go types
//
// Parse returns generic types (those olympos.io/encoding/edn, which Parse
// used before, decodes into an interface), normalised so that every value
// Parse returns can be printed again by Print and read back equal:
//
//	nil, true, false      nil, bool
//	"text"                string (valid UTF-8; \uD83D\uDE00 pairs are joined)
//	42                    int64
//	42N, and integers     *big.Int (Clojure prints a BigInt past int64
//	past int64 without N  without N, and so does JavaScript a whole double)
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
//	#:ns{:a 1}            map[any]any with the keys qualified ({:ns/a 1}),
//	                      as Clojure reads the namespace maps it prints
//
// Map keys and set elements that are collections ({[1] 2}, #{#{}}) are
// rejected: a Go map cannot hold them. So are big integers and tagged
// collections as keys, which olympos could not hash. ::auto-resolved
// keywords, octal characters (\o101) and reader macros ('a, @a) are not EDN
// and are rejected. Tag readers registered in olympos (edn.AddTagFn) do not
// apply to Parse: its output types are the ones above.
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
