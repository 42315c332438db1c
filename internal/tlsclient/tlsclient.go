// Package tlsclient is the TLS side of sente's client commands (send,
// subscribe, publish, runtimes, bench): --tls-ca FILE trusts a gateway's
// certificate, self-signed or from a private CA, besides the system's roots;
// --insecure trusts any certificate, for tests only.
package tlsclient

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/gorilla/websocket"
)

// Options are the commands' TLS flags.
type Options struct {
	CAFile   string // PEM certificates to trust besides the system's
	Insecure bool   // skip verification: anyone on the path can read and change the traffic
}

// Config returns the TLS configuration for the flags; nil when neither is
// given, which means Go's defaults (the system's roots).
func Config(o Options) (*tls.Config, error) {
	if o.CAFile == "" && !o.Insecure {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.Insecure {
		// The user asked for it by name, for a self-signed test gateway.
		cfg.InsecureSkipVerify = true //nolint:gosec
	}
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("--tls-ca: " + o.CAFile + " holds no PEM certificate")
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// Dialer is a WebSocket dialer for the flags, like websocket.DefaultDialer
// otherwise; nil when neither flag is given.
func Dialer(o Options) (*websocket.Dialer, error) {
	cfg, err := Config(o)
	if err != nil || cfg == nil {
		return nil, err
	}
	return &websocket.Dialer{Proxy: http.ProxyFromEnvironment, HandshakeTimeout: 45 * time.Second, TLSClientConfig: cfg}, nil
}

// Transport is an HTTP transport for the flags, like http.DefaultTransport
// otherwise.
func Transport(o Options) (*http.Transport, error) {
	cfg, err := Config(o)
	if err != nil {
		return nil, err
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	if cfg != nil {
		t.TLSClientConfig = cfg
	}
	return t, nil
}
