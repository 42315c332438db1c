package nrepl

import (
	"net"
	"syscall"
)

// quickAck wraps conn so that every read re-arms TCP_QUICKACK. nREPL servers
// write a value and its done as separate small messages; with Nagle's
// algorithm on the server (the JVM nREPL leaves it on) the done then waits for
// our ACK of the value, which Linux delays by up to 40 ms. That delay was most
// of a short eval's running time against such servers.
func quickAck(conn net.Conn) net.Conn {
	tc, ok := conn.(*net.TCPConn)
	if !ok {
		return conn
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return conn
	}
	q := &quickAckConn{TCPConn: tc, raw: raw}
	q.arm()
	return q
}

type quickAckConn struct {
	*net.TCPConn
	raw syscall.RawConn
}

func (q *quickAckConn) arm() {
	q.raw.Control(func(fd uintptr) {
		syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	})
}

func (q *quickAckConn) Read(b []byte) (int, error) {
	n, err := q.TCPConn.Read(b)
	if n > 0 {
		q.arm()
	}
	return n, err
}
