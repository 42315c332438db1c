package bench

import (
	"context"
	"crypto/tls"
	"io"

	sb "github.com/sente-clj/sente/bench"
)

// startOthers starts the child gateways beyond the first for --instances,
// each joined to the same --nats server. stop stops those started, also
// after an error.
func startOthers(ctx context.Context, exe string, opts Options, tlsCfg *tls.Config, stderr io.Writer) (others []*sb.Gateway, stop func(), err error) {
	var children []*sb.Child
	stop = func() {
		for _, c := range children {
			_ = c.Stop()
		}
	}
	for i := 1; i < opts.Instances; i++ {
		g, child, err := sb.StartGatewayTLS(ctx, exe, gatewayArgs(opts), tlsCfg, stderr)
		if err != nil {
			return nil, stop, err
		}
		children = append(children, child)
		others = append(others, g)
	}
	return others, stop, nil
}
