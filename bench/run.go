package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Limits bound one run: it measures Count operations or runs for Duration,
// whichever comes first, after Warmup operations that are not measured.
// Zero Count or Duration means no bound of that kind; a scenario with
// neither stops at once.
type Limits struct {
	Count    int64
	Duration time.Duration
	Warmup   int64
}

// Env is what every scenario gets besides its own settings.
type Env struct {
	Gateway *Gateway
	// Progress, when not nil, gets a progress bar for runs longer than ~2s.
	Progress io.Writer
}

// budget hands out a run's operations to concurrent workers: each take is one
// operation, until the count is used up or the time is over.
type budget struct {
	limit    int64 // 0: no count bound
	taken    atomic.Int64
	done     atomic.Int64 // operations finished, for the progress bar
	deadline time.Time    // zero: no time bound
	stopped  atomic.Bool
	parent   *budget // a quota also takes from its parent
}

func newBudget(l Limits, start time.Time) *budget {
	b := &budget{limit: l.Count}
	if l.Duration > 0 {
		b.deadline = start.Add(l.Duration)
	}
	return b
}

// take reserves one operation; false means stop.
func (b *budget) take() bool {
	if b.stopped.Load() {
		return false
	}
	if !b.deadline.IsZero() && time.Now().After(b.deadline) {
		b.stopped.Store(true)
		return false
	}
	if b.limit > 0 && b.taken.Add(1) > b.limit {
		b.stopped.Store(true)
		return false
	}
	return b.parent == nil || b.parent.take()
}

// quota is a round of at most n operations out of b; b keeps the deadline.
func (b *budget) quota(n int64) *budget {
	return &budget{limit: n, parent: b}
}

// errorLog counts errors from many goroutines and keeps the first few texts.
type errorLog struct {
	n     atomic.Int64
	mu    sync.Mutex
	texts []string
}

const keepErrors = 5

func (e *errorLog) add(err error) {
	if e.n.Add(1) > keepErrors {
		return
	}
	e.mu.Lock()
	e.texts = append(e.texts, err.Error())
	e.mu.Unlock()
}

func (e *errorLog) addf(format string, args ...any) { e.add(fmt.Errorf(format, args...)) }

func (e *errorLog) fill(r *Report) {
	r.Errors = e.n.Load()
	e.mu.Lock()
	r.ErrorSamples = append([]string(nil), e.texts...)
	e.mu.Unlock()
}

// IsTerminal reports whether w is a terminal (a character device), where a
// progress bar can redraw itself.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progress redraws `[=====>    ] 52% 10400/20000` on one line while a run
// lasts, once it has lasted two seconds; fraction is max(done/total,
// elapsed/duration) so time-bound runs move too.
type progress struct {
	w     io.Writer
	total int64
	dur   time.Duration
	done  func() int64
	stop  chan struct{}
	wg    sync.WaitGroup
}

// startProgress starts the bar; w nil means no bar. Stop it with stop().
func startProgress(ctx context.Context, w io.Writer, total int64, dur time.Duration, done func() int64) *progress {
	p := &progress{w: w, total: total, dur: dur, done: done, stop: make(chan struct{})}
	if w == nil {
		return p
	}
	p.wg.Add(1)
	go p.run(ctx)
	return p
}

const progressDelay = 2 * time.Second

func (p *progress) run(ctx context.Context) {
	defer p.wg.Done()
	start := time.Now()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	drawn := false
	for {
		select {
		case <-ctx.Done():
		case <-p.stop:
		case now := <-t.C:
			if now.Sub(start) < progressDelay {
				continue
			}
			fmt.Fprint(p.w, "\r"+progressLine(p.done(), p.total, now.Sub(start), p.dur))
			drawn = true
			continue
		}
		if drawn {
			fmt.Fprint(p.w, "\r"+strings.Repeat(" ", 60)+"\r")
		}
		return
	}
}

func (p *progress) Stop() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	p.wg.Wait()
}

// progressLine is one frame of the bar.
func progressLine(done, total int64, elapsed, dur time.Duration) string {
	frac := 0.0
	if total > 0 {
		frac = float64(done) / float64(total)
	}
	if dur > 0 {
		frac = max(frac, float64(elapsed)/float64(dur))
	}
	frac = min(max(frac, 0), 1)
	const width = 30
	filled := int(frac * width)
	bar := strings.Repeat("=", filled)
	if filled < width {
		bar += ">" + strings.Repeat(" ", width-filled-1)
	}
	s := fmt.Sprintf("[%s] %3d%% %d", bar, int(frac*100), done)
	if total > 0 {
		s += fmt.Sprintf("/%d", total)
	}
	return s
}

func throughput(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
