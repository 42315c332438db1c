package wire

import (
	"fmt"

	"olympos.io/encoding/edn"
)

// Handshake is the data of [:chsk/handshake [uid csrf-token data first?]].
// UID is the server-made, per-connection id: ephemeral, never an identity.
type Handshake struct {
	UID, CSRFToken string
	Data           any
	First          bool
}

// HandshakeEvent builds the 4-element Sente handshake. An empty CSRFToken is
// sent as nil, which is what Sente and sente-lite send without one.
func HandshakeEvent(h Handshake) Event {
	var csrf any
	if h.CSRFToken != "" {
		csrf = h.CSRFToken
	}
	return Event{ID: EvHandshake, Data: []any{h.UID, csrf, h.Data, h.First}, HasData: true}
}

// ParseHandshake reads a :chsk/handshake event in the 4-element form, the
// older 3-element form without first?, and the short [uid csrf] form. A nil
// uid or csrf token reads as "". Errors wrap ErrParse.
func ParseHandshake(ev Event) (Handshake, error) {
	if ev.ID != EvHandshake {
		return Handshake{}, fmt.Errorf("%w: event :%s is not :%s", ErrParse, short(string(ev.ID)), EvHandshake)
	}
	v, ok := ev.Data.([]any)
	if !ok || len(v) < 2 || len(v) > 4 {
		return Handshake{}, fmt.Errorf("%w: handshake data must be [uid csrf-token handshake-data first?] or [uid csrf-token], got %s", ErrParse, describe(ev.Data))
	}
	var h Handshake
	var err error
	if h.UID, err = stringOrNil(v[0], "uid"); err != nil {
		return Handshake{}, err
	}
	if h.CSRFToken, err = stringOrNil(v[1], "csrf-token"); err != nil {
		return Handshake{}, err
	}
	if len(v) > 2 {
		h.Data = v[2]
	}
	if len(v) > 3 {
		switch f := v[3].(type) {
		case bool:
			h.First = f
		case nil:
		default:
			return Handshake{}, fmt.Errorf("%w: handshake first? must be a boolean, got %s", ErrParse, describe(f))
		}
	}
	return h, nil
}

func stringOrNil(v any, what string) (string, error) {
	switch s := v.(type) {
	case string:
		return s, nil
	case nil:
		return "", nil
	}
	return "", fmt.Errorf("%w: handshake %s must be a string or nil, got %s", ErrParse, what, describe(v))
}

// Get looks key up in event data. Decoded maps are map[any]any with
// edn.Keyword keys, so Get(data, "channel-id") finds :channel-id, and failing
// that the string key "channel-id" (Scittle's complete op uses string keys).
// A leading ':' in key is ignored. It also reads map[edn.Keyword]any and
// map[string]any, so handlers work on data they built themselves. Anything
// else, or a missing key, gives nil.
func Get(m any, key string) any {
	kw := key
	if len(kw) > 0 && kw[0] == ':' {
		kw = kw[1:]
	}
	switch x := m.(type) {
	case map[any]any:
		if v, ok := x[edn.Keyword(kw)]; ok {
			return v
		}
		return x[key]
	case map[edn.Keyword]any:
		return x[edn.Keyword(kw)]
	case map[string]any:
		return x[key]
	}
	return nil
}

// GetString is Get for string values; ok is false if the key is missing or
// holds something else.
func GetString(m any, key string) (string, bool) {
	s, ok := Get(m, key).(string)
	return s, ok
}

// GetBool reports whether key holds true; missing, nil and non-booleans are
// false, as in Clojure's (true? x).
func GetBool(m any, key string) bool {
	b, _ := Get(m, key).(bool)
	return b
}
