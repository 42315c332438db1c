package tlsclient

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeCert(t *testing.T, dir string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestConfig(t *testing.T) {
	dir := t.TempDir()
	ca := writeCert(t, dir)
	junk := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(junk, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		o        Options
		wantNil  bool   // Go's defaults
		wantErr  string // "" no error
		insecure bool
		roots    bool
	}{
		{"no flags", Options{}, true, "", false, false},
		{"insecure", Options{Insecure: true}, false, "", true, false},
		{"a CA file", Options{CAFile: ca}, false, "", false, true},
		{"a missing CA file", Options{CAFile: filepath.Join(dir, "none.pem")}, false, "--tls-ca", false, false},
		{"a file without certificates", Options{CAFile: junk}, false, "holds no PEM certificate", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Config(tt.o)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if (cfg == nil) != tt.wantNil {
				t.Fatalf("config %v, want nil: %v", cfg, tt.wantNil)
			}
			if cfg != nil && (cfg.InsecureSkipVerify != tt.insecure || (cfg.RootCAs != nil) != tt.roots) {
				t.Fatalf("insecure %v roots %v", cfg.InsecureSkipVerify, cfg.RootCAs != nil)
			}
			d, err := Dialer(tt.o)
			if err != nil || (d == nil) != tt.wantNil {
				t.Fatalf("Dialer: %v, %v", d, err)
			}
		})
	}
}
