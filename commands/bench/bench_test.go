package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sb "github.com/sente-clj/sente/bench"
)

// senteBin is a sente binary built from this tree: Run starts it as the child
// gateway and the echo server, as `sente bench` starts itself.
var senteBin string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "sente-bench-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	senteBin = filepath.Join(dir, "sente")
	build := exec.Command("go", "build", "-o", senteBin, "github.com/sente-clj/sente/cmd/sente")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building sente:", err)
		return 1
	}
	return m.Run()
}

// run runs one scenario with the defaults of the scenario plus set, and
// returns the report decoded from --json.
func run(t *testing.T, scenario string, set func(o *Options)) map[string]any {
	t.Helper()
	o := Defaults(scenario)
	o.Executable, o.JSON, o.Warmup = senteBin, true, 10
	set(&o)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := Run(ctx, o, &stdout, &stderr)
	if err != nil {
		t.Fatalf("Run: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	var rep map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("--json printed no JSON object: %v\n%s", err, stdout.String())
	}
	if rep["errors"] != 0.0 || rep["ok"] != true {
		t.Errorf("errors %v: %v", rep["errors"], rep["error-samples"])
	}
	if lost, ok := rep["lost"]; ok && lost != 0.0 {
		t.Errorf("lost %v", lost)
	}
	if g, _ := rep["gateway"].(string); o.Target == "" && !strings.HasPrefix(g, "child process pid ") {
		t.Errorf("gateway = %q, want the child process", g)
	}
	if m, _ := rep["memory-after"].(map[string]any); m["total-bytes"] == 0.0 || m["heap-inuse-bytes"] == nil || m["goroutines"] == 0.0 {
		t.Errorf("memory-after = %v", rep["memory-after"])
	}
	return rep
}

func TestScenariosAgainstChildGateway(t *testing.T) {
	tests := []struct {
		scenario string
		set      func(o *Options)
		ops      float64
	}{
		{"eval", func(o *Options) { o.Count = 300 }, 300},
		{"eval", func(o *Options) { o.Count, o.RuntimeKind, o.Editors, o.Runtimes = 300, "chsk", 4, 2 }, 300},
		{"fanout", func(o *Options) { o.Subscribers, o.Count = 50, 200 }, 50 * 200},
		{"connect", func(o *Options) { o.Count = 200 }, 200},
		{"idle", func(o *Options) { o.Connections = 200 }, 200},
		{"ping", func(o *Options) { o.Count = 300 }, 300},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			rep := run(t, tt.scenario, tt.set)
			if rep["operations"] != tt.ops {
				t.Errorf("operations = %v, want %v", rep["operations"], tt.ops)
			}
			lat, _ := rep["latency"].(map[string]any)
			if lat["p50-us"] == 0.0 || lat["p99-us"] == nil || lat["max-us"] == nil {
				t.Errorf("latency = %v", lat)
			}
			if (tt.scenario == "ping" || tt.scenario == "eval") && rep["echo-floor"] == nil {
				t.Error("no echo floor")
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		set  func(o *Options)
		want string
	}{
		{"no scenario", func(o *Options) { o.Scenario = "" }, "name a scenario"},
		{"unknown scenario", func(o *Options) { o.Scenario = "bogus" }, `unknown scenario "bogus": choose one of eval, fanout, connect, idle, ping`},
		{"nothing ends the run", func(o *Options) { o.Count, o.Duration = 0, 0 }, "nothing would end the run"},
		{"runtime kind", func(o *Options) { o.RuntimeKind = "browser" }, `--runtime-kind "browser"`},
		{"nrepl without target", func(o *Options) { o.NREPL = "127.0.0.1:1" }, "--nrepl goes with --target"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Defaults("eval")
			tt.set(&o)
			err := Run(context.Background(), o, &bytes.Buffer{}, &bytes.Buffer{})
			var usage *UsageError
			if !errors.As(err, &usage) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want a UsageError containing %q", err, tt.want)
			}
		})
	}
}

func TestUnreachableTargetIsSetupError(t *testing.T) {
	o := Defaults("ping")
	o.Target = "http://127.0.0.1:1"
	err := Run(context.Background(), o, &bytes.Buffer{}, &bytes.Buffer{})
	if !errors.Is(err, sb.ErrSetup) || !strings.Contains(err.Error(), "cannot reach a sente gateway at http://127.0.0.1:1") {
		t.Fatalf("err = %v, want bench.ErrSetup naming the target", err)
	}
}

func TestGatewayArgs(t *testing.T) {
	tests := []struct {
		scenario string
		user     []string
		nats     string
		want     string
	}{
		{"eval", nil, "", ""},
		{"idle", nil, "", "--max-connections=0"},
		{"fanout", []string{"--batch=false"}, "", "--batch=false --max-connections=0"},
		{"connect", []string{"--max-connections=10"}, "", "--max-connections=10"},
		{"fanout", nil, "nats://n:1", "--nats nats://n:1 --max-connections=0"},
	}
	for _, tt := range tests {
		if got := strings.Join(gatewayArgs(Options{Scenario: tt.scenario, GatewayArgs: tt.user, NATS: tt.nats}), " "); got != tt.want {
			t.Errorf("%s %q %q: %q, want %q", tt.scenario, tt.user, tt.nats, got, tt.want)
		}
	}
}

func TestTarget(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var logs bytes.Buffer
	g, child, err := sb.StartGateway(ctx, senteBin, nil, &logs)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := child.Stop(); err != nil {
			t.Errorf("gateway: %v\n%s", err, logs.String())
		}
	}()
	rep := run(t, "eval", func(o *Options) { o.Target, o.Count, o.Floor = "http://"+g.HTTP, 100, false })
	if got := rep["gateway"]; got != "--target http://"+g.HTTP {
		t.Errorf("gateway = %v", got)
	}
}
