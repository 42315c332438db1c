package gateway

import (
	"fmt"
	"io"
	"strings"

	gw "github.com/sente-clj/sente/gateway"
)

// printTLS tells the user what certificate the gateway serves and, for a
// self-signed one, how a device comes to trust it.
func printTLS(stdout io.Writer, cfg gw.Config, t *gw.TLSInfo) {
	fmt.Fprintf(stdout, "sente gateway: TLS certificate SHA-256 fingerprint %s\n", t.Fingerprint)
	if !t.SelfSigned {
		return
	}
	made := "kept in"
	if t.Created {
		made = "made and kept in"
	}
	fmt.Fprintf(stdout, "sente gateway: self-signed certificate %s %s for %s\n", made, t.CertFile, strings.Join(t.Names, ", "))
	fmt.Fprintf(stdout, "sente gateway: trust it once on each device (compare the fingerprint); clients: --tls-ca %s\n", t.CertFile)
	cfg.Logger.Info("serving HTTPS with a self-signed certificate", "cert", t.CertFile, "created", t.Created,
		"fingerprint", t.Fingerprint, "names", t.Names, "not-after", t.NotAfter)
}
