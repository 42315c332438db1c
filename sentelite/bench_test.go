package sentelite_test

import (
	"errors"
	"fmt"
	"runtime"
	"testing"

	"olympos.io/encoding/edn"

	"github.com/sente-clj/sente/sentelite"
	"github.com/sente-clj/sente/wire"
)

func BenchmarkSendEvent(b *testing.B) {
	for _, q := range []int{0, 1024} {
		name := "direct"
		if q > 0 {
			name = fmt.Sprintf("queue=%d", q)
		}
		b.Run(name, func(b *testing.B) {
			h := newHub(b, func(h *testHub) { h.discard = true })
			c := dial(b, h, func(o *sentelite.Options) { o.SendQueue = q })
			ev := wire.Event{ID: "bench/event", HasData: true, Data: map[edn.Keyword]any{
				"n": int64(42), "text": "hello, sente-lite", "ok": true}}
			b.ReportAllocs()
			for b.Loop() {
				for {
					err := c.Send(ev)
					if err == nil {
						break
					}
					if !errors.Is(err, sentelite.ErrRejected) {
						b.Fatal(err)
					}
					runtime.Gosched() // backpressure: let the writer catch up
				}
			}
			b.StopTimer()
			if err := c.Close(); err != nil {
				b.Fatal(err)
			}
		})
	}
}
