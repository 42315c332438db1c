package wsconn

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Liveness is the one heartbeat for every WebSocket a server holds: a single
// ticker pings quiet peers and closes those silent past the timeout, instead
// of a timer per connection.
type Liveness struct {
	// tick starts the sweep's ticker: a real one, except in tests, which
	// send the times themselves.
	tick func(d time.Duration) (ticks <-chan time.Time, stop func())

	mu     sync.Mutex
	conns  map[liveConn]func() error // how to ping each connection
	closed bool                      // shutdown began: no new connections
}

// liveConn is what Liveness needs of a connection; *Conn is the one a server
// has, a test may give its own.
type liveConn interface {
	// idleFor is how long before now the peer last sent anything.
	idleFor(now time.Time) time.Duration
	Close(state CloseState, reason string)
}

// NewLiveness makes a Liveness with nothing registered; Run starts its sweep.
func NewLiveness() *Liveness {
	return &Liveness{tick: realTicker, conns: map[liveConn]func() error{}}
}

func realTicker(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

// Add registers a connection, and ping as the way to ping it (a WebSocket
// ping, or a ping event of the peer's protocol). After CloseAll it refuses,
// and the caller must turn the connection away, since nothing would close
// it otherwise.
func (l *Liveness) Add(c *Conn, ping func() error) bool { return l.add(c, ping) }

func (l *Liveness) add(c liveConn, ping func() error) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.conns[c] = ping
	return true
}

// CloseAll ends every registered connection as ClosedShutdown, with reason,
// and refuses new ones.
func (l *Liveness) CloseAll(reason string) {
	l.mu.Lock()
	l.closed = true
	conns := make([]liveConn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		c.Close(ClosedShutdown, reason)
	}
}

// Remove forgets a connection that has ended.
func (l *Liveness) Remove(c *Conn) { l.remove(c) }

func (l *Liveness) remove(c liveConn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
}

// Run pings every interval until ctx ends: a peer quiet for half the
// interval is pinged, one silent past timeout (0: never) is closed as
// ClosedStale. An interval of 0 turns the heartbeat off.
func (l *Liveness) Run(ctx context.Context, interval, timeout time.Duration) {
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

func (l *Liveness) sweep(now time.Time, interval, timeout time.Duration) {
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
			t.c.Close(ClosedStale, fmt.Sprintf("silent for %s (heartbeat timeout %s)", idle.Round(time.Second), timeout))
		case idle >= interval/2:
			_ = t.ping()
		}
	}
}
