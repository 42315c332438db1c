package peers

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// ClojureJar is Debian's Clojure (package clojure; a symlink to clojure-1.11.1.jar
// whose manifest Class-Path brings in spec.alpha and core.specs.alpha).
const ClojureJar = "/usr/share/java/clojure.jar"

// nreplJarCandidates are where Debian's libnrepl-clojure puts nrepl, best first
// (1.0.0-5 ships nrepl.jar -> nrepl-1.0.0.jar and a maven-repo copy).
var nreplJarCandidates = []string{
	"/usr/share/java/nrepl.jar",
	"/usr/share/java/nrepl-*.jar",
	"/usr/share/maven-repo/nrepl/nrepl/*/nrepl-*.jar",
}

// Optional jars added to the classpath when present (already implied by the
// Clojure jar's manifest; listed in case a packaging change drops that).
var clojureDepJars = []string{
	"/usr/share/java/spec.alpha.jar",
	"/usr/share/java/core.specs.alpha.jar",
}

func findNREPLJar() string {
	for _, pat := range nreplJarCandidates {
		matches, _ := filepath.Glob(pat)
		for _, m := range matches {
			if !strings.HasSuffix(m, "-sources.jar") && exists(m) {
				return m
			}
		}
	}
	return ""
}

// RequireJVMNREPL returns the command that runs clojure.main with the reference
// nREPL (nrepl.core, nrepl.server) on the classpath:
// [java -XX:TieredStopAtLevel=1 -cp clojure.jar:nrepl.jar[:deps] clojure.main].
// A script path or -e and its arguments follow. Missing pieces go through Require.
func RequireJVMNREPL(t testing.TB) (javaCmd []string) {
	t.Helper()
	java, err := exec.LookPath("java")
	Require(t, err == nil, "Java (java, pulled in by clojure)", installJVM)
	Require(t, exists(ClojureJar), "Clojure ("+ClojureJar+")", installJVM)
	nrepl := findNREPLJar()
	Require(t, nrepl != "", "the reference nREPL jar (/usr/share/java/nrepl.jar)", installJVM)
	cp := []string{ClojureJar, nrepl}
	for _, j := range clojureDepJars {
		if exists(j) {
			cp = append(cp, j)
		}
	}
	// TieredStopAtLevel=1: these JVMs are short-lived; C1 only starts ~40% faster.
	// clojure.main.report=stderr: uncaught errors go to stderr, not a /tmp file.
	return []string{java, "-XX:TieredStopAtLevel=1", "-Dclojure.main.report=stderr",
		"-cp", strings.Join(cp, ":"), "clojure.main"}
}

var scriptSeq atomic.Int64

// RunClojure writes script to a temp .clj file and runs it with clojure.main and
// nrepl on the classpath; args are the script's *command-line-args*. It calls
// (shutdown-agents) after the script (nrepl.core's futures otherwise keep the JVM
// alive for a minute after the script ends). It returns
// stdout; a non-zero exit or ctx ending gives an error that includes stderr.
// The process group is killed when ctx ends. Example (PORT = first arg):
//
//	(require '[nrepl.core :as nrepl])
//	(with-open [conn (nrepl/connect :port (parse-long (first *command-line-args*)))]
//	  (let [c (nrepl/client conn 10000)]
//	    (prn (nrepl/response-values (nrepl/message c {:op "eval" :code "(+ 1 2)"})))))
func RunClojure(t testing.TB, ctx context.Context, script string, args ...string) (stdout string, err error) {
	t.Helper()
	javaCmd := RequireJVMNREPL(t)
	dir := t.TempDir()
	n := scriptSeq.Add(1)
	file := filepath.Join(dir, fmt.Sprintf("script%d.clj", n))
	wrapper := filepath.Join(dir, fmt.Sprintf("run%d.clj", n))
	if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
		t.Fatalf("peers: %v", err)
	}
	wrap := fmt.Sprintf("(try (load-file %q) (finally (shutdown-agents)))\n", file)
	if err := os.WriteFile(wrapper, []byte(wrap), 0o644); err != nil {
		t.Fatalf("peers: %v", err)
	}
	argv := append(append(javaCmd, wrapper), args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	newProcessGroup(cmd)
	cmd.Cancel = func() error { killGroup(cmd); return nil }
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err = cmd.Run()
	took := time.Since(start).Round(time.Millisecond)
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return out.String(), fmt.Errorf("peers: clojure script failed after %v: %w\n--- stdout ---\n%s--- stderr ---\n%s",
			took, err, out.String(), errb.String())
	}
	t.Logf("peers: clojure script ran in %v", took)
	return out.String(), nil
}

// jvmServerCode starts the reference nREPL server on a free port, prints the port,
// and exits when stdin closes (so a dead test process leaves no JVM behind).
const jvmServerCode = `(require 'nrepl.server)
(let [s (nrepl.server/start-server :bind "127.0.0.1" :port 0)]
  (println (:port s))
  (flush)
  (.start (Thread. (fn [] (try (while (not= -1 (.read System/in))) (finally (System/exit 0))))))
  @(promise))`

// StartJVMNREPLServer starts the reference nREPL as a SERVER on 127.0.0.1 for
// client tests and returns its port; t.Cleanup stops it.
func StartJVMNREPLServer(t testing.TB) (port int) {
	t.Helper()
	argv := append(RequireJVMNREPL(t), "-e", jvmServerCode)
	ports := make(chan int, 1)
	start := time.Now()
	p, err := startProc("JVM nREPL server", t.TempDir(), argv, func(line string) {
		if n, err := strconv.Atoi(strings.TrimSpace(line)); err == nil && n > 0 {
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
	port = p.awaitPort(t, ports, 90*time.Second)
	t.Logf("peers: JVM nREPL server on port %d in %v", port, time.Since(start).Round(time.Millisecond))
	return port
}
