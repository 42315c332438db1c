package gateway

// Channels across gateway instances: with --nats, every instance joins one
// NATS server and the hubs behave as one. A publish is delivered to this
// instance's subscribers as without NATS, and the same encoded frame goes to
// the channel's NATS subject; every other instance with local subscribers of
// that channel is subscribed to the subject and queues the frame to them.
// Runtimes and nREPL stay per instance: only pub/sub crosses the bus.
//
// Order: one NATS connection per instance publishes in the order the hub
// handles publishes, and NATS keeps a publisher's order to each subscription;
// each subject's messages are delivered by one goroutine, in order.
// Duplicates: the connection does not receive its own publishes (NoEcho), so
// local subscribers get a message once, from the local hub.
// Loss: while the connection is down nats.go buffers publishes, up to
// ReconnectBuffer bytes; what does not fit is counted as publish-failed.
// Each message carries its origin instance and a per-channel sequence
// number, so a receiving instance counts messages it never got (lost on the
// way, e.g. in a NATS server that restarted) as lost-detected.

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
)

// NATSConfig joins the hub to other gateways through a NATS server.
type NATSConfig struct {
	URL string // nats://host:4222 (comma-separated for a cluster); "" keeps the hub in this process
	// Subject prefix of the channel subjects; instances that share it share channels.
	Prefix string
	// ReconnectBuffer is the bytes of publishes kept while the connection is
	// down, sent after it is back; what does not fit is counted and lost.
	ReconnectBuffer int
	ReconnectWait   time.Duration // between reconnect attempts
	// PendingMessages bounds the messages received but not yet handed to local
	// subscribers, per channel; past it NATS drops them (counted).
	PendingMessages int
}

// DefaultNATS are the defaults of NATSConfig, the URL aside.
func DefaultNATS() NATSConfig {
	return NATSConfig{Prefix: "sente.ch", ReconnectBuffer: 8 << 20, ReconnectWait: 500 * time.Millisecond, PendingMessages: 65536}
}

// NATS message headers.
const (
	hdrOrigin = "Sente-Origin" // the publishing instance's id
	hdrSeq    = "Sente-Seq"    // per origin and channel, from 1
)

// maxSeqChannels bounds the per-channel sequence counters an instance keeps
// for what it publishes; past it messages go without a sequence number and
// receivers cannot count their loss.
const maxSeqChannels = 1 << 16

// natsBus is the hub's link to NATS: its channelBus. Its methods are no-ops
// on a nil bus, so that the server calls them whether or not --nats was given
// (the hub gets localOnly then).
type natsBus struct {
	h      *hub
	nc     *nats.Conn
	cfg    NATSConfig
	log    *slog.Logger
	origin string

	mu   sync.Mutex
	subs map[string]*busSub // channel -> subscription, while it has local subscribers

	seqMu sync.Mutex
	seqs  map[string]uint64 // channel -> last sequence number published

	published     atomic.Int64 // messages handed to NATS
	publishFailed atomic.Int64 // messages NATS refused: connection closed or reconnect buffer full
	received      atomic.Int64 // messages from other instances
	delivered     atomic.Int64 // frames queued to local subscribers from those messages
	lostDetected  atomic.Int64 // messages other instances published that never arrived (sequence gaps)
	droppedSlow   atomic.Int64 // messages NATS dropped past a channel's pending limit, of subscriptions ended
	disconnects   atomic.Int64
	reconnects    atomic.Int64
	lastErr       atomic.Pointer[string]
	disconnected  atomic.Int64 // unix nanos of the current outage's start; 0 when connected
}

// busSub is one channel's NATS subscription.
type busSub struct {
	sub      *nats.Subscription
	received atomic.Int64
	lost     atomic.Int64
	last     map[string]uint64 // origin -> last sequence seen; only the delivery goroutine touches it
}

func subjectFor(prefix, channel string) string {
	// Channel names may hold dots, spaces and wildcards; subject tokens may not.
	return prefix + "." + base64.RawURLEncoding.EncodeToString([]byte(channel))
}

// connectBus joins NATS. A server that is not there yet is not an error: the
// connection keeps trying in the background, and local pub/sub works meanwhile.
func connectBus(h *hub, cfg NATSConfig, log *slog.Logger, name string) (*natsBus, error) {
	def := DefaultNATS()
	if cfg.Prefix == "" {
		cfg.Prefix = def.Prefix
	}
	if cfg.ReconnectBuffer <= 0 {
		cfg.ReconnectBuffer = def.ReconnectBuffer
	}
	if cfg.ReconnectWait <= 0 {
		cfg.ReconnectWait = def.ReconnectWait
	}
	if cfg.PendingMessages <= 0 {
		cfg.PendingMessages = def.PendingMessages
	}
	b := &natsBus{h: h, cfg: cfg, log: log, origin: randomToken()[:16],
		subs: map[string]*busSub{}, seqs: map[string]uint64{}}
	b.disconnected.Store(time.Now().UnixNano())
	nc, err := nats.Connect(cfg.URL,
		nats.Name(name),
		nats.NoEcho(),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(cfg.ReconnectWait),
		nats.ReconnectBufSize(cfg.ReconnectBuffer),
		nats.ConnectHandler(func(nc *nats.Conn) {
			b.disconnected.Store(0)
			log.Info("joined NATS: channels are shared with the other gateways on it", "nats", nc.ConnectedUrlRedacted(), "origin", b.origin)
		}),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			if nc.IsClosed() {
				return
			}
			b.disconnects.Add(1)
			b.disconnected.Store(time.Now().UnixNano())
			b.setErr(err)
			log.Warn("lost the NATS connection: local pub/sub goes on; publishes for other instances are buffered until it is back",
				"err", err, "buffer-bytes", cfg.ReconnectBuffer)
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			b.reconnects.Add(1)
			down := time.Duration(time.Now().UnixNano() - b.disconnected.Swap(0))
			log.Info("NATS connection back: channels are shared again", "nats", nc.ConnectedUrlRedacted(),
				"down", down.Round(time.Millisecond), "publish-failed", b.publishFailed.Load())
		}),
		nats.ErrorHandler(func(nc *nats.Conn, sub *nats.Subscription, err error) {
			b.setErr(err)
			if errors.Is(err, nats.ErrSlowConsumer) && sub != nil {
				dropped, _ := sub.Dropped()
				log.Warn("NATS dropped messages for a channel whose local delivery fell behind", "subject", sub.Subject, "dropped", dropped)
				return
			}
			log.Warn("NATS error", "err", err)
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("--nats %s: %w", cfg.URL, err)
	}
	b.nc = nc
	if !nc.IsConnected() {
		log.Warn("NATS is not reachable yet: channels stay local to this gateway until it is; retrying in the background",
			"nats", cfg.URL, "retry-every", cfg.ReconnectWait)
	}
	return b, nil
}

// validate checks --nats before anything connects: a typo must not become a
// gateway that silently keeps its channels to itself.
func (c NATSConfig) validate() error {
	if c.URL == "" {
		return nil
	}
	for _, u := range strings.Split(c.URL, ",") {
		u = strings.TrimSpace(u)
		if !strings.Contains(u, "://") {
			u = "nats://" + u
		}
		p, err := url.Parse(u)
		if err != nil {
			return fmt.Errorf("--nats %q is not a URL: %w", c.URL, err)
		}
		switch p.Scheme {
		case "nats", "tls", "ws", "wss":
		default:
			return fmt.Errorf("--nats %q: the scheme must be nats://, tls://, ws:// or wss:// (e.g. nats://127.0.0.1:4222)", c.URL)
		}
		if p.Host == "" {
			return fmt.Errorf("--nats %q names no host (e.g. nats://127.0.0.1:4222)", c.URL)
		}
	}
	return nil
}

func (b *natsBus) setErr(err error) {
	if err != nil {
		s := err.Error()
		b.lastErr.Store(&s)
	}
}

// interest subscribes to a channel's subject: it has its first local
// subscriber. Called with the hub's lock held, so that interest and its end
// follow the hub's subscriber set in order.
func (b *natsBus) interest(channel string) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.subs[channel] != nil {
		return
	}
	bs := &busSub{last: map[string]uint64{}}
	sub, err := b.nc.Subscribe(subjectFor(b.cfg.Prefix, channel), func(m *nats.Msg) { b.receive(channel, bs, m) })
	if err != nil {
		// Only a closed connection refuses; the channel stays local.
		b.log.Warn("cannot subscribe to a channel on NATS: it stays local to this instance", "channel", channel, "err", err)
		return
	}
	_ = sub.SetPendingLimits(b.cfg.PendingMessages, -1)
	bs.sub = sub
	b.subs[channel] = bs
}

// noInterest ends the subscription: the channel's last local subscriber left.
func (b *natsBus) noInterest(channel string) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if bs := b.subs[channel]; bs != nil {
		delete(b.subs, channel)
		if n, err := bs.sub.Dropped(); err == nil {
			b.droppedSlow.Add(int64(n))
		}
		_ = bs.sub.Unsubscribe()
	}
}

// publish sends the encoded channel message to the other instances.
func (b *natsBus) publish(channel string, frame []byte) {
	if b == nil {
		return
	}
	m := &nats.Msg{Subject: subjectFor(b.cfg.Prefix, channel), Data: frame, Header: nats.Header{}}
	m.Header.Set(hdrOrigin, b.origin)
	b.seqMu.Lock()
	seq, ok := b.seqs[channel]
	if ok || len(b.seqs) < maxSeqChannels {
		seq++
		b.seqs[channel] = seq
		m.Header.Set(hdrSeq, strconv.FormatUint(seq, 10))
	}
	// Under the lock: sequence numbers reach NATS in the order they were taken.
	err := b.nc.PublishMsg(m)
	b.seqMu.Unlock()
	if err != nil {
		// Logged once, then every 1000th: an outage must not flood the log.
		if n := b.publishFailed.Add(1); n == 1 || n%1000 == 0 {
			b.log.Warn("a publish did not reach NATS: other instances' subscribers miss it", "channel", channel, "err", err,
				"publish-failed", n)
		}
		return
	}
	b.published.Add(1)
}

// receive hands a message from another instance to the local subscribers.
// NATS calls it from one goroutine per subscription, in order.
func (b *natsBus) receive(channel string, bs *busSub, m *nats.Msg) {
	b.received.Add(1)
	bs.received.Add(1)
	if origin := m.Header.Get(hdrOrigin); origin != "" {
		if seq, err := strconv.ParseUint(m.Header.Get(hdrSeq), 10, 64); err == nil {
			if last, ok := bs.last[origin]; ok && seq > last+1 {
				gap := int64(seq - last - 1)
				bs.lost.Add(gap)
				b.lostDetected.Add(gap)
				b.log.Warn("messages from another instance never arrived", "channel", channel, "origin", origin, "lost", gap)
			}
			if seq > bs.last[origin] {
				bs.last[origin] = seq
			}
		}
	}
	b.delivered.Add(int64(b.h.deliverFromBus(channel, m.Data)))
}

// deliverFromBus queues a frame from another instance to this instance's
// subscribers of channel; the publisher is elsewhere, so nobody is excluded.
func (h *hub) deliverFromBus(channel string, frame []byte) int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := 0
	for sub := range h.channels[channel] {
		if h.queue(sub, frame, true) {
			n++
		}
	}
	return n
}

func (b *natsBus) close() {
	if b == nil {
		return
	}
	b.nc.Close()
}

// health is the bus's part of /health.
func (b *natsBus) health() *NATSHealth {
	h := &NATSHealth{
		URL:           b.cfg.URL,
		Connected:     b.nc.IsConnected(),
		Status:        b.nc.Status().String(),
		Disconnects:   b.disconnects.Load(),
		Reconnects:    b.reconnects.Load(),
		PublishFailed: b.publishFailed.Load(),
		LostDetected:  b.lostDetected.Load(),
	}
	if t := b.disconnected.Load(); t != 0 {
		down := time.Since(time.Unix(0, t)).Seconds()
		h.DownSeconds = &down
	}
	if e := b.lastErr.Load(); e != nil {
		last := *e
		h.LastError = &last
	}
	return h
}

// snapshot is the bus's part of /stats.
func (b *natsBus) snapshot() *NATSStats {
	h := b.health()
	buffered, _ := b.nc.Buffered()
	b.mu.Lock()
	subscribed := len(b.subs)
	dropped := b.droppedSlow.Load()
	for _, bs := range b.subs {
		if n, err := bs.sub.Dropped(); err == nil {
			dropped += int64(n)
		}
	}
	b.mu.Unlock()
	return &NATSStats{
		URL:                h.URL,
		Connected:          h.Connected,
		Status:             h.Status,
		Disconnects:        h.Disconnects,
		Reconnects:         h.Reconnects,
		PublishFailed:      h.PublishFailed,
		LostDetected:       h.LostDetected,
		DownSeconds:        h.DownSeconds,
		LastError:          h.LastError,
		Origin:             b.origin,
		Published:          b.published.Load(),
		Received:           b.received.Load(),
		Delivered:          b.delivered.Load(),
		DroppedSlow:        dropped,
		BufferedBytes:      int64(buffered),
		BufferLimitBytes:   int64(b.cfg.ReconnectBuffer),
		SubscribedChannels: int64(subscribed),
	}
}

// channels is the bus's part of /channels: for each channel this instance
// takes from NATS, the messages that came from other instances and those
// known lost on the way.
func (b *natsBus) channels() map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[string]any, len(b.subs))
	for ch, bs := range b.subs {
		out[ch] = map[string]any{"received": bs.received.Load(), "lost-detected": bs.lost.Load()}
	}
	return out
}
