package gateway

import "sync/atomic"

// stats are counters an operator reads on /health and /stats to learn what
// happened: who came, what was refused, and why.
type stats struct {
	editors          atomic.Int64 // connected now
	requests         atomic.Int64 // nREPL requests read from editors
	slowEditors      atomic.Int64 // editors closed for not reading responses
	runtimeFrames    atomic.Int64 // frames read from runtimes
	runtimeBadFrames atomic.Int64 // runtime frames that could not be read
	rejectedOrigins  atomic.Int64 // WebSocket upgrades refused for their Origin
}

// The bodies of /health and /stats, which sente bench reads too. Fields are
// in the order of their JSON names: the bodies were maps once, and encoding
// a map sorts its keys, so this order keeps the bytes as they were.

// Health is the body of /health.
type Health struct {
	Connections   int64       `json:"connections"` // sente-lite connections
	Editors       int64       `json:"editors"`
	HTTP          string      `json:"http"`
	NATS          *NATSHealth `json:"nats,omitempty"` // only with --nats
	NREPL         string      `json:"nrepl"`
	Pending       int64       `json:"pending"`
	Runtimes      int64       `json:"runtimes"`
	Status        string      `json:"status"`
	UptimeSeconds int64       `json:"uptime-seconds"`
	Version       string      `json:"version"`
}

// Stats is the body of /stats.
type Stats struct {
	Memory        Memory         `json:"memory"`
	NATS          *NATSStats     `json:"nats,omitempty"` // only with --nats
	NREPL         NREPLStats     `json:"nrepl"`
	SenteLite     SenteLiteStats `json:"sente-lite"`
	UptimeSeconds int64          `json:"uptime-seconds"`
}

// Memory is the gateway's footprint as the Go runtime sees it.
type Memory struct {
	Goroutines       int64 `json:"goroutines"`
	HeapInuseBytes   int64 `json:"heap-inuse-bytes"`   // heap spans in use (objects and their free slots)
	HeapObjectsBytes int64 `json:"heap-objects-bytes"` // live and not yet swept objects
	StackBytes       int64 `json:"stack-bytes"`
	TotalBytes       int64 `json:"total-bytes"` // mapped, less what was handed back to the OS
}

// NREPLStats is the nREPL side of /stats.
type NREPLStats struct {
	Editors           int64 `json:"editors"`
	Pending           int64 `json:"pending"`
	RejectedWSOrigins int64 `json:"rejected-ws-origins"`
	Requests          int64 `json:"requests"`
	RuntimeBadFrames  int64 `json:"runtime-bad-frames"`
	RuntimeFrames     int64 `json:"runtime-frames"`
	Runtimes          int64 `json:"runtimes"`
	SlowEditorCloses  int64 `json:"slow-editor-closes"`
}

// SenteLiteStats is the sente-lite hub's side of /stats.
type SenteLiteStats struct {
	Channels           map[string]int `json:"channels"` // subscribers per channel
	Connections        int64          `json:"connections"`
	Dropped            int64          `json:"dropped"`
	HeartbeatCloses    int64          `json:"heartbeat-closes"`
	MessagesIn         int64          `json:"messages-in"`
	MessagesOut        int64          `json:"messages-out"`
	ParseErrors        int64          `json:"parse-errors"`
	RejectedConns      int64          `json:"rejected-connections"`
	SlowConsumerCloses int64          `json:"slow-consumer-closes"`
}

// NATSHealth is the NATS bus's part of /health, with --nats.
type NATSHealth struct {
	Connected     bool     `json:"connected"`
	Disconnects   int64    `json:"disconnects"`
	DownSeconds   *float64 `json:"down-seconds,omitempty"` // during an outage
	LastError     *string  `json:"last-error,omitempty"`
	LostDetected  int64    `json:"lost-detected"`
	PublishFailed int64    `json:"publish-failed"`
	Reconnects    int64    `json:"reconnects"`
	Status        string   `json:"status"`
	URL           string   `json:"url"`
}

// NATSStats is the NATS bus's part of /stats, with --nats: NATSHealth's
// fields and the traffic's.
type NATSStats struct {
	BufferLimitBytes   int64    `json:"buffer-limit-bytes"`
	BufferedBytes      int64    `json:"buffered-bytes"`
	Connected          bool     `json:"connected"`
	Delivered          int64    `json:"delivered"`
	Disconnects        int64    `json:"disconnects"`
	DownSeconds        *float64 `json:"down-seconds,omitempty"` // during an outage
	DroppedSlow        int64    `json:"dropped-slow"`
	LastError          *string  `json:"last-error,omitempty"`
	LostDetected       int64    `json:"lost-detected"`
	Origin             string   `json:"origin"`
	PublishFailed      int64    `json:"publish-failed"`
	Published          int64    `json:"published"`
	Received           int64    `json:"received"`
	Reconnects         int64    `json:"reconnects"`
	Status             string   `json:"status"`
	SubscribedChannels int64    `json:"subscribed-channels"`
	URL                string   `json:"url"`
}
