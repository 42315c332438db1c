// Package bench measures a running sente gateway from the outside, the way
// `sente bench` does: each scenario (eval round trips from nREPL editors to
// simulated runtimes, pub/sub fan-out to many sente-lite subscribers, a storm
// of connects, the memory an idle connection costs, and ping round trips next
// to a bare WebSocket echo floor) drives the gateway over its real sockets from
// this process, records latencies in a bounded Latencies sample, reads the
// gateway's own /stats before and after, and returns a Report that prints as
// aligned text or as one JSON object; helpers start the gateway and the echo
// server as child processes so their memory and CPU are their own.
package bench
