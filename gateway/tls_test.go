package gateway

import (
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestTLSConfigErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		tls  TLSConfig
		want string
	}{
		{"self-signed with a cert", TLSConfig{SelfSigned: true, CertFile: "c.pem", KeyFile: "k.pem"}, "leave out --tls-cert"},
		{"cert without key", TLSConfig{CertFile: "c.pem"}, "go together"},
		{"key without cert", TLSConfig{KeyFile: "k.pem"}, "go together"},
		{"missing files", TLSConfig{CertFile: filepath.Join(dir, "no.pem"), KeyFile: filepath.Join(dir, "no-key.pem")}, "load --tls-cert"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.NREPLPort, cfg.HTTPPort, cfg.PortFile = 0, 0, ""
			cfg.TLS = tt.tls
			srv, err := Listen(cfg)
			if err == nil {
				srv.nreplLn.Close()
				srv.httpLn.Close()
				t.Fatal("Listen accepted it")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

// TestSelfSignedCertificateIsKept: the certificate is made once and reused
// while it covers the names asked for, so a device trusts it once; a new name
// makes a new one.
func TestSelfSignedCertificateIsKept(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.TLS = TLSConfig{SelfSigned: true, Dir: dir}
	steps := []struct {
		name    string
		names   []string
		created bool
		same    bool // the same certificate as the step before
	}{
		{"first start makes it", nil, true, false},
		{"second start reuses it", nil, false, true},
		{"a new name makes a new one", []string{"gateway.example.test", "10.1.2.3"}, true, false},
		{"which is then reused", []string{"gateway.example.test"}, false, true},
	}
	var last string
	for _, s := range steps {
		cfg.TLS.Names = s.names
		_, info, err := loadTLS(cfg)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if info.Created != s.created || (info.Fingerprint == last) != s.same {
			t.Fatalf("%s: created %v, fingerprint %s after %s", s.name, info.Created, info.Fingerprint, last)
		}
		last = info.Fingerprint
		for _, n := range append([]string{"localhost", "127.0.0.1", "::1"}, s.names...) {
			if !slices.Contains(info.Names, n) {
				t.Fatalf("%s: certificate names %v lack %s", s.name, info.Names, n)
			}
		}
	}
	pemBytes, err := os.ReadFile(filepath.Join(dir, "tls-cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(pemBytes)
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if fingerprint(leaf.Raw) != last || !leaf.IsCA {
		t.Fatalf("kept certificate: fingerprint %s (want %s), CA %v", fingerprint(leaf.Raw), last, leaf.IsCA)
	}
	if fi, err := os.Stat(filepath.Join(dir, "tls-key.pem")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v; want 0600", err, fi.Mode())
	}
}

// TestTLSListenerIsNetHTTPs: under TLS, net/http gets the *tls.Conn itself
// (no wrapper between it and the listener), so it does the handshake under
// its own deadline, fills in Request.TLS and tells a client that spoke plain
// HTTP to the HTTPS port what it did.
func TestTLSListenerIsNetHTTPs(t *testing.T) {
	g := startGateway(t, func(c *Config) { c.TLS = TLSConfig{SelfSigned: true, Dir: t.TempDir()} })
	resp, err := http.Get("http://" + g.HTTPAddr().String() + "/health")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "HTTP request to an HTTPS server") {
		t.Fatalf("plain HTTP to the TLS port: %s %q; want net/http's 400 saying so", resp.Status, body)
	}
}
