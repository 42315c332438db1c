package bench

import (
	"testing"
	"time"
)

func TestBudget(t *testing.T) {
	b := newBudget(Limits{Count: 5}, time.Now())
	n := 0
	for b.take() {
		n++
	}
	if n != 5 || !b.stopped.Load() {
		t.Errorf("count budget: %d operations, stopped %v", n, b.stopped.Load())
	}

	// Rounds of 3 out of 10: 3, 3, 3, 1, then the parent is spent.
	b = newBudget(Limits{Count: 10}, time.Now())
	var rounds []int
	for !b.stopped.Load() {
		q, k := b.quota(3), 0
		for q.take() {
			k++
		}
		rounds = append(rounds, k)
	}
	if got := rounds; len(got) != 4 || got[0] != 3 || got[3] != 1 {
		t.Errorf("rounds %v, want [3 3 3 1]", got)
	}

	// A deadline ends rounds too, instead of starting empty ones forever.
	// It started a second ago, so its millisecond has passed.
	b = newBudget(Limits{Duration: time.Millisecond}, time.Now().Add(-time.Second))
	if q := b.quota(3); q.take() || !b.stopped.Load() {
		t.Error("a round past the deadline must stop its parent")
	}
}
