package e2e

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"olympos.io/encoding/edn"

	"github.com/sente-clj/sente/gateway"
	"github.com/sente-clj/sente/internal/natstest"
	"github.com/sente-clj/sente/internal/peers"
	"github.com/sente-clj/sente/internal/testutil"
	"github.com/sente-clj/sente/sentelite"
	"github.com/sente-clj/sente/wire"
)

// TestTwoGatewaysOneHub: two gateways on one NATS server, with a browser
// page (the gateway's own sente-lite page in headless Chromium) and a Go
// client on each. Publishers on both instances, one excluding itself: every
// subscriber gets every message it should, once, in each publisher's order,
// whichever instance it is on. nREPL stays per instance.
func TestTwoGatewaysOneHub(t *testing.T) {
	ns := natstest.Start(t)
	b := peers.StartBrowser(t)
	withNATS := func(cfg *gateway.Config) {
		cfg.NATS = gateway.DefaultNATS()
		cfg.NATS.URL = ns.URL()
	}
	ga, gb := startGateway(t, withNATS), startGateway(t, withNATS)
	pa, pb := scittleClientOpen(t, b, ga), scittleClientOpen(t, b, gb)

	// Go clients record (from, tag, seq) of every message.
	type rec struct {
		from, tag string
		seq       int64
	}
	type goSub struct {
		c    *sentelite.Client
		mu   sync.Mutex
		msgs []rec
	}
	newGo := func(g *gw) *goSub {
		s := &goSub{c: scittleClientGo(t, g)}
		s.c.OnChannel("room", func(m sentelite.ChannelMessage) {
			tag, _ := wire.Get(m.Data, "tag").(string)
			seq, _ := wire.Get(m.Data, "seq").(int64)
			s.mu.Lock()
			s.msgs = append(s.msgs, rec{m.From, tag, seq})
			s.mu.Unlock()
		})
		if err := s.c.Subscribe(ctxFor(t, evalBound), "room"); err != nil {
			t.Fatal(err)
		}
		return s
	}
	goA, goB := newGo(ga), newGo(gb)
	goSeqs := func(s *goSub, from, tag string) []int64 {
		s.mu.Lock()
		defer s.mu.Unlock()
		var out []int64
		for _, r := range s.msgs {
			if r.from == from && r.tag == tag {
				out = append(out, r.seq)
			}
		}
		return out
	}

	const pageSetup = `(defonce room (atom []))
	  (defonce room-handler (sl/on! c {:event-id :sente-lite/channel-msg
	                                   :pred (fn [m] (= "room" (get-in m [:data :channel-id])))
	                                   :callback (fn [m] (swap! room conj (get m :data)))}))
	  (defonce box (atom {}))
	  (sl/subscribe! c "room" {:callback (fn [r] (swap! box assoc :subscribed r))}) ""`
	pageSeqs := func(p *peers.Page, from, tag string) []int64 {
		v := scittleClientEDN(t, p, fmt.Sprintf(`(vec (keep (fn [m] (when (and (= %q (:from m)) (= %q (get-in m [:data :tag]))) (get-in m [:data :seq]))) @room))`, from, tag))
		var out []int64
		for _, x := range v.([]any) {
			out = append(out, x.(int64))
		}
		return out
	}
	uids := map[*peers.Page]string{}
	for _, p := range []*peers.Page{pa, pb} {
		scittleClientEval(t, p, pageSetup)
		scittleClientWait(t, p, "(true? (get-in @box [:subscribed :success]))", evalBound)
		uids[p] = scittleClientEval(t, p, "(sl/uid c)")
	}

	// Interest reaches NATS asynchronously: probe until it crosses both ways.
	probe := func(from *goSub, to *goSub) {
		var seq int64
		testutil.Eventually(t, evalBound, func() bool {
			_ = from.c.Publish("room", map[any]any{edn.Keyword("tag"): "probe", edn.Keyword("seq"): seq}, false)
			seq++
			return len(goSeqs(to, from.c.UID(), "probe")) > 0
		}, "a probe to cross the bus")
	}
	probe(goA, goB)
	probe(goB, goA)

	const n = 30
	// Page A publishes excluding itself; Go B publishes to everyone; at once.
	var wg sync.WaitGroup
	wg.Go(func() {
		scittleClientEval(t, pa, fmt.Sprintf(`(doseq [i (range %d)] (sl/publish! c "room" {:tag "main" :seq i} {:exclude-sender? true})) ""`, n))
	})
	for i := range int64(n) {
		if err := goB.c.Publish("room", map[any]any{edn.Keyword("tag"): "main", edn.Keyword("seq"): i}, false); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	// Then an end marker from each: per-publisher order puts any duplicate before it.
	scittleClientEval(t, pa, `(sl/publish! c "room" {:tag "end" :seq 0}) ""`)
	_ = goB.c.Publish("room", map[any]any{edn.Keyword("tag"): "end", edn.Keyword("seq"): int64(0)}, false)
	for _, p := range []*peers.Page{pa, pb} {
		scittleClientWait(t, p, `(= 2 (count (filter (fn [m] (= "end" (get-in m [:data :tag]))) @room)))`, evalBound)
	}
	for _, s := range []*goSub{goA, goB} {
		if !testutil.Poll(context.Background(), evalBound, func() bool {
			return len(goSeqs(s, uids[pa], "end")) > 0 && len(goSeqs(s, goB.c.UID(), "end")) > 0
		}) {
			t.Fatal("Go client did not get both end markers")
		}
	}

	all := make([]int64, n)
	for i := range all {
		all[i] = int64(i)
	}
	tests := []struct {
		name string
		got  []int64
		want []int64
	}{
		{"page A does not get its own (exclude-sender?)", pageSeqs(pa, uids[pa], "main"), nil},
		{"page A gets Go B's across the bus", pageSeqs(pa, goB.c.UID(), "main"), all},
		{"page B gets page A's across the bus", pageSeqs(pb, uids[pa], "main"), all},
		{"page B gets Go B's locally", pageSeqs(pb, goB.c.UID(), "main"), all},
		{"Go A gets page A's locally", goSeqs(goA, uids[pa], "main"), all},
		{"Go A gets Go B's across the bus", goSeqs(goA, goB.c.UID(), "main"), all},
		{"Go B gets page A's across the bus", goSeqs(goB, uids[pa], "main"), all},
		{"Go B gets its own", goSeqs(goB, goB.c.UID(), "main"), all},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !slices.Equal(tt.got, tt.want) {
				t.Errorf("got seqs %v, want %v (in order, once each)", tt.got, tt.want)
			}
		})
	}

	// Runtimes and nREPL stay per instance: each gateway evaluates in its own page.
	for _, tc := range []struct {
		g *gw
		p *peers.Page
	}{{ga, pa}, {gb, pb}} {
		res := eval(t, tc.g.Editor(t), "", "(sente-lite.client/uid sente-lite.page/client)", nil)
		if want := fmt.Sprintf("%q", uids[tc.p]); !slices.Equal(res.Values, []string{want}) {
			t.Errorf("eval on %s ran in %v, want its own page %s", tc.g.HTTPAddr(), res.Values, want)
		}
		if got := len(tc.g.Runtimes(t)); got != 1 {
			t.Errorf("%s lists %d runtimes, want its own page only", tc.g.HTTPAddr(), got)
		}
	}
}
