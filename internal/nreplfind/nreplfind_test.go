package nreplfind

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestFindFlagsWin(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, PortFileName), []byte("4444\n"), 0o644)
	got, err := Find("example.org", 5555, dir)
	if err != nil || got.Addr() != "example.org:5555" || got.PortFile != "" {
		t.Fatalf("Find with flags = %+v, %v", got, err)
	}
}

func TestFindPortFileInParent(t *testing.T) {
	root := t.TempDir()
	deep := filepath.Join(root, "a", "b", "c")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(root, "a", PortFileName)
	if err := os.WriteFile(file, []byte(" 7888\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Find("", 0, deep)
	if err != nil {
		t.Fatal(err)
	}
	if got.Host != DefaultHost || got.Port != 7888 || got.PortFile != file {
		t.Fatalf("Find = %+v, want 127.0.0.1:7888 from %s", got, file)
	}
	// A host flag alone keeps the port from the file, as editors do.
	if got, _ := Find("::1", 0, deep); got.Addr() != "[::1]:7888" {
		t.Fatalf("Find with host only = %s", got.Addr())
	}
	// The nearest file wins.
	near := filepath.Join(deep, PortFileName)
	os.WriteFile(near, []byte("9999"), 0o644)
	if got, _ := Find("", 0, deep); got.Port != 9999 || got.PortFile != near {
		t.Fatalf("nearest: %+v", got)
	}
}

func TestFindDefault(t *testing.T) {
	dir := t.TempDir()
	got, err := Find("", 0, dir)
	if err != nil {
		t.Fatal(err)
	}
	// Some parent of the temp dir could hold a .nrepl-port; only check the default when none does.
	if file, _, _ := FindPortFile(dir); file == "" && (got.Addr() != "127.0.0.1:1339" || got.PortFile != "") {
		t.Fatalf("Find with nothing = %+v, want 127.0.0.1:1339", got)
	}
}

func TestFindErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Find("", 70000, dir); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("port 70000: %v", err)
	}
	os.WriteFile(filepath.Join(dir, PortFileName), []byte("not a port"), 0o644)
	_, err := Find("", 0, dir)
	if err == nil || !strings.Contains(err.Error(), PortFileName+` does not hold a port number (it has "not a port")`) {
		t.Errorf("bad port file: %v", err)
	}
	// A directory named .nrepl-port is not a port file; the search goes on.
	d2 := t.TempDir()
	os.Mkdir(filepath.Join(d2, PortFileName), 0o755)
	if _, err := Find("", 0, d2); err != nil {
		t.Errorf("directory named %s: %v", PortFileName, err)
	}
}

func TestDialAndConnectError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		// Answer the first request (id sente-1) with done, once it has arrived.
		buf := make([]byte, 512)
		for got := ""; !strings.Contains(got, "7:sente-1"); {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			got += string(buf[:n])
		}
		c.Write([]byte("d2:id7:sente-16:statusl4:doneee"))
		c.Read(buf) // until the client closes
	}()
	c, err := Dial(context.Background(), Target{Host: "127.0.0.1", Port: port})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Describe(ctx); err != nil {
		t.Fatalf("describe through the quick-ACK connection: %v", err)
	}
	c.Close()
	l.Close()

	_, err = Dial(context.Background(), Target{Host: "127.0.0.1", Port: port, PortFile: "/x/.nrepl-port"})
	var ce *ConnectError
	if !errors.As(err, &ce) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("Dial a closed port: %v", err)
	}
	want := "cannot connect to nREPL at 127.0.0.1:" + strconv.Itoa(port) + " (port from /x/.nrepl-port): connection refused" +
		" (is a server running? start one with: sente gateway; or remove the stale /x/.nrepl-port)"
	if err.Error() != want {
		t.Fatalf("message:\n got %s\nwant %s", err, want)
	}
}
