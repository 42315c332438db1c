package e2e

import (
	"fmt"
	"net"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/sente-clj/sente/internal/peers"
)

// TestOwnPageFromREADME follows the README's "Using your own page": a page on
// another origin (localhost, another port) loads sente's client and nREPL
// bridge from the gateway, connects on /chsk, and an editor evaluates in it.
func TestOwnPageFromREADME(t *testing.T) {
	b := peers.StartBrowser(t)
	g := startGateway(t, nil)
	gatewayURL := "http://" + g.HTTPAddr().String()
	html := ownPageHTML(gatewayURL, "ws://"+g.HTTPAddr().String()+"/chsk", "my app")

	ln, err := net.Listen("tcp", "localhost:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: peers.ScittleHandler(t, html), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })

	before := len(g.Runtimes(t))
	openPage(t, b, "http://"+ln.Addr().String()+"/", "document.body.dataset.state === 'connected'")
	g.WaitRuntimes(t, before+1)

	c := g.Editor(t)
	if res := eval(t, c, "", "(.-textContent (js/document.querySelector \"h1\"))", nil); !slices.Equal(res.Values, []string{`"my app"`}) {
		t.Fatalf("eval in the own page: %v", res.Responses)
	}
}

// ownPageHTML is the README's "Using your own page" example: Scittle from the
// page's own server, sente's client from the gateway at gatewayURL, connecting
// to chskURL. The body's data-state says when the client has connected.
func ownPageHTML(gatewayURL, chskURL, title string) string {
	return fmt.Sprintf(`<!doctype html><html><head>
<script src="/scittle/scittle.js"></script>
<script src="%[1]s/nrepl-shim.js"></script>
<script src="/scittle/scittle.nrepl.js"></script>
<script type="application/x-scittle" src="%[1]s/sente-lite.cljs"></script>
<script type="application/x-scittle" src="%[1]s/sente-nrepl.cljs"></script>
<script type="application/x-scittle">
  (ns my.app
    (:require [sente-lite.client :as sente]
              [sente-lite.nrepl :as sente-nrepl]))
  (def client (sente/make-client! {:url "%[2]s"
                                   :on-open (fn [uid] (set! (.. js/document -body -dataset -state) "connected"))}))
  (sente-nrepl/start! client)
</script>
</head><body data-state="connecting"><h1>%[3]s</h1></body></html>`, gatewayURL, chskURL, title)
}
