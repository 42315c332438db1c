// Package sentebin builds the sente binary for tests that run it the way users
// do (commands, testscripts, the CLI end to end), once per test package.
package sentebin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Main is a test package's TestMain: it builds ./cmd/sente into a temporary
// directory, stores the binary's path in *bin, runs the tests, and removes it.
func Main(m *testing.M, bin *string) {
	dir, err := os.MkdirTemp("", "sente-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*bin = filepath.Join(dir, "sente")
	build := exec.Command("go", "build", "-o", *bin, "./cmd/sente")
	build.Dir = ModuleRoot()
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build ./cmd/sente: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// ModuleRoot is the directory holding go.mod, found upwards from the working
// directory (a test runs in its package's directory).
func ModuleRoot() string {
	dir, _ := os.Getwd()
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return dir
		}
	}
}
