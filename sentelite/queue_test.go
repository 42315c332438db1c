package sentelite_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sente-clj/sente/internal/testutil"
	"github.com/sente-clj/sente/sentelite"
	"github.com/sente-clj/sente/wire"
)

func TestQueueUnderCapacity(t *testing.T) {
	h := newHub(t)
	c := dial(t, h, func(o *sentelite.Options) { o.SendQueue = 64 })
	for i := range 10 {
		if err := c.Send(wire.Event{ID: "test/n", Data: i}); err != nil {
			t.Fatalf("Send %d: %v", i, err)
		}
	}
	testutil.Eventually(t, 0, func() bool { return c.QueueStats().Sent == 10 }, "10 frames sent")
	want := sentelite.QueueStats{Enqueued: 10, Sent: 10}
	if got := c.QueueStats(); got != want {
		t.Errorf("QueueStats %+v, want %+v", got, want)
	}
	testutil.Eventually(t, 0, func() bool { return h.count("test/n") == 10 }, "the hub to read them")
}

func TestQueueRejectsWhenServerStopsReading(t *testing.T) {
	h := newHub(t)
	c := dial(t, h, func(o *sentelite.Options) {
		o.SendQueue = 4
		o.WriteTimeout = 30 * time.Second
	})
	h.stallReads.Store(true)
	big := strings.Repeat("x", 256<<10)
	// Send until the queue stays full: the writer is stuck on a socket the
	// server does not read. Poll paces the sends.
	rejectedInARow := 0
	testutil.Eventually(t, 0, func() bool {
		err := c.Send(wire.Event{ID: "test/big", Data: big})
		switch {
		case err == nil:
			rejectedInARow = 0
		case errors.Is(err, sentelite.ErrRejected):
			rejectedInARow++
		default:
			t.Fatalf("Send: %v", err)
		}
		return rejectedInARow >= 5
	}, "the queue to stay full (5 sends rejected in a row)")
	st := c.QueueStats()
	if st.Rejected < 5 || st.Depth < 4 || st.Depth > 5 || st.Enqueued != st.Sent+st.Depth {
		t.Errorf("stats while stalled: %+v", st)
	}
	if !c.Connected() {
		t.Error("backpressure dropped the connection")
	}

	h.stallReads.Store(false)
	testutil.Eventually(t, 0, func() bool { return c.QueueStats().Depth == 0 }, "the queue to drain")
	st = c.QueueStats()
	if st.Sent != st.Enqueued || st.Errors != 0 {
		t.Errorf("stats after draining: %+v", st)
	}
	testutil.Eventually(t, 0, func() bool { return int64(h.count("test/big")) == st.Sent }, "every frame at the hub")
	if err := c.Send(wire.Event{ID: "test/after"}); err != nil {
		t.Errorf("Send after draining: %v", err)
	}
}

func TestQueueDrainedOnClose(t *testing.T) {
	h := newHub(t)
	c := dial(t, h, func(o *sentelite.Options) {
		o.SendQueue = 1000
		o.CloseTimeout = 30 * time.Second // a bound; Close returns once drained
	})
	const n = 500
	for i := range n {
		if err := c.Send(wire.Event{ID: "test/n", Data: i}); err != nil {
			t.Fatalf("Send %d: %v", i, err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	want := sentelite.QueueStats{Enqueued: n, Sent: n}
	if got := c.QueueStats(); got != want {
		t.Errorf("QueueStats %+v, want %+v", got, want)
	}
	// The close handshake comes after the frames, so they are all read.
	var got []string
	for _, f := range h.received() {
		if strings.HasPrefix(f, "[:test/n ") {
			got = append(got, f)
		}
	}
	if len(got) != n {
		t.Fatalf("the hub read %d of %d frames", len(got), n)
	}
	for i, f := range got {
		if want := "[:test/n " + strconv.Itoa(i) + "]"; f != want {
			t.Fatalf("frame %d is %s, want %s (order)", i, f, want)
		}
	}
}

func TestQueueDroppedWhenCloseGivesUp(t *testing.T) {
	h := newHub(t, func(h *testHub) { h.readBuffer = 4096 })
	c := dial(t, h, func(o *sentelite.Options) {
		o.SendQueue = 1000
		o.CloseTimeout = 100 * time.Millisecond
		// Writes never time out: only CloseTimeout can end Close.
		o.WriteTimeout = time.Hour
	})
	h.stallReads.Store(true)
	big := strings.Repeat("y", 128<<10)
	for range 200 { // 25 MiB: more than the socket buffers hold
		if err := c.Send(wire.Event{ID: "test/big", Data: big}); err != nil {
			t.Fatal(err)
		}
	}
	closed := make(chan error, 1)
	go func() { closed <- c.Close() }()
	var err error
	select {
	case err = <-closed:
	case <-time.After(testutil.Patience):
		t.Fatal("Close did not return: it waited for the queue to drain past CloseTimeout 100ms")
	}
	st := c.QueueStats()
	if err == nil || !strings.Contains(err.Error(), "queued frames were not sent") || st.Dropped == 0 {
		t.Fatalf("Close: %v, stats %+v", err, st)
	}
	if st.Depth != 0 || st.Enqueued != st.Sent+st.Errors+st.Dropped {
		t.Errorf("stats do not add up: %+v", st)
	}
}
