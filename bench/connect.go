package bench

import (
	"context"
	"sync"
	"time"
)

// ConnectConfig sets up the connect scenario.
type ConnectConfig struct {
	Limits
	Concurrency int // connections being opened at once
}

// Connect is a storm: Count sente-lite connections, Concurrency at a time,
// each opened, handshaken and closed. The latency is dial to handshake. At the
// end it waits for the gateway to count them all gone and reports whether its
// goroutines and memory went back to where they were.
func Connect(ctx context.Context, env Env, cfg ConnectConfig) (*Report, error) {
	g := env.Gateway
	cfg.Concurrency = max(cfg.Concurrency, 1)
	rep := &Report{Scenario: "connect", Gateway: g.Label, Unit: "connects", Settings: []Setting{
		{"count", cfg.Count}, {"concurrency", cfg.Concurrency}, {"duration", cfg.Duration.String()}, {"warmup", cfg.Warmup},
	}}
	before, err := g.Stats(ctx, true)
	if err != nil {
		return nil, setupErr("read %s/stats: %v", g.HTTP, err)
	}
	rep.MemoryBefore = before.Memory
	d := g.dialer(1024)
	var errs errorLog
	storm := func(b *budget, lats []*Latencies) {
		var wg sync.WaitGroup
		for w := range cfg.Concurrency {
			wg.Go(func() {
				for b.take() {
					t0 := time.Now()
					conn, _, err := dialChsk(ctx, d, g.HTTP, "/chsk")
					if err != nil {
						errs.add(err)
						continue
					}
					if lats != nil {
						lats[w].Add(time.Since(t0))
					}
					closeWS(conn)
					b.done.Add(1)
				}
			})
		}
		wg.Wait()
	}
	if cfg.Warmup > 0 {
		storm(&budget{limit: cfg.Warmup}, nil)
	}

	lats := make([]*Latencies, cfg.Concurrency)
	for i := range lats {
		lats[i] = NewLatencies(max(DefaultSampleCap/cfg.Concurrency, 4096))
	}
	cpu := startCPU(g)
	start := time.Now()
	b := newBudget(cfg.Limits, start)
	bar := startProgress(ctx, env.Progress, cfg.Count, cfg.Duration, b.done.Load)
	storm(b, lats)
	rep.Elapsed = time.Since(start)
	bar.Stop()
	cpuFigures := cpu.figures()

	all := NewLatencies(0)
	for _, l := range lats {
		all.Merge(l)
	}
	rep.Operations = all.Count()
	rep.Throughput = throughput(rep.Operations, rep.Elapsed)
	rep.Latency = all.Summary()
	errs.fill(rep)

	// The gateway cleans up after each close on its own goroutines: wait for it.
	var after Stats
	settled := waitFor(ctx, 10*time.Second, func() (bool, error) {
		var err error
		after, err = g.Stats(ctx, false)
		return err == nil && after.SenteLite.Connections <= before.SenteLite.Connections, err
	})
	if after, err = g.Stats(ctx, true); err != nil {
		return nil, setupErr("read %s/stats: %v", g.HTTP, err)
	}
	rep.MemoryAfter = after.Memory
	left := after.SenteLite.Connections - before.SenteLite.Connections
	rep.Figures = append(rep.Figures,
		Figure{Key: "connections-left-open", Label: "still open after", Value: float64(left)},
		Figure{Key: "goroutines-delta", Label: "goroutines after − before", Value: float64(after.Memory.Goroutines - before.Memory.Goroutines)},
		Figure{Key: "heap-inuse-delta-bytes", Label: "heap in use after − before", Value: float64(after.Memory.HeapInuseBytes - before.Memory.HeapInuseBytes), Unit: "bytes"},
		Figure{Key: "rejected-connections", Label: "refused by the gateway", Value: float64(after.SenteLite.RejectedConns - before.SenteLite.RejectedConns)},
	)
	rep.Figures = append(rep.Figures, cpuFigures...)
	if settled != nil {
		rep.Notes = append(rep.Notes, "the gateway still counted open connections 10s after the storm")
	}
	return rep, nil
}
