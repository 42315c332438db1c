// Package browser holds the browser side of sente-lite, embedded so the gateway
// can serve it: sente-lite.cljs (namespace sente-lite.client, the Scittle client
// for the /chsk socket: events, callbacks, on!/off!/take! handlers, pub/sub,
// heartbeat, reconnect with backoff), sente-nrepl.cljs (namespace
// sente-lite.nrepl, which lets stock scittle.nrepl.js answer nREPL requests over
// that socket) and nrepl-shim.js (the stand-in window.ws_nrepl that
// scittle.nrepl.js binds to, loaded before it). The .cljs files run interpreted
// by Scittle (SCI), so they avoid destructuring, which SCI does not reliably
// support. Scittle itself is not here: it comes from the npm package.
package browser

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"net/http"
	"path"
	"time"
)

//go:embed sente-lite.cljs sente-nrepl.cljs nrepl-shim.js
var files embed.FS

// Names of the assets; each is served at "/" + its name.
const (
	ClientCLJS = "sente-lite.cljs"
	NREPLCLJS  = "sente-nrepl.cljs"
	NREPLShim  = "nrepl-shim.js"
)

// Asset is one embedded file with what an HTTP response needs.
type Asset struct {
	Name        string
	ContentType string
	Data        []byte
	ETag        string // strong validator derived from the content
}

var assets = load()

func load() []Asset {
	var out []Asset
	for _, name := range []string{ClientCLJS, NREPLCLJS, NREPLShim} {
		data, err := files.ReadFile(name)
		if err != nil {
			panic("browser: embedded " + name + " missing: " + err.Error())
		}
		sum := sha256.Sum256(data)
		out = append(out, Asset{Name: name, ContentType: contentType(name), Data: data,
			ETag: `"` + hex.EncodeToString(sum[:12]) + `"`})
	}
	return out
}

func contentType(name string) string {
	if path.Ext(name) == ".js" {
		return "text/javascript; charset=utf-8"
	}
	// Scittle fetches these with XMLHttpRequest and evaluates the text; the type
	// names the <script type> they are loaded as.
	return "application/x-scittle; charset=utf-8"
}

// Assets returns every embedded file.
func Assets() []Asset { return append([]Asset(nil), assets...) }

// Lookup returns the asset called name.
func Lookup(name string) (Asset, bool) {
	for _, a := range assets {
		if a.Name == name {
			return a, true
		}
	}
	return Asset{}, false
}

// ServeHTTP serves the asset with its content type and ETag; browsers revalidate
// on every load (no-cache), so a new gateway's files are picked up at once, and
// an unchanged file costs a 304.
func (a Asset) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", a.ContentType)
	h.Set("ETag", a.ETag)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	// Pages on other origins load these through Scittle's XHR. They are public
	// code; what guards the gateway is the WebSocket origin check.
	h.Set("Access-Control-Allow-Origin", "*")
	http.ServeContent(w, r, a.Name, time.Time{}, bytes.NewReader(a.Data))
}
