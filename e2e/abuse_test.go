package e2e

// Abuse tests: hostile or broken input from editors (bencode), from WebSocket
// peers (EDN frames on /_nrepl and /chsk) and over plain HTTP. For every case
// the process lives, a canary editor keeps evaluating against a healthy
// runtime throughout (no failure allowed), the gateway's heap stays within a
// stated bound, and the gateway's log says what it refused and why.
//
// The gateway runs inside the test process, so its memory is measured
// in-process: heap in use (runtime.MemStats.HeapInuse) after a GC, against a
// baseline taken when the gateway, its healthy runtime and the canary are up;
// and the peak heap in use sampled every millisecond while a case runs.
//
// Package-level identifiers start with abuse; the gateway, canary and log
// helpers are the fault ones from faults_test.go.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sente-clj/sente/gateway"
	"github.com/sente-clj/sente/internal/simruntime"
	"github.com/sente-clj/sente/internal/testutil"
	"github.com/sente-clj/sente/nrepl"
	"github.com/sente-clj/sente/wire"
)

const (
	abuseMiB = 1 << 20
	// abuseAfterBound: heap in use after a case (after GC) over the baseline.
	abuseAfterBound = 64 * abuseMiB
	// abusePeakBound: peak heap in use while a case runs, garbage included,
	// over the baseline. A 100 MB message held whole would need 95 MiB live
	// (and twice that while its buffer grows); refused at the 16 MiB
	// --max-nrepl-message it peaks at 16-32 MiB live, which the GC lets grow
	// to about twice that before it collects (measured: up to ~66 MiB).
	abusePeakBound = 80 * abuseMiB
)

// abuseHeapAfterGC is the heap in use once garbage is collected.
func abuseHeapAfterGC() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// abusePeak samples the heap in use (live objects plus fragmentation, as
// HeapInuse counts it) every millisecond until stopped.
type abusePeak struct {
	max  atomic.Uint64
	stop chan struct{}
	done chan struct{}
}

func abuseStartPeak() *abusePeak {
	p := &abusePeak{stop: make(chan struct{}), done: make(chan struct{})}
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
	}
	go func() {
		defer close(p.done)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(samples)
			if v := samples[0].Value.Uint64() + samples[1].Value.Uint64(); v > p.max.Load() {
				p.max.Store(v)
			}
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return p
}

func (p *abusePeak) end() uint64 {
	close(p.stop)
	<-p.done
	return p.max.Load()
}

// abuseEnv is one gateway with a healthy runtime and a canary pinned to it.
type abuseEnv struct {
	g         *faultGW
	canary    *faultCanary
	healthyID string
	base      uint64
}

func abuseSetup(t *testing.T, tweak func(*gateway.Config)) *abuseEnv {
	t.Helper()
	g := faultStart(t, tweak)
	_, id := g.dialRuntime(t, simruntime.Echo)
	canary := faultStartCanary(t, g, id)
	canary.waitEvals(t, 3)
	env := &abuseEnv{g: g, canary: canary, healthyID: id, base: abuseHeapAfterGC()}
	t.Cleanup(func() {
		canary.stop()
		canary.check(t, "at the end")
		t.Logf("canary: %d evals passed, %d failed", canary.ok.Load(), canary.failed.Load())
	})
	return env
}

// run runs one abuse case as a subtest: the canary must pass evals during and
// after it, memory must stay within the bounds, the log must contain every
// string in wantLog (in what the case added to it), and /health must answer.
func (a *abuseEnv) run(t *testing.T, name string, wantLog []string, f func(t *testing.T)) {
	t.Run(name, func(t *testing.T) {
		logStart := len(a.g.Logs.String())
		failedBefore := a.canary.failed.Load()
		okBefore := a.canary.ok.Load()
		peak := abuseStartPeak()
		start := time.Now()
		f(t)
		took := time.Since(start)
		peakHeap := peak.end()
		a.canary.waitEvals(t, 3) // it still evaluates after the case
		if n := a.canary.failed.Load() - failedBefore; n > 0 {
			a.canary.check(t, name)
		}
		after := abuseHeapAfterGC()
		t.Logf("%s: %v; canary %d evals; heap in use over baseline: peak %+.1f MiB, after GC %+.1f MiB",
			name, took.Round(time.Millisecond), a.canary.ok.Load()-okBefore,
			abuseMiBOver(peakHeap, a.base), abuseMiBOver(after, a.base))
		if after > a.base+abuseAfterBound {
			t.Errorf("heap in use after the case %.1f MiB over baseline, bound %d MiB", abuseMiBOver(after, a.base), abuseAfterBound/abuseMiB)
		}
		if peakHeap > a.base+abusePeakBound {
			t.Errorf("heap in use peaked %.1f MiB over baseline during the case, bound %d MiB", abuseMiBOver(peakHeap, a.base), abusePeakBound/abuseMiB)
		}
		if a.g.getJSON(t, "/health")["status"] != "ok" {
			t.Error("/health is not ok")
		}
		for _, want := range wantLog {
			abuseWaitLog(t, a.g, logStart, want)
		}
		if t.Failed() {
			t.Logf("log of this case:\n%s", faultTail(a.g.Logs.String()[logStart:], 60))
		}
	})
}

func abuseMiBOver(v, base uint64) float64 { return (float64(v) - float64(base)) / abuseMiB }

// abuseWaitLog waits up to testutil.Patience for text in the log written
// since from.
func abuseWaitLog(t *testing.T, g *faultGW, from int, text string) {
	t.Helper()
	if !testutil.Poll(context.Background(), 0, func() bool { return strings.Contains(g.Logs.String()[from:], text) }) {
		t.Errorf("the gateway did not log %q", text)
	}
}

// --- bencode from editors ---

// abuseEditorSend opens a TCP connection to the nREPL port, writes in from a
// goroutine (the gateway may close before taking it all), optionally
// half-closes, and returns whatever the gateway sent before closing.
func abuseEditorSend(t *testing.T, g *faultGW, in []byte, halfClose bool) []byte {
	t.Helper()
	conn, err := net.Dial("tcp", g.NREPLAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	go func() {
		_, _ = conn.Write(in)
		if halfClose {
			_ = conn.(*net.TCPConn).CloseWrite()
		}
	}()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	reply, err := io.ReadAll(conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("the gateway kept the connection open for 10s after %d bytes of bad input", len(in))
	}
	return reply
}

// abuseRefusal checks what an editor was told before the gateway closed. A
// reset may swallow the reply when the gateway closes with input unread, so an
// empty reply passes; a non-empty one must explain itself.
func abuseRefusal(t *testing.T, reply []byte, want string) {
	t.Helper()
	if len(reply) > 0 && (!bytes.Contains(reply, []byte("unreadable nREPL message")) || !bytes.Contains(reply, []byte(want))) {
		t.Errorf("reply %q does not explain the refusal (%q)", abuseShort(reply), want)
	}
}

func abuseShort(b []byte) string {
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

// abuseKnownDecodeRegrowth tolerates a bug in nrepl/decode.go (scanString,
// line 273: c := min(max(2*cap(d.raw), l+k), l+int(n)+4096)): the clamp to
// "just past this string" defeats the doubling, so every string longer than
// the 4 KiB slack copies the whole message read so far. Set it to false once
// the buffer grows by doubling (c := max(2*cap(d.raw), l+k)).
const abuseKnownDecodeRegrowth = false

func TestAbuseEditorBencode(t *testing.T) {
	a := abuseSetup(t, nil)
	g := a.g
	maxMsg := g.Config().MaxNREPLMessage

	a.run(t, "random bytes on many connections", []string{`msg="editor connection closed"`, "message must be a bencode dictionary", "malformed bencode at byte"}, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		const conns, workers = 200, 8
		inputs := make(chan []byte, conns)
		for i := 0; i < conns; i++ {
			b := make([]byte, 1+rng.IntN(4096))
			for j := range b {
				b[j] = byte(rng.Uint32())
			}
			if i%2 == 0 {
				b[0] = 'd' // past the first check, into the scanner
			}
			inputs <- b
		}
		close(inputs)
		var wg sync.WaitGroup
		var explained atomic.Int64
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for in := range inputs {
					if reply := abuseEditorSend(t, g, in, true); bytes.Contains(reply, []byte("unreadable nREPL message")) {
						explained.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		t.Logf("%d of %d connections got an explanation before the close", explained.Load(), conns)
		if explained.Load() == 0 {
			t.Error("no connection was told why it was closed")
		}
		g.waitHealth(t, "editors", 1, testutil.Patience) // the canary only
	})

	a.run(t, "huge length prefix", []string{fmt.Sprintf("message exceeds %d bytes", maxMsg)}, func(t *testing.T) {
		// The body never comes and the connection stays open on this side:
		// only a gateway that refuses on the declared length answers (and
		// abuseEditorSend fails if it waits instead).
		reply := abuseEditorSend(t, g, []byte("d4:code99999999999:"), false)
		abuseRefusal(t, reply, "exceeds")
		if len(reply) == 0 {
			t.Error("no reply: the gateway should say why before closing")
		}
	})

	a.run(t, "nesting a million deep", []string{"nests deeper than 100 levels"}, func(t *testing.T) {
		in := append([]byte("d1:x"), bytes.Repeat([]byte("l"), 1_000_000)...)
		abuseRefusal(t, abuseEditorSend(t, g, in, false), "deeper")
	})

	a.run(t, "truncated messages", []string{`msg="editor connection closed"`, `err="unexpected EOF"`}, func(t *testing.T) {
		full, _ := nrepl.AppendEncode(nil, nrepl.Msg{"op": "eval", "code": "(+ 1 2)", "id": "t1", "session": "s"})
		for cut := 1; cut < len(full); cut += 3 {
			conn, err := net.Dial("tcp", g.NREPLAddr().String())
			if err != nil {
				t.Fatal(err)
			}
			_, _ = conn.Write(full[:cut])
			_ = conn.Close()
		}
		g.waitHealth(t, "editors", 1, testutil.Patience)
	})

	a.run(t, "top level not a dict", []string{"message must be a bencode dictionary, got 'l'", "got 'i'", "got '4'"}, func(t *testing.T) {
		for _, in := range []string{"li1ei2ee", "i42e", "4:spam", "le"} {
			reply := abuseEditorSend(t, g, []byte(in), false)
			abuseRefusal(t, reply, "must be a bencode dictionary")
			if len(reply) == 0 {
				t.Errorf("%q: no reply", in)
			}
		}
	})

	// A 100 MB string is refused from its length prefix alone: the gateway
	// compares the declared length with --max-nrepl-message before reading it.
	a.run(t, "100 MB string streamed", []string{fmt.Sprintf("message exceeds %d bytes", maxMsg)}, func(t *testing.T) {
		head := fmt.Sprintf("d2:op4:eval2:id3:big4:code%d:", 100_000_000)
		abuseStreamEditor(t, g, []byte(head), nil, 100_000_000)
	})
	// 100 MB that declares nothing over the limit, 1 MiB strings in a list, is
	// refused by counting: the gateway must stop at --max-nrepl-message.
	a.run(t, "100 MB of 1 MiB strings streamed", []string{fmt.Sprintf("message exceeds %d bytes", maxMsg)}, func(t *testing.T) {
		piece := append([]byte("1048576:"), bytes.Repeat([]byte("x"), 1<<20)...)
		abuseStreamEditor(t, g, []byte("d2:op4:eval2:id3:big4:codel"), piece, 100_000_000)
	})

	// A message under the limit made of many small strings must cost about its
	// size to decode. nrepl/decode.go's scanString regrows its buffer to just
	// past each string, copying everything read so far once per string:
	// quadratic: ~130 MiB allocated for this 1 MiB, 28 GiB for 15 MiB.
	a.run(t, "1 MiB of 1 KiB strings", nil, func(t *testing.T) {
		var msg bytes.Buffer
		msg.WriteString("d2:id3:pad2:op8:describe3:padl")
		s := bytes.Repeat([]byte("y"), 1024)
		for msg.Len() < 1<<20 {
			msg.WriteString("1024:")
			msg.Write(s)
		}
		msg.WriteString("ee")
		c, err := net.Dial("tcp", g.NREPLAddr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		go func() { _, _ = c.Write(msg.Bytes()) }()
		_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
		resp, err := nrepl.NewDecoder(c, nrepl.DefaultLimits()).Decode()
		took := time.Since(start)
		runtime.ReadMemStats(&after)
		if err != nil || !resp.HasStatus("done") || resp.Str("id") != "pad" {
			t.Fatalf("describe with a 1 MiB pad: %v %v", resp, err)
		}
		alloc := after.TotalAlloc - before.TotalAlloc
		t.Logf("decoding a %.1f MiB message of 1 KiB strings took %v and allocated %.0f MiB in the process", float64(msg.Len())/abuseMiB, took.Round(time.Millisecond), float64(alloc)/abuseMiB)
		if alloc > 64*abuseMiB {
			if abuseKnownDecodeRegrowth {
				t.Logf("NREPL DECODER BUG (tolerated, see abuseKnownDecodeRegrowth): %.0f MiB allocated for a %.1f MiB message", float64(alloc)/abuseMiB, float64(msg.Len())/abuseMiB)
			} else {
				t.Errorf("%.0f MiB allocated to decode a %.1f MiB message, want under 64 MiB", float64(alloc)/abuseMiB, float64(msg.Len())/abuseMiB)
			}
		}
	})
	g.waitHealth(t, "pending", 0, testutil.Patience)
	g.waitHealth(t, "editors", 1, testutil.Patience)
}

// abuseStreamEditor writes head, then piece again and again (or 64 KiB of
// string bytes when piece is nil) until total bytes are out or the gateway
// closes. One buffer is reused: the test holds no 100 MB either. The gateway
// must close after about --max-nrepl-message bytes.
func abuseStreamEditor(t *testing.T, g *faultGW, head, piece []byte, total int) {
	t.Helper()
	maxMsg := int(g.Config().MaxNREPLMessage)
	conn, err := net.Dial("tcp", g.NREPLAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if piece == nil {
		piece = bytes.Repeat([]byte("x"), 64<<10)
	}
	_ = conn.SetWriteDeadline(time.Now().Add(60 * time.Second))
	written, err := conn.Write(head)
	for err == nil && written < total {
		var n int
		n, err = conn.Write(piece)
		written += n
	}
	t.Logf("%.1f MiB went in before the gateway closed (%v)", float64(written)/abuseMiB, err)
	if err == nil {
		t.Errorf("the gateway read all %d bytes of a message over --max-nrepl-message %d", written, maxMsg)
	}
	// Kernel buffers on both sides take a few MiB more than the gateway read.
	if written > maxMsg+32*abuseMiB {
		t.Errorf("%.1f MiB went in before the refusal, want about %d MiB", float64(written)/abuseMiB, maxMsg/abuseMiB)
	}
	g.waitHealth(t, "editors", 1, testutil.Patience)
}

// --- WebSocket peers ---

// abuseWS dials one of the gateway's WebSocket paths.
func abuseWS(t *testing.T, g *faultGW, path string, hdr http.Header) *websocket.Conn {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial("ws://"+g.HTTPAddr().String()+path, hdr)
	if err != nil {
		t.Fatalf("dial %s: %v (%v)", path, err, resp)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// abuseEvents reads /chsk frames (batches unwrapped) until one satisfies
// stop or the connection ends; it returns the events seen and the read error.
func abuseEvents(conn *websocket.Conn, within time.Duration, stop func(wire.Event) bool) ([]wire.Event, error) {
	_ = conn.SetReadDeadline(time.Now().Add(within))
	var evs []wire.Event
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			return evs, err
		}
		f, err := wire.DecodeFrame(data, wire.Limits{MaxBytes: 64 << 20})
		if err != nil {
			return evs, fmt.Errorf("gateway sent an unreadable frame %q: %w", abuseShort(data), err)
		}
		batch := f.Batch
		if f.Kind != wire.KindBatch {
			batch = []wire.Event{f.Event}
		}
		for _, ev := range batch {
			evs = append(evs, ev)
			if stop(ev) {
				return evs, nil
			}
		}
	}
}

// abuseChskError sends frame on a fresh /chsk connection and expects the
// :sente-lite/error event that explains the refusal.
func abuseChskError(t *testing.T, g *faultGW, typ int, frame []byte, wantReason string) *websocket.Conn {
	t.Helper()
	conn := abuseWS(t, g, "/chsk", nil)
	if err := conn.WriteMessage(typ, frame); err != nil {
		t.Fatal(err)
	}
	evs, err := abuseEvents(conn, 10*time.Second, func(ev wire.Event) bool { return ev.ID == wire.EvError })
	if err != nil {
		t.Fatalf("no :sente-lite/error event (%v); got %v", err, evs)
	}
	if reason := fmt.Sprint(wire.Get(evs[len(evs)-1].Data, "reason")); !strings.Contains(reason, wantReason) {
		t.Errorf("error reason %q, want it to mention %q", reason, wantReason)
	}
	return conn
}

// abuseExpectClose reads until the gateway closes the connection and checks the code.
func abuseExpectClose(t *testing.T, conn *websocket.Conn, code int) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err := conn.ReadMessage(); err != nil {
			if !websocket.IsCloseError(err, code) {
				t.Errorf("connection ended with %v, want close %d", err, code)
			}
			return
		}
	}
}

// abuseStreamFrame writes one text message of n bytes in 64 KiB pieces, so the
// test does not hold it whole; the gateway may close before it is all sent.
func abuseStreamFrame(conn *websocket.Conn, n int) error {
	w, err := conn.NextWriter(websocket.TextMessage)
	if err != nil {
		return err
	}
	piece := bytes.Repeat([]byte(" "), 64<<10)
	for sent := 0; sent < n; {
		k, err := w.Write(piece[:min(len(piece), n-sent)])
		sent += k
		if err != nil {
			return err
		}
	}
	return w.Close()
}

func TestAbuseWebSocketPeers(t *testing.T) {
	a := abuseSetup(t, nil)
	g := a.g
	cfg := g.Config()
	deep := bytes.Repeat([]byte("["), 1_000_000)

	// /_nrepl answers nothing to a runtime; what it refused is in the log.
	// Every case ends with the gateway done with the abusive peer: only the
	// healthy runtime left and no /chsk connection, so memory is measured
	// after the connection's buffers were let go.
	settle := func(t *testing.T) {
		g.waitHealth(t, "runtimes", 1, testutil.Patience)
		g.waitHealth(t, "connections", 0, testutil.Patience)
	}
	nreplFrame := func(typ int, frame []byte, wantLog string) func(t *testing.T) {
		return func(t *testing.T) {
			from := len(g.Logs.String())
			conn := abuseWS(t, g, "/_nrepl", nil)
			if err := conn.WriteMessage(typ, frame); err != nil {
				t.Fatal(err)
			}
			abuseWaitLog(t, g, from, wantLog) // nothing is answered to a runtime
			conn.Close()
			settle(t)
		}
	}
	chsk := func(typ int, frame []byte, reason string) func(t *testing.T) {
		return func(t *testing.T) {
			conn := abuseChskError(t, g, typ, frame, reason)
			conn.Close()
			settle(t)
		}
	}
	for _, tc := range []struct {
		name    string
		wantLog []string
		f       func(t *testing.T)
	}{
		{"runtime: unbalanced EDN", []string{"unreadable frame from runtime", "unbalanced EDN"},
			nreplFrame(websocket.TextMessage, []byte(`{:id "x" :value "1"`), "unbalanced EDN")},
		{"client: unbalanced EDN", []string{"unreadable frame from sente-lite client", "unbalanced EDN"},
			chsk(websocket.TextMessage, []byte(`[:my-app/a {:x 1}`), "unbalanced EDN")},
		{"runtime: nesting a million deep", []string{"unreadable frame from runtime", "more than 100 levels"},
			nreplFrame(websocket.TextMessage, deep, "more than 100 levels")},
		{"client: nesting a million deep", []string{"unreadable frame from sente-lite client", "more than 100 levels"},
			chsk(websocket.TextMessage, deep, "more than 100 levels")},
		{"runtime: binary frame", []string{"binary frame; runtimes send EDN text frames"},
			nreplFrame(websocket.BinaryMessage, []byte(`{:id "x" :value "1"}`), "binary frame")},
		{"client: binary frame", []string{"binary frame; sente-lite speaks EDN text frames"},
			chsk(websocket.BinaryMessage, []byte(`[:my-app/a 1]`), "binary frame")},
		{"runtime: invalid UTF-8", []string{"unreadable frame from runtime", "invalid UTF-8"},
			nreplFrame(websocket.TextMessage, []byte("{:id \"x\" :value \"\xff\xfe\"}"), "invalid UTF-8")},
		{"client: invalid UTF-8", []string{"unreadable frame from sente-lite client", "invalid UTF-8"},
			chsk(websocket.TextMessage, []byte("[:my-app/a \"\xc3\x28\"]"), "invalid UTF-8")},
		// A map is a runtime's normal frame; one without an id answers nothing and is dropped.
		{"runtime: v1 map", []string{"dropped a response nobody waits for"},
			nreplFrame(websocket.TextMessage, []byte(`{:type :subscribe :channel-id "x"}`), "dropped a response nobody waits for")},
		{"client: v1 map", []string{"v1 map messages are not supported"},
			chsk(websocket.TextMessage, []byte(`{:type :subscribe :channel-id "x"}`), "v2")},
		{"runtime: event without a namespace", []string{"runtime message must be an EDN map"},
			nreplFrame(websocket.TextMessage, []byte(`[:hello "x"]`), "runtime message must be an EDN map")},
		{"client: event without a namespace", []string{"is not namespaced"},
			chsk(websocket.TextMessage, []byte(`[:hello "x"]`), "not namespaced")},
		{"runtime: oversized frame", []string{"runtime disconnected", "byte limit"}, func(t *testing.T) {
			conn := abuseWS(t, g, "/_nrepl", nil)
			err := abuseStreamFrame(conn, int(cfg.MaxNREPLMessage)+1)
			t.Logf("streaming %d bytes: %v", cfg.MaxNREPLMessage+1, err)
			abuseExpectClose(t, conn, websocket.CloseMessageTooBig)
			settle(t)
		}},
		{"client: oversized frame", []string{"byte limit"}, func(t *testing.T) {
			conn := abuseWS(t, g, "/chsk", nil)
			_ = abuseStreamFrame(conn, cfg.MaxMessageBytes+1)
			abuseExpectClose(t, conn, websocket.CloseMessageTooBig)
			settle(t)
		}},
		{"client: unknown tagged literal", nil, func(t *testing.T) {
			// Accepted as data: echoed back with the tag intact.
			conn := abuseWS(t, g, "/chsk", nil)
			if err := conn.WriteMessage(websocket.TextMessage, []byte(`[:my-app/tagged #foo/bar 1]`)); err != nil {
				t.Fatal(err)
			}
			evs, err := abuseEvents(conn, 10*time.Second, func(ev wire.Event) bool { return ev.ID == wire.EvEcho || ev.ID == wire.EvError })
			if err != nil {
				t.Fatalf("no answer: %v %v", err, evs)
			}
			ev := evs[len(evs)-1]
			if ev.ID != wire.EvEcho || wire.Get(ev.Data, "original-data") != (wire.Tagged{Tag: "foo/bar", Value: int64(1)}) {
				t.Errorf("tagged literal answered with %v %#v, want an echo of #foo/bar 1", ev.ID, ev.Data)
			}
			conn.Close()
			settle(t)
		}},
		{"runtime: unknown tagged literal", nil, func(t *testing.T) {
			abuseTaggedRuntime(t, g).Close()
			settle(t)
		}},
	} {
		a.run(t, tc.name, tc.wantLog, tc.f)
	}
	g.waitHealth(t, "pending", 0, testutil.Patience)
}

// abuseTaggedRuntime: a raw runtime answers a real request with #foo/bar 1 as
// the value; the editor gets it as data (its printed form) and done.
func abuseTaggedRuntime(t *testing.T, g *faultGW) *websocket.Conn {
	before := g.runtimeIDs(t)
	conn := abuseWS(t, g, "/_nrepl", nil)
	var id string
	if !testutil.Poll(context.Background(), 0, func() bool {
		for _, r := range g.runtimeIDs(t) {
			if !strings.Contains(strings.Join(before, " ")+" ", r+" ") {
				id = r
			}
		}
		return id != ""
	}) {
		t.Fatal("raw runtime not registered")
	}
	ed := g.Editor(t)
	session, err := ed.Clone(ctxFor(t, evalBound))
	if err != nil {
		t.Fatal(err)
	}
	testutil.Collect(t, ed, nrepl.Msg{"op": "sente/select-runtime", "session": session, "runtime": id}, 0)
	_, ch, err := ed.Send(ctxFor(t, 10*time.Second), nrepl.Msg{"op": "eval", "code": "(tagged)", "id": "tag-1", "session": session})
	if err != nil {
		t.Fatal(err)
	}
	// The gateway first offers its REPL helper; this runtime is not Scittle,
	// so it answers something else, and the eval then comes as it was sent.
	var gid string
	for gid == "" {
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, data, err := conn.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		v, err := wire.Parse(data, wire.DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		req, _ := nrepl.FromEDN(v)
		switch code := req.Str("code"); {
		case code == "(tagged)":
			gid = req.Str("id")
		case strings.Contains(code, "(ns sente.repl)"):
			for _, frame := range []string{
				fmt.Sprintf(`{:id %q :value "not-scittle"}`, req.Str("id")),
				fmt.Sprintf(`{:id %q :status ["done"]}`, req.Str("id")),
			} {
				if err := conn.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	for _, frame := range []string{
		fmt.Sprintf(`{:id %q :value #foo/bar 1 :ns "user"}`, gid),
		fmt.Sprintf(`{:id %q :status ["done"] :ns "user"}`, gid),
	} {
		if err := conn.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
			t.Fatal(err)
		}
	}
	var rs []nrepl.Msg
	for r := range ch {
		rs = append(rs, r)
	}
	if v := testutil.Joined(rs, "value"); v != "#foo/bar 1" || faultCountDone(rs) != 1 {
		t.Errorf("a tagged value reached the editor as %q: %v", v, rs)
	}
	return conn
}

// --- HTTP ---

// abuseKnownSilentPlainHTTP tolerates a gateway gap: a plain (non-upgrade)
// GET on /_nrepl or /chsk is answered by gorilla's default "400 Bad Request"
// and a POST by the mux's 405, and neither is logged (gateway/server.go sets no
// Upgrader.Error). Set it to false once the gateway logs them and says that the
// path is a WebSocket endpoint.
const abuseKnownSilentPlainHTTP = false

func TestAbuseHTTP(t *testing.T) {
	a := abuseSetup(t, nil)
	g := a.g
	base := "http://" + g.HTTPAddr().String()

	a.run(t, "upgrade from a foreign origin", []string{"refused a WebSocket from a foreign origin", "origin=https://evil.example", "path=/_nrepl", "path=/chsk"}, func(t *testing.T) {
		for _, path := range []string{"/_nrepl", "/chsk"} {
			conn, resp, err := websocket.DefaultDialer.Dial("ws://"+g.HTTPAddr().String()+path, http.Header{"Origin": {"https://evil.example"}})
			if conn != nil {
				conn.Close()
			}
			if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s from https://evil.example: err=%v resp=%v, want 403", path, err, resp)
			}
		}
		if n := g.healthNum(t, "runtimes"); n != 1 {
			t.Errorf("%d runtimes after refused upgrades, want the healthy one", n)
		}
	})

	a.run(t, "plain GET and POST on the WebSocket paths", nil, func(t *testing.T) {
		logStart := len(g.Logs.String())
		for _, tc := range []struct{ method, path string }{
			{"GET", "/_nrepl"}, {"GET", "/chsk"}, {"POST", "/_nrepl"}, {"POST", "/chsk"},
		} {
			req, _ := http.NewRequest(tc.method, base+tc.path, strings.NewReader(`{"op":"eval"}`))
			resp, err := faultHTTP.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", tc.method, tc.path, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			t.Logf("%s %s: %d %q", tc.method, tc.path, resp.StatusCode, strings.TrimSpace(string(body)))
			if resp.StatusCode < 400 || resp.StatusCode > 499 {
				t.Errorf("%s %s: status %d, want a 4xx", tc.method, tc.path, resp.StatusCode)
			}
		}
		// Known gap (reported): the gateway neither logs these nor says more
		// than "Bad Request" / "Method Not Allowed"; see abuseKnownSilentPlainHTTP.
		if log := g.Logs.String()[logStart:]; !strings.Contains(log, "/_nrepl") || !strings.Contains(log, "/chsk") {
			if abuseKnownSilentPlainHTTP {
				t.Logf("GATEWAY GAP (tolerated, see abuseKnownSilentPlainHTTP): plain HTTP requests to /_nrepl and /chsk are refused without a log line")
			} else {
				t.Errorf("the gateway did not log the refused plain HTTP requests")
			}
		}
	})

	a.run(t, "1000 connections opened and dropped on /chsk", []string{"sente-lite client disconnected"}, func(t *testing.T) {
		logStart := len(g.Logs.String())
		goBase := runtime.NumGoroutine()
		const total, workers = 1000, 8
		var next, rejected atomic.Int64
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := next.Add(1); i <= total; i = next.Add(1) {
					conn, resp, err := websocket.DefaultDialer.Dial("ws://"+g.HTTPAddr().String()+"/chsk", nil)
					if err != nil {
						if resp != nil && resp.StatusCode == http.StatusServiceUnavailable {
							rejected.Add(1)
						} else {
							t.Errorf("connection %d: %v", i, err)
						}
						continue
					}
					switch i % 3 {
					case 0: // drop at once, before reading anything
					case 1: // read the handshake, then drop
						_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
						_, _, _ = conn.ReadMessage()
					case 2: // send an event, then drop
						_ = conn.WriteMessage(websocket.TextMessage, []byte(`[:my-app/hi 1]`))
					}
					if i%2 == 0 {
						_ = conn.UnderlyingConn().(*net.TCPConn).SetLinger(0) // RST instead of FIN
					}
					_ = conn.UnderlyingConn().Close() // no close frame: dropped
				}
			}()
		}
		wg.Wait()
		if n := rejected.Load(); n > 0 {
			t.Errorf("%d connections refused with 503: dropped connections were not released", n)
		}
		// A client's Dial returns once the gateway has upgraded it, and the
		// gateway counts it a moment later: /stats at 0 alone could come
		// before the last one was counted. Every disconnect logged, then 0.
		var conns any
		var logged int
		if !testutil.Poll(context.Background(), 0, func() bool {
			logged = len(faultLogLines(g.Logs.String()[logStart:], "sente-lite client disconnected"))
			conns = g.getJSON(t, "/stats")["sente-lite"].(map[string]any)["connections"]
			return logged == total && conns == float64(0)
		}) {
			t.Fatalf("%v after the last drop: %d of %d disconnects logged, /stats sente-lite connections = %v, want 0",
				testutil.Patience, logged, total, conns)
		}
		n := faultWaitGoroutines(t, goBase, 10, 20*time.Second)
		t.Logf("goroutines: %d before, %d after 1000 connections", goBase, n)
	})

	a.run(t, "subscriber that never reads", []string{"closed a slow consumer"}, func(t *testing.T) {
		abuseSlowSubscriber(t, g)
	})
}

// abuseSlowSubscriber: a publisher keeps publishing to a channel with a
// subscriber that never reads and one that reads everything. The stalled one is
// closed as a slow consumer once its queue (--client-queue, default 4096 frames)
// fills; the reader gets every message in order; the publisher is never held up.
func abuseSlowSubscriber(t *testing.T, g *faultGW) {
	pub := abuseWS(t, g, "/chsk", nil)
	fast := abuseWS(t, g, "/chsk", nil)
	slow := abuseWS(t, g, "/chsk", nil)
	// A small receive buffer makes the stall reach the gateway's queue sooner
	// (what matters is the queue; kernel buffers only delay filling it).
	_ = slow.UnderlyingConn().(*net.TCPConn).SetReadBuffer(4 << 10)
	for _, c := range []*websocket.Conn{fast, slow} {
		if err := c.WriteMessage(websocket.TextMessage, []byte(`[:sente-lite/subscribe {:channel-id "firehose"}]`)); err != nil {
			t.Fatal(err)
		}
		if _, err := abuseEvents(c, 5*time.Second, func(ev wire.Event) bool { return ev.ID == wire.EvSubscribed }); err != nil {
			t.Fatal(err)
		}
	}
	slowCloses := func() float64 {
		return g.getJSON(t, "/stats")["sente-lite"].(map[string]any)["slow-consumer-closes"].(float64)
	}
	closesBefore := slowCloses()

	var received atomic.Int64
	readerDone := make(chan error, 1)
	go func() {
		want := int64(0)
		_, err := abuseEvents(fast, 60*time.Second, func(ev wire.Event) bool {
			if ev.ID != wire.EvChannelMsg {
				return false
			}
			seq := wire.Get(wire.Get(ev.Data, "data"), "seq")
			if seq == int64(-1) {
				return true
			}
			if seq != want {
				readerDone <- fmt.Errorf("message %d arrived as number %v", want, seq)
				return true
			}
			want++
			received.Store(want)
			return false
		})
		readerDone <- err
	}()

	pad := strings.Repeat("p", 1024)
	published, closedAt := 0, -1
	for ; published < 100_000; published++ {
		if closedAt >= 0 && published >= closedAt+500 {
			break // kept publishing well past the close
		}
		// Stay at most 2000 ahead of the reader so that it is never the slow one.
		testutil.Eventually(t, 0, func() bool { return int64(published)-received.Load() <= 2000 }, "the reader to catch up with message %d", published)
		frame := fmt.Sprintf(`[:sente-lite/publish {:channel-id "firehose" :data {:seq %d :pad %q}}]`, published, pad)
		if err := pub.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
			t.Fatalf("publisher held up or cut off at message %d: %v", published, err)
		}
		if closedAt < 0 && published%250 == 249 && slowCloses() > closesBefore {
			closedAt = published
		}
	}
	if closedAt < 0 {
		t.Fatalf("the stalled subscriber was not closed after %d messages", published)
	}
	if err := pub.WriteMessage(websocket.TextMessage, []byte(`[:sente-lite/publish {:channel-id "firehose" :data {:seq -1}}]`)); err != nil {
		t.Fatal(err)
	}
	if err := <-readerDone; err != nil {
		t.Fatalf("the reading subscriber: %v (received %d of %d)", err, received.Load(), published)
	}
	if got := received.Load(); got != int64(published) {
		t.Errorf("the reading subscriber got %d of %d messages", got, published)
	}
	t.Logf("stalled subscriber closed by message %d; %d published, all received by the reader", closedAt, published)
	var n any
	if !testutil.Poll(context.Background(), 0, func() bool {
		n = g.getJSON(t, "/channels")["channels"].(map[string]any)["firehose"]
		return n == float64(1)
	}) {
		t.Fatalf("firehose has %v subscribers %v after the slow one was closed, want 1", n, testutil.Patience)
	}
	pub.Close()
	fast.Close()
	slow.Close()
	g.waitHealth(t, "connections", 0, testutil.Patience)
}

// TestAbuseUnreadEchoes: a client that sends large events and never reads what
// the gateway answers is closed as a slow consumer before the answers it
// leaves unread hold more than the peak bound.
func TestAbuseUnreadEchoes(t *testing.T) {
	a := abuseSetup(t, nil)
	g := a.g
	a.run(t, "client that never reads its echoes", []string{"closed a slow consumer"}, func(t *testing.T) {
		conn := abuseWS(t, g, "/chsk", nil)
		_ = conn.UnderlyingConn().(*net.TCPConn).SetReadBuffer(4 << 10)
		frame := []byte(`[:my-app/big "` + strings.Repeat("x", 1_000_000) + `"]`)
		sent := 0
		for ; sent < 300; sent++ { // 300 MB, far over the bound, if nothing stops it
			if err := conn.WriteMessage(websocket.TextMessage, frame); err != nil {
				break
			}
		}
		t.Logf("sent %d 1 MB events before the gateway closed the connection", sent)
		g.waitHealth(t, "connections", 0, 30*time.Second)
	})
}
