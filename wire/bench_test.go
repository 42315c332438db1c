package wire

import (
	"testing"

	"olympos.io/encoding/edn"
)

func BenchmarkDecodeFrame(b *testing.B) {
	in := []byte(`[:sente-lite/publish {:channel-id "chat/room-1" :data {:user "alice" :text "hello, world" :ts 1734567890123 :tags #{:greeting}} :exclude-sender? true}]`)
	lim := DefaultLimits()
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := DecodeFrame(in, lim); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeEvent(b *testing.B) {
	ev := Event{ID: EvChannelMsg, HasData: true, Data: map[edn.Keyword]any{
		"channel-id": "chat/room-1",
		"data":       map[edn.Keyword]any{"user": "alice", "text": "hello, world", "ts": int64(1734567890123)},
		"from":       "conn-7f3a",
	}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeEvent(ev); err != nil {
			b.Fatal(err)
		}
	}
}

// The hub's path: payload printed once as RawEDN, then appended per frame
// into a reused buffer.
func BenchmarkAppendEventRaw(b *testing.B) {
	payload, _ := Print(map[any]any{edn.Keyword("user"): "alice", edn.Keyword("text"): "hello, world"})
	ev := Event{ID: EvChannelMsg, HasData: true, Data: map[edn.Keyword]any{
		"channel-id": "chat/room-1", "data": RawEDN(payload), "from": "conn-7f3a",
	}}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendEvent(buf[:0], ev); err != nil {
			b.Fatal(err)
		}
	}
}

// The gateway's hot path: every answer a runtime sends back is parsed.
func BenchmarkParseNREPLResponse(b *testing.B) {
	for _, bc := range []struct{ name, in string }{
		{"value", `{:value "3", :id "s1", :session "0c8f3a6e-5b1d-4c2e-9f7a-2d8e4b6c1a90", :ns "user"}`},
		{"status", `{:status ["done"], :id "s1", :session "0c8f3a6e-5b1d-4c2e-9f7a-2d8e4b6c1a90", :ns "user"}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			in := []byte(bc.in)
			lim := DefaultLimits()
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				if _, err := Parse(in, lim); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
