// Package gateway is sente's server: an nREPL server for editors (bencode over
// TCP) bridged to browser runtimes over WebSockets. A runtime is a browser page
// running stock scittle.nrepl.js on /_nrepl (and, with the hub, a sente-lite
// client on /chsk). The bridge gives every forwarded request a gateway-unique id
// and a once handler that restores the editor's id and session on each response,
// so answers reach exactly the editor that asked; and it ends every request with
// a done response whatever fails: no runtime, runtime gone, timeout, interrupt,
// shutdown. Each connection has one read loop and one write loop fed by a
// bounded queue; no lock is held across I/O.
package gateway
