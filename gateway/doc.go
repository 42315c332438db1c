// Package gateway is sente's server: an nREPL server for editors (bencode over
// TCP) bridged to browser runtimes over WebSockets. A runtime is a browser page
// running stock scittle.nrepl.js on /_nrepl (and, with the hub, a sente-lite
// client on /chsk). The bridge gives every forwarded request a gateway-unique id
// and a once handler that restores the editor's id and session on each response,
// so answers reach exactly the editor that asked; and it ends every request with
// a done response whatever fails: no runtime, runtime gone, timeout, interrupt,
// shutdown. Each connection has one read loop and one write loop fed by a
// bounded queue; no lock is held across I/O.
//
// The nREPL ops are a table of handlers (ops.go) from which describe is
// derived. For Scittle runtimes the gateway installs namespace sente.repl
// (sente_repl.cljs) with one eval, then serves eval, load-file, info, eldoc,
// lookup, complete and completions through it (jobs.go): one runtime eval per
// top-level form, a namespace and *1 *2 *3 *e per session, printed output as
// out, errors in the JVM nREPL's shape. Runtimes that do not take the helper
// get requests passed through as they came.
//
// Layout. server.go binds the listeners and wires the parts together;
// editor.go serves editors' nREPL connections, bridge.go routes their
// requests to runtimes and every answer back, and runtimes.go is the
// registry of runtimes. scittle.go serves stock runtimes on /_nrepl. hub.go
// is the sente-lite hub on /chsk, pub/sub and connection handling only; it
// gets its limits, logger and collaborators as hubDeps, never the Server,
// and talks to other gateways through a channelBus (bus.go, NATS with
// --nats). chskruntime.go is all of nREPL over /chsk: the describe probe
// that makes a client a runtime, requests to it and its responses. http.go,
// page.go, stats.go and tls.go are the HTTP routes, the ready page, /health
// and /stats, and HTTPS. Every WebSocket is a wsconn.Conn, and one
// wsconn.Liveness pings them all (package gateway/wsconn).
package gateway
