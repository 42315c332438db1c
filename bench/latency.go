package bench

import (
	"encoding/json"
	"math"
	"slices"
	"time"
)

// DefaultSampleCap bounds the latencies one Latencies keeps: 8 MiB of samples.
const DefaultSampleCap = 1 << 20

// Latencies records durations for percentiles. It keeps every sample up to its
// capacity and a uniform random sample (reservoir sampling) beyond it, so memory
// stays bounded however long a run lasts; the count and the maximum are always
// exact. It is not safe for concurrent use: give each goroutine its own and
// Merge them at the end.
type Latencies struct {
	samples []time.Duration
	limit   int
	seen    int64
	max     time.Duration
	sorted  bool
	rng     uint64 // xorshift state for the reservoir
}

// NewLatencies returns an empty recorder keeping at most capacity samples
// (DefaultSampleCap if capacity <= 0).
func NewLatencies(capacity int) *Latencies {
	if capacity <= 0 {
		capacity = DefaultSampleCap
	}
	return &Latencies{limit: capacity, rng: 0x9E3779B97F4A7C15}
}

// Add records one duration.
func (l *Latencies) Add(d time.Duration) {
	if l.limit == 0 {
		l.limit = DefaultSampleCap
		l.rng = 0x9E3779B97F4A7C15
	}
	l.seen++
	if d > l.max {
		l.max = d
	}
	l.sorted = false
	if len(l.samples) < l.limit {
		l.samples = append(l.samples, d)
		return
	}
	// Algorithm R: the n-th sample replaces a random slot with probability limit/n.
	if j := l.next() % uint64(l.seen); j < uint64(l.limit) {
		l.samples[j] = d
	}
}

func (l *Latencies) next() uint64 {
	x := l.rng
	x ^= x << 13
	x ^= x >> 7
	x ^= x << 17
	l.rng = x
	return x
}

// Merge adds o's samples, count and maximum to l. Each recorder's samples
// stand for its own stream, so merge recorders of similar counts (one per
// worker doing the same job), or size them so that no sampling happens.
func (l *Latencies) Merge(o *Latencies) {
	if o == nil {
		return
	}
	if l.limit == 0 {
		l.limit = DefaultSampleCap
		l.rng = 0x9E3779B97F4A7C15
	}
	for _, d := range o.samples {
		if len(l.samples) < l.limit {
			l.samples = append(l.samples, d)
		} else if j := l.next() % uint64(len(l.samples)+1); j < uint64(l.limit) {
			l.samples[j] = d
		}
	}
	l.seen += o.seen
	l.max = max(l.max, o.max)
	l.sorted = false
}

// Count is how many durations were added, sampled or not.
func (l *Latencies) Count() int64 { return l.seen }

// Max is the largest duration added.
func (l *Latencies) Max() time.Duration { return l.max }

// Percentile returns the nearest-rank p-th percentile (0 < p <= 100) of the
// samples: the smallest sample with at least p% of the samples at or below it.
// It is 0 with no samples.
func (l *Latencies) Percentile(p float64) time.Duration {
	n := len(l.samples)
	if n == 0 {
		return 0
	}
	if !l.sorted {
		slices.Sort(l.samples)
		l.sorted = true
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	rank = min(max(rank, 1), n)
	return l.samples[rank-1]
}

// Summary is the figures every report prints.
func (l *Latencies) Summary() LatencySummary {
	return LatencySummary{
		Samples: l.seen,
		P50:     l.Percentile(50),
		P90:     l.Percentile(90),
		P99:     l.Percentile(99),
		Max:     l.max,
	}
}

// LatencySummary is a latency distribution in the four figures a report
// shows. In JSON the durations are microseconds.
type LatencySummary struct {
	Samples            int64
	P50, P90, P99, Max time.Duration
}

func (s LatencySummary) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Samples int64   `json:"samples"`
		P50     float64 `json:"p50-us"`
		P90     float64 `json:"p90-us"`
		P99     float64 `json:"p99-us"`
		Max     float64 `json:"max-us"`
	}{s.Samples, micros(s.P50), micros(s.P90), micros(s.P99), micros(s.Max)})
}

func micros(d time.Duration) float64 { return math.Round(float64(d)/1e1) / 1e2 }
