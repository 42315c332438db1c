package gateway

import (
	"fmt"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sente-clj/sente/nrepl"
)

// Runtime kinds, as listed by sente/runtimes and /runtimes.
const (
	KindScittleNREPL = "scittle-nrepl" // stock scittle.nrepl.js on /_nrepl
	KindSenteLite    = "sente-lite"    // a sente-lite client answering :nrepl/request on /chsk
)

// runtimeLink is how the bridge reaches one connected runtime. Each transport
// (/_nrepl, /chsk) implements it; neither method may block on the network.
type runtimeLink interface {
	// request queues one nREPL request for the runtime, or says why it cannot.
	request(m nrepl.Msg) error
	// close disconnects the runtime; its transport then reports it gone.
	close(reason string)
}

// Runtime is one connected browser (or other) runtime that evaluates code.
type Runtime struct {
	ID        string
	Kind      string
	UserAgent string
	Remote    string
	Connected time.Time
	// Ops the runtime answers itself, merged into describe.
	Ops []string

	link    runtimeLink
	pending atomic.Int64
	// gone is set, under the bridge's lock, once the runtime has left, so a request
	// that picked it a moment earlier is refused instead of waiting forever.
	gone bool

	// Guarded by the bridge's lock: whether the runtime runs sente.repl (see
	// jobs.go), the installing eval's id, requests waiting for it, and who
	// evaluated last (the editor that hears output printed between evals).
	helper  helperState
	bootGID string
	bootOK  bool
	waiting []*pending
	last    lastEval
}

// RuntimeInfo is the JSON- and nREPL-friendly description of a runtime.
type RuntimeInfo struct {
	ID        string    `json:"id"`
	Kind      string    `json:"kind"`
	UserAgent string    `json:"user-agent"`
	Remote    string    `json:"remote"`
	Connected time.Time `json:"connected"`
	Pending   int64     `json:"pending"`
	Default   bool      `json:"default"`
}

func (r *Runtime) info(isDefault bool) RuntimeInfo {
	return RuntimeInfo{ID: r.ID, Kind: r.Kind, UserAgent: r.UserAgent, Remote: r.Remote,
		Connected: r.Connected, Pending: r.pending.Load(), Default: isDefault}
}

// runtimes is the registry of connected runtimes. The newest is the default target.
type runtimes struct {
	mu      sync.Mutex
	byID    map[string]*Runtime
	order   []*Runtime    // connect order; the last is the newest
	arrived chan struct{} // closed and replaced whenever a runtime connects
	nextID  int
}

func newRuntimes() *runtimes {
	return &runtimes{byID: map[string]*Runtime{}, arrived: make(chan struct{})}
}

// add registers a runtime and wakes every request waiting for one.
func (rs *runtimes) add(kind, userAgent, remote string, ops []string, link runtimeLink) *Runtime {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.nextID++
	r := &Runtime{ID: "r" + strconv.Itoa(rs.nextID), Kind: kind, UserAgent: userAgent,
		Remote: remote, Connected: time.Now(), Ops: ops, link: link}
	rs.byID[r.ID] = r
	rs.order = append(rs.order, r)
	close(rs.arrived)
	rs.arrived = make(chan struct{})
	return r
}

// remove forgets a runtime; it reports whether it was still registered.
func (rs *runtimes) remove(r *Runtime) bool {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.byID[r.ID] != r {
		return false
	}
	delete(rs.byID, r.ID)
	for i, o := range rs.order {
		if o == r {
			rs.order = append(rs.order[:i], rs.order[i+1:]...)
			break
		}
	}
	return true
}

// pick returns the runtime a request should go to: the one a session selected,
// else the newest. With none connected it returns a channel that is closed when
// one arrives, so the caller can wait without polling.
func (rs *runtimes) pick(selected string) (*Runtime, <-chan struct{}, error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if selected != "" {
		r, ok := rs.byID[selected]
		if !ok {
			return nil, nil, fmt.Errorf("runtime %s is not connected (any more); list runtimes with sente/runtimes and choose one with sente/select-runtime", selected)
		}
		return r, nil, nil
	}
	if n := len(rs.order); n > 0 {
		return rs.order[n-1], nil, nil
	}
	return nil, rs.arrived, nil
}

func (rs *runtimes) get(id string) *Runtime {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.byID[id]
}

func (rs *runtimes) list() []RuntimeInfo {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	out := make([]RuntimeInfo, 0, len(rs.order))
	for i, r := range rs.order {
		out = append(out, r.info(i == len(rs.order)-1))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Connected.Before(out[j].Connected) })
	return out
}

func (rs *runtimes) all() []*Runtime {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]*Runtime(nil), rs.order...)
}

func (rs *runtimes) count() int {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return len(rs.order)
}
