package telemetry

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// Log is an asynchronous, bounded slog.Handler: it hands each record to one
// writer goroutine through a bounded queue, so that an event loop never
// blocks on a slow stderr, pipe or journal. A full queue drops the record and
// counts it (edgegw_log_dropped_total); the writer logs how many it lost when
// it catches up. Before Start and after Stop it writes synchronously (no loop
// runs then). Records are cloned, so callers may reuse their attrs. Safe for
// concurrent use; Handle never waits.
type Log struct {
	inner slog.Handler
	q     *logQueue
}

// logQueue is what a Log and the handlers WithAttrs and WithGroup derive
// from it share.
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

// NewLog wraps inner with a queue of size records (0: DefaultLogQueue) and
// registers edgegw_log_dropped_total on set (nil: a set of its own).
func NewLog(inner slog.Handler, size int, set *metrics.Set) *Log {
	if size <= 0 {
		size = DefaultLogQueue
	}
	if set == nil {
		set = metrics.NewSet()
	}
	return &Log{inner: inner, q: &logQueue{ch: make(chan logItem, size), dropped: registerLog(set), done: make(chan struct{})}}
}

// Enabled reports what the wrapped handler reports.
func (a *Log) Enabled(ctx context.Context, l slog.Level) bool { return a.inner.Enabled(ctx, l) }

// WithAttrs returns a handler on the same queue.
func (a *Log) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &Log{inner: a.inner.WithAttrs(attrs), q: a.q}
}

// WithGroup returns a handler on the same queue.
func (a *Log) WithGroup(name string) slog.Handler {
	return &Log{inner: a.inner.WithGroup(name), q: a.q}
}

// Handle queues r for the writer; it never waits.
func (a *Log) Handle(ctx context.Context, r slog.Record) error {
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

// Dropped returns how many records the queue dropped so far.
func (a *Log) Dropped() uint64 { return a.q.dropped.Get() }

// Start runs the writer goroutine; from now on Handle queues. Only the first
// call does anything.
func (a *Log) Start() {
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

// Stop writes what is queued (waiting at most until ctx ends) and returns
// the handler to synchronous writing. Only the first call after Start does
// anything.
func (a *Log) Stop(ctx context.Context) {
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
