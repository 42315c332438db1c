package send

import (
	"github.com/sente-clj/sente/internal/tlsclient"
	"github.com/sente-clj/sente/sentelite"
)

// WithTLS makes o dial wss:// URLs with --tls-ca and --insecure; a CA file
// that cannot be read is a usage error, exit status 2.
func WithTLS(o sentelite.Options, t tlsclient.Options) (sentelite.Options, error) {
	d, err := tlsclient.Dialer(t)
	if err != nil {
		return o, Usagef("%v", err)
	}
	if d != nil {
		o.Dialer = d
	}
	return o, nil
}
