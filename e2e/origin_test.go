package e2e

import (
	"fmt"
	"net"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sente-clj/sente/gateway"
	"github.com/sente-clj/sente/internal/peers"
)

// foreignPage loads Scittle from its own server and points scittle.nrepl.js at
// the gateway on 127.0.0.1, whose HTTP port comes in the query string (?port=N).
// body[data-ws] follows the socket: open, then closed.
const foreignPage = `<!doctype html><html><head><meta charset="utf-8">
<script>
window.SCITTLE_NREPL_WEBSOCKET_HOST = '127.0.0.1';
window.SCITTLE_NREPL_WEBSOCKET_PORT = Number(new URLSearchParams(location.search).get('port'));
</script>
<script src="/scittle/scittle.js"></script>
<script src="/scittle/scittle.nrepl.js"></script>
</head><body data-ws="connecting">foreign page
<script>
var ws = window.ws_nrepl;
if (!ws) { document.body.dataset.ws = 'none'; }
else {
  ws.addEventListener('open', function () { document.body.dataset.ws = 'open'; });
  ws.addEventListener('close', function (e) { document.body.dataset.ws = 'closed'; document.body.dataset.code = e.code; });
}
</script></body></html>`

// testForeignOrigin serves a page from http://127.0.0.2:PORT, an origin that is
// neither the gateway's nor localhost (Linux routes all of 127/8 to loopback),
// and checks the gateway refuses its runtime socket unless --allow-origin names it.
func testForeignOrigin(t *testing.T, b *peers.Browser) {
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatalf("listen on 127.0.0.2 (loopback alias): %v", err)
	}
	site := httptest.NewUnstartedServer(peers.ScittleHandler(t, foreignPage))
	site.Listener.Close()
	site.Listener = ln
	site.Start()
	t.Cleanup(site.Close)
	origin := "http://" + ln.Addr().String()

	t.Run("refused", func(t *testing.T) {
		g := startGateway(t, func(c *gateway.Config) { c.RuntimeWait = time.Second })
		p := openPage(t, b, fmt.Sprintf("%s/?port=%d", origin, g.HTTPAddr().Port), "document.body.dataset.ws === 'closed'")
		state, err := p.Eval(ctxFor(t, evalBound), "document.body.dataset.code")
		t.Logf("foreign page's socket closed with code %s", state)
		if err != nil {
			t.Fatal(err)
		}
		if rts := g.Runtimes(t); len(rts) != 0 {
			t.Errorf("gateway registered a runtime from %s: %+v", origin, rts)
		}
		g.Logs.WaitFor(t, "refused a WebSocket from a foreign origin", evalBound)
		if !strings.Contains(g.Logs.String(), "origin="+origin) {
			t.Errorf("the gateway's refusal does not name the origin %s", origin)
		}
		res := eval(t, g.Editor(t), "", "(+ 1 2)", nil)
		if !strings.Contains(res.Err, "no browser runtime") || !hasAll(res.Status, "done", "error", "no-runtime") || len(res.Values) != 0 {
			t.Errorf("eval with only a refused page: %v", res.Responses)
		}
	})

	t.Run("allowed with AllowOrigins", func(t *testing.T) {
		g := startGateway(t, func(c *gateway.Config) { c.AllowOrigins = []string{"http://127.0.0.2:*"} })
		openPage(t, b, fmt.Sprintf("%s/?port=%d", origin, g.HTTPAddr().Port), "document.body.dataset.ws === 'open'")
		g.WaitRuntimes(t, 1)
		res := eval(t, g.Editor(t), "", "(+ 1 2)", nil)
		if !slices.Equal(res.Values, []string{"3"}) || res.Err != "" {
			t.Errorf("eval in the allowed foreign page: %v", res.Responses)
		}
		if strings.Contains(g.Logs.String(), "refused a WebSocket") {
			t.Errorf("gateway refused a socket although %s is allowed", origin)
		}
	})
}
