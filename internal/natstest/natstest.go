// Package natstest runs a real NATS server (github.com/nats-io/nats-server/v2)
// inside a test process, on a loopback port, for the tests of gateways that
// share channels through it. Stop and Restart (on the same port) let a test
// take the bus away and give it back mid-stream.
package natstest

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Server is one in-process nats-server.
type Server struct {
	t    testing.TB
	port int

	mu  sync.Mutex
	srv *server.Server
}

// Start runs a NATS server on a free loopback port until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{t: t, port: -1}
	s.start()
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) start() {
	s.t.Helper()
	opts := &server.Options{Host: "127.0.0.1", Port: s.port, NoLog: true, NoSigs: true}
	var srv *server.Server
	var err error
	// The port of a server just shut down can take a moment to be free again.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if srv, err = server.NewServer(opts); err != nil {
			s.t.Fatalf("natstest: %v", err)
		}
		srv.Start()
		if srv.ReadyForConnections(10 * time.Second) {
			break
		}
		srv.Shutdown()
		if time.Now().After(deadline) {
			s.t.Fatalf("natstest: NATS server on port %d not ready within 10s", s.port)
		}
	}
	s.mu.Lock()
	s.srv = srv
	s.port = srv.Addr().(*net.TCPAddr).Port
	s.mu.Unlock()
}

// URL is nats://127.0.0.1:PORT.
func (s *Server) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", s.port) }

// Stop shuts the server down, dropping every client connection; it may be
// called again, and after the test.
func (s *Server) Stop() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
	}
}

// Restart starts a new server on the same port after Stop.
func (s *Server) Restart() {
	s.t.Helper()
	s.start()
}
