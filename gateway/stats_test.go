package gateway

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"testing"
)

// The /health and /stats bodies were maps, which encode with sorted keys.
// Their structs must encode to the same bytes: decoded into maps and
// encoded again, a body comes out unchanged.
func TestHealthAndStatsEncodeAsTheirMapsDid(t *testing.T) {
	down, lastErr := 1.5, "nats: connection closed"
	tests := []struct {
		name string
		body any
	}{
		{"health", Health{Status: "ok", Version: "v", NREPL: "127.0.0.1:1", HTTP: "127.0.0.1:2", Runtimes: 1, Editors: 2, Connections: 3, Pending: 4, UptimeSeconds: 5}},
		{"health with nats", Health{Status: "ok", NATS: &NATSHealth{Connected: true, Disconnects: 1, LostDetected: 2, PublishFailed: 3, Reconnects: 4, Status: "CONNECTED", URL: "nats://127.0.0.1:4222"}}},
		{"health with nats down", Health{Status: "ok", NATS: &NATSHealth{DownSeconds: &down, LastError: &lastErr, Status: "RECONNECTING"}}},
		{"stats", Stats{
			Memory:        Memory{Goroutines: 1, HeapInuseBytes: 2, HeapObjectsBytes: 3, StackBytes: 4, TotalBytes: 5},
			NREPL:         NREPLStats{Editors: 1, Pending: 2, RejectedWSOrigins: 3, Requests: 4, RuntimeBadFrames: 5, RuntimeFrames: 6, Runtimes: 7, SlowEditorCloses: 8},
			SenteLite:     SenteLiteStats{Channels: map[string]int{"b": 2, "a": 1}, Connections: 1, Dropped: 2, HeartbeatCloses: 3, MessagesIn: 4, MessagesOut: 5, ParseErrors: 6, RejectedConns: 7, SlowConsumerCloses: 8},
			UptimeSeconds: 9,
		}},
		{"stats with nats and no channels", Stats{SenteLite: SenteLiteStats{Channels: map[string]int{}}, NATS: &NATSStats{
			BufferLimitBytes: 1, BufferedBytes: 2, Connected: true, Delivered: 3, Disconnects: 4, DownSeconds: &down, DroppedSlow: 5,
			LastError: &lastErr, LostDetected: 6, Origin: "o", PublishFailed: 7, Published: 8, Received: 9, Reconnects: 10,
			Status: "CONNECTED", SubscribedChannels: 11, URL: "nats://127.0.0.1:4222"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			writeJSON(rec, tc.body)
			got := rec.Body.Bytes()
			var asMap map[string]any
			if err := json.Unmarshal(got, &asMap); err != nil {
				t.Fatalf("%s does not decode: %v", got, err)
			}
			rec = httptest.NewRecorder()
			writeJSON(rec, asMap)
			if want := rec.Body.Bytes(); !bytes.Equal(got, want) {
				t.Errorf("struct encodes as\n%s\nthe map did as\n%s", got, want)
			}
		})
	}
}
