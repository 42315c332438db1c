package bench

import (
	"testing"
	"time"
)

func TestPercentiles(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		out := make([]time.Duration, len(ns))
		for i, n := range ns {
			out[i] = time.Duration(n) * time.Millisecond
		}
		return out
	}
	tests := []struct {
		name    string
		samples []time.Duration
		p       float64
		want    time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one sample is every percentile", ms(7), 99, 7 * time.Millisecond},
		{"p50 of 4 is the 2nd", ms(4, 1, 3, 2), 50, 2 * time.Millisecond},
		{"p50 of 5 is the 3rd", ms(5, 4, 3, 2, 1), 50, 3 * time.Millisecond},
		{"p90 of 10 is the 9th", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 90, 9 * time.Millisecond},
		{"p91 of 10 rounds up to the 10th", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 91, 10 * time.Millisecond},
		{"p99 of 100 is the 99th", ms(seq(100)...), 99, 99 * time.Millisecond},
		{"p100 is the max", ms(3, 9, 1), 100, 9 * time.Millisecond},
		{"p0 is the min", ms(3, 9, 1), 0, 1 * time.Millisecond},
		{"duplicates", ms(5, 5, 5, 1), 50, 5 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var l Latencies
			for _, d := range tt.samples {
				l.Add(d)
			}
			if got := l.Percentile(tt.p); got != tt.want {
				t.Errorf("Percentile(%v) = %v, want %v", tt.p, got, tt.want)
			}
			if l.Count() != int64(len(tt.samples)) {
				t.Errorf("Count = %d, want %d", l.Count(), len(tt.samples))
			}
		})
	}
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i + 1
	}
	return out
}

func TestLatenciesBoundedAndExact(t *testing.T) {
	l := NewLatencies(1000)
	for i := 1; i <= 100000; i++ {
		l.Add(time.Duration(i) * time.Microsecond)
	}
	if len(l.samples) != 1000 {
		t.Fatalf("kept %d samples, want the capacity 1000", len(l.samples))
	}
	if l.Count() != 100000 || l.Max() != 100*time.Millisecond {
		t.Fatalf("Count %d Max %v, want 100000 and 100ms exactly", l.Count(), l.Max())
	}
	// A uniform sample of 1..100000µs: its median is near 50ms.
	if p50 := l.Percentile(50); p50 < 40*time.Millisecond || p50 > 60*time.Millisecond {
		t.Errorf("sampled p50 = %v, want about 50ms", p50)
	}
	s := l.Summary()
	if !(s.P50 <= s.P90 && s.P90 <= s.P99 && s.P99 <= s.Max) {
		t.Errorf("summary out of order: %+v", s)
	}
}

func TestMerge(t *testing.T) {
	a, b := NewLatencies(0), NewLatencies(0)
	for i := 1; i <= 50; i++ {
		a.Add(time.Duration(i))
		b.Add(time.Duration(50 + i))
	}
	a.Merge(b)
	a.Merge(nil)
	if a.Count() != 100 || a.Max() != 100 || a.Percentile(50) != 50 || a.Percentile(99) != 99 {
		t.Errorf("merged: count %d max %v p50 %v p99 %v", a.Count(), a.Max(), a.Percentile(50), a.Percentile(99))
	}
	// Adding after a percentile was read re-sorts.
	a.Add(0)
	if a.Percentile(0) != 0 {
		t.Errorf("min after Add = %v, want 0", a.Percentile(0))
	}
}
