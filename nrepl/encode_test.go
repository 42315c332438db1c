package nrepl

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
)

func TestAppendEncode(t *testing.T) {
	tests := []struct {
		name string
		in   Msg
		want string
	}{
		{"empty", Msg{}, "de"},
		{"nil msg", nil, "de"},
		{"sorted keys", Msg{"op": "eval", "code": "1", "id": "2"}, "d4:code1:12:id1:22:op4:evale"},
		{"byte order, not alphabetical", Msg{"b": "", "B": "", "a": "", "_": ""}, "d1:B0:1:_0:1:a0:1:b0:e"},
		{"ints", Msg{"a": 1, "b": int64(-2), "c": int8(3), "d": uint16(4), "e": uint64(5), "f": int32(-6), "g": uint(7), "h": int16(8), "i": uint32(9), "j": uint8(10)},
			"d1:ai1e1:bi-2e1:ci3e1:di4e1:ei5e1:fi-6e1:gi7e1:hi8e1:ii9e1:ji10ee"},
		{"int extremes", Msg{"a": int64(math.MinInt64), "b": uint64(math.MaxInt64)}, "d1:ai-9223372036854775808e1:bi9223372036854775807ee"},
		{"bools", Msg{"t": true, "f": false}, "d1:f5:false1:t4:truee"},
		{"bytes", Msg{"b": []byte("x:y")}, "d1:b3:x:ye"},
		{"nil value omitted", Msg{"a": nil, "b": "1"}, "d1:b1:1e"},
		{"lists", Msg{"l": []any{"a", 1, []string{"b"}, []any{}}, "s": []string{"done", "error"}}, "d1:ll1:ai1el1:belee1:sl4:done5:erroree"},
		{"nested dicts", Msg{"m": map[string]any{"z": 1, "a": Msg{"k": "v"}}, "s": map[string]string{"y": "1", "x": "2"}}, "d1:md1:ad1:k1:ve1:zi1ee1:sd1:x1:21:y1:1ee"},
		{"lists of dicts", Msg{"a": []map[string]any{{"k": 1}}, "b": []Msg{{"k": 2}, {}}}, "d1:ald1:ki1eee1:bld1:ki2eedeee"},
		{"unicode", Msg{"λ": "→"}, "d2:λ3:→e"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AppendEncode([]byte("prefix:"), tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(got, []byte("prefix:")) {
				t.Fatalf("dst not preserved: %q", got)
			}
			got = got[len("prefix:"):]
			if string(got) != tt.want {
				t.Fatalf("got  %q\nwant %q", got, tt.want)
			}
			// Everything we write must be readable by bencode-go and by us.
			if _, err := viaBencodeGo(got); err != nil {
				t.Fatalf("bencode-go: %v", err)
			}
			if _, err := decodeOne(got, Limits{}); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			var buf bytes.Buffer
			if err := Encode(&buf, tt.in); err != nil || buf.String() != tt.want {
				t.Fatalf("Encode = %q, %v", buf.String(), err)
			}
		})
	}
}

func TestAppendEncodeErrors(t *testing.T) {
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	cyclicList := []any{nil}
	cyclicList[0] = cyclicList
	tests := []struct {
		name string
		in   Msg
		want string
	}{
		{"float", Msg{"f": 1.5}, "cannot encode value of type float64"},
		{"struct", Msg{"s": struct{}{}}, "cannot encode value of type struct {}"},
		{"nil in list", Msg{"l": []any{"a", nil}}, "nil list element 1"},
		{"uint64 too big", Msg{"u": uint64(math.MaxUint64)}, "larger than int64"},
		{"nested bad", Msg{"m": map[string]any{"x": []any{1.5}}}, "float64"},
		{"cyclic map", Msg(cyclic), "nested deeper"},
		{"cyclic list", Msg{"l": cyclicList}, "nested deeper"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte("keep")
			got, err := AppendEncode(dst, tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
			if string(got) != "keep" {
				t.Fatalf("dst changed on error: %q", got)
			}
			var buf bytes.Buffer
			if err := Encode(&buf, tt.in); err == nil || buf.Len() != 0 {
				t.Fatalf("Encode wrote %q, err %v", buf.Bytes(), err)
			}
		})
	}
}

type failWriter struct{}

var errWrite = errors.New("write failed")

func (failWriter) Write([]byte) (int, error) { return 0, errWrite }

func TestEncodeWriteError(t *testing.T) {
	if err := Encode(failWriter{}, Msg{"a": "b"}); !errors.Is(err, errWrite) {
		t.Fatalf("err = %v", err)
	}
}

func TestMsgHelpers(t *testing.T) {
	m := Msg{"id": "1", "n": int64(2), "status": []any{"done", int64(3), "error"}}
	if m.Str("id") != "1" || m.Str("n") != "" || m.Str("missing") != "" {
		t.Error("Str")
	}
	if got := m.Status(); len(got) != 2 || got[0] != "done" || got[1] != "error" {
		t.Errorf("Status() = %v", got)
	}
	if !m.HasStatus("done") || !m.HasStatus("error") || m.HasStatus("eval-error") {
		t.Error("HasStatus")
	}
	if !(Msg{"status": []string{"done"}}).HasStatus("done") || (Msg{}).Status() != nil {
		t.Error("HasStatus on []string / missing status")
	}
	if !(Msg{"status": "done"}).HasStatus("done") {
		t.Error("bare string status")
	}
	c := m.Clone()
	c["id"] = "2"
	if m.Str("id") != "1" {
		t.Error("Clone is not a copy")
	}
	var nilMsg Msg
	nc := nilMsg.Clone()
	nc["x"] = "y" // must not panic
}
