package wsconn

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeLiveConn is a connection on the test's clock. It records what each
// sweep did to it: "quiet", "ping" or "close <state>".
type fakeLiveConn struct {
	mu       sync.Mutex
	activity []time.Time // when the peer sent something
	events   []string    // one per sweep, plus one per close outside a sweep
	state    CloseState
	reason   string
}

// idleFor counts from the peer's last activity at or before now, so the test
// may record activity ahead of a sweep without racing the one before.
func (c *fakeLiveConn) idleFor(now time.Time) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var last time.Time
	for _, a := range c.activity {
		if !a.After(now) && a.After(last) {
			last = a
		}
	}
	c.events = append(c.events, "quiet")
	return now.Sub(last)
}

func (c *fakeLiveConn) Close(state CloseState, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.state, c.reason = state, reason
	c.mark(fmt.Sprintf("close %d", state))
}

func (c *fakeLiveConn) ping() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mark("ping")
	return nil
}

// mark says what this sweep did; callers hold c.mu.
func (c *fakeLiveConn) mark(event string) {
	if n := len(c.events); n > 0 && c.events[n-1] == "quiet" {
		c.events[n-1] = event
		return
	}
	c.events = append(c.events, event)
}

func TestLivenessOnAFixedClock(t *testing.T) {
	const interval, timeout = 10 * time.Second, 30 * time.Second
	start := time.Unix(1_000_000, 0)
	stale := fmt.Sprintf("close %d", ClosedStale)
	type tick struct {
		at     time.Duration // since start
		active bool          // the peer sent something at this moment
	}
	tests := []struct {
		name    string
		timeout time.Duration
		ticks   []tick
		want    []string
	}{
		{"a peer heard from lately is left alone", timeout,
			[]tick{{at: 4 * time.Second}}, []string{"quiet"}},
		{"a peer silent for half the interval is pinged", timeout,
			[]tick{{at: 5 * time.Second}}, []string{"ping"}},
		{"a silent peer is pinged each sweep, then closed past the timeout", timeout,
			[]tick{{at: 10 * time.Second}, {at: 20 * time.Second}, {at: 30 * time.Second}, {at: 40 * time.Second}},
			[]string{"ping", "ping", "ping", stale}},
		{"activity starts the silence over", timeout,
			[]tick{{at: 10 * time.Second}, {at: 20 * time.Second, active: true}, {at: 30 * time.Second},
				{at: 40 * time.Second}, {at: 50 * time.Second}, {at: 60 * time.Second}},
			[]string{"ping", "quiet", "ping", "ping", "ping", stale}},
		{"without a timeout a silent peer is only pinged", 0,
			[]tick{{at: 10 * time.Minute}, {at: 20 * time.Minute}}, []string{"ping", "ping"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ticks := make(chan time.Time)
			l := NewLiveness()
			l.tick = func(d time.Duration) (<-chan time.Time, func()) {
				if d != interval {
					t.Errorf("ticker every %s, want %s", d, interval)
				}
				return ticks, func() {}
			}
			c := &fakeLiveConn{activity: []time.Time{start}}
			if !l.add(c, c.ping) {
				t.Fatal("liveness refused a connection before shutdown")
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				defer close(done)
				l.Run(ctx, interval, tc.timeout)
			}()
			for _, tk := range tc.ticks {
				now := start.Add(tk.at)
				if tk.active {
					c.mu.Lock()
					c.activity = append(c.activity, now)
					c.mu.Unlock()
				}
				select {
				case ticks <- now:
				case <-time.After(waitBound):
					t.Fatalf("liveness took no tick within %s", waitBound)
				}
			}
			// run returns only between sweeps, so every tick's sweep is over.
			cancel()
			select {
			case <-done:
			case <-time.After(waitBound):
				t.Fatalf("liveness did not stop within %s", waitBound)
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			if !slices.Equal(c.events, tc.want) {
				t.Errorf("sweeps did %v, want %v", c.events, tc.want)
			}
			if c.state == ClosedStale && !strings.Contains(c.reason, "heartbeat timeout") {
				t.Errorf("closed with reason %q, want it to name the heartbeat timeout", c.reason)
			}
		})
	}
}

func TestLivenessCloseAllEndsConnectionsAndRefusesNew(t *testing.T) {
	l := NewLiveness()
	a, b := &fakeLiveConn{}, &fakeLiveConn{}
	l.add(a, a.ping)
	l.add(b, b.ping)
	l.remove(b)
	l.CloseAll("test over")
	if a.state != ClosedShutdown || a.reason != "test over" {
		t.Errorf("registered connection closed as %d %q, want shutdown with the reason", a.state, a.reason)
	}
	if b.state != StillOpen {
		t.Errorf("removed connection closed as %d, want it left alone", b.state)
	}
	if c := (&fakeLiveConn{}); l.add(c, c.ping) {
		t.Error("liveness took a connection after closeAll")
	}
}
