package bench

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0ns"},
		{850, "850ns"},
		{1500, "1.50µs"},
		{52300, "52.3µs"},
		{523000, "523µs"},
		{1250 * time.Microsecond, "1.25ms"},
		{2500 * time.Millisecond, "2.50s"},
		{125 * time.Second, "125s"},
	}
	for _, tt := range tests {
		if got := FormatDuration(tt.d); got != tt.want {
			t.Errorf("FormatDuration(%d) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestFormatBytes(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0 B"},
		{1023, "1023 B"},
		{1024, "1.0 KiB"},
		{8 << 10, "8.0 KiB"},
		{3 << 20, "3.0 MiB"},
		{-1536, "-1.5 KiB"},
		{5 << 30, "5.00 GiB"},
	}
	for _, tt := range tests {
		if got := FormatBytes(tt.n); got != tt.want {
			t.Errorf("FormatBytes(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestThousands(t *testing.T) {
	tests := []struct {
		v    float64
		want string
	}{
		{0, "0"},
		{7, "7"},
		{2.5, "2.50"},
		{999, "999"},
		{1000, "1,000"},
		{265845.4, "265,845"},
		{1234567, "1,234,567"},
		{-4096, "-4,096"},
	}
	for _, tt := range tests {
		if got := thousands(tt.v); got != tt.want {
			t.Errorf("thousands(%v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func sampleReport() *Report {
	lost := int64(0)
	return &Report{
		Scenario: "fanout", Gateway: "child process pid 1", Unit: "messages delivered",
		Settings:   []Setting{{"subscribers", 1000}, {"count", int64(2000)}},
		Operations: 2000000, Elapsed: 4 * time.Second, Throughput: 500000,
		Latency:      LatencySummary{Samples: 32000, P50: 2 * time.Millisecond, P90: 5 * time.Millisecond, P99: 9 * time.Millisecond, Max: 12 * time.Millisecond},
		Lost:         &lost,
		Floor:        &Floor{Latency: LatencySummary{Samples: 10, P50: time.Millisecond}, Ratio: 2},
		MemoryBefore: Memory{TotalBytes: 10 << 20, HeapInuseBytes: 2 << 20, StackBytes: 512 << 10, Goroutines: 16},
		MemoryAfter:  Memory{TotalBytes: 20 << 20, HeapInuseBytes: 4 << 20, StackBytes: 1 << 20, Goroutines: 16},
		Figures:      []Figure{{Key: "slow-consumer-closes", Label: "slow-consumer closes", Value: 0}, {Key: "bytes-per-conn", Label: "per connection", Value: 6144, Unit: "bytes"}},
		Notes:        []string{"a note"},
	}
}

func TestWriteText(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleReport().WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"sente bench fanout\n",
		"  settings              subscribers=1000 count=2000\n",
		"  messages delivered    2,000,000 in 4.00s\n",
		"  throughput            500,000 messages delivered/s\n",
		"  latency               p50 2.00ms   p90 5.00ms   p99 9.00ms   max 12.0ms   (32,000 samples)\n",
		"  p50 ratio             2.00× the bare echo\n",
		"  errors                0\n",
		"  lost                  0\n",
		"  slow-consumer closes  0\n",
		"  per connection        6.0 KiB\n",
		"  memory                total 10.0 MiB → 20.0 MiB   heap in use 2.0 MiB → 4.0 MiB   stacks 512.0 KiB → 1.0 MiB   goroutines 16 → 16\n",
		"  note                  a note\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
	// Every value starts in the same column.
	col := -1
	for _, l := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		i := strings.Index(l[2:], "  ")
		j := i + 2 + len(l[2+i:]) - len(strings.TrimLeft(l[2+i:], " "))
		if col < 0 {
			col = j
		}
		if j != col {
			t.Errorf("line %q: value at column %d, want %d", l, j, col)
		}
	}
}

func TestWriteJSON(t *testing.T) {
	r := sampleReport()
	r.Errors, r.ErrorSamples = 1, []string{"boom"}
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, buf.String())
	}
	lat := got["latency"].(map[string]any)
	checks := map[string]any{
		"scenario": "fanout", "operations": 2e6, "elapsed-seconds": 4.0, "throughput-per-second": 5e5,
		"errors": 1.0, "lost": 0.0, "ok": false,
	}
	for k, want := range checks {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
	if lat["p50-us"] != 2000.0 || lat["p99-us"] != 9000.0 || lat["max-us"] != 12000.0 || lat["samples"] != 32000.0 {
		t.Errorf("latency = %v", lat)
	}
	if f := got["figures"].(map[string]any); f["bytes-per-conn"] != 6144.0 {
		t.Errorf("figures = %v", f)
	}
	if m := got["memory-after"].(map[string]any); m["heap-inuse-bytes"] != float64(4<<20) || m["goroutines"] != 16.0 {
		t.Errorf("memory-after = %v", m)
	}
	if fl := got["echo-floor"].(map[string]any); fl["p50-ratio"] != 2.0 {
		t.Errorf("echo-floor = %v", fl)
	}
	if s := got["settings"].(map[string]any); s["subscribers"] != 1000.0 {
		t.Errorf("settings = %v", s)
	}
}

func TestOK(t *testing.T) {
	one := int64(1)
	tests := []struct {
		name string
		r    Report
		want bool
	}{
		{"clean", Report{}, true},
		{"errors", Report{Errors: 1}, false},
		{"lost", Report{Lost: &one}, false},
	}
	for _, tt := range tests {
		if got := tt.r.OK(); got != tt.want {
			t.Errorf("%s: OK() = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestProgressLine(t *testing.T) {
	tests := []struct {
		done, total int64
		elapsed     time.Duration
		dur         time.Duration
		want        string
	}{
		{10400, 20000, 0, 0, "[===============>              ]  52% 10400/20000"},
		{0, 20000, 0, 0, "[>                             ]   0% 0/20000"},
		{20000, 20000, 0, 0, "[==============================] 100% 20000/20000"},
		{5, 0, 5 * time.Second, 10 * time.Second, "[===============>              ]  50% 5"},
		{100, 20000, 9 * time.Second, 10 * time.Second, "[===========================>  ]  90% 100/20000"},
	}
	for _, tt := range tests {
		if got := progressLine(tt.done, tt.total, tt.elapsed, tt.dur); got != tt.want {
			t.Errorf("progressLine(%d, %d, %v, %v) =\n%q, want\n%q", tt.done, tt.total, tt.elapsed, tt.dur, got, tt.want)
		}
	}
}
