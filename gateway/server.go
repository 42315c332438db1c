package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sente-clj/sente/gateway/wsconn"
)

// Server is a running gateway: an nREPL listener for editors and an HTTP
// listener for the page, JSON endpoints and runtime WebSockets.
type Server struct {
	cfg      Config
	log      *slog.Logger
	runtimes *runtimes
	bridge   *bridge
	hub      *hub
	live     *wsconn.Liveness
	stats    stats
	upgrader websocket.Upgrader
	started  time.Time
	tlsInfo  *TLSInfo // nil without TLS
	bus      *natsBus // nil without --nats

	nreplLn net.Listener
	httpLn  net.Listener
	httpSrv *http.Server

	// ctx is cancelled when shutdown begins; every connection's goroutines watch it.
	ctx    context.Context
	cancel context.CancelFunc
	conns  sync.WaitGroup
}

// Listen validates cfg and binds both ports, so that the real addresses are
// known (and the port file written) before anything is served.
func Listen(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	var tlsCfg *tls.Config
	var tlsInfo *TLSInfo
	if cfg.TLS.Enabled() {
		var err error
		if tlsCfg, tlsInfo, err = loadTLS(cfg); err != nil {
			return nil, err
		}
	}
	nreplLn, err := net.Listen("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.NREPLPort)))
	if err != nil {
		return nil, fmt.Errorf("listen for nREPL on %s port %d: %w", cfg.Host, cfg.NREPLPort, err)
	}
	httpLn, err := net.Listen("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.HTTPPort)))
	if err != nil {
		nreplLn.Close()
		return nil, fmt.Errorf("listen for HTTP on %s port %d: %w", cfg.Host, cfg.HTTPPort, err)
	}
	// From here on the config carries the real ports, for the page and messages.
	cfg.NREPLPort = nreplLn.Addr().(*net.TCPAddr).Port
	cfg.HTTPPort = httpLn.Addr().(*net.TCPAddr).Port
	// Without TLS, a WebSocket writer frames and writes many frames per
	// system call through a wsconn.CorkListener. Under TLS there is no cork:
	// wrapped above the *tls.Conn it would hide that conn from net/http (no
	// handshake deadline, no Request.TLS, no answer to plain HTTP on the HTTPS
	// port); beneath it, it would get TLS records, not frames, and gain
	// nothing. The writer then frames through gorilla into the *tls.Conn.
	if tlsCfg != nil {
		httpLn = tls.NewListener(httpLn, tlsCfg)
	} else {
		httpLn = wsconn.CorkListener(httpLn)
	}

	s := &Server{cfg: cfg, log: cfg.Logger, runtimes: newRuntimes(), live: wsconn.NewLiveness(),
		nreplLn: nreplLn, httpLn: httpLn, started: time.Now(), tlsInfo: tlsInfo}
	s.bridge = newBridge(cfg, s.runtimes)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.upgrader = websocket.Upgrader{
		// wsconn reads frames from the socket itself; gorilla's reader goes
		// unused and gets the smallest buffer it allows.
		ReadBufferSize:  1,
		WriteBufferSize: 1024,
		// Idle sockets then hold no write buffer of their own.
		WriteBufferPool: &sync.Pool{},
		CheckOrigin:     s.checkOrigin,
		Error:           s.upgradeError,
	}
	s.hub = newHub(hubDeps{cfg: hubConfigOf(cfg), log: cfg.Logger, upgrader: &s.upgrader, live: s.live,
		goConn: s.goConn, runtimes: s.runtimes, bridge: s.bridge})
	handler, err := s.routes()
	if err != nil {
		nreplLn.Close()
		httpLn.Close()
		return nil, err
	}
	s.httpSrv = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug)}
	if cfg.PortFile != "" {
		if err := os.WriteFile(cfg.PortFile, []byte(strconv.Itoa(cfg.NREPLPort)), 0o644); err != nil {
			nreplLn.Close()
			httpLn.Close()
			return nil, fmt.Errorf("write port file: %w", err)
		}
	}
	// Last, so that no failure above leaves a NATS connection behind.
	if cfg.NATS.URL != "" {
		name := "sente gateway " + s.HTTPAddr().String()
		if s.bus, err = connectBus(s.hub, cfg.NATS, cfg.Logger, name); err != nil {
			nreplLn.Close()
			httpLn.Close()
			if cfg.PortFile != "" {
				_ = os.Remove(cfg.PortFile)
			}
			return nil, err
		}
		// Before anything is served, so before the hub calls it: the bus
		// needs the hub to deliver to, and the hub the bus to share with.
		s.hub.bus = s.bus
	}
	return s, nil
}

// NREPLAddr is the address editors connect to.
func (s *Server) NREPLAddr() *net.TCPAddr { return s.nreplLn.Addr().(*net.TCPAddr) }

// HTTPAddr is the address of the page, the JSON endpoints and the WebSockets.
func (s *Server) HTTPAddr() *net.TCPAddr { return s.httpLn.Addr().(*net.TCPAddr) }

// Config is the configuration in force, with the real ports.
func (s *Server) Config() Config { return s.cfg }

// PageURL is the ready page a user opens in a browser.
func (s *Server) PageURL() string { return pageURL(s.cfg) }

func pageURL(cfg Config) string {
	host := cfg.Host
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	scheme := "http://"
	if cfg.TLS.Enabled() {
		scheme = "https://"
	}
	return scheme + net.JoinHostPort(host, strconv.Itoa(cfg.HTTPPort)) + "/"
}

// StartupLine is the line editors parse when they launch an nREPL server.
func (s *Server) StartupLine() string {
	h, p := s.cfg.Host, s.cfg.NREPLPort
	return fmt.Sprintf("nREPL server started on port %d on host %s - nrepl://%s", p, h, net.JoinHostPort(h, strconv.Itoa(p)))
}

// Serve runs until ctx is cancelled, then shuts down: every pending request is
// answered with done, sockets close, and the port file is removed.
func (s *Server) Serve(ctx context.Context) error {
	httpErr := make(chan error, 1)
	go func() { httpErr <- s.httpSrv.Serve(s.httpLn) }()
	acceptErr := make(chan error, 1)
	go func() { acceptErr <- s.acceptEditors() }()
	s.goConn(func() { s.live.Run(s.ctx, s.cfg.HeartbeatInterval, s.cfg.HeartbeatTimeout) })

	var err error
	select {
	case <-ctx.Done():
	case err = <-httpErr:
		err = fmt.Errorf("HTTP server: %w", err)
	case err = <-acceptErr:
		err = fmt.Errorf("nREPL server: %w", err)
	}
	s.shutdown()
	return err
}

func (s *Server) acceptEditors() error {
	for {
		conn, err := s.nreplLn.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return err
		}
		s.goConn(func() { s.serveEditor(s.ctx, conn) })
	}
}

func (s *Server) shutdown() {
	s.log.Info("shutting down")
	_ = s.nreplLn.Close()
	// Answer everything still pending before connections start to close.
	s.bridge.shutdown()
	s.cancel()
	s.live.CloseAll("gateway shutting down")
	s.bus.close()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.httpSrv.Shutdown(sctx) // hijacked WebSockets are ended by s.ctx instead
	done := make(chan struct{})
	go func() { s.conns.Wait(); close(done) }()
	select {
	case <-done:
	case <-sctx.Done():
		s.log.Warn("some connections did not finish within 5s of shutdown")
	}
	if s.cfg.PortFile != "" {
		if err := os.Remove(s.cfg.PortFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.log.Warn("could not remove the port file", "file", s.cfg.PortFile, "err", err)
		}
	}
}

// goConn runs a connection's goroutine under the server's WaitGroup, so that
// shutdown waits for it.
func (s *Server) goConn(f func()) {
	s.conns.Add(1)
	go func() {
		defer s.conns.Done()
		f()
	}()
}
