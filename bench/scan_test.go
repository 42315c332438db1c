package bench

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"olympos.io/encoding/edn"

	"github.com/sente-clj/sente/wire"
)

// tricky data that could fool a scanner that only counted brackets or
// searched for the event id.
func trickyData(r *rand.Rand) any {
	texts := []string{`]`, `[`, `"`, `\`, `\"]`, `[:sente-lite/channel-msg {}]`, `;`, "line\nbreak", `{`, `}`, "ünïcødé", ""}
	switch r.IntN(8) {
	case 0:
		return texts[r.IntN(len(texts))]
	case 1:
		return []any{edn.Rune('['), edn.Rune(']'), edn.Rune('"'), edn.Rune('\\'), edn.Rune('\n')}
	case 2:
		return map[any]any{edn.Keyword("t"): r.Int64(), edn.Keyword("s"): texts[r.IntN(len(texts))]}
	case 3:
		return []any{[]any{[]any{edn.Keyword("sente-lite/channel-msg")}}}
	case 4:
		return map[any]bool{int64(1): true, "]": true}
	case 5:
		return wire.Tagged{Tag: "my/tag", Value: []any{"]", int64(2)}}
	case 6:
		return nil
	}
	return r.Float64()
}

func TestCountEventsMatchesDecodeFrame(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ids := []edn.Keyword{wire.EvChannelMsg, wire.EvPing, wire.EvHandshake, "sente-lite/channel-msgs", "my-app/x"}
	for i := range 2000 {
		n := 1 + r.IntN(6)
		evs := make([]wire.Event, n)
		for j := range evs {
			evs[j] = wire.Event{ID: ids[r.IntN(len(ids))]}
			if r.IntN(4) > 0 {
				evs[j].Data, evs[j].HasData = trickyData(r), true
			}
		}
		var frame []byte
		var err error
		if n == 1 && r.IntN(2) == 0 {
			frame, err = wire.EncodeEvent(evs[0])
		} else {
			frame, err = wire.EncodeBatch(evs)
		}
		if err != nil {
			t.Fatal(err)
		}
		f, err := wire.DecodeFrame(frame, wire.DefaultLimits())
		if err != nil {
			t.Fatalf("frame %d %s: %v", i, frame, err)
		}
		decoded := f.Batch
		if f.Kind == wire.KindEvent {
			decoded = []wire.Event{f.Event}
		}
		for _, id := range ids {
			want := 0
			for _, ev := range decoded {
				if ev.ID == id {
					want++
				}
			}
			if got := countEvents(frame, ":"+string(id)); got != want {
				t.Fatalf("frame %s: countEvents(%s) = %d, DecodeFrame finds %d", frame, id, got, want)
			}
		}
		var got []string
		eachEvent(frame, func(ev []byte) { got = append(got, string(ev)) })
		if len(got) != len(decoded) {
			t.Fatalf("frame %s: eachEvent found %d events, DecodeFrame %d: %q", frame, len(got), len(decoded), got)
		}
		for j, s := range got {
			one, err := wire.DecodeFrame([]byte(s), wire.DefaultLimits())
			if err != nil || one.Kind != wire.KindEvent || one.Event.ID != decoded[j].ID {
				t.Fatalf("frame %s: event %d is %q (%v)", frame, j, s, err)
			}
		}
	}
}

func TestEachEventEdges(t *testing.T) {
	tests := []struct {
		frame string
		want  []string
		ok    bool
	}{
		{`[:a/b]`, []string{`[:a/b]`}, true},
		{` [:a/b 1] `, []string{`[:a/b 1] `}, true},
		{`[[:a/b] [:c/d "]"]]`, []string{`[:a/b]`, `[:c/d "]"]`}, true},
		{`[ [:a/b \]] , [:c/d] ]`, []string{`[:a/b \]]`, `[:c/d]`}, true},
		{`{:a 1}`, nil, false},
		{`[[:a/b "unterminated]`, nil, false},
		{``, nil, false},
	}
	for _, tt := range tests {
		var got []string
		ok := eachEvent([]byte(tt.frame), func(ev []byte) { got = append(got, string(ev)) })
		if ok != tt.ok || fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("eachEvent(%q) = %q, %v; want %q, %v", tt.frame, got, ok, tt.want, tt.ok)
		}
	}
	if !isEvent([]byte("[:sente-lite/channel-msg {}]"), evChannelMsg) || isEvent([]byte("[:sente-lite/channel-msgs]"), evChannelMsg) {
		t.Error("isEvent must match the whole id")
	}
}

func BenchmarkCountVsDecode(b *testing.B) {
	evs := make([]wire.Event, 40)
	for i := range evs {
		evs[i] = wire.Event{ID: wire.EvChannelMsg, HasData: true, Data: map[any]any{
			edn.Keyword("channel-id"): "sente-bench-0a1b2c3d4e5f", edn.Keyword("from"): strings.Repeat("f", 32),
			edn.Keyword("data"): map[any]any{edn.Keyword("t"): int64(1767225600000000000), edn.Keyword("seq"): int64(i)}}}
	}
	frame, _ := wire.EncodeBatch(evs)
	b.Run("count", func(b *testing.B) {
		b.SetBytes(int64(len(frame)))
		for b.Loop() {
			if countEvents(frame, evChannelMsg) != 40 {
				b.Fatal("miscounted")
			}
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(len(frame)))
		for b.Loop() {
			if f, err := wire.DecodeFrame(frame, wire.DefaultLimits()); err != nil || len(f.Batch) != 40 {
				b.Fatal(err)
			}
		}
	})
}
