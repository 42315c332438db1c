package bench

import (
	"context"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sente-clj/sente/wire"
)

// PingConfig sets up the ping scenario.
type PingConfig struct {
	Limits
	// EchoAddr is the bare WebSocket echo server measured beside the gateway;
	// "" measures the gateway alone.
	EchoAddr string
}

// pingBlock is how many round trips go to one side before switching to the
// other, so that both see the same machine.
const pingBlock = 100

// Ping measures the sente-lite heartbeat round trip: one client sends
// [:chsk/ws-ping] and waits for [:chsk/ws-pong], Count times. Beside it, in
// blocks that alternate with the gateway's, the same frame goes to a bare
// echo server and back: the floor.
func Ping(ctx context.Context, env Env, cfg PingConfig) (*Report, error) {
	g := env.Gateway
	rep := &Report{Scenario: "ping", Gateway: g.Label, Unit: "pings", Settings: []Setting{
		{"count", cfg.Count}, {"duration", cfg.Duration.String()}, {"warmup", cfg.Warmup}, {"echo-floor", cfg.EchoAddr != ""},
	}}
	before, err := g.Stats(ctx, true)
	if err != nil {
		return nil, setupErr("read %s/stats: %v", g.HTTP, err)
	}
	rep.MemoryBefore = before.Memory

	conn, frames, err := dialChsk(ctx, g.dialer(1024), g.HTTP, "/chsk")
	if err != nil {
		return nil, setupErr("%v", err)
	}
	defer closeWS(conn)
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	ping := encode(wire.Event{ID: wire.EvPing})
	isPong := func(b []byte) bool { return countEvents(b, ":"+string(wire.EvPong)) > 0 }
	gw := side{conn: conn, frames: frames, frame: ping, isAnswer: isPong}

	var echo *side
	if cfg.EchoAddr != "" {
		if echo, err = dialEcho(ctx, cfg.EchoAddr, ping); err != nil {
			return nil, err
		}
		defer closeWS(echo.conn)
	}

	var errs errorLog
	for i := int64(0); i < cfg.Warmup; i++ {
		if err := gw.once(nil); err != nil {
			errs.add(err)
			break
		}
		if echo != nil {
			if err := echo.once(nil); err != nil {
				return nil, setupErr("echo server: %v", err)
			}
		}
	}

	capacity := int(min(max(cfg.Count, 1), DefaultSampleCap))
	gwLat, echoLat := NewLatencies(capacity), NewLatencies(capacity)
	cpu := newCPUMeter(g)
	start := time.Now()
	b := newBudget(cfg.Limits, start)
	bar := startProgress(ctx, env.Progress, cfg.Count, cfg.Duration, b.done.Load)
	var measured time.Duration
	for errs.n.Load() == 0 && !b.stopped.Load() {
		cpu.start()
		t0 := time.Now()
		n := 0
		for ; n < pingBlock && b.take(); n++ {
			if err := gw.once(gwLat); err != nil {
				errs.add(err)
				break
			}
			b.done.Add(1)
		}
		measured += time.Since(t0)
		cpu.stop()
		if echo != nil {
			for range n {
				if err := echo.once(echoLat); err != nil {
					return nil, setupErr("echo server: %v", err)
				}
			}
		}
	}
	bar.Stop()
	rep.Figures = append(rep.Figures, cpu.figures()...)

	rep.Elapsed = measured
	rep.Operations = gwLat.Count()
	rep.Throughput = throughput(rep.Operations, measured)
	rep.Latency = gwLat.Summary()
	errs.fill(rep)
	if echo != nil {
		rep.Floor = &Floor{Latency: echoLat.Summary(), Ratio: ratio(gwLat.Percentile(50), echoLat.Percentile(50))}
	}
	rep.Notes = append(rep.Notes, "elapsed, throughput and CPU count the gateway's round trips only; the echo's alternate with them in blocks of 100")

	after, err := g.Stats(ctx, true)
	if err != nil {
		return nil, setupErr("read %s/stats: %v", g.HTTP, err)
	}
	rep.MemoryAfter = after.Memory
	return rep, nil
}

// side is one end the ping scenario measures: the gateway or the echo server.
type side struct {
	conn     *websocket.Conn
	frames   *frameReader
	frame    []byte
	isAnswer func([]byte) bool
	deadline time.Time
}

// once does one round trip and records it in lat (nil: not recorded).
func (s *side) once(lat *Latencies) error {
	now := time.Now()
	if s.deadline.Sub(now) < 15*time.Second {
		s.deadline = now.Add(30 * time.Second)
		_ = s.conn.SetReadDeadline(s.deadline)
	}
	t0 := time.Now()
	if err := roundTrip(s.conn, s.frames, s.frame, s.isAnswer); err != nil {
		return err
	}
	if lat != nil {
		lat.Add(time.Since(t0))
	}
	return nil
}
