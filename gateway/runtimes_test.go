package gateway

import (
	"testing"
	"time"
)

func TestRuntimesPickAndArrival(t *testing.T) {
	rs := newRuntimes()
	rt, arrived, err := rs.pick("")
	if rt != nil || err != nil || arrived == nil {
		t.Fatalf("pick with none connected = %v, %v, %v; want a channel to wait on", rt, arrived, err)
	}
	a := rs.add(KindScittleNREPL, "ua", "remote", nil, &fakeLink{})
	select {
	case <-arrived:
	case <-time.After(waitBound):
		t.Fatal("a waiting request was not woken when a runtime connected")
	}
	b := rs.add(KindSenteLite, "ua", "remote", []string{"my/op"}, &fakeLink{})
	if a.ID == b.ID {
		t.Fatalf("two runtimes share the id %q", a.ID)
	}
	tests := []struct {
		name     string
		selected string
		want     *Runtime
		wantErr  bool
	}{
		{"no selection takes the newest", "", b, false},
		{"a selection takes that runtime", a.ID, a, false},
		{"a selection of one not connected is an error", "r99", nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := rs.pick(tc.selected)
			if got != tc.want || (err != nil) != tc.wantErr {
				t.Errorf("pick(%q) = %v, %v; want %v, error %v", tc.selected, got, err, tc.want, tc.wantErr)
			}
		})
	}
	if !rs.remove(b) || rs.remove(b) {
		t.Error("remove reports a runtime registered once, then not")
	}
	if got, _, _ := rs.pick(""); got != a {
		t.Errorf("after the newest left, pick = %v, want %v", got, a)
	}
	list := rs.list()
	if len(list) != 1 || list[0].ID != a.ID || !list[0].Default || rs.count() != 1 {
		t.Errorf("list = %+v, count %d; want only %s, as the default", list, rs.count(), a.ID)
	}
}
