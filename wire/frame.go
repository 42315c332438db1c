package wire

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"olympos.io/encoding/edn"
)

// Event ids of the Sente system events and the sente-lite extensions
// (github.com/franks42/sente_lite).
const (
	EvHandshake     edn.Keyword = "chsk/handshake"
	EvPing          edn.Keyword = "chsk/ws-ping"
	EvPong          edn.Keyword = "chsk/ws-pong"
	EvRecv          edn.Keyword = "chsk/recv"
	EvSubscribe     edn.Keyword = "sente-lite/subscribe"
	EvSubscribed    edn.Keyword = "sente-lite/subscribed"
	EvUnsubscribe   edn.Keyword = "sente-lite/unsubscribe"
	EvPublish       edn.Keyword = "sente-lite/publish"
	EvChannelMsg    edn.Keyword = "sente-lite/channel-msg"
	EvEcho          edn.Keyword = "sente-lite/echo"
	EvNREPLRequest  edn.Keyword = "nrepl/request"
	EvNREPLResponse edn.Keyword = "nrepl/response"
	EvError         edn.Keyword = "sente-lite/error"
)

// Event is [id] or [id data]. HasData tells [id] from [id nil]; when
// encoding, a non-nil Data is sent even if HasData is false, so data is
// never dropped silently.
type Event struct {
	ID      edn.Keyword
	Data    any
	HasData bool
}

// Kind says which wire form a Frame had.
type Kind int

const (
	KindEvent    Kind = iota // [id] or [id data]
	KindCallback             // [[id data] "cb"]: an event that asks for a reply
	KindReply                // [data "cb"]: the answer to a callback event
	KindBatch                // [[id data] [id data] ...]
)

func (k Kind) String() string {
	switch k {
	case KindEvent:
		return "event"
	case KindCallback:
		return "callback"
	case KindReply:
		return "reply"
	case KindBatch:
		return "batch"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Frame is one decoded WebSocket text frame.
type Frame struct {
	Kind       Kind
	Event      Event   // KindEvent, KindCallback
	CallbackID string  // KindCallback, KindReply
	Reply      any     // KindReply: the reply data
	Batch      []Event // KindBatch, in order
}

const frameForms = `a frame must be an event vector [:ns/event] or [:ns/event data], ` +
	`a callback request [[:ns/event data] "cb-id"], a reply [data "cb-id"] ` +
	`or a batch [[:ns/event data] [:ns/event data] ...]`

// DecodeFrame parses b within lim and classifies it by shape; see the package
// documentation for the ambiguous cases. All errors wrap ErrParse; a top-level
// map is ErrV1Format.
func DecodeFrame(b []byte, lim Limits) (Frame, error) {
	v, err := Parse(b, lim)
	if err != nil {
		return Frame{}, err
	}
	return classify(v)
}

func classify(v any) (Frame, error) {
	vec, ok := v.([]any)
	if !ok {
		switch v.(type) {
		case map[any]any:
			return Frame{}, ErrV1Format
		}
		return Frame{}, fmt.Errorf("%w: got %s; %s", ErrParse, describe(v), frameForms)
	}
	if len(vec) == 0 {
		return Frame{}, fmt.Errorf("%w: empty vector; %s", ErrParse, frameForms)
	}
	if _, ok := vec[0].(edn.Keyword); ok {
		ev, err := eventFrom(vec, "")
		if err != nil {
			return Frame{}, err
		}
		return Frame{Kind: KindEvent, Event: ev}, nil
	}
	if len(vec) == 2 {
		if cb, ok := vec[1].(string); ok {
			if inner, ok := vec[0].([]any); ok && looksLikeEvent(inner) {
				ev, err := eventFrom(inner, "callback request: ")
				if err != nil {
					return Frame{}, err
				}
				return Frame{Kind: KindCallback, Event: ev, CallbackID: cb}, nil
			}
			return Frame{Kind: KindReply, Reply: vec[0], CallbackID: cb}, nil
		}
	}
	batch := make([]Event, 0, len(vec))
	for i, e := range vec {
		inner, ok := e.([]any)
		if !ok || !looksLikeEvent(inner) {
			return Frame{}, fmt.Errorf("%w: element %d is %s; %s", ErrParse, i, describe(e), frameForms)
		}
		ev, err := eventFrom(inner, fmt.Sprintf("batch element %d: ", i))
		if err != nil {
			return Frame{}, err
		}
		batch = append(batch, ev)
	}
	return Frame{Kind: KindBatch, Batch: batch}, nil
}

// looksLikeEvent is the shape test for nested events: a vector led by a
// namespaced keyword.
func looksLikeEvent(v []any) bool {
	if len(v) == 0 {
		return false
	}
	id, ok := v[0].(edn.Keyword)
	return ok && isNamespaced(id)
}

// eventFrom builds an Event from a vector led by a keyword; where prefixes
// error messages with the event's position in the frame.
func eventFrom(vec []any, where string) (Event, error) {
	id := vec[0].(edn.Keyword)
	if !isNamespaced(id) {
		return Event{}, fmt.Errorf("%w: %sevent id :%s is not namespaced; event ids must be namespaced keywords, e.g. :my-app/hello", ErrParse, where, short(string(id)))
	}
	switch len(vec) {
	case 1:
		return Event{ID: id}, nil
	case 2:
		return Event{ID: id, Data: vec[1], HasData: true}, nil
	}
	return Event{}, fmt.Errorf("%w: %sevent [:%s ...] has %d elements; an event is [:ns/event] or [:ns/event data]", ErrParse, where, short(string(id)), len(vec))
}

// describe names a value's EDN kind for error messages without echoing
// peer-controlled data at length.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "nil"
	case []any:
		return fmt.Sprintf("a vector of %d elements", len(x))
	case map[any]any:
		return "a map"
	case map[any]bool:
		return "a set"
	case string:
		return "a string"
	case edn.Keyword:
		return "a keyword"
	case edn.Symbol:
		return "a symbol"
	case Tagged:
		return "a tagged literal"
	}
	return fmt.Sprintf("a %T", v)
}

// short keeps peer-chosen text in error messages to a loggable length.
func short(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

var errEmptyBatch = errors.New("wire: a batch needs at least one event")

// EncodeEvent encodes ev as [id] or [id data]. The id must be namespaced.
func EncodeEvent(ev Event) ([]byte, error) {
	return AppendEvent(make([]byte, 0, 128), ev)
}

// AppendEvent is EncodeEvent appending to dst.
func AppendEvent(dst []byte, ev Event) ([]byte, error) {
	return appendEvent(dst, ev, 0)
}

func appendEvent(dst []byte, ev Event, depth int) ([]byte, error) {
	if !isNamespaced(ev.ID) {
		return dst, fmt.Errorf("wire: event id :%s is not namespaced; peers reject it (use e.g. :my-app/hello)", ev.ID)
	}
	dst = append(dst, '[')
	var err error
	if dst, err = appendKeyword(dst, ev.ID); err != nil {
		return dst, err
	}
	if ev.HasData || ev.Data != nil {
		dst = append(dst, ' ')
		if dst, err = appendValue(dst, ev.Data, depth+1); err != nil {
			return dst, err
		}
	}
	return append(dst, ']'), nil
}

// EncodeCallback encodes ev as a request for a reply: [[id data] "cb"].
func EncodeCallback(ev Event, cbID string) ([]byte, error) {
	dst := append(make([]byte, 0, 128), '[')
	dst, err := AppendEvent(dst, ev)
	if err != nil {
		return nil, err
	}
	dst = append(dst, ' ')
	dst = appendString(dst, cbID)
	return append(dst, ']'), nil
}

// EncodeReply encodes the answer to callback cbID: [data "cb"]. A keyword or
// an event-shaped vector as data would decode as an event or a callback
// request (see the package documentation); Sente peers have the same
// ambiguity.
func EncodeReply(data any, cbID string) ([]byte, error) {
	dst := append(make([]byte, 0, 128), '[')
	dst, err := appendValue(dst, data, 1)
	if err != nil {
		return nil, err
	}
	dst = append(dst, ' ')
	dst = appendString(dst, cbID)
	return append(dst, ']'), nil
}

// EncodeBatch encodes evs as [[id data] [id data] ...], unwrapped by the
// receiver in order.
func EncodeBatch(evs []Event) ([]byte, error) {
	if len(evs) == 0 {
		return nil, errEmptyBatch
	}
	dst := append(make([]byte, 0, 64*len(evs)), '[')
	for i, ev := range evs {
		if i > 0 {
			dst = append(dst, ' ')
		}
		var err error
		if dst, err = appendEvent(dst, ev, 1); err != nil {
			return nil, fmt.Errorf("batch event %d: %w", i, err)
		}
	}
	return append(dst, ']'), nil
}
