package gateway

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// asyncLog is the gateway's log path: a slog.Handler that hands each record
// to one writer goroutine through a bounded queue, so that an event loop
// never blocks on a slow stderr, pipe or journal (DESIGN: the loop never
// blocks). A full queue drops the record and counts it
// (edgegw_log_dropped_total); the writer logs how many it lost when it
// catches up. Before start and after stop it writes synchronously (no loop
// runs then). Records are cloned, so callers may reuse their attrs.
type asyncLog struct {
	inner slog.Handler
	q     *logQueue
}

type logQueue struct {
	ch      chan logItem
	state   atomic.Int32  // logSync, logAsync, logStopped
	lost    atomic.Uint64 // dropped since the writer last reported
	dropped *metrics.Counter
	done    chan struct{}
}

type logItem struct {
	h slog.Handler // nil: stop marker
	r slog.Record
}

const (
	logSync int32 = iota
	logAsync
	logStopped
)

// logQueueLen bounds the records waiting for the writer. A channel touches
// every slot of its ring in turn, so this is resident memory once the
// gateway has logged that many lines: 1,024 records of ~300 B.
const logQueueLen = 1024

// newAsyncLog wraps inner with a queue of size records.
func newAsyncLog(inner slog.Handler, size int, dropped *metrics.Counter) *asyncLog {
	return &asyncLog{inner: inner, q: &logQueue{ch: make(chan logItem, size), dropped: dropped, done: make(chan struct{})}}
}

func (a *asyncLog) Enabled(ctx context.Context, l slog.Level) bool { return a.inner.Enabled(ctx, l) }

func (a *asyncLog) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &asyncLog{inner: a.inner.WithAttrs(attrs), q: a.q}
}

func (a *asyncLog) WithGroup(name string) slog.Handler {
	return &asyncLog{inner: a.inner.WithGroup(name), q: a.q}
}

// Handle queues r for the writer; it never waits.
func (a *asyncLog) Handle(ctx context.Context, r slog.Record) error {
	if a.q.state.Load() != logAsync {
		return a.inner.Handle(ctx, r)
	}
	select {
	case a.q.ch <- logItem{h: a.inner, r: r.Clone()}:
	default:
		a.q.lost.Add(1)
		a.q.dropped.Inc()
	}
	return nil
}

// start runs the writer goroutine.
func (a *asyncLog) start() {
	if !a.q.state.CompareAndSwap(logSync, logAsync) {
		return
	}
	go a.q.write(a.inner)
}

func (q *logQueue) write(base slog.Handler) {
	defer close(q.done)
	for it := range q.ch {
		if n := q.lost.Swap(0); n > 0 {
			r := slog.NewRecord(time.Now(), slog.LevelWarn, "log records dropped: the log writer fell behind", 0)
			r.AddAttrs(slog.Uint64("dropped", n))
			_ = base.Handle(context.Background(), r)
		}
		if it.h == nil { // stop marker: write what raced past it, then end
			for {
				select {
				case it := <-q.ch:
					if it.h != nil {
						_ = it.h.Handle(context.Background(), it.r)
					}
				default:
					return
				}
			}
		}
		_ = it.h.Handle(context.Background(), it.r)
	}
}

// stop writes what is queued (waiting at most until ctx ends) and returns
// the handler to synchronous writing.
func (a *asyncLog) stop(ctx context.Context) {
	if !a.q.state.CompareAndSwap(logAsync, logStopped) {
		return
	}
	select {
	case a.q.ch <- logItem{}:
	case <-ctx.Done():
		return
	}
	select {
	case <-a.q.done:
	case <-ctx.Done():
	}
}
