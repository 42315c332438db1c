package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"olympos.io/encoding/edn"

	"github.com/sente-clj/sente/wire"
)

// FanoutConfig sets up the fanout scenario.
type FanoutConfig struct {
	Limits          // Count is the messages published (after Warmup)
	Subscribers int // raw WebSocket clients subscribed to the one channel
	Payload     int // bytes of padding in each message's data
	// Window bounds how far the publisher runs ahead: message i is published
	// only once every subscriber has received message i-Window, so the hub's
	// per-client queue (4096 frames by default) is never overrun by the
	// benchmark itself.
	Window      int
	Rate        float64 // messages per second at most; 0 means only the window paces
	Concurrency int     // subscribers connecting at once during setup
	// Others are more gateway instances sharing channels with Gateway through
	// NATS; subscribers are spread evenly over all of them, the publisher is on
	// Gateway (fanout_instances.go).
	Others []*Gateway
	// Batch makes the subscribers ask for batch frames (/chsk?batch=1), as
	// sente's own clients do; without it they get one event per frame, as
	// sente-lite's published clients need.
	Batch bool
}

// latencySubscribers is how many subscribers, spread evenly, decode every
// message to record its latency; the others only count events.
const latencySubscribers = 16

// stallTimeout ends a run whose subscribers stopped receiving.
const stallTimeout = 10 * time.Second

// Event ids as the frames spell them, for the counting fast path.
const (
	evChannelMsg = ":" + string(wire.EvChannelMsg)
	evPing       = ":" + string(wire.EvPing)
	evError      = ":" + string(wire.EvError)
	pongFrame    = "[:" + string(wire.EvPong) + "]"
)

// Fanout measures pub/sub delivery from one publisher to Subscribers
// subscribers of one channel: delivered messages per second (all events every
// subscriber received, over the time from the first publish to the last
// delivery), the latency from publish to receipt, and messages lost.
func Fanout(ctx context.Context, env Env, cfg FanoutConfig) (*Report, error) {
	g := env.Gateway
	cfg.Subscribers, cfg.Concurrency, cfg.Window = max(cfg.Subscribers, 1), max(cfg.Concurrency, 1), max(cfg.Window, 1)
	rep := &Report{Scenario: "fanout", Gateway: g.Label, Unit: "messages delivered", Settings: []Setting{
		{"subscribers", cfg.Subscribers}, {"count", cfg.Count}, {"payload", cfg.Payload}, {"window", cfg.Window},
		{"rate", cfg.Rate}, {"duration", cfg.Duration.String()}, {"warmup", cfg.Warmup}, {"batch", cfg.Batch},
	}}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	before, err := g.Stats(ctx, true)
	if err != nil {
		return nil, setupErr("read %s/stats: %v", g.HTTP, err)
	}
	rep.MemoryBefore = before.Memory

	channel := "sente-bench-" + randomHex(6)
	var errs errorLog
	gws := append([]*Gateway{g}, cfg.Others...)
	var inst *instances
	if len(cfg.Others) > 0 {
		if inst, err = joinInstances(ctx, g, cfg.Others, channel); err != nil {
			return nil, err
		}
		defer inst.close()
	}
	subs, err := subscribeAll(ctx, gws, channel, cfg)
	defer func() {
		for _, s := range subs {
			s.closing.Store(true)
			closeWS(s.conn)
		}
	}()
	if err != nil {
		return nil, err
	}
	for _, s := range subs {
		go s.read(&errs)
	}

	pub, frames, err := dialChsk(ctx, g.dialer(4096), g.HTTP, "/chsk")
	if err != nil {
		return nil, setupErr("publisher: %v", err)
	}
	context.AfterFunc(ctx, func() { _ = pub.Close() })
	p := &publisher{conn: pub, subs: subs, window: int64(cfg.Window), channel: channel, pad: strings.Repeat("x", cfg.Payload)}
	defer func() { p.closing.Store(true); closeWS(pub) }()
	go p.read(frames, &errs)

	// Warm-up: publish, then wait until everyone has every warm-up message.
	if cfg.Warmup > 0 {
		for seq := int64(0); seq < cfg.Warmup; seq++ {
			if err := p.publish(ctx, seq, time.Time{}); err != nil {
				errs.add(err)
				break
			}
		}
		if err := waitDelivered(ctx, subs, p.published); err != nil {
			errs.addf("warm-up: %v", err)
		}
	}
	base := make([]int64, len(subs))
	for i, s := range subs {
		base[i] = s.count.Load()
	}
	warmPublished := p.published

	cpu := startCPU(g)
	start := time.Now()
	b := newBudget(cfg.Limits, start)
	delivered := func() int64 {
		var n int64
		for i, s := range subs {
			n += s.count.Load() - base[i]
		}
		return n
	}
	bar := startProgress(ctx, env.Progress, cfg.Count*int64(len(subs)), cfg.Duration, delivered)
	for i := int64(0); b.take(); i++ {
		var due time.Time // with a rate, message i is due at start + i/rate
		if cfg.Rate > 0 {
			due = start.Add(time.Duration(float64(i) / cfg.Rate * float64(time.Second)))
		}
		if err := p.publish(ctx, warmPublished+i, due); err != nil {
			errs.add(err)
			break
		}
	}
	measured := p.published - warmPublished
	if err := waitDelivered(ctx, subs, p.published); err != nil {
		errs.addf("after the last publish: %v", err)
	}
	bar.Stop()
	cpuFigures := cpu.figures()

	var last int64
	for _, s := range subs {
		last = max(last, s.last.Load())
	}
	got := delivered()
	expected := measured * int64(len(subs))
	lost := max(expected-got, 0)
	if got > expected {
		errs.addf("%d more deliveries than messages × subscribers: duplicates", got-expected)
	}
	rep.Operations = got
	if last > 0 && measured > 0 {
		rep.Elapsed = time.Unix(0, last).Sub(start)
	}
	rep.Throughput = throughput(got, rep.Elapsed)
	rep.Lost = &lost
	all := NewLatencies(0)
	var frameCount, eventCount int64
	for _, s := range subs {
		all.Merge(s.lat)
		frameCount += s.frames.Load()
		eventCount += s.count.Load()
	}
	rep.Latency = all.Summary()

	after, err := g.Stats(ctx, false)
	if err != nil {
		return nil, setupErr("read %s/stats: %v", g.HTTP, err)
	}
	slow := after.SenteLite.SlowConsumerCloses - before.SenteLite.SlowConsumerCloses
	if slow > 0 {
		errs.addf("the gateway closed %d subscribers as slow consumers", slow)
	}
	errs.fill(rep)
	rep.Figures = append(rep.Figures,
		Figure{Key: "published", Label: "messages published", Value: float64(measured)},
		Figure{Key: "publish-rate", Label: "publish rate", Value: throughput(measured, rep.Elapsed), Unit: "messages/s"},
		Figure{Key: "events-per-frame", Label: "events per frame", Value: round(float64(eventCount)/float64(max(frameCount, 1)), 2)},
		Figure{Key: "slow-consumer-closes", Label: "slow-consumer closes", Value: float64(slow)},
		Figure{Key: "gateway-dropped", Label: "frames the gateway dropped", Value: float64(after.SenteLite.Dropped - before.SenteLite.Dropped)},
	)
	rep.Figures = append(rep.Figures, cpuFigures...)
	if all.Count() > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("latency is publish to receipt as seen by %d subscribers spread over the %d; "+
			"it includes the queueing the window allows (up to %d messages ahead of the slowest subscriber): a smaller --window or a --rate shows delivery without it",
			min(latencySubscribers, len(subs)), len(subs), cfg.Window))
	}
	// The memory after is the gateway's with the subscribers still connected.
	if after, err = g.Stats(ctx, true); err != nil {
		return nil, setupErr("read %s/stats: %v", g.HTTP, err)
	}
	rep.MemoryAfter = after.Memory
	inst.report(ctx, rep)
	return rep, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// fanSub is one subscriber.
type fanSub struct {
	conn    *websocket.Conn
	fr      *frameReader
	decode  bool       // record latencies (decodes every frame) or only count
	lat     *Latencies // with decode
	warmup  int64      // sequence numbers below this are not measured
	count   atomic.Int64
	frames  atomic.Int64
	last    atomic.Int64 // unix nanos of the last channel message received
	closing atomic.Bool
}

// subscribeAll connects the subscribers, Concurrency at a time, and returns
// once each has its subscription acknowledged.
func subscribeAll(ctx context.Context, gws []*Gateway, channel string, cfg FanoutConfig) ([]*fanSub, error) {
	subs := make([]*fanSub, cfg.Subscribers)
	d := gws[0].dialer(4096)
	d.WriteBufferPool = &sync.Pool{}
	sub := encode(wire.Event{ID: wire.EvSubscribe, HasData: true, Data: map[any]any{edn.Keyword("channel-id"): channel}})
	sampleEvery := max(cfg.Subscribers/latencySubscribers, 1)
	path := "/chsk"
	if cfg.Batch {
		path += "?batch=1"
	}
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range cfg.Concurrency {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(subs) || ctx.Err() != nil {
					return
				}
				s, err := subscribe(ctx, d, gws[i%len(gws)].HTTP, path, sub)
				if err != nil {
					once.Do(func() { firstErr = setupErr("subscriber %d: %v", i, err) })
					next.Store(int64(len(subs)))
					return
				}
				if i%sampleEvery == 0 && i/sampleEvery < latencySubscribers {
					s.decode = true
					s.lat = NewLatencies(int(min(max(cfg.Count, 1), 1<<16)))
				}
				s.warmup = cfg.Warmup
				subs[i] = s
			}
		})
	}
	wg.Wait()
	out := subs[:0]
	for _, s := range subs {
		if s != nil {
			out = append(out, s)
		}
	}
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return out, firstErr
}

func subscribe(ctx context.Context, d *websocket.Dialer, httpAddr, path string, frame []byte) (*fanSub, error) {
	conn, fr, err := dialChsk(ctx, d, httpAddr, path)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*fanSub, error) { conn.Close(); return nil, err }
	if err := conn.WriteMessage(websocket.TextMessage, frame); err != nil {
		return fail(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(handshakeTimeout))
	for {
		b, err := fr.next()
		if err != nil {
			return fail(fmt.Errorf("waiting for :sente-lite/subscribed: %w", err))
		}
		f, err := wire.DecodeFrame(b, wire.DefaultLimits())
		if err != nil {
			return fail(err)
		}
		events := f.Batch
		if f.Kind == wire.KindEvent {
			events = []wire.Event{f.Event}
		}
		for _, ev := range events {
			if ev.ID != wire.EvSubscribed {
				continue
			}
			if !wire.GetBool(ev.Data, "success") {
				e, _ := wire.GetString(ev.Data, "error")
				return fail(fmt.Errorf("subscribe refused: %s", e))
			}
			_ = conn.SetReadDeadline(time.Time{})
			// Fanout cancels ctx on return: the read loop ends with it.
			context.AfterFunc(ctx, func() { _ = conn.Close() })
			return &fanSub{conn: conn, fr: fr}, nil
		}
	}
}

// read counts channel messages until the connection ends.
func (s *fanSub) read(errs *errorLog) {
	for {
		frame, err := s.fr.next()
		if err != nil {
			if !s.closing.Load() {
				errs.addf("subscriber connection ended: %v", err)
			}
			return
		}
		now := time.Now()
		s.frames.Add(1)
		n, ping := 0, false
		if s.decode {
			n, ping = s.decodeFrame(frame, now)
		} else {
			eachEvent(frame, func(ev []byte) {
				if isEvent(ev, evChannelMsg) {
					n++
				} else if isEvent(ev, evPing) {
					ping = true
				}
			})
		}
		if n > 0 {
			s.last.Store(now.UnixNano())
			s.count.Add(int64(n))
		}
		if ping {
			_ = s.conn.WriteMessage(websocket.TextMessage, []byte(pongFrame))
		}
	}
}

// decodeFrame reads every channel message's :t and records its latency.
func (s *fanSub) decodeFrame(frame []byte, now time.Time) (n int, ping bool) {
	f, err := wire.DecodeFrame(frame, wire.DefaultLimits())
	if err != nil {
		return 0, false
	}
	events := f.Batch
	if f.Kind == wire.KindEvent {
		events = []wire.Event{f.Event}
	}
	for _, ev := range events {
		switch ev.ID {
		case wire.EvPing:
			ping = true
		case wire.EvChannelMsg:
			n++
			data := wire.Get(ev.Data, "data")
			t, _ := wire.Get(data, "t").(int64)
			seq, _ := wire.Get(data, "seq").(int64)
			if t > 0 && seq >= s.warmup {
				s.lat.Add(time.Duration(now.UnixNano() - t))
			}
		}
	}
	return n, ping
}

// waitDelivered waits until every subscriber has n messages, or none has
// received anything for stallTimeout.
func waitDelivered(ctx context.Context, subs []*fanSub, n int64) error {
	lastTotal, lastChange := int64(-1), time.Now()
	for {
		var total, behind int64
		for _, s := range subs {
			c := s.count.Load()
			total += c
			if c < n {
				behind++
			}
		}
		if behind == 0 {
			return nil
		}
		if total != lastTotal {
			lastTotal, lastChange = total, time.Now()
		} else if time.Since(lastChange) > stallTimeout {
			return fmt.Errorf("%d of %d subscribers stopped short of %d messages", behind, len(subs), n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}

// publisher publishes the numbered messages, paced by the window.
type publisher struct {
	conn      *websocket.Conn
	wmu       sync.Mutex // the publisher writes; its reader answers pings
	subs      []*fanSub
	window    int64
	channel   string
	pad       string
	published int64
	low       int64 // the slowest subscriber's count, as last seen
	buf       []byte
	closing   atomic.Bool
}

// Keys of the messages the publisher sends.
const (
	kwChannelID edn.Keyword = "channel-id"
	kwData      edn.Keyword = "data"
	kwT         edn.Keyword = "t"
	kwSeq       edn.Keyword = "seq"
	kwPad       edn.Keyword = "pad"
)

// publish sends message seq once the window allows it and its due time (zero:
// at once) has come.
func (p *publisher) publish(ctx context.Context, seq int64, due time.Time) error {
	if err := p.waitWindow(ctx, seq); err != nil {
		return err
	}
	if !due.IsZero() {
		if d := time.Until(due); d > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(d):
			}
		}
	}
	data := map[any]any{kwT: time.Now().UnixNano(), kwSeq: seq}
	if p.pad != "" {
		data[kwPad] = p.pad
	}
	var err error
	p.buf, err = wire.AppendEvent(p.buf[:0], wire.Event{ID: wire.EvPublish, HasData: true,
		Data: map[any]any{kwChannelID: p.channel, kwData: data}})
	if err != nil {
		return err
	}
	p.wmu.Lock()
	err = p.conn.WriteMessage(websocket.TextMessage, p.buf)
	p.wmu.Unlock()
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	p.published++
	return nil
}

// waitWindow returns once the slowest subscriber has seq-window messages.
func (p *publisher) waitWindow(ctx context.Context, seq int64) error {
	if seq-p.low < p.window {
		return nil
	}
	lastChange := time.Now()
	for {
		low := int64(-1)
		for _, s := range p.subs {
			if c := s.count.Load(); low < 0 || c < low {
				low = c
			}
		}
		if low > p.low {
			p.low, lastChange = low, time.Now()
		}
		if seq-p.low < p.window {
			return nil
		}
		if time.Since(lastChange) > stallTimeout {
			return errors.New("the slowest subscriber received nothing for 10s: publishing stopped")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Microsecond):
		}
	}
}

// read drains the publisher's connection: it answers pings and counts the
// errors the hub reports.
func (p *publisher) read(fr *frameReader, errs *errorLog) {
	for {
		frame, err := fr.next()
		if err != nil {
			if !p.closing.Load() {
				errs.addf("publisher connection ended: %v", err)
			}
			return
		}
		eachEvent(frame, func(ev []byte) {
			switch {
			case isEvent(ev, evPing):
				p.wmu.Lock()
				_ = p.conn.WriteMessage(websocket.TextMessage, []byte(pongFrame))
				p.wmu.Unlock()
			case isEvent(ev, evError):
				errs.addf("the hub answered a publish with %s", ev)
			}
		})
	}
}
