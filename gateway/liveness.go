package gateway

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// liveness is the one heartbeat for every WebSocket the gateway holds: a single
// ticker pings quiet peers and closes those silent past the timeout, instead of a
// timer per connection.
type liveness struct {
	// tick starts the sweep's ticker: a real one, except in tests, which
	// send the times themselves.
	tick func(d time.Duration) (ticks <-chan time.Time, stop func())

	mu     sync.Mutex
	conns  map[liveConn]func() error // how to ping each connection
	closed bool                      // shutdown began: no new connections
}

// liveConn is what liveness needs of a connection; *wsConn is the one the
// gateway has, a test may give its own.
type liveConn interface {
	// idleFor is how long before now the peer last sent anything.
	idleFor(now time.Time) time.Duration
	close(state closeState, reason string)
}

func newLiveness() *liveness {
	return &liveness{tick: realTicker, conns: map[liveConn]func() error{}}
}

func realTicker(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// add registers a connection; after closeAll it refuses, and the caller must
// turn the connection away, since nothing would close it otherwise.
func (l *liveness) add(c liveConn, ping func() error) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.conns[c] = ping
	return true
}

// closeAll ends every registered connection and refuses new ones.
func (l *liveness) closeAll(reason string) {
	l.mu.Lock()
	l.closed = true
	conns := make([]liveConn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		c.close(closedShutdown, reason)
	}
}

func (l *liveness) remove(c liveConn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
}

// run pings every interval until ctx ends.
func (l *liveness) run(ctx context.Context, interval, timeout time.Duration) {
	if interval <= 0 {
		return
	}
	ticks, stop := l.tick(interval)
	defer stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-ticks:
			l.sweep(now, interval, timeout)
		}
	}
}

func (l *liveness) sweep(now time.Time, interval, timeout time.Duration) {
	type target struct {
		c    liveConn
		ping func() error
	}
	l.mu.Lock()
	targets := make([]target, 0, len(l.conns))
	for c, p := range l.conns {
		targets = append(targets, target{c, p})
	}
	l.mu.Unlock()
	for _, t := range targets {
		idle := t.c.idleFor(now)
		switch {
		case timeout > 0 && idle > timeout:
			t.c.close(closedStale, fmt.Sprintf("silent for %s (heartbeat timeout %s)", idle.Round(time.Second), timeout))
		case idle >= interval/2:
			_ = t.ping()
		}
	}
}
