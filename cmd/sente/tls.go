package main

import (
	"github.com/urfave/cli/v2"

	"github.com/sente-clj/sente/internal/tlsclient"
)

// tlsCAFlag is --tls-ca for the client commands that reach a gateway over
// wss:// or https://.
func tlsCAFlag() cli.Flag {
	return &cli.StringFlag{Name: "tls-ca", EnvVars: []string{"SENTE_TLS_CA"},
		Usage: "trust the gateway certificate(s) in PEM `FILE` besides the system's (e.g. the one sente gateway --tls-self-signed made)"}
}

// insecureFlag is --insecure: no certificate check at all, asked for by name.
func insecureFlag() cli.Flag {
	return &cli.BoolFlag{Name: "insecure", EnvVars: []string{"SENTE_INSECURE"},
		Usage: "accept any TLS certificate (tests with self-signed gateways only: the connection can be read and changed)"}
}

func tlsOptions(c *cli.Context) tlsclient.Options {
	return tlsclient.Options{CAFile: c.String("tls-ca"), Insecure: c.Bool("insecure")}
}
