package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Memory is the gateway's footprint as /stats reports it.
type Memory struct {
	TotalBytes     int64 `json:"total-bytes"`      // everything the Go runtime mapped
	HeapInuseBytes int64 `json:"heap-inuse-bytes"` // heap spans in use (objects and their free slots)
	StackBytes     int64 `json:"stack-bytes"`      // goroutine stacks
	Goroutines     int64 `json:"goroutines"`
	// RSSBytes is the process's resident memory, read from /proc by the
	// benchmark when it started the gateway itself (0 otherwise).
	RSSBytes int64 `json:"rss-bytes,omitempty"`
}

// Setting is one parameter of a run, shown in the report's header.
type Setting struct {
	Key   string
	Value any
}

// Figure is one scenario-specific result, e.g. messages lost or bytes per
// idle connection. Key names it in JSON (with its unit, e.g. "bytes-per-conn").
type Figure struct {
	Key   string
	Label string
	Value float64
	Unit  string // "bytes" prints as KiB/MiB; anything else follows the number
}

// Floor is a bare loopback WebSocket echo measured beside the gateway: the
// cost of one frame out and back with nothing in between.
type Floor struct {
	Latency LatencySummary
	Ratio   float64 // gateway p50 / echo p50
}

// Report is everything one scenario measured.
type Report struct {
	Scenario string
	Gateway  string // how the gateway was reached
	Settings []Setting

	Unit       string        // what one operation is, plural: "evals", "messages"
	Operations int64         // operations measured (after warm-up)
	Elapsed    time.Duration // measured wall time
	Throughput float64       // operations per second
	Latency    LatencySummary

	Errors       int64
	ErrorSamples []string // the first few error texts, for a human
	Lost         *int64   // fan-out only: messages published but never delivered

	Floor *Floor

	MemoryBefore, MemoryAfter Memory
	Figures                   []Figure
	Notes                     []string
}

// OK reports whether the run saw no errors and lost nothing.
func (r *Report) OK() bool {
	return r.Errors == 0 && (r.Lost == nil || *r.Lost == 0)
}

// Figure returns the value of the figure named key, and whether there is one.
func (r *Report) Figure(key string) (float64, bool) {
	for _, f := range r.Figures {
		if f.Key == key {
			return f.Value, true
		}
	}
	return 0, false
}

// MarshalJSON renders the report as one flat object with every figure; the
// durations are in microseconds or seconds, as their keys say.
func (r *Report) MarshalJSON() ([]byte, error) {
	settings := make(map[string]any, len(r.Settings))
	for _, s := range r.Settings {
		settings[s.Key] = s.Value
	}
	figures := make(map[string]float64, len(r.Figures))
	for _, f := range r.Figures {
		figures[f.Key] = f.Value
	}
	type floor struct {
		Latency LatencySummary `json:"latency"`
		Ratio   float64        `json:"p50-ratio"`
	}
	var fl *floor
	if r.Floor != nil {
		fl = &floor{r.Floor.Latency, round(r.Floor.Ratio, 3)}
	}
	errs := r.ErrorSamples
	if errs == nil {
		errs = []string{}
	}
	return json.Marshal(struct {
		Scenario       string             `json:"scenario"`
		Gateway        string             `json:"gateway"`
		Settings       map[string]any     `json:"settings"`
		Unit           string             `json:"unit"`
		Operations     int64              `json:"operations"`
		ElapsedSeconds float64            `json:"elapsed-seconds"`
		Throughput     float64            `json:"throughput-per-second"`
		Latency        LatencySummary     `json:"latency"`
		Errors         int64              `json:"errors"`
		ErrorSamples   []string           `json:"error-samples"`
		Lost           *int64             `json:"lost,omitempty"`
		Floor          *floor             `json:"echo-floor,omitempty"`
		MemoryBefore   Memory             `json:"memory-before"`
		MemoryAfter    Memory             `json:"memory-after"`
		Figures        map[string]float64 `json:"figures"`
		Notes          []string           `json:"notes,omitempty"`
		OK             bool               `json:"ok"`
	}{
		r.Scenario, r.Gateway, settings, r.Unit, r.Operations, round(r.Elapsed.Seconds(), 6),
		round(r.Throughput, 1), r.Latency, r.Errors, errs, r.Lost, fl,
		r.MemoryBefore, r.MemoryAfter, figures, r.Notes, r.OK(),
	})
}

// WriteJSON writes the report as one indented JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// WriteText writes the report as aligned label/value lines.
func (r *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	line := func(label, format string, args ...any) {
		fmt.Fprintf(tw, "  %s\t%s\n", label, fmt.Sprintf(format, args...))
	}
	fmt.Fprintf(tw, "sente bench %s\n", r.Scenario)
	if len(r.Settings) > 0 {
		parts := make([]string, len(r.Settings))
		for i, s := range r.Settings {
			parts[i] = fmt.Sprintf("%s=%v", s.Key, s.Value)
		}
		line("settings", "%s", strings.Join(parts, " "))
	}
	line("gateway", "%s", r.Gateway)
	line(r.Unit, "%s in %s", thousands(float64(r.Operations)), FormatDuration(r.Elapsed))
	line("throughput", "%s %s/s", thousands(r.Throughput), r.Unit)
	line("latency", "%s", latencyLine(r.Latency))
	if r.Floor != nil {
		line("echo floor", "%s", latencyLine(r.Floor.Latency))
		line("p50 ratio", "%.2f× the bare echo", r.Floor.Ratio)
	}
	line("errors", "%d", r.Errors)
	for _, e := range r.ErrorSamples {
		line("", "%s", e)
	}
	if r.Lost != nil {
		line("lost", "%d", *r.Lost)
	}
	for _, f := range r.Figures {
		line(f.Label, "%s", formatValue(f.Value, f.Unit))
	}
	b, a := r.MemoryBefore, r.MemoryAfter
	line("memory", "total %s → %s   heap in use %s → %s   stacks %s → %s   goroutines %d → %d",
		FormatBytes(b.TotalBytes), FormatBytes(a.TotalBytes), FormatBytes(b.HeapInuseBytes), FormatBytes(a.HeapInuseBytes),
		FormatBytes(b.StackBytes), FormatBytes(a.StackBytes), b.Goroutines, a.Goroutines)
	if b.RSSBytes > 0 && a.RSSBytes > 0 {
		line("", "resident (RSS) %s → %s", FormatBytes(b.RSSBytes), FormatBytes(a.RSSBytes))
	}
	for _, n := range r.Notes {
		line("note", "%s", n)
	}
	return tw.Flush()
}

func latencyLine(s LatencySummary) string {
	return fmt.Sprintf("p50 %-8s p90 %-8s p99 %-8s max %-8s (%s samples)",
		FormatDuration(s.P50), FormatDuration(s.P90), FormatDuration(s.P99), FormatDuration(s.Max), thousands(float64(s.Samples)))
}

func formatValue(v float64, unit string) string {
	switch unit {
	case "bytes":
		return FormatBytes(int64(math.Round(v)))
	case "":
		return thousands(v)
	}
	return thousands(v) + " " + unit
}

// FormatDuration prints d with three significant digits in the unit that
// suits it: 850ns, 52.3µs, 1.25ms, 2.50s.
func FormatDuration(d time.Duration) string {
	switch {
	case d < time.Microsecond:
		return strconv.FormatInt(int64(d), 10) + "ns"
	case d < time.Millisecond:
		return sig3(float64(d)/1e3) + "µs"
	case d < time.Second:
		return sig3(float64(d)/1e6) + "ms"
	}
	return sig3(d.Seconds()) + "s"
}

// FormatBytes prints n in B, KiB, MiB or GiB with up to one decimal; negative
// values (memory that shrank) keep their sign.
func FormatBytes(n int64) string {
	sign := ""
	if n < 0 {
		sign, n = "-", -n
	}
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%s%d B", sign, n)
	case n < 1<<20:
		return fmt.Sprintf("%s%.1f KiB", sign, float64(n)/(1<<10))
	case n < 1<<30:
		return fmt.Sprintf("%s%.1f MiB", sign, float64(n)/(1<<20))
	}
	return fmt.Sprintf("%s%.2f GiB", sign, float64(n)/(1<<30))
}

func sig3(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// thousands prints v rounded to an integer with comma separators; values
// below 10 keep two decimals.
func thousands(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	if v != 0 && math.Abs(v) < 10 && v != math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	s := strconv.FormatInt(int64(math.Round(math.Abs(v))), 10)
	var b strings.Builder
	if v < 0 && s != "0" {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func round(v float64, decimals int) float64 {
	p := math.Pow(10, float64(decimals))
	return math.Round(v*p) / p
}
