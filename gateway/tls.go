package gateway

// HTTPS and wss:// for pages that are not on this machine: a phone, a tablet,
// or a page served over HTTPS elsewhere, which browsers refuse to let open
// plain ws:// sockets.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// TLSConfig makes the HTTP port serve HTTPS, and so its WebSockets wss://.
type TLSConfig struct {
	CertFile, KeyFile string // a certificate (chain) and its key, PEM
	// SelfSigned makes a certificate for the gateway's host names at start, or
	// reuses the one kept in Dir when it still covers them.
	SelfSigned bool
	// Dir keeps the self-signed certificate; "" means os.UserConfigDir()/sente.
	Dir string
	// Names are host names or addresses the self-signed certificate covers
	// besides localhost, the loopback addresses, this machine's name and --host.
	Names []string
}

// Enabled reports whether the gateway serves HTTPS.
func (c TLSConfig) Enabled() bool { return c.CertFile != "" || c.KeyFile != "" || c.SelfSigned }

func (c TLSConfig) validate() error {
	switch {
	case c.SelfSigned && (c.CertFile != "" || c.KeyFile != ""):
		return errors.New("--tls-self-signed makes its own certificate: leave out --tls-cert and --tls-key")
	case (c.CertFile == "") != (c.KeyFile == ""):
		return errors.New("--tls-cert and --tls-key go together: give both")
	}
	return nil
}

// TLSInfo describes the certificate a TLS gateway serves.
type TLSInfo struct {
	CertFile string // where it is; for a self-signed one, what devices trust
	// Fingerprint is the SHA-256 of the certificate, colon-separated hex, as
	// browsers and phones show it.
	Fingerprint string
	// SPKIHash is the base64 SHA-256 of its public key, the form Chromium's
	// --ignore-certificate-errors-spki-list takes.
	SPKIHash   string
	SelfSigned bool
	Created    bool     // made at this start, not reused
	Names      []string // the host names and addresses it covers
	NotAfter   time.Time
}

// selfSignedValidity is under the 398 days Apple devices accept for a
// server certificate.
const selfSignedValidity = 397 * 24 * time.Hour

// loadTLS returns the server's TLS configuration and what it serves.
func loadTLS(cfg Config) (*tls.Config, *TLSInfo, error) {
	c := cfg.TLS
	var (
		pair tls.Certificate
		info = &TLSInfo{CertFile: c.CertFile, SelfSigned: c.SelfSigned}
		err  error
	)
	if c.SelfSigned {
		pair, err = selfSigned(cfg, info)
	} else {
		pair, err = tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			err = fmt.Errorf("load --tls-cert %s and --tls-key %s: %w", c.CertFile, c.KeyFile, err)
		}
	}
	if err != nil {
		return nil, nil, err
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, nil, fmt.Errorf("read the certificate in %s: %w", info.CertFile, err)
	}
	pair.Leaf = leaf
	info.Fingerprint = fingerprint(leaf.Raw)
	spki := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
	info.SPKIHash = base64.StdEncoding.EncodeToString(spki[:])
	info.NotAfter = leaf.NotAfter
	info.Names = append(slices.Clone(leaf.DNSNames), ipStrings(leaf.IPAddresses)...)
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, info, nil
}

func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}

func ipStrings(ips []net.IP) []string {
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = ip.String()
	}
	return out
}

// certNames are the names a self-signed certificate must cover: what a
// browser on this machine or another device may type to reach the gateway.
func certNames(cfg Config) []string {
	names := []string{"localhost", "127.0.0.1", "::1"}
	host := cfg.Host
	switch host {
	case "", "0.0.0.0", "::":
		// Every interface: devices reach it by any of this machine's addresses.
		if addrs, err := net.InterfaceAddrs(); err == nil {
			for _, a := range addrs {
				if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLinkLocalUnicast() && !ipn.IP.IsLinkLocalMulticast() {
					names = append(names, ipn.IP.String())
				}
			}
		}
	default:
		names = append(names, host)
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		names = append(names, h)
		if !strings.Contains(h, ".") {
			names = append(names, h+".local")
		}
	}
	names = append(names, cfg.TLS.Names...)
	seen := map[string]bool{}
	out := names[:0]
	for _, n := range names {
		n = strings.ToLower(strings.TrimSpace(n))
		if n != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// selfSigned reuses the certificate kept in the config directory when it
// covers every name and has a month left; otherwise it makes and keeps a new
// one, so that a device told to trust it once keeps trusting it.
func selfSigned(cfg Config, info *TLSInfo) (tls.Certificate, error) {
	dir := cfg.TLS.Dir
	if dir == "" {
		base, err := os.UserConfigDir()
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("no config directory for the self-signed certificate (set --tls-dir): %w", err)
		}
		dir = filepath.Join(base, "sente")
	}
	certFile, keyFile := filepath.Join(dir, "tls-cert.pem"), filepath.Join(dir, "tls-key.pem")
	info.CertFile = certFile
	names := certNames(cfg)
	if pair, err := tls.LoadX509KeyPair(certFile, keyFile); err == nil {
		if leaf, err := x509.ParseCertificate(pair.Certificate[0]); err == nil && covers(leaf, names) &&
			time.Until(leaf.NotAfter) > 30*24*time.Hour {
			return pair, nil
		}
	}
	certPEM, keyPEM, err := makeCert(names)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return tls.Certificate{}, fmt.Errorf("keep the self-signed certificate: %w", err)
	}
	// The key first and private: a certificate without its key is useless.
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return tls.Certificate{}, fmt.Errorf("keep the self-signed certificate's key: %w", err)
	}
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		return tls.Certificate{}, fmt.Errorf("keep the self-signed certificate: %w", err)
	}
	info.Created = true
	return tls.X509KeyPair(certPEM, keyPEM)
}

func covers(leaf *x509.Certificate, names []string) bool {
	for _, n := range names {
		if leaf.VerifyHostname(n) != nil {
			return false
		}
	}
	return true
}

// makeCert makes an ECDSA P-256 certificate for names. It is its own CA
// (phones only offer full trust to an installed certificate that is one).
func makeCert(names []string) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("make a key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("make a serial number: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "sente gateway " + names[len(names)-1], Organization: []string{"sente (self-signed)"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(selfSignedValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("make the certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encode the key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

// TLS is the certificate the gateway serves; nil without TLS.
func (s *Server) TLS() *TLSInfo { return s.tlsInfo }
