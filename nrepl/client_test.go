package nrepl

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeServer is a minimal nREPL server for tests. handle is called for each
// request, from the server's read loop, with a reply function that is safe to
// call from any goroutine.
type fakeServer struct {
	conn   net.Conn
	wmu    sync.Mutex
	bw     *bufio.Writer
	handle func(req Msg, reply func(Msg))
	done   chan struct{}
}

func serveFake(conn net.Conn, handle func(req Msg, reply func(Msg))) *fakeServer {
	s := &fakeServer{conn: conn, bw: bufio.NewWriter(conn), handle: handle, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		d := NewDecoder(conn, DefaultLimits())
		for {
			req, err := d.Decode()
			if err != nil {
				return
			}
			s.handle(req, func(m Msg) { s.send(req, m) })
		}
	}()
	return s
}

// send echoes id and session like a real server.
func (s *fakeServer) send(req, m Msg) {
	m = m.Clone()
	if _, ok := m["id"]; !ok {
		m["id"] = req["id"]
	}
	if s := req.Str("session"); s != "" {
		m["session"] = s
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := Encode(s.bw, m); err == nil {
		s.bw.Flush()
	}
}

// standardHandler answers the ops the Client helpers use.
func standardHandler(req Msg, reply func(Msg)) {
	done := []any{"done"}
	switch req.Str("op") {
	case "clone":
		reply(Msg{"new-session": "sess-1", "status": done})
	case "describe":
		reply(Msg{"ops": map[string]any{"eval": map[string]any{}}, "versions": map[string]any{"nrepl": map[string]any{"major": int64(1)}}})
		reply(Msg{"status": done})
	case "eval":
		switch req.Str("code") {
		case "(boom)":
			reply(Msg{"err": "Execution error\n"})
			reply(Msg{"ex": "class clojure.lang.ExceptionInfo", "root-ex": "x", "status": []any{"eval-error"}})
			reply(Msg{"status": done})
		default:
			reply(Msg{"out": "hel"})
			reply(Msg{"out": "lo\n"})
			reply(Msg{"value": "1", "ns": req.Str("ns")})
			reply(Msg{"value": "2", "ns": "user"})
			reply(Msg{"status": done})
		}
	case "complete":
		reply(Msg{"completions": []any{
			map[string]any{"candidate": "map", "ns": "clojure.core", "type": "function"},
			map[string]any{"candidate": "mapv", "ns": "clojure.core", "type": "function"},
		}, "status": done})
	case "interrupt":
		reply(Msg{"status": []any{"done", "session-idle"}})
	case "close":
		if req.Str("session") == "sess-1" {
			reply(Msg{"status": []any{"done", "session-closed"}})
		} else {
			reply(Msg{"status": []any{"error", "unknown-session", "done"}})
		}
	default:
		reply(Msg{"status": []any{"done", "error", "unknown-op"}})
	}
}

func pipeClient(t *testing.T, handle func(Msg, func(Msg))) (*Client, *fakeServer) {
	t.Helper()
	cc, sc := net.Pipe()
	srv := serveFake(sc, handle)
	c := NewClient(cc)
	t.Cleanup(func() {
		c.Close()
		sc.Close()
		<-srv.done
	})
	return c, srv
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestClientOps(t *testing.T) {
	c, _ := pipeClient(t, standardHandler)
	ctx := testCtx(t)

	sess, err := c.Clone(ctx)
	if err != nil || sess != "sess-1" {
		t.Fatalf("Clone = %q, %v", sess, err)
	}
	desc, err := c.Describe(ctx)
	if err != nil || desc["ops"] == nil || desc["versions"] == nil || !desc.HasStatus("done") {
		t.Fatalf("Describe = %#v, %v", desc, err)
	}
	res, err := c.Eval(ctx, sess, "(+ 1 2)", Msg{"ns": "my.ns", "op": "ignored"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.Values, ",") != "1,2" || res.Out != "hello\n" || res.NS != "user" || res.Ex != "" ||
		len(res.Responses) != 5 || strings.Join(res.Status, ",") != "done" {
		t.Fatalf("Eval = %+v", res)
	}
	if res.Responses[0].Str("session") != sess {
		t.Errorf("session not sent: %#v", res.Responses[0])
	}
	res, err = c.Eval(ctx, sess, "(boom)", nil)
	if err != nil || res.Ex == "" || res.Err != "Execution error\n" || strings.Join(res.Status, ",") != "eval-error,done" {
		t.Fatalf("Eval (boom) = %+v, %v", res, err)
	}
	comps, err := c.Complete(ctx, sess, "ma", "user")
	if err != nil || len(comps) != 2 || comps[0] != (Completion{"map", "clojure.core", "function"}) {
		t.Fatalf("Complete = %+v, %v", comps, err)
	}
	ir, err := c.Interrupt(ctx, sess, "42")
	if err != nil || !ir.HasStatus("session-idle") {
		t.Fatalf("Interrupt = %#v, %v", ir, err)
	}
	if err := c.CloseSession(ctx, sess); err != nil {
		t.Fatalf("CloseSession: %v", err)
	}
	if err := c.CloseSession(ctx, "nope"); err == nil || !strings.Contains(err.Error(), "unknown-session") {
		t.Fatalf("CloseSession(nope) = %v", err)
	}
	// An unknown op still ends in done.
	_, ch, err := c.Send(ctx, Msg{"op": "frobnicate"})
	if err != nil {
		t.Fatal(err)
	}
	var last Msg
	for m := range ch {
		last = m
	}
	if !last.HasStatus("unknown-op") {
		t.Fatalf("unknown op reply %#v", last)
	}
}

func TestClientStreamsInOrder(t *testing.T) {
	const n = 200
	c, _ := pipeClient(t, func(req Msg, reply func(Msg)) {
		for i := 0; i < n; i++ {
			reply(Msg{"out": fmt.Sprint(i, " ")})
		}
		reply(Msg{"value": "nil", "status": []any{"done"}})
	})
	var seen int
	id, res, err := c.EvalStream(testCtx(t), "", "(dotimes ...)", nil, func(m Msg) { seen++ })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(id, "sente-") || seen != n+1 || len(res.Responses) != n+1 {
		t.Fatalf("id %q, seen %d, responses %d", id, seen, len(res.Responses))
	}
	var want strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprint(&want, i, " ")
	}
	if res.Out != want.String() {
		t.Fatalf("out arrived out of order: %q", res.Out)
	}
}

// TestClientConcurrent interleaves many requests whose answers come back out
// of order; each caller must see exactly its own responses.
func TestClientConcurrent(t *testing.T) {
	c, _ := pipeClient(t, func(req Msg, reply func(Msg)) {
		go func() {
			code := req.Str("code")
			reply(Msg{"out": code})
			time.Sleep(time.Millisecond)
			reply(Msg{"value": code, "status": []any{"done"}})
		}()
	})
	ctx := testCtx(t)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code := fmt.Sprint("(+ ", i, ")")
			res, err := c.Eval(ctx, "", code, nil)
			if err != nil {
				errs <- err
				return
			}
			if res.Out != code || len(res.Values) != 1 || res.Values[0] != code {
				errs <- fmt.Errorf("request %d got %+v", i, res)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestClientCallerID(t *testing.T) {
	block := make(chan struct{})
	c, _ := pipeClient(t, func(req Msg, reply func(Msg)) {
		go func() {
			<-block
			reply(Msg{"status": []any{"done"}})
		}()
	})
	ctx := testCtx(t)
	req := Msg{"op": "eval", "code": "1", "id": "1"}
	id, ch, err := c.Send(ctx, req)
	if err != nil || id != "1" {
		t.Fatalf("Send = %q, %v", id, err)
	}
	if _, _, err := c.Send(ctx, Msg{"op": "eval", "id": "1"}); err == nil || !strings.Contains(err.Error(), "already in flight") {
		t.Fatalf("duplicate id: %v", err)
	}
	if _, _, err := c.Send(ctx, Msg{"op": "eval", "id": 5}); err == nil {
		t.Fatal("non-string id accepted")
	}
	close(block)
	for range ch {
	}
	// Once done, the id is free again, and the caller's map was not touched.
	if _, ch, err = c.Send(ctx, req); err != nil {
		t.Fatalf("reuse id: %v", err)
	}
	for range ch {
	}
	if len(req) != 3 {
		t.Fatalf("Send modified the caller's message: %#v", req)
	}
	if _, _, err := c.Send(ctx, Msg{"op": "x", "bad": 1.5}); err == nil {
		t.Fatal("unencodable message accepted")
	}
	// An encoding failure leaves the connection usable.
	if _, err := c.Eval(ctx, "", "1", nil); err != nil {
		t.Fatalf("after encode error: %v", err)
	}
}

func TestClientDisconnectMidRequest(t *testing.T) {
	var c *Client
	var srv *fakeServer
	c, srv = pipeClient(t, func(req Msg, reply func(Msg)) {
		reply(Msg{"out": "partial"})
		srv.conn.Close()
	})
	ctx := testCtx(t)
	res, err := c.Eval(ctx, "", "(long)", nil)
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("err = %v, want ErrClosed", err)
	}
	if res.Out != "partial" || !containsString(res.Status, "disconnected") || !containsString(res.Status, "done") {
		t.Fatalf("res = %+v", res)
	}
	last := res.Responses[len(res.Responses)-1]
	if last.Str("id") == "" || !strings.HasPrefix(last.Str("err"), "connection closed: ") || !last.HasStatus("error") {
		t.Fatalf("synthesized message %#v", last)
	}
	// Later requests fail at once instead of hanging.
	if _, _, err := c.Send(ctx, Msg{"op": "eval"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after disconnect: %v", err)
	}
	if _, err := c.Clone(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Clone after disconnect: %v", err)
	}
}

func TestClientCloseWithPending(t *testing.T) {
	c, _ := pipeClient(t, func(Msg, func(Msg)) {}) // never answers
	ctx := testCtx(t)
	_, ch, err := c.Send(ctx, Msg{"op": "eval", "code": "(forever)"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	var got []Msg
	for m := range ch {
		got = append(got, m)
	}
	if len(got) != 1 || !got[0].HasStatus("disconnected") || got[0].Str("err") != "connection closed: client closed" {
		t.Fatalf("got %#v", got)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestClientContextCancel(t *testing.T) {
	c, _ := pipeClient(t, func(req Msg, reply func(Msg)) {
		if req.Str("code") == "(slow)" {
			reply(Msg{"out": "started"})
			return // never done
		}
		reply(Msg{"value": "ok", "status": []any{"done"}})
	})
	ctx, cancel := context.WithCancel(testCtx(t))
	_, ch, err := c.Send(ctx, Msg{"op": "eval", "code": "(slow)"})
	if err != nil {
		t.Fatal(err)
	}
	if m := <-ch; m.Str("out") != "started" {
		t.Fatalf("first response %#v", m)
	}
	cancel()
	select {
	case _, ok := <-ch:
		for ok {
			_, ok = <-ch
		}
	case <-time.After(30 * time.Second): // only a hang takes this long
		t.Fatal("channel not closed after cancel")
	}

	// Eval with a deadline returns the context error and what it had so far.
	dctx, dcancel := context.WithTimeout(testCtx(t), 50*time.Millisecond)
	defer dcancel()
	res, err := c.Eval(dctx, "", "(slow)", nil)
	if !errors.Is(err, context.DeadlineExceeded) || res.Out != "started" {
		t.Fatalf("Eval = %+v, %v", res, err)
	}
	// An already-cancelled context is refused before anything is sent.
	if _, _, err := c.Send(ctx, Msg{"op": "eval"}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Send with cancelled ctx: %v", err)
	}
	// The connection is still fine for others.
	if res, err := c.Eval(testCtx(t), "", "1", nil); err != nil || res.Values[0] != "ok" {
		t.Fatalf("after cancel: %+v %v", res, err)
	}
}

// TestClientBlockedWriteCancel: a server that stops reading must not wedge a
// sender forever; its ctx ends the write (and, since the stream is now
// corrupt, the connection).
func TestClientBlockedWriteCancel(t *testing.T) {
	cc, sc := net.Pipe() // nobody reads sc
	defer sc.Close()
	c := NewClient(cc)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, _, err := c.Send(ctx, Msg{"op": "eval"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if _, _, err := c.Send(context.Background(), Msg{"op": "eval"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("after failed write: %v", err)
	}
}

func TestClientIgnoresStrays(t *testing.T) {
	c, _ := pipeClient(t, func(req Msg, reply func(Msg)) {
		reply(Msg{"id": "someone-else", "out": "x"})
		reply(Msg{"id": nil, "out": "no id"})
		reply(Msg{"value": "v", "status": []any{"done"}})
		reply(Msg{"out": "after done"})
	})
	res, err := c.Eval(testCtx(t), "", "1", nil)
	if err != nil || res.Out != "" || len(res.Responses) != 1 {
		t.Fatalf("res = %+v, %v", res, err)
	}
}

func TestClientBadServerData(t *testing.T) {
	c, srv := pipeClient(t, func(Msg, func(Msg)) {})
	ctx := testCtx(t)
	_, ch, err := c.Send(ctx, Msg{"op": "eval"})
	if err != nil {
		t.Fatal(err)
	}
	srv.wmu.Lock()
	srv.conn.Write([]byte("d4:code99999999999:"))
	srv.wmu.Unlock()
	var last Msg
	for m := range ch {
		last = m
	}
	if !last.HasStatus("disconnected") || !strings.Contains(last.Str("err"), "exceeds") {
		t.Fatalf("last = %#v", last)
	}
}

func TestDialLoopback(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skip("no loopback:", err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			serveFake(conn, standardHandler)
		}
	}()
	ctx := testCtx(t)
	c, err := Dial(ctx, ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.Eval(ctx, "", "(+ 1 2)", nil)
	if err != nil || len(res.Values) != 2 {
		t.Fatalf("Eval over TCP = %+v, %v", res, err)
	}
}

func TestDialRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Skip("no loopback:", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = Dial(testCtx(t), addr)
	if err == nil {
		t.Fatal("dial succeeded")
	}
	want := "connect to nREPL at " + addr + ": connection refused"
	if err.Error() != want {
		t.Errorf("err = %q, want %q", err.Error(), want)
	}
	var op *net.OpError
	if !errors.As(err, &op) {
		t.Errorf("*net.OpError not reachable from %v", err)
	}
}

// A write that fails because the server has just closed the connection is a
// lost connection to the caller, whichever of the write and the read loop
// notices first.
func TestSendToAClosedConnectionIsErrClosed(t *testing.T) {
	client, server := net.Pipe()
	c := NewClient(client)
	defer c.Close()
	server.Close()
	for i := 0; i < 3; i++ {
		if _, _, err := c.Send(context.Background(), Msg{"op": "eval", "code": "1"}); !errors.Is(err, ErrClosed) {
			t.Fatalf("send %d after the server closed: %v, want ErrClosed", i, err)
		}
	}
}
