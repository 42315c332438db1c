package bench

import (
	"context"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// IdleConfig sets up the idle scenario.
type IdleConfig struct {
	Limits             // Count is the connections to hold; Duration bounds opening them
	Path        string // "/chsk" (sente-lite clients) or "/_nrepl" (Scittle runtimes)
	Concurrency int    // connections being opened at once
}

// Idle measures what an idle connection costs the gateway: its memory after a
// GC, then Count connections opened and held by this process without a
// goroutine each, then, once /stats counts them all, its memory again. The
// difference divided by the connections is the cost of one.
func Idle(ctx context.Context, env Env, cfg IdleConfig) (*Report, error) {
	g := env.Gateway
	cfg.Concurrency = max(cfg.Concurrency, 1)
	if cfg.Path == "" {
		cfg.Path = "/chsk"
	}
	if cfg.Path != "/chsk" && cfg.Path != "/_nrepl" {
		return nil, setupErr("--path %q: use /chsk or /_nrepl", cfg.Path)
	}
	rep := &Report{Scenario: "idle", Gateway: g.Label, Unit: "connections", Settings: []Setting{
		{"connections", cfg.Count}, {"path", cfg.Path}, {"concurrency", cfg.Concurrency},
	}}
	before, err := g.Stats(ctx, true)
	if err != nil {
		return nil, setupErr("read %s/stats: %v", g.HTTP, err)
	}
	rep.MemoryBefore = before.Memory
	counted := func(s Stats) int64 {
		if cfg.Path == "/chsk" {
			return s.SenteLite.Connections
		}
		return s.NREPL.Runtimes
	}

	// Small buffers and a shared write-buffer pool: the clients' memory is
	// this process's, but there are thousands of them.
	d := g.dialer(256)
	d.WriteBufferPool = &sync.Pool{}
	var (
		errs  errorLog
		mu    sync.Mutex
		conns = make([]*websocket.Conn, 0, cfg.Count)
		lats  = make([]*Latencies, cfg.Concurrency)
	)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	start := time.Now()
	b := newBudget(Limits{Count: cfg.Count, Duration: cfg.Duration}, start)
	bar := startProgress(ctx, env.Progress, cfg.Count, cfg.Duration, b.done.Load)
	var wg sync.WaitGroup
	for w := range lats {
		lats[w] = NewLatencies(max(int(cfg.Count)/cfg.Concurrency+1, 1024))
		wg.Go(func() {
			for b.take() {
				t0 := time.Now()
				var conn *websocket.Conn
				var err error
				if cfg.Path == "/chsk" {
					conn, _, err = dialChsk(ctx, d, g.HTTP, cfg.Path)
				} else {
					conn, err = dial(ctx, d, g.HTTP, cfg.Path)
				}
				if err != nil {
					errs.add(err)
					continue
				}
				lats[w].Add(time.Since(t0))
				mu.Lock()
				conns = append(conns, conn)
				mu.Unlock()
				b.done.Add(1)
			}
		})
	}
	wg.Wait()
	rep.Elapsed = time.Since(start)
	bar.Stop()

	all := NewLatencies(0)
	for _, l := range lats {
		all.Merge(l)
	}
	n := int64(len(conns))
	rep.Operations = n
	rep.Throughput = throughput(n, rep.Elapsed)
	rep.Latency = all.Summary()

	var now Stats
	err = waitFor(ctx, 30*time.Second, func() (bool, error) {
		var err error
		now, err = g.Stats(ctx, false)
		return err == nil && counted(now)-counted(before) >= n, err
	})
	if err != nil {
		errs.addf("the gateway counts %d of the %d connections opened", counted(now)-counted(before), n)
	}
	settle(ctx, g)
	errs.fill(rep)

	// As the process holds it now, garbage from the upgrades included: what
	// an operator's ps shows on a gateway that has not collected yet.
	raw, err := g.Stats(ctx, false)
	if err != nil {
		return nil, setupErr("read %s/stats: %v", g.HTTP, err)
	}
	after, err := g.Stats(ctx, true)
	if err != nil {
		return nil, setupErr("read %s/stats: %v", g.HTTP, err)
	}
	rep.MemoryAfter = after.Memory
	if n > 0 {
		per := func(a, b int64) float64 { return float64(a-b) / float64(n) }
		rep.Figures = append(rep.Figures,
			Figure{Key: "total-bytes-per-conn", Label: "Δtotal per connection", Value: per(after.Memory.TotalBytes, before.Memory.TotalBytes), Unit: "bytes"},
			Figure{Key: "heap-inuse-bytes-per-conn", Label: "Δheap in use per connection", Value: per(after.Memory.HeapInuseBytes, before.Memory.HeapInuseBytes), Unit: "bytes"},
			Figure{Key: "stack-bytes-per-conn", Label: "Δstacks per connection", Value: per(after.Memory.StackBytes, before.Memory.StackBytes), Unit: "bytes"},
		)
		if before.Memory.RSSBytes > 0 && after.Memory.RSSBytes > 0 {
			rep.Figures = append(rep.Figures, Figure{Key: "rss-bytes-per-conn", Label: "ΔRSS per connection",
				Value: per(after.Memory.RSSBytes, before.Memory.RSSBytes), Unit: "bytes"})
		}
		if before.Memory.RSSBytes > 0 && raw.Memory.RSSBytes > 0 {
			rep.Figures = append(rep.Figures, Figure{Key: "rss-bytes-per-conn-no-gc", Label: "ΔRSS per connection, no forced GC",
				Value: per(raw.Memory.RSSBytes, before.Memory.RSSBytes), Unit: "bytes"})
		}
		rep.Figures = append(rep.Figures,
			Figure{Key: "goroutines-per-conn", Label: "goroutines per connection", Value: round(per(after.Memory.Goroutines, before.Memory.Goroutines), 2)},
		)
	}
	rep.Notes = append(rep.Notes, "latency and throughput are of opening the connections (dial, upgrade, handshake)")
	return rep, nil
}

// settle waits until the gateway's goroutine count holds still for 200ms (at
// most 3s): connection setup leaves short-lived writers behind.
func settle(ctx context.Context, g *Gateway) {
	last := int64(-1)
	steady := 0
	deadline := time.Now().Add(3 * time.Second)
	for steady < 2 && time.Now().Before(deadline) {
		s, err := g.Stats(ctx, false)
		if err != nil {
			return
		}
		if s.Memory.Goroutines == last {
			steady++
		} else {
			steady, last = 0, s.Memory.Goroutines
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}
