package e2e

// nbb (ClojureScript on Node, npm nbb) with the npm ws package as a sente-lite
// client of the gateway's hub on /chsk: Clojure's own EDN reader
// (clojure.edn/read-string) and printer (pr-str) and an independent WebSocket
// implementation against ours. The client and the scripts are in
// testdata/nbb/ (hub_client.cljs is the shared client); each script prints
// one EDN vector [tag value] per line on stdout, read here with package wire.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"olympos.io/encoding/edn"

	"github.com/sente-clj/sente/gateway"
	"github.com/sente-clj/sente/internal/gatewaytest"
	"github.com/sente-clj/sente/internal/peers"
	"github.com/sente-clj/sente/internal/testutil"
	"github.com/sente-clj/sente/wire"
)

// nbbHubBound bounds every wait on an nbb script (nbb itself starts in ~0.3 s;
// the scripts' own waits are 15 s).
const nbbHubBound = 30 * time.Second

// nbbHubCSRF is the token the tests configure; the handshake must carry it.
const nbbHubCSRF = "nbb-hub-csrf-9f8e7d"

// --- the gateway ---

type nbbHubGateway struct {
	*gatewaytest.Gateway
}

// nbbHubStartGateway runs an in-process gateway on free ports until the test
// ends, with a known CSRF token.
func nbbHubStartGateway(t *testing.T, tweak func(*gateway.Config)) *nbbHubGateway {
	t.Helper()
	return &nbbHubGateway{gatewaytest.Start(t, func(cfg *gateway.Config) {
		cfg.CSRFToken = nbbHubCSRF
		if tweak != nil {
			tweak(cfg)
		}
	})}
}

// hubStats is the "sente-lite" part of GET /stats.
func (g *nbbHubGateway) hubStats(t *testing.T) map[string]any {
	t.Helper()
	var body struct {
		SenteLite map[string]any `json:"sente-lite"`
	}
	g.GetJSON(t, "/stats", &body)
	return body.SenteLite
}

// waitConnections polls /stats until the hub counts n open connections.
func (g *nbbHubGateway) waitConnections(t *testing.T, n int) {
	t.Helper()
	var got any
	if !testutil.Poll(context.Background(), 0, func() bool { got = g.hubStats(t)["connections"]; return got == float64(n) }) {
		t.Fatalf("/stats sente-lite connections = %v, want %d", got, n)
	}
}

// --- an nbb script ---

// nbbHubPeer is one running nbb script.
type nbbHubPeer struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string      // stdout, line by line; closed at EOF
	stdout gatewaytest.Logs // everything printed, for diagnostics
	stderr gatewaytest.Logs
	quit   chan struct{} // closed when the test ends: stop delivering lines
}

// nbbHubRun starts testdata/nbb/<script> with args. The working directory is
// the repository root and testdata/nbb is the classpath (for hub-client); ws
// resolves from <root>/node_modules, up from the script. The process is ended
// when the test ends if it has not exited by then.
func nbbHubRun(t *testing.T, script string, args ...string) *nbbHubPeer {
	t.Helper()
	nbb := peers.NbbPath(t) // fails under CI=true when nbb (or node) is missing
	root := peers.Root(t)
	dir := filepath.Join(root, "e2e", "testdata", "nbb")
	p := &nbbHubPeer{t: t, name: script, lines: make(chan string, 1024), quit: make(chan struct{})}
	p.cmd = exec.Command(nbb, append([]string{"--classpath", dir, filepath.Join(dir, script)}, args...)...)
	p.cmd.Dir = root
	p.cmd.Stderr = &p.stderr
	p.cmd.WaitDelay = 5 * time.Second
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start nbb %s: %v", script, err)
	}
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
		for sc.Scan() {
			line := sc.Text()
			p.stdout.Write([]byte(line + "\n"))
			select {
			case p.lines <- line:
			case <-p.quit:
			}
		}
	}()
	t.Cleanup(func() {
		close(p.quit)
		p.stdin.Close()
		if p.cmd.ProcessState == nil { // not waited for: still running, or exited unseen
			timer := time.AfterFunc(3*time.Second, func() { _ = p.cmd.Process.Kill() })
			_ = p.cmd.Wait()
			timer.Stop()
		}
		if t.Failed() {
			t.Logf("nbb %s:\n%s", script, p.diag())
		}
	})
	t.Logf("nbb %s %s started (%v)", script, strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	return p
}

// diag is the script's output for failure messages, long lines cut short.
func (p *nbbHubPeer) diag() string {
	var b strings.Builder
	b.WriteString("--- stdout ---\n")
	for _, line := range strings.SplitAfter(p.stdout.String(), "\n") {
		if len(line) > 600 {
			line = line[:600] + fmt.Sprintf(" ... (%d bytes)\n", len(line))
		}
		b.WriteString(line)
	}
	fmt.Fprintf(&b, "--- stderr ---\n%s", p.stderr.String())
	return b.String()
}

// next returns the next result line [tag value], parsed with wire.Parse.
// A [:fail why] line, an exit or a silence of nbbHubBound fails the test.
func (p *nbbHubPeer) next() (string, any) {
	p.t.Helper()
	timeout := time.After(nbbHubBound)
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				p.t.Fatalf("nbb %s ended its output early:\n%s", p.name, p.diag())
			}
			if !strings.HasPrefix(line, "[:") {
				continue // not a result line (kept in the diagnostics)
			}
			v, err := wire.Parse([]byte(line), wire.DefaultLimits())
			if err != nil {
				p.t.Fatalf("nbb %s printed a line wire.Parse cannot read: %v\n%.300s", p.name, err, line)
			}
			pair, ok := v.([]any)
			if !ok || len(pair) != 2 {
				p.t.Fatalf("nbb %s printed %.300s, want [tag value]", p.name, line)
			}
			tag, _ := pair[0].(edn.Keyword)
			if tag == "fail" {
				p.t.Fatalf("nbb %s failed: %v", p.name, pair[1])
			}
			return string(tag), pair[1]
		case <-timeout:
			p.t.Fatalf("nbb %s printed nothing within %v", p.name, nbbHubBound)
		}
	}
}

// expect returns the value of the next result line, which must have tag.
func (p *nbbHubPeer) expect(tag string) any {
	p.t.Helper()
	got, v := p.next()
	if got != tag {
		p.t.Fatalf("nbb %s printed [:%s %v], want [:%s ...]", p.name, got, v, tag)
	}
	return v
}

// finish closes the script's stdin (its signal to disconnect, where it waits
// for one) and requires a clean exit with no further result lines.
func (p *nbbHubPeer) finish() {
	p.t.Helper()
	p.stdin.Close()
	timeout := time.After(nbbHubBound)
	for eof := false; !eof; {
		select {
		case line, ok := <-p.lines:
			if !ok {
				eof = true
			} else if strings.HasPrefix(line, "[:") {
				p.t.Errorf("nbb %s printed more than expected: %.300s", p.name, line)
			}
		case <-timeout:
			_ = p.cmd.Process.Kill() // the cleanup waits for it
			p.t.Fatalf("nbb %s did not exit within %v", p.name, nbbHubBound)
		}
	}
	// Output is at EOF, so the process has ended or is ending.
	if err := p.cmd.Wait(); err != nil {
		p.t.Fatalf("nbb %s: %v", p.name, err)
	}
}

// --- a Go sente-lite client: gorilla + wire ---

type nbbHubRaw struct {
	t       *testing.T
	conn    *websocket.Conn
	pending []wire.Event
	uid     string
}

func nbbHubDial(t *testing.T, g *nbbHubGateway) *nbbHubRaw {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial(g.ChskURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &nbbHubRaw{t: t, conn: conn}
	ev := c.nextEvent()
	hs, err := wire.ParseHandshake(ev)
	if err != nil {
		t.Fatalf("Go client's first event: %v", err)
	}
	c.uid = hs.UID
	return c
}

func (c *nbbHubRaw) send(s string) {
	c.t.Helper()
	if err := c.conn.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

// nextEvent returns the next event, unwrapping batches and skipping the nREPL probe.
func (c *nbbHubRaw) nextEvent() wire.Event {
	c.t.Helper()
	for {
		for len(c.pending) == 0 {
			_ = c.conn.SetReadDeadline(time.Now().Add(nbbHubBound))
			_, data, err := c.conn.ReadMessage()
			if err != nil {
				c.t.Fatalf("Go client read: %v", err)
			}
			f, err := wire.DecodeFrame(data, wire.DefaultLimits())
			if err != nil {
				c.t.Fatalf("Go client: decode %.200q: %v", data, err)
			}
			switch f.Kind {
			case wire.KindEvent:
				c.pending = append(c.pending, f.Event)
			case wire.KindBatch:
				c.pending = append(c.pending, f.Batch...)
			default:
				c.t.Fatalf("Go client: want an event, got %v %.200q", f.Kind, data)
			}
		}
		ev := c.pending[0]
		c.pending = c.pending[1:]
		if ev.ID != wire.EvNREPLRequest {
			return ev
		}
	}
}

func (c *nbbHubRaw) subscribe(channel string) {
	c.t.Helper()
	c.send(`[:sente-lite/subscribe {:channel-id "` + channel + `"}]`)
	ev := c.nextEvent()
	if ev.ID != wire.EvSubscribed || wire.Get(ev.Data, "success") != true {
		c.t.Fatalf("Go client: subscribe %q answered %v %v", channel, ev.ID, ev.Data)
	}
}

// --- helpers on parsed results ---

func nbbHubGet(v any, key string) any { return wire.Get(v, key) }

func nbbHubStr(v any, key string) string {
	s, _ := wire.GetString(v, key)
	return s
}

func nbbHubKw(v any, key string) string {
	k, _ := wire.Get(v, key).(edn.Keyword)
	return string(k)
}

func nbbHubPrint(v any) string {
	b, err := wire.Print(v)
	if err != nil {
		return fmt.Sprintf("%#v", v)
	}
	return string(b)
}

// --- 1. handshake ---

// nbb reads the handshake with clojure.edn: uid and csrf token are those the
// hub registered and configured, the echo's :conn-id is the same uid, a Go
// subscriber sees nbb's publish :from that uid, and the nREPL probe every new
// client gets is ignored (nbb is no runtime). /stats counts it while connected.
func TestNbbHubHandshake(t *testing.T) {
	t.Parallel()
	g := nbbHubStartGateway(t, nil)
	watcher := nbbHubDial(t, g)
	watcher.subscribe("hs-check")

	p := nbbHubRun(t, "handshake.cljs", g.ChskURL())
	hs := p.expect("handshake")
	uid := nbbHubStr(hs, "uid")
	if len(uid) != 32 || uid == watcher.uid || nbbHubGet(hs, "uid-string?") != true {
		t.Errorf("nbb read uid %q (Go client's is %q): want a distinct 32-hex-digit string", uid, watcher.uid)
	}
	if csrf := nbbHubStr(hs, "csrf"); csrf != nbbHubCSRF {
		t.Errorf("nbb read csrf %q, want the configured %q", csrf, nbbHubCSRF)
	}
	if nbbHubGet(hs, "first?") != true || nbbHubStr(hs, "sente-lite-version") != "2.0.0" ||
		!strings.HasPrefix(nbbHubStr(hs, "server"), "sente ") {
		t.Errorf("handshake as nbb read it: %s", nbbHubPrint(hs))
	}

	echo := p.expect("echo")
	if nbbHubKw(echo, "event-id") != string(wire.EvEcho) || nbbHubGet(echo, "conn-id-is-uid") != true ||
		nbbHubGet(echo, "original-data-ok") != true {
		t.Errorf("echo as nbb read it: %s", nbbHubPrint(echo))
	}
	if n := nbbHubGet(echo, "nrepl-probes-ignored"); n != int64(1) {
		t.Errorf("nbb saw %v nREPL probes before the echo, want 1", n)
	}
	p.expect("published")

	// The uid nbb read is the one the hub publishes for that connection.
	ev := watcher.nextEvent()
	if ev.ID != wire.EvChannelMsg || wire.Get(ev.Data, "from") != uid ||
		wire.Get(wire.Get(ev.Data, "data"), "uid") != uid || wire.Get(ev.Data, "channel-id") != "hs-check" {
		t.Errorf("Go subscriber got %v %s, want a channel message from %s", ev.ID, nbbHubPrint(ev.Data), uid)
	}
	g.waitConnections(t, 2)
	var rts struct {
		Runtimes []gateway.RuntimeInfo `json:"runtimes"`
	}
	g.GetJSON(t, "/runtimes", &rts)
	if len(rts.Runtimes) != 0 {
		t.Errorf("nbb ignored the nREPL probe yet the gateway lists runtimes %+v", rts.Runtimes)
	}

	p.finish() // nbb closes its socket and exits 0
	g.waitConnections(t, 1)
}

// --- 2. EDN both ways ---

// nbbHubGoodCases are the cases of edn_roundtrip.cljs that must come back
// equal (Clojure =) and with the same collection types.
var nbbHubGoodCases = []string{
	"keyword", "namespaced-keyword", "keywords-odd-chars", "symbols",
	"string-quotes-backslashes", "string-newlines-tabs", "string-controls",
	"string-unicode", "string-emoji", "string-edn-looking", "empty-string",
	"nil", "true", "false", "booleans-and-nil", "integers", "floats",
	"inst", "inst-epoch", "uuid", "vector", "set", "nested-map",
	"map-mixed-namespaces", "everything", "deeply-nested", "big-string",
	// What Clojure's printer writes by default: namespace maps and integers
	// past int64 without N (JavaScript prints whole doubles below 1e21 so).
	"ns-map-syntax", "ns-map-one-key", "integer-beyond-int64",
}

// nbbHubKnownMismatches are where Clojure's defaults and our EDN differ: what
// nbb's pr-str sends (exactly), and how the hub answers. A case that starts
// round-tripping passes too (and says so): move it to nbbHubGoodCases.
var nbbHubKnownMismatches = map[string]struct {
	sent    string // pr-str's output, exactly ("" where set order makes it vary)
	refused bool   // answered with [:sente-lite/error {:error :unreadable-frame ...}]; else echoed
	got     string // for an echo: what came back, as pr-str prints it
	why     string
}{
	"set-with-collection": {"", true, "",
		"a set element that is a collection ([1 2]) is valid EDN; wire.Parse refuses it (a Go map cannot hold it)"},
	"map-with-collection-key": {`{[1 2] :v}`, true, "",
		"a map key that is a collection is valid EDN; wire.Parse refuses it"},
	"list": {`(1 (2 3) "x")`, false, `[1 [2 3] "x"]`,
		"lists come back as vectors (wire reads (...) and [...] both as []any); Clojure's = hides it"},
}

// nbb prints every case with pr-str, the hub reads it, echoes it as
// :original-data and nbb reads the echo with clojure.edn and compares with =
// and by shape; then all good cases pipelined (answers arrive batched), then
// callback events, then a batch sent by nbb.
func TestNbbHubEDN(t *testing.T) {
	t.Parallel()
	// Every known mismatch is one unreadable frame; the default limit (5) would
	// close the connection before the later checks.
	g := nbbHubStartGateway(t, func(c *gateway.Config) { c.MaxBadFrames = 100 })
	p := nbbHubRun(t, "edn_roundtrip.cljs", g.ChskURL())

	seen := map[string]bool{}
	tag, v := p.next()
	for ; tag == "case"; tag, v = p.next() {
		name := nbbHubStr(v, "name")
		if seen[name] {
			t.Errorf("case %q reported twice", name)
		}
		seen[name] = true
		sent, answer := nbbHubStr(v, "sent"), nbbHubKw(v, "answer")
		roundTrips := answer == string(wire.EvEcho) && nbbHubGet(v, "equal") == true &&
			nbbHubGet(v, "same-types") == true && nbbHubGet(v, "event-id-ok") == true &&
			nbbHubGet(v, "conn-id-ok") == true
		if slices.Contains(nbbHubGoodCases, name) {
			if !roundTrips {
				t.Errorf("%s: Clojure sent %.300s\nand read back %s", name, sent, nbbHubPrint(v))
			}
			// What Clojure printed also parses here directly.
			if _, err := wire.Parse([]byte(sent), wire.DefaultLimits()); err != nil {
				t.Errorf("%s: wire.Parse(%.200q): %v", name, sent, err)
			}
			continue
		}
		known, ok := nbbHubKnownMismatches[name]
		if !ok {
			t.Errorf("unexpected case %q: %s", name, nbbHubPrint(v))
			continue
		}
		switch {
		case roundTrips:
			t.Logf("%s: now round-trips (%s): move it to nbbHubGoodCases", name, sent)
		case known.sent != "" && sent != known.sent:
			t.Errorf("%s: Clojure printed %q, want %q", name, sent, known.sent)
		case known.refused:
			// The refusal must be the clear error, and the connection must live on
			// (the cases after it are answered). The reason's wording is wire's.
			data := nbbHubGet(v, "answer-data")
			if answer != string(wire.EvError) || nbbHubKw(data, "error") != "unreadable-frame" ||
				nbbHubStr(data, "reason") == "" {
				t.Errorf("%s: sent %s, answered %s %s; want [:sente-lite/error {:error :unreadable-frame :reason ...}]",
					name, sent, answer, nbbHubPrint(data))
			} else {
				t.Logf("known mismatch %s: %s is refused (%s): %s", name, sent, nbbHubStr(data, "reason"), known.why)
			}
		default:
			if answer != string(wire.EvEcho) || nbbHubGet(v, "equal") != true || nbbHubStr(v, "got") != known.got {
				t.Errorf("%s: sent %s, got %s; want an echo reading back as %s", name, sent, nbbHubPrint(v), known.got)
			} else {
				t.Logf("known mismatch %s: sent %s, read back %s: %s", name, sent, known.got, known.why)
			}
		}
	}
	for _, name := range nbbHubGoodCases {
		if !seen[name] {
			t.Errorf("case %q was not reported", name)
		}
	}
	for name := range nbbHubKnownMismatches {
		if !seen[name] {
			t.Errorf("case %q was not reported", name)
		}
	}

	if tag != "pipelined" {
		t.Fatalf("after the cases nbb printed [:%s %s], want [:pipelined ...]", tag, nbbHubPrint(v))
	}
	if nbbHubGet(v, "count") != int64(len(nbbHubGoodCases)) || nbbHubGet(v, "all-equal") != true ||
		nbbHubGet(v, "in-order") != true {
		t.Errorf("pipelined round trip: %.2000s", nbbHubPrint(v))
	}
	t.Logf("pipelined: %d echoes, %v batch frames among them", len(nbbHubGoodCases), nbbHubGet(v, "batch-frames"))

	cb := p.expect("callback")
	if nbbHubKw(cb, "kind") != "reply" || nbbHubStr(cb, "cb") != "cb-1" ||
		nbbHubKw(cb, "original-event-id") != "nbb-hub/ask" || nbbHubGet(cb, "equal") != true ||
		nbbHubGet(cb, "conn-id-ok") != true {
		t.Errorf("[[:nbb-hub/ask data] \"cb-1\"] answered, as nbb read it: %s", nbbHubPrint(cb))
	}
	sub := p.expect("callback-subscribe")
	if nbbHubKw(sub, "kind") != "reply" || nbbHubStr(sub, "cb") != "cb-2" ||
		nbbHubPrint(nbbHubGet(sub, "answer")) != `{:channel-id "cb-room", :success true}` {
		t.Errorf("[[:sente-lite/subscribe ...] \"cb-2\"] answered, as nbb read it: %s", nbbHubPrint(sub))
	}
	ping := p.expect("callback-ping")
	if nbbHubKw(ping, "kind") != "reply" || nbbHubStr(ping, "cb") != "cb-3" || nbbHubGet(ping, "answer") != true {
		t.Errorf("[[:chsk/ws-ping] \"cb-3\"] answered, as nbb read it: %s", nbbHubPrint(ping))
	}
	batch := p.expect("client-batch")
	if got, want := nbbHubPrint(nbbHubGet(batch, "echoed")),
		`[[:sente-lite/echo :nbb-hub/b1 {:i 1}] [:sente-lite/echo :nbb-hub/b2 "two"] [:sente-lite/echo :nbb-hub/b3 nil]]`; got != want {
		t.Errorf("a batch sent by nbb was echoed as %s, want %s", got, want)
	}
	p.finish()
}

// --- 3. pub/sub ---

// nbb A subscribes to "room"; nbb B (subscribed too) publishes 100 messages
// {:n i} with :exclude-sender? true. A gets all 100 in order from B's uid,
// single or batched; B gets none of them but does get its own later publish
// without the flag. A Go subscriber sees the same 101 messages.
func TestNbbHubPubSub(t *testing.T) {
	t.Parallel()
	const n = 100
	g := nbbHubStartGateway(t, nil)
	goSub := nbbHubDial(t, g)
	goSub.subscribe("room")

	a := nbbHubRun(t, "subscriber.cljs", g.ChskURL(), "room")
	uidA := nbbHubStr(a.expect("ready"), "uid")
	b := nbbHubRun(t, "publisher.cljs", g.ChskURL(), "room", fmt.Sprint(n))
	uidB := nbbHubStr(b.expect("ready"), "uid")
	if uidA == "" || uidA == uidB {
		t.Fatalf("uids A %q, B %q: want distinct", uidA, uidB)
	}

	pub := b.expect("published")
	if nbbHubGet(pub, "n") != int64(n) ||
		nbbHubKw(pub, "after-excluded") != string(wire.EvPong) ||
		nbbHubKw(pub, "own-final-id") != string(wire.EvChannelMsg) ||
		nbbHubPrint(nbbHubGet(pub, "own-final-data")) != "{:final true}" ||
		nbbHubGet(pub, "own-final-from-self") != true {
		t.Errorf("publisher (exclude-sender? honoured, then its own message delivered): %s", nbbHubPrint(pub))
	}

	rec := a.expect("received")
	ns, _ := nbbHubGet(rec, "ns").([]any)
	inOrder := len(ns) == n
	for i := 0; inOrder && i < n; i++ {
		inOrder = ns[i] == int64(i)
	}
	if !inOrder {
		t.Errorf("subscriber got :n %s, want 0..%d in order", nbbHubPrint(ns), n-1)
	}
	if want := map[any]bool{uidB: true}; nbbHubPrint(nbbHubGet(rec, "froms")) != nbbHubPrint(want) {
		t.Errorf("subscriber saw :from %s, want only B's %s", nbbHubPrint(nbbHubGet(rec, "froms")), uidB)
	}
	if nbbHubPrint(nbbHubGet(rec, "channel-ids")) != `#{"room"}` ||
		nbbHubPrint(nbbHubGet(rec, "keys")) != `#{:channel-id :data :from}` {
		t.Errorf("subscriber's messages: %s", nbbHubPrint(rec))
	}
	t.Logf("subscriber A: %d messages in %v frames (all frames it read), %v of them batches",
		n+1, nbbHubGet(rec, "frames"), nbbHubGet(rec, "batch-frames"))

	for i := 0; i <= n; i++ {
		ev := goSub.nextEvent()
		want := fmt.Sprintf("{:n %d}", i)
		if i == n {
			want = "{:final true}"
		}
		if ev.ID != wire.EvChannelMsg || wire.Get(ev.Data, "from") != uidB || nbbHubPrint(wire.Get(ev.Data, "data")) != want {
			t.Fatalf("Go subscriber, message %d: %v %s; want %s from %s", i, ev.ID, nbbHubPrint(ev.Data), want, uidB)
		}
	}
	a.finish()
	b.finish()
}

// --- 4. malformed frames ---

// nbb sends a v1 map and other bad frames: each is answered with
// [:sente-lite/error {:error :unreadable-frame :reason ...}] and the next valid
// event is echoed on the same connection; the last allowed bad frame closes it
// with code 1001 and a reason.
func TestNbbHubMalformed(t *testing.T) {
	t.Parallel()
	g := nbbHubStartGateway(t, nil)
	maxBad := g.Config().MaxBadFrames
	p := nbbHubRun(t, "malformed.cljs", g.ChskURL(), fmt.Sprint(maxBad))
	want := []struct{ name, reason string }{
		{"v1-map", "v1 map messages are not supported"},
		{"v1-map-typed", "(sente-lite v2)"},
		{"unnamespaced-event", "not namespaced"},
		{"unbalanced", "unbalanced EDN"},
	}
	for _, w := range want {
		r := p.expect("refused")
		data := nbbHubGet(r, "data")
		if nbbHubStr(r, "name") != w.name || nbbHubKw(r, "answer") != string(wire.EvError) ||
			nbbHubKw(data, "error") != "unreadable-frame" || !strings.Contains(nbbHubStr(data, "reason"), w.reason) {
			t.Errorf("%s: want :sente-lite/error mentioning %q, nbb read %s", w.name, w.reason, nbbHubPrint(r))
		}
		if nbbHubKw(r, "next-answer") != string(wire.EvEcho) || nbbHubGet(r, "next-ok") != true || nbbHubGet(r, "conn-id-ok") != true {
			t.Errorf("%s: the connection is not usable after the refusal: %s", w.name, nbbHubPrint(r))
		}
	}
	out := p.expect("struck-out")
	answers, _ := nbbHubGet(out, "answers").([]any)
	for _, a := range answers {
		if a != wire.EvError {
			t.Errorf("a bad frame below the limit was answered with %v, want :sente-lite/error", a)
		}
	}
	if code := nbbHubGet(out, "close-code"); code != int64(websocket.CloseGoingAway) ||
		!strings.Contains(nbbHubStr(out, "close-reason"), fmt.Sprintf("closed after %d unreadable frames", maxBad)) {
		t.Errorf("after %d bad frames nbb saw %s; want close 1001 with the reason", maxBad, nbbHubPrint(out))
	}
	p.finish()
	if got := g.hubStats(t)["parse-errors"]; got != float64(maxBad) {
		t.Errorf("/stats parse-errors = %v, want %d", got, maxBad)
	}
	if !strings.Contains(g.Logs.String(), "unreadable frame from sente-lite client") {
		t.Error("refusals not logged")
	}
}
