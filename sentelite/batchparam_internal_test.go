package sentelite

import "testing"

func TestWithBatchParam(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"ws://127.0.0.1:1340/chsk", "ws://127.0.0.1:1340/chsk?batch=1"},
		{"ws://h:1/chsk?client-id=a", "ws://h:1/chsk?batch=1&client-id=a"},
		{"wss://h/chsk?batch=0", "wss://h/chsk?batch=0"}, // the caller chose
		{"ws://h/chsk?batch=1", "ws://h/chsk?batch=1"},
		{"::not a url", "::not a url"},
	} {
		if got := withBatchParam(tc.in); got != tc.want {
			t.Errorf("withBatchParam(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
