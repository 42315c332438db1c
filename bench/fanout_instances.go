package bench

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	"olympos.io/encoding/edn"

	"github.com/sente-clj/sente/gateway"
	"github.com/sente-clj/sente/wire"
)

// instances is the fanout scenario's setup across gateway instances that
// share channels through NATS (sente gateway --nats).
//
// An instance takes a channel from NATS once it has a local subscriber, and
// that interest reaches the NATS server a moment later; messages published
// before it are not for that instance. So before anything is measured one
// anchor subscriber per other instance subscribes, and the publisher's
// gateway publishes probes until every anchor has one. The anchors stay
// connected (and read) to the end, so the interest never lapses.
type instances struct {
	g          *Gateway // the publisher's
	others     []*Gateway
	anchors    []*websocket.Conn
	before     []gateway.NATSStats // g's, then the others'
	beforeSlow []int64             // the others' slow-consumer closes
}

// instanceStats is the part of /stats the instances scenario reads.
type instanceStats struct {
	SenteLite gateway.SenteLiteStats `json:"sente-lite"`
	NATS      *gateway.NATSStats     `json:"nats"` // nil without --nats
}

func (g *Gateway) instanceStats(ctx context.Context) (instanceStats, error) {
	var s instanceStats
	err := g.getJSON(ctx, "/stats", &s)
	if err == nil && s.NATS == nil {
		err = fmt.Errorf("%s has no nats section in /stats: start it with --nats", g.HTTP)
	}
	return s, err
}

func joinInstances(ctx context.Context, g *Gateway, others []*Gateway, channel string) (*instances, error) {
	inst := &instances{g: g, others: others}
	all := append([]*Gateway{g}, others...)
	for _, o := range all {
		s, err := o.instanceStats(ctx)
		if err != nil {
			inst.close()
			return nil, setupErr("%v", err)
		}
		inst.before = append(inst.before, *s.NATS)
		if o != g {
			inst.beforeSlow = append(inst.beforeSlow, s.SenteLite.SlowConsumerCloses)
		}
	}
	sub := encode(wire.Event{ID: wire.EvSubscribe, HasData: true, Data: map[any]any{edn.Keyword("channel-id"): channel}})
	got := make(chan int, len(others))
	for i, o := range others {
		// An anchor is harness, not a measured subscriber: it takes batches,
		// the cheapest to read, whatever the measured subscribers ask for.
		s, err := subscribe(ctx, o.dialer(4096), o.HTTP, "/chsk?batch=1", sub)
		if err != nil {
			inst.close()
			return nil, setupErr("anchor subscriber on %s: %v", o.HTTP, err)
		}
		inst.anchors = append(inst.anchors, s.conn)
		go func() {
			first := true
			for {
				frame, err := s.fr.next()
				if err != nil {
					return
				}
				eachEvent(frame, func(ev []byte) {
					switch {
					case isEvent(ev, evChannelMsg) && first:
						first = false
						got <- i
					case isEvent(ev, evPing):
						_ = s.conn.WriteMessage(websocket.TextMessage, []byte(pongFrame))
					}
				})
			}
		}()
	}
	pub, _, err := dialChsk(ctx, g.dialer(1024), g.HTTP, "/chsk")
	if err != nil {
		inst.close()
		return nil, setupErr("probe publisher: %v", err)
	}
	defer closeWS(pub)
	probe := encode(wire.Event{ID: wire.EvPublish, HasData: true, Data: map[any]any{
		edn.Keyword("channel-id"): channel, edn.Keyword("data"): "probe"}})
	deadline := time.Now().Add(stallTimeout)
	for reached := 0; reached < len(others); {
		if err := pub.WriteMessage(websocket.TextMessage, probe); err != nil {
			inst.close()
			return nil, setupErr("probe: %v", err)
		}
		select {
		case <-got:
			reached++
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			inst.close()
			return nil, ctx.Err()
		}
		if time.Now().After(deadline) {
			inst.close()
			return nil, setupErr("no probe reached %d of %d other instances within %s: are they on the same NATS server?",
				len(others)-reached, len(others), stallTimeout)
		}
	}
	// The probe publisher's :from is not the measured publisher's; subscribers
	// connect only now, so they count no probe.
	return inst, nil
}

func (inst *instances) close() {
	if inst == nil {
		return
	}
	for _, c := range inst.anchors {
		closeWS(c)
	}
}

// report adds what crossed the bus, and counts losses on it as errors.
func (inst *instances) report(ctx context.Context, rep *Report) {
	if inst == nil {
		return
	}
	var slow, published, received, lost int64
	names := make([]string, len(inst.others))
	for i, o := range inst.others {
		names[i] = o.HTTP
		s, err := o.instanceStats(ctx)
		if err != nil {
			rep.Errors++
			rep.ErrorSamples = append(rep.ErrorSamples, err.Error())
			continue
		}
		b := inst.before[i+1]
		slow += s.SenteLite.SlowConsumerCloses - inst.beforeSlow[i]
		received += s.NATS.Received - b.Received
		lost += s.NATS.LostDetected - b.LostDetected + s.NATS.DroppedSlow - b.DroppedSlow
	}
	// The publisher's instance: what it handed to NATS, and what NATS refused.
	if s, err := inst.g.instanceStats(ctx); err == nil {
		published = s.NATS.Published - inst.before[0].Published
		lost += s.NATS.PublishFailed - inst.before[0].PublishFailed
	}
	rep.Gateway += " + " + strings.Join(names, ", ") + " through NATS"
	rep.Settings = append(rep.Settings, Setting{"instances", len(inst.others) + 1})
	rep.Figures = append(rep.Figures,
		Figure{Key: "bus-published", Label: "messages sent to NATS", Value: float64(published)},
		Figure{Key: "bus-received", Label: "messages received from NATS", Value: float64(received)},
		Figure{Key: "bus-lost", Label: "lost on the bus", Value: float64(lost)},
		Figure{Key: "other-slow-consumer-closes", Label: "slow-consumer closes elsewhere", Value: float64(slow)},
	)
	if lost > 0 {
		rep.Errors++
		rep.ErrorSamples = append(rep.ErrorSamples, fmt.Sprintf("%d messages lost on the bus (publish-failed, lost-detected, dropped-slow)", lost))
	}
	if slow > 0 {
		rep.Errors++
		rep.ErrorSamples = append(rep.ErrorSamples, fmt.Sprintf("the other instances closed %d subscribers as slow consumers", slow))
	}
}
