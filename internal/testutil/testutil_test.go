package testutil

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sente-clj/sente/nrepl"
)

func TestPoll(t *testing.T) {
	var n atomic.Int32
	go func() {
		for range 3 {
			n.Add(1)
		}
	}()
	if !Poll(context.Background(), 0, func() bool { return n.Load() == 3 }) {
		t.Error("Poll gave up on a condition that came true")
	}
	if Poll(context.Background(), time.Millisecond, func() bool { return false }) {
		t.Error("Poll reported a condition that never held")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Poll(ctx, 0, func() bool { return false }) {
		t.Error("Poll with an ended ctx reported a condition that never held")
	}
}

func TestBuffer(t *testing.T) {
	var b Buffer
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fmt.Fprintf(&b, "line %d\n", i)
		}()
	}
	b.WaitFor(t, "line 7\n", 0)
	wg.Wait()
	select {
	case <-b.Changed():
	default:
		t.Error("Changed has no token after writes")
	}
	if got := len(b.String()); got != 10*len("line 0\n") {
		t.Errorf("%d bytes written, want %d", got, 10*len("line 0\n"))
	}
}

func TestResponses(t *testing.T) {
	rs := []nrepl.Msg{
		{"out": "a", "status": []any{"x"}},
		{"out": "b", "err": "e"},
		{"status": []any{"done", "error"}},
	}
	if got := fmt.Sprint(Statuses(rs)); got != "[x done error]" {
		t.Errorf("Statuses = %s", got)
	}
	if got := Joined(rs, "out"); got != "ab" {
		t.Errorf("Joined out = %q", got)
	}
	if got := Joined(rs, "err"); got != "e" {
		t.Errorf("Joined err = %q", got)
	}
}
