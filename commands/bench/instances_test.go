package bench

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sente-clj/sente/internal/natstest"
)

// TestFanoutAcrossInstances: two child gateways on a real NATS server, the
// subscribers split over them; every message reaches every subscriber and
// the report says what crossed the bus.
func TestFanoutAcrossInstances(t *testing.T) {
	ns := natstest.Start(t)
	const subs, count = 60, 200
	rep := run(t, "fanout", func(o *Options) {
		o.Subscribers, o.Count, o.Instances, o.NATS = subs, count, 2, ns.URL()
	})
	if rep["operations"] != float64(subs*count) {
		t.Errorf("operations = %v, want %d", rep["operations"], subs*count)
	}
	if g, _ := rep["gateway"].(string); !strings.HasSuffix(g, " through NATS") {
		t.Errorf("gateway = %q, want both instances named", g)
	}
	figures, _ := rep["figures"].(map[string]any)
	// The warm-up and measured messages crossed the bus (probes aside).
	if figures["bus-published"].(float64) < count+10 || figures["bus-received"].(float64) < count+10 || figures["bus-lost"] != 0.0 {
		t.Errorf("bus figures %v", figures)
	}
}

func TestInstancesUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		set  func(o *Options)
		want string
	}{
		{"no nats", func(o *Options) { o.Instances = 2 }, "needs --nats"},
		{"zero", func(o *Options) { o.Instances = 0 }, "at least 1"},
		{"with target", func(o *Options) { o.Instances, o.NATS, o.Target = 2, "nats://127.0.0.1:1", "http://127.0.0.1:1" }, "does not go with --target"},
		{"other scenario", func(o *Options) { o.Scenario, o.Instances, o.NATS = "ping", 2, "nats://127.0.0.1:1" }, "for the fanout scenario"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Defaults("fanout")
			tt.set(&o)
			err := Run(context.Background(), o, &bytes.Buffer{}, &bytes.Buffer{})
			var usage *UsageError
			if !errors.As(err, &usage) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want a UsageError containing %q", err, tt.want)
			}
		})
	}
}
