package wire

import (
	"errors"
	"strings"
	"testing"

	"olympos.io/encoding/edn"
)

func kw(s string) edn.Keyword { return edn.Keyword(s) }

func TestDecodeFrame(t *testing.T) {
	chanData := map[any]any{kw("channel-id"): "c", kw("data"): map[any]any{kw("x"): int64(1)}, kw("exclude-sender?"): true}
	tests := []struct {
		name string
		in   string
		want Frame
	}{
		{"event without data", "[:chsk/ws-ping]",
			Frame{Kind: KindEvent, Event: Event{ID: EvPing}}},
		{"event with data", `[:sente-lite/publish {:channel-id "c" :data {:x 1} :exclude-sender? true}]`,
			Frame{Kind: KindEvent, Event: Event{ID: EvPublish, Data: chanData, HasData: true}}},
		{"event with nil data", "[:a/b nil]",
			Frame{Kind: KindEvent, Event: Event{ID: "a/b", HasData: true}}},
		{"event with string data is not a reply", `[:a/b "x"]`,
			Frame{Kind: KindEvent, Event: Event{ID: "a/b", Data: "x", HasData: true}}},
		{"handshake", `[:chsk/handshake ["uid-1" nil {:v 2} true]]`,
			Frame{Kind: KindEvent, Event: Event{ID: EvHandshake, Data: []any{"uid-1", nil, map[any]any{kw("v"): int64(2)}, true}, HasData: true}}},
		{"callback", `[[:my-app/ask {:q 1}] "cb-1"]`,
			Frame{Kind: KindCallback, Event: Event{ID: "my-app/ask", Data: map[any]any{kw("q"): int64(1)}, HasData: true}, CallbackID: "cb-1"}},
		{"callback without data", `[[:my-app/ask] "cb-2"]`,
			Frame{Kind: KindCallback, Event: Event{ID: "my-app/ask"}, CallbackID: "cb-2"}},
		{"reply map", `[{:ok true} "cb-1"]`,
			Frame{Kind: KindReply, Reply: map[any]any{kw("ok"): true}, CallbackID: "cb-1"}},
		{"reply nil", `[nil "cb"]`,
			Frame{Kind: KindReply, CallbackID: "cb"}},
		{"reply string", `["pong" "cb"]`,
			Frame{Kind: KindReply, Reply: "pong", CallbackID: "cb"}},
		{"reply vector not event-shaped", `[[1 2] "cb"]`,
			Frame{Kind: KindReply, Reply: []any{int64(1), int64(2)}, CallbackID: "cb"}},
		{"reply vector with bare keyword", `[[:ok 1] "cb"]`,
			Frame{Kind: KindReply, Reply: []any{kw("ok"), int64(1)}, CallbackID: "cb"}},
		{"batch", `[[:a/b 1] [:c/d] [:e/f "x"]]`,
			Frame{Kind: KindBatch, Batch: []Event{{ID: "a/b", Data: int64(1), HasData: true}, {ID: "c/d"}, {ID: "e/f", Data: "x", HasData: true}}}},
		{"batch of one", `[[:a/b 1]]`,
			Frame{Kind: KindBatch, Batch: []Event{{ID: "a/b", Data: int64(1), HasData: true}}}},
		{"batch of two events", `[[:a/b 1] [:c/d 2]]`,
			Frame{Kind: KindBatch, Batch: []Event{{ID: "a/b", Data: int64(1), HasData: true}, {ID: "c/d", Data: int64(2), HasData: true}}}},
		{"list is accepted like a vector", `(:a/b 1)`,
			Frame{Kind: KindEvent, Event: Event{ID: "a/b", Data: int64(1), HasData: true}}},
		{"unknown tag in data", `[:a/b #my/thing {:x 1}]`,
			Frame{Kind: KindEvent, Event: Event{ID: "a/b", Data: Tagged{"my/thing", map[any]any{kw("x"): int64(1)}}, HasData: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeFrame([]byte(tt.in), DefaultLimits())
			if err != nil {
				t.Fatalf("DecodeFrame(%s): %v", tt.in, err)
			}
			if !ednEqual(got, tt.want) {
				t.Fatalf("DecodeFrame(%s) =\n %#v\nwant\n %#v", tt.in, got, tt.want)
			}
			if err := checkReencode(got); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestDecodeFrameErrors(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		lim     Limits
		wantErr error
		msg     string
	}{
		{"v1 map", `{:type :subscribe :channel-id "c"}`, Limits{}, ErrV1Format, "sente-lite v2"},
		{"v1 map with collection key", `{[1] 2}`, Limits{}, ErrParse, "collections are not supported"},
		{"non-namespaced id", `[:hello {:a 1}]`, Limits{}, ErrParse, "must be namespaced keywords, e.g. :my-app/hello"},
		{"non-namespaced id alone", `[:hello]`, Limits{}, ErrParse, "not namespaced"},
		{"empty namespace part", `[:a/ 1]`, Limits{}, ErrParse, ""},
		{"non-namespaced in callback", `[[:a/b 1] "cb" 3]`, Limits{}, ErrParse, "a frame must be"},
		{"non-namespaced in batch", `[[:a/b 1] [:c 2]]`, Limits{}, ErrParse, "element 1"},
		{"batch element too long", `[[:a/b 1] [:c/d 2 3]]`, Limits{}, ErrParse, "batch element 1: event [:c/d ...] has 3 elements"},
		{"event too long", `[:a/b 1 2]`, Limits{}, ErrParse, "has 3 elements"},
		{"empty vector", `[]`, Limits{}, ErrParse, "empty vector; a frame must be"},
		{"string top level", `"hello"`, Limits{}, ErrParse, "got a string; a frame must be"},
		{"keyword top level", `:a/b`, Limits{}, ErrParse, "got a keyword"},
		{"number top level", `42`, Limits{}, ErrParse, "a frame must be"},
		{"set top level", `#{1}`, Limits{}, ErrParse, "got a set"},
		{"nil top level", `nil`, Limits{}, ErrParse, "got nil"},
		{"vector of numbers", `[1 2 3]`, Limits{}, ErrParse, "element 0"},
		{"reply with non-string id", `[{:ok 1} 5]`, Limits{}, ErrParse, "a frame must be"},
		{"unbalanced", `[:a/b {:x 1]`, Limits{}, ErrParse, "closes"},
		{"unclosed", `[:a/b {:x 1}`, Limits{}, ErrParse, "unclosed"},
		{"too deep", `[:a/b ` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `]`, Limits{}, ErrTooDeep, ""},
		{"too large", `[:a/b "` + strings.Repeat("x", 2000) + `"]`, Limits{MaxBytes: 1024}, ErrTooLarge, ""},
		{"invalid utf8", "[:a/b \"\xc3\x28\"]", Limits{}, ErrParse, "UTF-8"},
		{"two frames", `[:a/b] [:c/d]`, Limits{}, ErrParse, "exactly one"},
		{"long id truncated", `[:` + strings.Repeat("x", 500) + `]`, Limits{}, ErrParse, "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeFrame([]byte(tt.in), tt.lim)
			if err == nil {
				t.Fatalf("DecodeFrame(%s) = %#v, want error", tt.in, got)
			}
			if !errors.Is(err, ErrParse) || !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v: want errors.Is ErrParse and %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not mention %q", err, tt.msg)
			}
			if len(err.Error()) > 600 {
				t.Errorf("error message is %d bytes long", len(err.Error()))
			}
		})
	}
}

func TestErrV1FormatMessage(t *testing.T) {
	if !errors.Is(ErrV1Format, ErrParse) {
		t.Fatal("ErrV1Format must wrap ErrParse")
	}
	for _, want := range []string{"v1", "[:ns/event data]", "v2"} {
		if !strings.Contains(ErrV1Format.Error(), want) {
			t.Errorf("%q does not mention %q", ErrV1Format, want)
		}
	}
}

func TestEncoders(t *testing.T) {
	data := map[edn.Keyword]any{"channel-id": "c", "data": []any{int64(1)}, "from": "u1"}
	tests := []struct {
		name string
		enc  func() ([]byte, error)
		want string
	}{
		{"event no data", func() ([]byte, error) { return EncodeEvent(Event{ID: EvPing}) }, "[:chsk/ws-ping]"},
		{"event nil data", func() ([]byte, error) { return EncodeEvent(Event{ID: "a/b", HasData: true}) }, "[:a/b nil]"},
		{"event data without HasData", func() ([]byte, error) { return EncodeEvent(Event{ID: "a/b", Data: 1}) }, "[:a/b 1]"},
		{"channel-msg", func() ([]byte, error) { return EncodeEvent(Event{ID: EvChannelMsg, Data: data, HasData: true}) },
			`[:sente-lite/channel-msg {:channel-id "c", :data [1], :from "u1"}]`},
		{"raw payload", func() ([]byte, error) {
			return EncodeEvent(Event{ID: EvChannelMsg, Data: map[edn.Keyword]any{"data": RawEDN(`{:pre 1}`)}, HasData: true})
		}, `[:sente-lite/channel-msg {:data {:pre 1}}]`},
		{"callback", func() ([]byte, error) { return EncodeCallback(Event{ID: "a/b", Data: 1, HasData: true}, "cb-1") }, `[[:a/b 1] "cb-1"]`},
		{"reply", func() ([]byte, error) { return EncodeReply(map[edn.Keyword]any{"ok": true}, "cb\"1") }, `[{:ok true} "cb\"1"]`},
		{"batch", func() ([]byte, error) {
			return EncodeBatch([]Event{{ID: "a/b", Data: 1, HasData: true}, {ID: "c/d"}})
		}, `[[:a/b 1] [:c/d]]`},
		{"handshake", func() ([]byte, error) {
			return EncodeEvent(HandshakeEvent(Handshake{UID: "u1", Data: map[edn.Keyword]any{"v": 2}, First: true}))
		}, `[:chsk/handshake ["u1" nil {:v 2} true]]`},
		{"append", func() ([]byte, error) { return AppendEvent([]byte("x"), Event{ID: EvPong}) }, "x[:chsk/ws-pong]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.enc()
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestEncoderErrors(t *testing.T) {
	for name, f := range map[string]func() ([]byte, error){
		"bare id":          func() ([]byte, error) { return EncodeEvent(Event{ID: "hello"}) },
		"empty id":         func() ([]byte, error) { return EncodeEvent(Event{}) },
		"bad id chars":     func() ([]byte, error) { return EncodeEvent(Event{ID: "a b/c"}) },
		"callback bare id": func() ([]byte, error) { return EncodeCallback(Event{ID: "x"}, "cb") },
		"empty batch":      func() ([]byte, error) { return EncodeBatch(nil) },
		"batch bare id":    func() ([]byte, error) { return EncodeBatch([]Event{{ID: "a/b"}, {ID: "c"}}) },
		"bad data":         func() ([]byte, error) { return EncodeEvent(Event{ID: "a/b", Data: make(chan int)}) },
		"bad reply":        func() ([]byte, error) { return EncodeReply(edn.Keyword(""), "cb") },
	} {
		t.Run(name, func(t *testing.T) {
			if got, err := f(); err == nil {
				t.Fatalf("got %s, want error", got)
			}
		})
	}
}

// checkReencode encodes a decoded frame in its own form and checks that it
// decodes to the same frame: what the fuzz target asserts too.
func checkReencode(f Frame) error {
	var b []byte
	var err error
	switch f.Kind {
	case KindEvent:
		b, err = EncodeEvent(f.Event)
	case KindCallback:
		b, err = EncodeCallback(f.Event, f.CallbackID)
	case KindReply:
		b, err = EncodeReply(f.Reply, f.CallbackID)
	case KindBatch:
		b, err = EncodeBatch(f.Batch)
	}
	if err != nil {
		return errors.New("re-encoding " + f.Kind.String() + ": " + err.Error())
	}
	g, err := DecodeFrame(b, Limits{MaxBytes: 1 << 30, MaxDepth: 1 << 10})
	if err != nil {
		return errors.New("decoding re-encoded " + string(b) + ": " + err.Error())
	}
	if !ednEqual(f, g) {
		return errors.New("re-encoded frame " + string(b) + " decodes differently")
	}
	return nil
}

func TestHandshake(t *testing.T) {
	tests := []struct {
		name string
		data any
		want Handshake
	}{
		{"four elements", []any{"u1", "tok", map[any]any{kw("a"): int64(1)}, true},
			Handshake{UID: "u1", CSRFToken: "tok", Data: map[any]any{kw("a"): int64(1)}, First: true}},
		{"nil csrf", []any{"u1", nil, nil, false}, Handshake{UID: "u1"}},
		{"short form", []any{"u1", "tok"}, Handshake{UID: "u1", CSRFToken: "tok"}},
		{"three elements", []any{"u1", nil, "d"}, Handshake{UID: "u1", Data: "d"}},
		{"nil first", []any{"u1", nil, nil, nil}, Handshake{UID: "u1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseHandshake(Event{ID: EvHandshake, Data: tt.data, HasData: true})
			if err != nil {
				t.Fatal(err)
			}
			if got.UID != tt.want.UID || got.CSRFToken != tt.want.CSRFToken || got.First != tt.want.First || !ednEqual(got.Data, tt.want.Data) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}

	h := Handshake{UID: "u-2", CSRFToken: "t", Data: map[any]any{kw("x"): "y"}, First: true}
	b, err := EncodeEvent(HandshakeEvent(h))
	if err != nil {
		t.Fatal(err)
	}
	f, err := DecodeFrame(b, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseHandshake(f.Event)
	if err != nil || got.UID != h.UID || got.CSRFToken != h.CSRFToken || !got.First || !ednEqual(got.Data, h.Data) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}

	for name, ev := range map[string]Event{
		"wrong id":       {ID: EvPing},
		"not a vector":   {ID: EvHandshake, Data: "u1", HasData: true},
		"one element":    {ID: EvHandshake, Data: []any{"u1"}, HasData: true},
		"five elements":  {ID: EvHandshake, Data: []any{"u1", nil, nil, true, 5}, HasData: true},
		"numeric uid":    {ID: EvHandshake, Data: []any{int64(1), nil}, HasData: true},
		"keyword csrf":   {ID: EvHandshake, Data: []any{"u", kw("x")}, HasData: true},
		"string first?":  {ID: EvHandshake, Data: []any{"u", nil, nil, "yes"}, HasData: true},
		"no data at all": {ID: EvHandshake},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseHandshake(ev); !errors.Is(err, ErrParse) {
				t.Fatalf("err = %v, want ErrParse", err)
			}
		})
	}
}

func TestGet(t *testing.T) {
	f, err := DecodeFrame([]byte(`[:sente-lite/publish {:channel-id "c" :exclude-sender? true :n 1 "str-key" "s"}]`), DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	d := f.Event.Data
	if s, ok := GetString(d, "channel-id"); !ok || s != "c" {
		t.Errorf("GetString channel-id = %q, %v", s, ok)
	}
	if s, ok := GetString(d, ":channel-id"); !ok || s != "c" {
		t.Errorf("GetString :channel-id = %q, %v", s, ok)
	}
	if s, ok := GetString(d, "str-key"); !ok || s != "s" {
		t.Errorf("GetString str-key = %q, %v", s, ok)
	}
	if _, ok := GetString(d, "n"); ok {
		t.Error("GetString of a number reported ok")
	}
	if _, ok := GetString(d, "missing"); ok {
		t.Error("GetString of a missing key reported ok")
	}
	if !GetBool(d, "exclude-sender?") || GetBool(d, "n") || GetBool(d, "missing") {
		t.Error("GetBool")
	}
	if Get(d, "n") != int64(1) {
		t.Errorf("Get n = %#v", Get(d, "n"))
	}
	if Get(map[edn.Keyword]any{"a": 1}, "a") != 1 || Get(map[string]any{"a": 2}, "a") != 2 {
		t.Error("Get on typed maps")
	}
	if Get(nil, "a") != nil || Get([]any{1}, "a") != nil || Get("x", "a") != nil {
		t.Error("Get on non-maps must be nil")
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{KindEvent: "event", KindCallback: "callback", KindReply: "reply", KindBatch: "batch", Kind(9): "Kind(9)"} {
		if k.String() != want {
			t.Errorf("%d: %q", int(k), k.String())
		}
	}
}

// Parse shares its keyword cache and parser pool between goroutines; the
// race detector should find nothing.
func TestDecodeFrameConcurrent(t *testing.T) {
	in := []byte(`[:a/b [#inst "2020-01-01T00:00:00Z" #base64 "aGk=" #uuid "x" ##NaN]]`)
	done := make(chan error)
	for range 8 {
		go func() {
			var err error
			for range 200 {
				if _, err = DecodeFrame(in, DefaultLimits()); err != nil {
					break
				}
			}
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
