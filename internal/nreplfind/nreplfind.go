// Package nreplfind finds the nREPL server a terminal client should talk to, the
// way editors do: an explicit host and port, else a .nrepl-port file in the
// working directory or one of its parents, else the gateway's default address.
package nreplfind

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sente-clj/sente/nrepl"
)

// Defaults, matching `sente gateway`.
const (
	DefaultHost  = "127.0.0.1"
	DefaultPort  = 1339
	PortFileName = ".nrepl-port"
)

// DialTimeout bounds a connection attempt when the caller's context has no
// earlier deadline.
const DialTimeout = 5 * time.Second

// Target is the server to connect to and how it was chosen.
type Target struct {
	Host     string
	Port     int
	PortFile string // the .nrepl-port file the port came from, if any
}

// Addr is host:port.
func (t Target) Addr() string { return net.JoinHostPort(t.Host, strconv.Itoa(t.Port)) }

// Find chooses the server. host "" means DefaultHost. port 0 means: the port in
// the nearest .nrepl-port file in dir or a parent (dir "" is the working
// directory), else DefaultPort. A port out of range or an unreadable port file
// is an error.
func Find(host string, port int, dir string) (Target, error) {
	t := Target{Host: host, Port: port}
	if t.Host == "" {
		t.Host = DefaultHost
	}
	if port < 0 || port > 65535 {
		return t, fmt.Errorf("port %d is out of range 1-65535", port)
	}
	if port > 0 {
		return t, nil
	}
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return t, fmt.Errorf("finding %s: %w", PortFileName, err)
		}
		dir = wd
	}
	file, p, err := FindPortFile(dir)
	if err != nil {
		return t, err
	}
	if file == "" {
		t.Port = DefaultPort
		return t, nil
	}
	t.Port, t.PortFile = p, file
	return t, nil
}

// FindPortFile looks for .nrepl-port in dir and then each parent. It returns
// ("", 0, nil) when there is none, and an error when the nearest one cannot be
// read or does not hold a port number.
func FindPortFile(dir string) (path string, port int, err error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", 0, fmt.Errorf("finding %s: %w", PortFileName, err)
	}
	for d := abs; ; d = filepath.Dir(d) {
		candidate := filepath.Join(d, PortFileName)
		b, err := os.ReadFile(candidate)
		switch {
		case err == nil:
			p, perr := strconv.Atoi(strings.TrimSpace(string(b)))
			if perr != nil || p < 1 || p > 65535 {
				return candidate, 0, fmt.Errorf("%s does not hold a port number (it has %q); fix or remove it, or pass --port", candidate, truncate(strings.TrimSpace(string(b)), 20))
			}
			return candidate, p, nil
		case errors.Is(err, os.ErrNotExist):
		default:
			var pe *os.PathError
			if errors.As(err, &pe) && errors.Is(pe.Err, os.ErrPermission) {
				return candidate, 0, fmt.Errorf("cannot read %s: permission denied", candidate)
			}
			// A directory named .nrepl-port or similar: not a port file, keep looking.
		}
		if parent := filepath.Dir(d); parent == d {
			return "", 0, nil
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// ConnectError is a failed connection attempt, worded for a terminal user.
type ConnectError struct {
	Target Target
	Err    error // the underlying error, for errors.Is/As
}

func (e *ConnectError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cannot connect to nREPL at %s", e.Target.Addr())
	if e.Target.PortFile != "" {
		fmt.Fprintf(&b, " (port from %s)", e.Target.PortFile)
	}
	b.WriteString(": ")
	b.WriteString(Cause(e.Err))
	b.WriteString(" (is a server running? start one with: sente gateway")
	if e.Target.PortFile != "" {
		b.WriteString("; or remove the stale " + e.Target.PortFile)
	}
	b.WriteString(")")
	return b.String()
}

func (e *ConnectError) Unwrap() error { return e.Err }

// Cause reduces a network error to its readable core, such as
// "connection refused" or "timed out".
func Cause(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	case errors.Is(err, context.Canceled):
		return "interrupted"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timed out"
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		err = op.Err
		var sc *os.SyscallError
		if errors.As(err, &sc) && sc.Err != nil {
			err = sc.Err
		}
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		if dns.IsNotFound {
			return "no such host " + dns.Name
		}
		return dns.Err
	}
	return err.Error()
}

// Dial connects to t. It gives up after DialTimeout unless ctx ends sooner; a
// failure is a *ConnectError.
func Dial(ctx context.Context, t Target) (*nrepl.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, DialTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", t.Addr())
	if err != nil {
		return nil, &ConnectError{Target: t, Err: err}
	}
	return nrepl.NewClient(conn), nil
}
