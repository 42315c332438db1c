package gateway

import (
	"fmt"
	"log/slog"
	"time"
)

// DefaultScittle is where the ready page loads Scittle from when --scittle is not given.
const DefaultScittle = "https://cdn.jsdelivr.net/npm/scittle@0.8.33/dist"

// Config is everything `sente gateway` can be told. The zero value is not useful:
// start from DefaultConfig.
type Config struct {
	Host      string // interface both listeners bind to
	NREPLPort int    // 0 picks a free port
	HTTPPort  int    // HTTP page, /health, and the WebSocket paths; 0 picks a free port
	PortFile  string // written with the nREPL port; "" disables

	// Scittle is a URL base or a local directory; a directory is served under /scittle/.
	Scittle string

	RuntimeWait  time.Duration // how long a request waits for a first runtime
	EvalTimeout  time.Duration // per forwarded request; 0 means no limit
	AllowOrigins []string      // extra WebSocket origins, path.Match patterns

	MaxNREPLMessage int64 // bytes in one nREPL message, from an editor or a runtime
	MaxNREPLDepth   int   // nesting in one bencode message
	MaxFrameDepth   int   // EDN nesting in one frame from a runtime
	MaxBadFrames    int   // unreadable frames a runtime may send before it is closed

	EditorQueue       int   // responses buffered per editor before it counts as too slow
	RuntimeQueue      int   // requests buffered per runtime before new ones are refused
	RuntimeQueueBytes int64 // bytes of requests buffered per runtime, likewise

	// sente-lite hub on /chsk.
	CSRFToken        string // sent in every handshake; generated at start when empty
	MaxMessageBytes  int    // largest frame a sente-lite client may send
	MaxConnections   int    // open /chsk connections; more are refused with 503
	MaxSubscriptions int    // channels one connection may subscribe to
	MaxSubscribers   int    // subscribers one channel may have
	ClientQueue      int    // frames queued per client; a client that lets it fill is a slow consumer
	ClientQueueBytes int64  // bytes queued per client, for the same purpose
	Batch            bool   // send queued events as one sente batch frame [[ev1] [ev2]]
	NREPLProbe       bool   // ask each new client to describe itself, making nREPL answerers runtimes

	// Heartbeat: quiet WebSocket peers are pinged every interval and closed when
	// nothing, not even a pong, arrived within the timeout.
	HeartbeatInterval time.Duration
	HeartbeatTimeout  time.Duration

	TLS  TLSConfig  // HTTPS and wss:// on the HTTP port (tls.go)
	NATS NATSConfig // channels shared with other gateways through NATS (bus.go)

	Logger *slog.Logger
}

// DefaultConfig returns the documented defaults of every flag.
func DefaultConfig() Config {
	return Config{
		Host:              "127.0.0.1",
		NREPLPort:         1339,
		HTTPPort:          1340,
		PortFile:          ".nrepl-port",
		Scittle:           DefaultScittle,
		RuntimeWait:       10 * time.Second,
		EvalTimeout:       60 * time.Second,
		MaxNREPLMessage:   16 << 20,
		MaxNREPLDepth:     100,
		MaxFrameDepth:     100,
		MaxBadFrames:      5,
		EditorQueue:       1024,
		RuntimeQueue:      1024,
		MaxMessageBytes:   1 << 20,
		MaxConnections:    1000,
		MaxSubscriptions:  100,
		MaxSubscribers:    100000,
		ClientQueue:       4096,
		ClientQueueBytes:  16 << 20,
		RuntimeQueueBytes: 64 << 20,
		Batch:             true,
		NREPLProbe:        true,
		HeartbeatInterval: 30 * time.Second,
		HeartbeatTimeout:  60 * time.Second,
		NATS:              DefaultNATS(),
		Logger:            slog.Default(),
	}
}

func (c Config) validate() error {
	switch {
	case c.NREPLPort < 0 || c.NREPLPort > 65535:
		return fmt.Errorf("nREPL port %d is out of range 0-65535", c.NREPLPort)
	case c.HTTPPort < 0 || c.HTTPPort > 65535:
		return fmt.Errorf("HTTP port %d is out of range 0-65535", c.HTTPPort)
	case c.RuntimeWait < 0:
		return fmt.Errorf("runtime wait %s is negative", c.RuntimeWait)
	case c.EvalTimeout < 0:
		return fmt.Errorf("eval timeout %s is negative", c.EvalTimeout)
	case c.MaxMessageBytes <= 0 || c.ClientQueue <= 0:
		return fmt.Errorf("--max-message-bytes and the client queue must be positive")
	case c.MaxConnections < 0 || c.MaxSubscriptions < 0 || c.MaxSubscribers < 0:
		return fmt.Errorf("connection and subscription limits must not be negative")
	case c.MaxNREPLMessage <= 0 || c.MaxNREPLDepth <= 0 || c.MaxFrameDepth <= 0:
		return fmt.Errorf("message limits must be positive")
	case c.EditorQueue <= 0 || c.RuntimeQueue <= 0:
		return fmt.Errorf("queue sizes must be positive")
	case c.HeartbeatInterval < 0 || c.HeartbeatTimeout < 0:
		return fmt.Errorf("heartbeat interval and timeout must not be negative")
	case c.HeartbeatTimeout > 0 && c.HeartbeatTimeout < c.HeartbeatInterval:
		return fmt.Errorf("heartbeat timeout %s is shorter than the interval %s: every peer would be closed", c.HeartbeatTimeout, c.HeartbeatInterval)
	}
	if err := c.NATS.validate(); err != nil {
		return err
	}
	return c.TLS.validate()
}
