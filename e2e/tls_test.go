package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sente-clj/sente/gateway"
	"github.com/sente-clj/sente/internal/peers"
	"github.com/sente-clj/sente/internal/testutil"
)

// startTLSGateway runs a gateway with --tls-self-signed, its certificate kept
// in a temporary directory, and a browser that trusts exactly that
// certificate (by its public key, as a device told to trust it once would).
func startTLSGateway(t *testing.T) (*gw, *peers.Browser, *http.Client) {
	t.Helper()
	return startTLSGatewayWith(t, "")
}

// startTLSGatewayWith is startTLSGateway; with certFile (key beside it,
// key.pem) the gateway serves that certificate (--tls-cert, --tls-key).
func startTLSGatewayWith(t *testing.T, certFile string) (*gw, *peers.Browser, *http.Client) {
	t.Helper()
	dir := t.TempDir()
	g := startGateway(t, func(cfg *gateway.Config) {
		cfg.TLS = gateway.TLSConfig{SelfSigned: true, Dir: dir}
		if certFile != "" {
			cfg.TLS = gateway.TLSConfig{CertFile: certFile, KeyFile: filepath.Join(filepath.Dir(certFile), "key.pem")}
		}
	})
	info := g.TLS()
	if certFile != "" {
		if info == nil || info.SelfSigned || info.CertFile != certFile {
			t.Fatalf("TLS info %+v: want %s served", info, certFile)
		}
	} else if info == nil || !info.Created || !strings.HasPrefix(info.CertFile, dir) {
		t.Fatalf("TLS info %+v: want a certificate made in %s", info, dir)
	}
	if !strings.HasPrefix(g.PageURL(), "https://") {
		t.Fatalf("page URL %s is not https://", g.PageURL())
	}
	b := peers.StartBrowserArgs(t, "--ignore-certificate-errors-spki-list="+info.SPKIHash)
	return g, b, trustingClient(t, info.CertFile)
}

// trustingClient is an HTTP client whose only root is the PEM in certFile.
func trustingClient(t *testing.T, certFile string) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no certificate", certFile)
	}
	return &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, DisableKeepAlives: true}}
}

// waitRuntimesTLS polls https://…/runtimes until it lists n runtimes.
func waitRuntimesTLS(t *testing.T, c *http.Client, g *gw, n int) {
	t.Helper()
	var got int
	if !testutil.Poll(context.Background(), 0, func() bool {
		resp, err := c.Get(g.PageURL() + "runtimes")
		if err != nil {
			t.Fatalf("GET /runtimes over https: %v", err)
		}
		var body struct {
			Runtimes []gateway.RuntimeInfo `json:"runtimes"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		got = len(body.Runtimes)
		return got == n
	}) {
		t.Fatalf("%d runtimes after %v, want %d", got, testutil.Patience, n)
	}
}

// TestPhonePageOverWSS: a phone-like page (Playwright's Pixel 7: mobile user
// agent, viewport, touch) opens the gateway's https:// page; its sente-lite
// client picks wss:// and becomes a runtime an editor evaluates in. Then the
// stock page (scittle.nrepl.js, which by itself would open ws://) does the
// same over wss:// through the page's own socket.
func TestPhonePageOverWSS(t *testing.T) {
	tests := []struct {
		name string
		cert func(t *testing.T) string // "" : --tls-self-signed
	}{
		{"--tls-self-signed", func(*testing.T) string { return "" }},
		{"--tls-cert made by the test", testCertificate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { testPhonePage(t, tt.cert(t)) })
	}
}

// testCertificate makes a certificate for localhost and 127.0.0.1 signed by
// a throwaway CA, as mkcert would, and returns its file (key.pem beside it).
func testCertificate(t *testing.T) string {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "e2e test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile := filepath.Join(dir, "cert.pem")
	// The chain: the leaf, then the CA, as a server sends it.
	chain := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})...)
	if err := os.WriteFile(certFile, chain, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile
}

func testPhonePage(t *testing.T, certFile string) {
	g, b, client := startTLSGatewayWith(t, certFile)

	ctx := ctxFor(t, pageReady)
	p, err := b.OpenDevice(ctx, g.PageURL(), "Pixel 7")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("console:\n%s", strings.Join(p.Console(), "\n"))
		}
	})
	if err := p.WaitFor(ctx, "document.body.dataset.state === 'connected'"); err != nil {
		t.Fatalf("phone page did not connect over wss://: %v", err)
	}
	waitRuntimesTLS(t, client, g, 1)
	c := g.Editor(t)
	res := eval(t, c, "", `(str (.-protocol js/location) " " (boolean (re-find #"Android" (.-userAgent js/navigator))) " " sente-lite.page/url)`, nil)
	want := fmt.Sprintf(`"https: true wss://%s/chsk"`, g.HTTPAddr())
	if len(res.Values) != 1 || res.Values[0] != want {
		t.Fatalf("phone page says %v, want %s (responses %v)", res.Values, want, res.Responses)
	}

	openPage(t, b, g.PageURL()+"stock", "document.body.dataset.state === 'connected'")
	waitRuntimesTLS(t, client, g, 2)
	res = eval(t, c, "", `(.-url js/window.ws_nrepl)`, nil)
	if want := fmt.Sprintf(`"wss://%s/_nrepl"`, g.HTTPAddr()); len(res.Values) != 1 || res.Values[0] != want {
		t.Fatalf("stock page's nREPL socket is %v, want %s (responses %v)", res.Values, want, res.Responses)
	}
	if res := eval(t, c, "", "(+ 40 2)", nil); len(res.Values) != 1 || res.Values[0] != "42" {
		t.Fatalf("eval in the stock page over wss://: %v", res.Responses)
	}
}

// TestOwnPageOverWSS follows the README's "Using your own page" with a page
// served over HTTPS from another origin: it loads sente's client from the
// https:// gateway and connects to wss://…/chsk.
func TestOwnPageOverWSS(t *testing.T) {
	g, b, client := startTLSGateway(t)
	gatewayURL := strings.TrimSuffix(g.PageURL(), "/")
	html := ownPageHTML(gatewayURL, "wss://"+g.HTTPAddr().String()+"/chsk", "my app over https")

	// The own page's server uses the gateway's certificate, which the browser trusts.
	pair, err := tls.LoadX509KeyPair(g.TLS().CertFile, strings.Replace(g.TLS().CertFile, "tls-cert.pem", "tls-key.pem", 1))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(peers.ScittleHandler(t, html))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pageURL := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/"

	openPage(t, b, pageURL, "document.body.dataset.state === 'connected'")
	waitRuntimesTLS(t, client, g, 1)
	c := g.Editor(t)
	res := eval(t, c, "", `(str (.-protocol js/location) " " (.-textContent (js/document.querySelector "h1")))`, nil)
	if len(res.Values) != 1 || res.Values[0] != `"https: my app over https"` {
		t.Fatalf("eval in the own https page: %v", res.Responses)
	}
}

// TestUntrustedCertificateIsRefused: the same page in a browser that was not
// told to trust the certificate does not load, so the tests above pass
// because of the trust they set up, not despite the certificate.
func TestUntrustedCertificateIsRefused(t *testing.T) {
	g := startGateway(t, func(cfg *gateway.Config) {
		cfg.TLS = gateway.TLSConfig{SelfSigned: true, Dir: t.TempDir()}
	})
	b := peers.StartBrowser(t)
	_, err := b.Open(ctxFor(t, pageReady), g.PageURL())
	if err == nil || !strings.Contains(err.Error(), "ERR_CERT") {
		t.Fatalf("opening %s without trusting its certificate: %v, want a certificate error", g.PageURL(), err)
	}
}
