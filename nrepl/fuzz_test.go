package nrepl

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// FuzzDecode checks that no input panics the decoder and that anything it
// accepts agrees with bencode-go and survives re-encoding.
func FuzzDecode(f *testing.F) {
	for _, m := range sampleMsgs[:8] {
		f.Add(mustEncode(f, m))
	}
	for _, s := range []string{
		"d4:code99999999999:",
		"d1:ai-0ee",
		"d1:ai03ee",
		"d1:alllllllllllllllllllllllllllllllllllllllllllllllll",
		"li1ee",
		"d1:ae",
		"di1ei2ee",
		"d1:ai9223372036854775808ee",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecode(t, data)
	})
}

// TestFuzzCorpus keeps the committed seeds honest: the ones named valid_* must
// decode, the rest must be refused (two_messages has one good message first).
func TestFuzzCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < 8 {
		t.Fatalf("only %d seeds", len(entries))
	}
	for _, e := range entries {
		body, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(body)), "\n")
		if len(lines) != 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "[]byte(") {
			t.Fatalf("%s: not a fuzz corpus file", e.Name())
		}
		s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		msgs, err := decodeAll([]byte(s), Limits{})
		switch {
		case strings.HasPrefix(e.Name(), "valid_"):
			if len(msgs) != 1 || err != io.EOF {
				t.Errorf("%s: %d messages, %v", e.Name(), len(msgs), err)
			}
		case e.Name() == "two_messages":
			if len(msgs) != 2 || err != io.EOF {
				t.Errorf("%s: %d messages, %v", e.Name(), len(msgs), err)
			}
		default:
			if len(msgs) != 0 || err == io.EOF {
				t.Errorf("%s: %d messages, %v", e.Name(), len(msgs), err)
			}
		}
	}
}
