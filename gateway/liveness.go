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
	mu     sync.Mutex
	conns  map[*wsConn]func() error // how to ping each connection
	closed bool                     // shutdown began: no new connections
}

func newLiveness() *liveness { return &liveness{conns: map[*wsConn]func() error{}} }

// add registers a connection; after closeAll it refuses, and the caller must
// turn the connection away, since nothing would close it otherwise.
func (l *liveness) add(c *wsConn, ping func() error) bool {
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
	conns := make([]*wsConn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		c.close(closedShutdown, reason)
	}
}

func (l *liveness) remove(c *wsConn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
}

// run pings every interval until ctx ends.
func (l *liveness) run(ctx context.Context, interval, timeout time.Duration) {
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			l.sweep(now, interval, timeout)
		}
	}
}

func (l *liveness) sweep(now time.Time, interval, timeout time.Duration) {
	type target struct {
		c    *wsConn
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
