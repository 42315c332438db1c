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
