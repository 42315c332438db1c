package wsconn

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// clientFrame is one masked client frame as RFC 6455 section 5.2 lays it out.
func clientFrame(fin bool, opcode byte, payload []byte, masked bool) []byte {
	b0 := opcode
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	m := byte(0)
	if masked {
		m = 0x80
	}
	switch n := len(payload); {
	case n <= 125:
		out = append(out, m|byte(n))
	case n <= 0xFFFF:
		out = append(out, m|126, byte(n>>8), byte(n))
	default:
		out = append(out, m|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	if !masked {
		return append(out, payload...)
	}
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	out = append(out, key[:]...)
	for i, c := range payload {
		out = append(out, c^key[i&3])
	}
	return out
}

type readResult struct {
	typ  int
	data string
	err  error
}

// TestWSReader: frames as clients may send them, in one write or byte by
// byte, read by Conn.ReadMessage behind a corkListener.
func TestWSReader(t *testing.T) {
	big := strings.Repeat("b", 70000)
	mid := strings.Repeat("m", 300)
	text, bin := byte(websocket.TextMessage), byte(websocket.BinaryMessage)
	cont, ping, closeOp := byte(0), byte(websocket.PingMessage), byte(websocket.CloseMessage)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for _, tc := range []struct {
		name      string
		in        []byte
		want      []readResult // the last one may be an error
		wantPong  string
		wantClose int // close code the client gets back; 0: none checked
	}{
		{"one small text frame", clientFrame(true, text, []byte("[:a/b 1]"), true),
			[]readResult{{typ: websocket.TextMessage, data: "[:a/b 1]"}}, "", 0},
		{"two messages in one write", cat(clientFrame(true, text, []byte("one"), true), clientFrame(true, text, []byte("two"), true)),
			[]readResult{{typ: websocket.TextMessage, data: "one"}, {typ: websocket.TextMessage, data: "two"}}, "", 0},
		{"binary", clientFrame(true, bin, []byte{0, 1, 2}, true),
			[]readResult{{typ: websocket.BinaryMessage, data: "\x00\x01\x02"}}, "", 0},
		{"16-bit and 64-bit lengths", cat(clientFrame(true, text, []byte(mid), true), clientFrame(true, text, []byte(big), true)),
			[]readResult{{typ: websocket.TextMessage, data: mid}, {typ: websocket.TextMessage, data: big}}, "", 0},
		{"fragments with a ping between", cat(clientFrame(false, text, []byte("he"), true), clientFrame(true, ping, []byte("p1"), true),
			clientFrame(false, cont, []byte("ll"), true), clientFrame(true, cont, []byte("o"), true)),
			[]readResult{{typ: websocket.TextMessage, data: "hello"}}, "p1", 0},
		{"over the limit", clientFrame(true, text, []byte(strings.Repeat("x", 2000)), true),
			[]readResult{{err: websocket.ErrReadLimit}}, "", websocket.CloseMessageTooBig},
		{"unmasked", clientFrame(true, text, []byte("x"), false),
			[]readResult{{err: errProtocol}}, "", websocket.CloseProtocolError},
		{"continuation with nothing to continue", clientFrame(true, cont, []byte("x"), true),
			[]readResult{{err: errProtocol}}, "", websocket.CloseProtocolError},
		{"close with a reason", clientFrame(true, closeOp, websocket.FormatCloseMessage(1000, "bye"), true),
			[]readResult{{err: &websocket.CloseError{Code: 1000, Text: "bye"}}}, "", 1000},
	} {
		for _, split := range []bool{false, true} {
			name := tc.name
			if split {
				name += ", byte by byte"
			}
			t.Run(name, func(t *testing.T) {
				results := make(chan readResult, 8)
				limit := int64(1 << 20)
				if tc.name == "over the limit" {
					limit = 1000
				}
				client := corkServer(t, func(conn *websocket.Conn) {
					ws := New(conn, Options{ReadLimit: limit, MaxQueue: 16, MaxQueueBytes: 1 << 20, CloseWhenFull: true})
					for {
						if err := ws.AwaitMessage(); err != nil {
							results <- readResult{err: err}
							return
						}
						typ, data, err := ws.ReadMessage()
						results <- readResult{typ: typ, data: string(data), err: err}
						if err != nil {
							return
						}
					}
				})
				raw := client.NetConn()
				go func() {
					if !split {
						_, _ = raw.Write(tc.in)
						return
					}
					for i := range tc.in {
						if _, err := raw.Write(tc.in[i : i+1]); err != nil {
							return
						}
					}
				}()
				for i, want := range tc.want {
					var got readResult
					select {
					case got = <-results:
					case <-time.After(20 * time.Second):
						t.Fatalf("result %d: nothing read", i)
					}
					switch {
					case want.err != nil:
						var wantClose *websocket.CloseError
						if errors.As(want.err, &wantClose) {
							var ce *websocket.CloseError
							if !errors.As(got.err, &ce) || *ce != *wantClose {
								t.Fatalf("result %d: %v, want %v", i, got.err, want.err)
							}
						} else if !errors.Is(got.err, want.err) {
							t.Fatalf("result %d: %v, want %v", i, got.err, want.err)
						}
					case got.err != nil || got.typ != want.typ || got.data != want.data:
						t.Fatalf("result %d: type %d, %d bytes %.30q, err %v; want type %d, %d bytes %.30q",
							i, got.typ, len(got.data), got.data, got.err, want.typ, len(want.data), want.data)
					}
				}
				// What the client gets back: a pong, a close frame.
				if tc.wantPong == "" && tc.wantClose == 0 {
					return
				}
				pong := append([]byte{0x8a, byte(len(tc.wantPong))}, tc.wantPong...)
				back := readServerUntil(raw, func(b []byte) bool {
					i := bytes.IndexByte(b, 0x88)
					return (tc.wantPong == "" || bytes.Contains(b, pong)) && (tc.wantClose == 0 || (i >= 0 && len(b) >= i+4))
				})
				if tc.wantPong != "" && !bytes.Contains(back, pong) {
					t.Errorf("no pong %q among % x", tc.wantPong, back)
				}
				if tc.wantClose != 0 {
					i := bytes.IndexByte(back, 0x88)
					if i < 0 || len(back) < i+4 || int(binary.BigEndian.Uint16(back[i+2:])) != tc.wantClose {
						t.Errorf("got % x, want a close frame with code %d", back, tc.wantClose)
					}
				}
			})
		}
	}
}

// readServerUntil reads what the server sends until done says it has it,
// EOF, or a generous bound.
func readServerUntil(c net.Conn, done func([]byte) bool) []byte {
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	var out []byte
	buf := make([]byte, 4096)
	for !done(out) {
		n, err := c.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			break
		}
	}
	return out
}
