package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sente-clj/sente/gateway"
	"github.com/sente-clj/sente/internal/simruntime"
	"github.com/sente-clj/sente/nrepl"
	"github.com/sente-clj/sente/wire"
)

// Runtime kinds the eval scenario can simulate.
const (
	RuntimeNREPL = "nrepl" // internal/simruntime on /_nrepl, as stock scittle.nrepl.js
	RuntimeChsk  = "chsk"  // a sente-lite client on /chsk answering :nrepl/request
)

// EvalConfig sets up the eval scenario.
type EvalConfig struct {
	Limits
	Runtimes    int    // simulated runtimes that answer at once
	RuntimeKind string // RuntimeNREPL or RuntimeChsk
	Editors     int    // concurrent nREPL connections, one request outstanding each
	Code        string // what every eval sends
	// EchoAddr, when set, is a bare WebSocket echo server measured beside the
	// gateway with a frame the size of the request a runtime receives.
	EchoAddr string
}

// Eval measures round trips editor → gateway → runtime → gateway → editor:
// Editors nREPL connections send evals back to back, each pinned to one of
// Runtimes simulated runtimes through an nREPL session.
func Eval(ctx context.Context, env Env, cfg EvalConfig) (*Report, error) {
	g := env.Gateway
	cfg.Runtimes, cfg.Editors = max(cfg.Runtimes, 1), max(cfg.Editors, 1)
	rep := &Report{Scenario: "eval", Gateway: g.Label, Unit: "evals", Settings: []Setting{
		{"editors", cfg.Editors}, {"runtimes", cfg.Runtimes}, {"runtime-kind", cfg.RuntimeKind},
		{"code", cfg.Code}, {"count", cfg.Count}, {"duration", cfg.Duration.String()}, {"warmup", cfg.Warmup},
	}}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	before, err := g.Stats(ctx, true)
	if err != nil {
		return nil, setupErr("read %s/stats: %v", g.HTTP, err)
	}
	rep.MemoryBefore = before.Memory

	ids, closeRuntimes, err := startRuntimes(ctx, g, cfg.RuntimeKind, cfg.Runtimes)
	if err != nil {
		return nil, err
	}
	defer closeRuntimes()

	editors := make([]*editorConn, cfg.Editors)
	for i := range editors {
		e, err := dialEditor(ctx, g.NREPL)
		if err != nil {
			return nil, err
		}
		defer e.close()
		if err := e.pin(ids[i%len(ids)]); err != nil {
			return nil, setupErr("editor %d: %v", i, err)
		}
		editors[i] = e
	}

	var errs errorLog
	// Warm-up: every editor, at once, until Warmup evals are done in all.
	warm := &budget{limit: cfg.Warmup}
	if cfg.Warmup > 0 {
		runEditors(editors, func(_ int, e *editorConn) {
			for warm.take() {
				if err := e.eval(cfg.Code); err != nil {
					errs.add(err)
					if e.dead {
						return
					}
				}
			}
		})
	}

	// The echo floor, when measured, alternates with the evals in rounds so
	// that both see the same machine; the evals' time and CPU leave it out.
	var echo *side
	if cfg.EchoAddr != "" {
		frame, _ := wire.Print(nrepl.ToEDN(nrepl.Msg{"op": "eval", "code": cfg.Code, "id": "s1a", "session": editors[0].session}))
		if echo, err = dialEcho(ctx, cfg.EchoAddr, frame); err != nil {
			return nil, err
		}
		defer closeWS(echo.conn)
		for range min(cfg.Warmup, 1000) {
			if err := echo.once(nil); err != nil {
				return nil, setupErr("echo server: %v", err)
			}
		}
	}
	lats := make([]*Latencies, len(editors))
	for i := range lats {
		lats[i] = NewLatencies(max(DefaultSampleCap/cfg.Editors, 4096))
	}
	echoLat := NewLatencies(int(min(max(cfg.Count, 1), DefaultSampleCap)))
	cpu := newCPUMeter(g)
	b := newBudget(cfg.Limits, time.Now())
	bar := startProgress(ctx, env.Progress, cfg.Count, cfg.Duration, b.done.Load)
	for !b.stopped.Load() && ctx.Err() == nil {
		round := b
		if echo != nil {
			round = b.quota(pingBlock * int64(cfg.Editors))
		}
		cpu.start()
		t0, done0 := time.Now(), b.done.Load()
		alive := runEditors(editors, func(i int, e *editorConn) {
			for round.take() {
				t0 := time.Now()
				if err := e.eval(cfg.Code); err != nil {
					errs.add(err)
					if e.dead {
						return
					}
					continue
				}
				lats[i].Add(time.Since(t0))
				b.done.Add(1)
			}
		})
		rep.Elapsed += time.Since(t0)
		cpu.stop()
		if alive == 0 {
			break
		}
		if echo != nil {
			// As many echoes as evals per editor in this round.
			n := (b.done.Load() - done0 + int64(cfg.Editors) - 1) / int64(cfg.Editors)
			for range n {
				if err := echo.once(echoLat); err != nil {
					return nil, setupErr("echo server: %v", err)
				}
			}
		}
	}
	bar.Stop()

	all := NewLatencies(0)
	for _, l := range lats {
		all.Merge(l)
	}
	rep.Operations = all.Count()
	rep.Throughput = throughput(rep.Operations, rep.Elapsed)
	rep.Latency = all.Summary()
	errs.fill(rep)
	if echo != nil {
		rep.Floor = &Floor{Latency: echoLat.Summary(), Ratio: ratio(all.Percentile(50), echoLat.Percentile(50))}
		if cfg.Editors > 1 {
			rep.Notes = append(rep.Notes, "the echo floor is one frame at a time on one connection: its ratio means most with --editors 1")
		}
		rep.Notes = append(rep.Notes, fmt.Sprintf("evals ran in rounds of %d per editor, alternating with %d echo round trips; elapsed and CPU count the evals only", pingBlock, pingBlock))
	}

	after, err := g.Stats(ctx, true)
	if err != nil {
		return nil, setupErr("read %s/stats: %v", g.HTTP, err)
	}
	rep.MemoryAfter = after.Memory
	rep.Figures = append(rep.Figures,
		Figure{Key: "gateway-requests", Label: "nREPL requests", Value: float64(after.NREPL.Requests - before.NREPL.Requests)},
		Figure{Key: "slow-editor-closes", Label: "slow-editor closes", Value: float64(after.NREPL.SlowEditorCloses - before.NREPL.SlowEditorCloses)})
	rep.Figures = append(rep.Figures, cpu.figures()...)
	return rep, nil
}

func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// runEditors runs f once per live editor, concurrently, waits for all, and
// returns how many editors are still alive.
func runEditors(editors []*editorConn, f func(i int, e *editorConn)) int {
	var wg sync.WaitGroup
	for i, e := range editors {
		if !e.dead {
			wg.Go(func() { f(i, e) })
		}
	}
	wg.Wait()
	alive := 0
	for _, e := range editors {
		if !e.dead {
			alive++
		}
	}
	return alive
}

// startRuntimes connects n simulated runtimes of kind and waits until the
// gateway lists them; it returns their ids.
func startRuntimes(ctx context.Context, g *Gateway, kind string, n int) ([]string, func(), error) {
	listed, err := g.Runtimes(ctx)
	if err != nil {
		return nil, nil, setupErr("read %s/runtimes: %v", g.HTTP, err)
	}
	known := map[string]bool{}
	for _, r := range listed {
		known[r.ID] = true
	}
	var closers []func()
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	wantKind, wantUA := gateway.KindScittleNREPL, "sente-simruntime"
	for range n {
		switch kind {
		case RuntimeNREPL, "":
			d := g.dialer(4096)
			r, err := simruntime.DialURL(ctx, d, wsURL(d, g.HTTP, "/_nrepl"), simruntime.Echo)
			if err != nil {
				closeAll()
				return nil, nil, setupErr("%v", err)
			}
			closers = append(closers, func() { _ = r.Close() })
		case RuntimeChsk:
			r, err := startChskRuntime(ctx, g.dialer(4096), g.HTTP)
			if err != nil {
				closeAll()
				return nil, nil, setupErr("connect a sente-lite runtime: %v", err)
			}
			closers = append(closers, func() { _ = r.Close() })
			wantKind, wantUA = gateway.KindSenteLite, userAgent
		default:
			return nil, nil, setupErr("runtime kind %q: use %s or %s", kind, RuntimeNREPL, RuntimeChsk)
		}
	}
	var ids []string
	err = waitFor(ctx, 10*time.Second, func() (bool, error) {
		listed, err := g.Runtimes(ctx)
		if err != nil {
			return false, err
		}
		ids = ids[:0]
		for _, r := range listed {
			if !known[r.ID] && r.Kind == wantKind && r.UserAgent == wantUA {
				ids = append(ids, r.ID)
			}
		}
		return len(ids) >= n, nil
	})
	if err != nil {
		closeAll()
		return nil, nil, setupErr("waiting for the gateway to list %d %s runtimes (%d so far): %v", n, wantKind, len(ids), err)
	}
	return ids, closeAll, nil
}

// editorConn is a lean nREPL client with one request outstanding at a time:
// it writes a request and reads on the same goroutine until done, so what it
// measures is the gateway, not a client's dispatch machinery.
type editorConn struct {
	conn     net.Conn
	bw       *bufio.Writer
	dec      *nrepl.Decoder
	buf      []byte
	seq      int
	session  string
	dead     bool // the connection failed; stop using it
	deadline time.Time
	stop     func() bool
}

func dialEditor(ctx context.Context, addr string) (*editorConn, error) {
	if addr == "" {
		return nil, setupErr("the gateway's nREPL address is unknown; pass --nrepl HOST:PORT")
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, setupErr("connect to nREPL at %s: %v", addr, err)
	}
	e := &editorConn{conn: conn, bw: bufio.NewWriterSize(conn, 4096), dec: nrepl.NewDecoder(conn, nrepl.DefaultLimits())}
	e.stop = context.AfterFunc(ctx, func() { _ = conn.Close() })
	return e, nil
}

func (e *editorConn) close() {
	e.stop()
	_ = e.conn.Close()
}

// request sends m with a fresh id and the editor's session, and returns every
// response up to and including done.
func (e *editorConn) request(m nrepl.Msg, each func(nrepl.Msg)) error {
	if e.dead {
		return errors.New("editor connection is closed")
	}
	e.seq++
	id := strconv.Itoa(e.seq)
	m["id"] = id
	if e.session != "" {
		m["session"] = e.session
	}
	now := time.Now()
	if e.deadline.Sub(now) < 15*time.Second {
		// A request the gateway never ends fails the run instead of hanging it.
		e.deadline = now.Add(30 * time.Second)
		_ = e.conn.SetDeadline(e.deadline)
	}
	var err error
	if e.buf, err = nrepl.AppendEncode(e.buf[:0], m); err != nil {
		return err
	}
	if _, err = e.bw.Write(e.buf); err == nil {
		err = e.bw.Flush()
	}
	for err == nil {
		var resp nrepl.Msg
		if resp, err = e.dec.Decode(); err != nil {
			break
		}
		if got := resp.Str("id"); got != id {
			return fmt.Errorf("response for id %q while %q was outstanding", got, id)
		}
		each(resp)
		if resp.HasStatus("done") {
			return nil
		}
	}
	e.dead = true
	if errors.Is(err, io.EOF) {
		err = errors.New("the gateway closed the nREPL connection")
	}
	return fmt.Errorf("nREPL connection: %w", err)
}

// pin clones a session and selects the runtime for it.
func (e *editorConn) pin(runtime string) error {
	var session string
	if err := e.request(nrepl.Msg{"op": "clone"}, func(m nrepl.Msg) {
		if s := m.Str("new-session"); s != "" {
			session = s
		}
	}); err != nil {
		return err
	}
	if session == "" {
		return errors.New("clone gave no new-session")
	}
	e.session = session
	var failed string
	if err := e.request(nrepl.Msg{"op": "sente/select-runtime", "runtime": runtime}, func(m nrepl.Msg) {
		if m.HasStatus("error") {
			failed = strings.TrimSpace(m.Str("err") + " " + strings.Join(m.Status(), ","))
		}
	}); err != nil {
		return err
	}
	if failed != "" {
		return fmt.Errorf("sente/select-runtime %s: %s", runtime, failed)
	}
	return nil
}

// eval sends code and checks the answer is a value and done, without errors.
func (e *editorConn) eval(code string) error {
	var value, problem string
	err := e.request(nrepl.Msg{"op": "eval", "code": code}, func(m nrepl.Msg) {
		if v, ok := m["value"].(string); ok {
			value = v
		}
		if s := m.Str("err") + m.Str("ex"); s != "" && problem == "" {
			problem = strings.TrimSpace(s)
		}
		if m.HasStatus("error") && problem == "" {
			problem = "status " + strings.Join(m.Status(), ",")
		}
	})
	switch {
	case err != nil:
		return err
	case problem != "":
		return fmt.Errorf("eval failed: %s", problem)
	case value == "":
		return errors.New("eval answered done without a value")
	}
	return nil
}
