package sentelite

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name      string
		base, max time.Duration
		jitter    float64
		want      []time.Duration
	}{
		{"doubles to the cap", 10 * ms, 100 * ms, 0, []time.Duration{10 * ms, 20 * ms, 40 * ms, 80 * ms, 100 * ms, 100 * ms}},
		{"defaults", 0, 0, 0, []time.Duration{250 * ms, 500 * ms, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}},
		{"max below base", 50 * ms, 10 * ms, 0, []time.Duration{50 * ms, 50 * ms}},
		{"jitter", 100 * ms, time.Second, 0.2, []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, time.Second, time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New(Options{URL: "ws://127.0.0.1:1/chsk", BackoffBase: tt.base, BackoffMax: tt.max, Jitter: tt.jitter})
			defer c.Close()
			for i, w := range tt.want {
				for range 20 {
					d := c.backoff(i)
					lo, hi := time.Duration(float64(w)*(1-tt.jitter)), time.Duration(float64(w)*(1+tt.jitter))
					if d < lo || d > hi {
						t.Fatalf("attempt %d: %v, want %v..%v", i, d, lo, hi)
					}
				}
			}
		})
	}
}
