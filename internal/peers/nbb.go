package peers

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// NbbPath returns <root>/node_modules/.bin/nbb (npm nbb), required.
func NbbPath(t testing.TB) string {
	t.Helper()
	_, err := exec.LookPath("node")
	Require(t, err == nil, "Node.js (node)", installNode)
	nbb := filepath.Join(Root(t), "node_modules", ".bin", "nbb")
	Require(t, exists(nbb), "nbb (npm, "+nbb+")", installNPM)
	return nbb
}

// nbbStarted matches nbb's startup line, the same one the JVM nREPL prints:
// "nREPL server started on port 35937 on host 127.0.0.1 - nrepl://127.0.0.1:35937".
var nbbStarted = regexp.MustCompile(`nREPL server started on port (\d+)`)

// nbbServerCode is what `nbb nrepl-server :port 0` does (nbb picks a free port and
// prints it), plus an exit when stdin closes, so a dead test process leaves no
// nbb behind.
const nbbServerCode = `(require '[nbb.nrepl-server :as nrepl])
(nrepl/start-server! {:port 0})
(.on js/process.stdin "end" #(js/process.exit 0))
(.resume js/process.stdin)
nil`

// StartNbbNREPLServer runs nbb's nREPL server (nbb.nrepl-server/start-server!,
// which `nbb nrepl-server` runs) on 127.0.0.1 in a temp dir, since nbb writes
// .nrepl-port into its working directory. It returns the port; t.Cleanup stops it.
func StartNbbNREPLServer(t testing.TB) (port int) {
	t.Helper()
	nbb := NbbPath(t)
	ports := make(chan int, 1)
	start := time.Now()
	p, err := startProc("nbb nREPL server", t.TempDir(), []string{nbb, "-e", nbbServerCode}, func(line string) {
		if m := nbbStarted.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			select {
			case ports <- n:
			default:
			}
		}
	})
	if err != nil {
		t.Fatalf("peers: %v", err)
	}
	p.stopInCleanup(t, 2*time.Second)
	port = p.awaitPort(t, ports, 60*time.Second)
	t.Logf("peers: nbb nREPL server on port %d in %v", port, time.Since(start).Round(time.Millisecond))
	return port
}
