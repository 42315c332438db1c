// Package peers finds and drives the real peers that sente's tests talk to: Scittle
// running in a headless Chromium (driven by playwright-core through a small Node
// script), the reference JVM nREPL (nrepl.core on Debian's Clojure) as client and
// as server, and nbb as an nREPL server. A peer that is not installed makes the test
// fail under CI=true and skip otherwise, with a message naming the exact install
// command; scripts/setup installs all of them.
package peers

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Install commands named in Require messages.
const (
	installSetup    = "scripts/setup"
	installChromium = "apt-get install -y --no-install-recommends chromium"
	installJVM      = "apt-get install -y --no-install-recommends clojure libnrepl-clojure"
	installNode     = "apt-get install -y --no-install-recommends nodejs npm"
	installNPM      = "npm ci --no-audit --no-fund (in the repository root)"
)

// Root returns the repository root (walks up from the working dir to go.mod).
func Root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("peers: %v", err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			t.Fatalf("peers: no go.mod in %s or any parent", dir)
		}
	}
}

// inCI reports whether missing peers are failures (CI=true) rather than skips.
func inCI() bool {
	v := os.Getenv("CI")
	return strings.EqualFold(v, "true") || v == "1"
}

// Require reports a missing peer: t.Fatalf under CI=true, else t.Skipf; msg says what to install.
func Require(t testing.TB, ok bool, what, install string) {
	t.Helper()
	if ok {
		return
	}
	msg := fmt.Sprintf("peers: %s is missing; install it with: %s (or run %s in the repository root)", what, install, installSetup)
	if inCI() {
		t.Fatalf("%s [CI=true: missing peers fail]", msg)
		return // (t.Fatalf does not return; fakes in tests do)
	}
	t.Skipf("%s [skipped; under CI=true this fails]", msg)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// ScittleDir returns <root>/node_modules/scittle/dist, required.
func ScittleDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(Root(t), "node_modules", "scittle", "dist")
	Require(t, exists(filepath.Join(dir, "scittle.js")) && exists(filepath.Join(dir, "scittle.nrepl.js")),
		"Scittle (npm scittle, "+dir+")", installNPM)
	return dir
}

// ScittleHandler serves html at "/" and the files of ScittleDir under "/scittle/"
// (so a page loads <script src="/scittle/scittle.js">). Other paths are 404.
// Mount it in a mux next to test endpoints such as a WebSocket at /_nrepl.
func ScittleHandler(t testing.TB, html string) http.Handler {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/scittle/", http.StripPrefix("/scittle/", http.FileServer(http.Dir(ScittleDir(t)))))
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, html)
	})
	return mux
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("peers: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
