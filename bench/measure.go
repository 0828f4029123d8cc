package bench

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
)

// snapshot sums the counters and histograms of every loop.
func (r *runner) snapshot() (t totals, lat, clat Hist) {
	r.off.ctr.addTo(&t)
	for _, lp := range r.loopList() {
		lp.ctr.addTo(&t)
		lp.lat.addTo(&lat)
		lp.connLat.addTo(&clat)
	}
	return t, lat, clat
}

// runLocal executes one run in this process. barrier is called once every
// setup client is ready and must return when the measurement may begin.
//
// drain, when set, replaces the local drain wait (worker processes: the
// parent decides from everybody's counts when the run has drained); it gets
// a function that snapshots this process's totals.
func runLocal(ctx context.Context, cfg *Config, barrier func(ready int) error, drain func(snap func() totals)) (*Result, error) {
	if err := probe(cfg); err != nil {
		return nil, err
	}
	r, err := newRunner(cfg)
	if err != nil {
		return nil, err
	}
	fds := len(r.clients)
	if isTLS(cfg.Transport) {
		fds *= 3 // TCP socket + both socketpair ends
	}
	if lim := noFileLimit(); fds > lim-64 {
		return nil, fmt.Errorf("--clients: %d connections (%d descriptors) in one process exceed the open-file limit %d; use --procs", len(r.clients), fds, lim)
	}
	if err := r.start(); err != nil {
		return nil, err
	}
	defer r.stop()
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go r.pacer(pctx)

	res := &Result{Type: "summary", Scenario: cfg.Scenario, Broker: cfg.Broker, SubBroker: cfg.SubscriberBroker, MQTT: cfg.MQTT, QoS: cfg.QoS,
		Payload: cfg.Payload, Procs: max(cfg.workers, 1), Clients: len(r.clients), TargetRate: cfg.totalRate()}
	if cfg.publishes() {
		res.Publishers = cfg.numPublishers()
		res.Subscribers = cfg.Subscribers
		if cfg.Scenario == ScenarioP2P {
			res.Subscribers = cfg.Clients
		}
	}

	// Setup: every client of a publishing scenario (and of a storm) connects
	// and subscribes before the clock starts.
	setupStart := time.Now()
	if cfg.Scenario != ScenarioConn {
		for _, c := range r.clients {
			r.enqueue(c)
		}
		if err := r.awaitSettled(ctx, len(r.clients), r.setupDeadline()); err != nil {
			return nil, err
		}
		t, _, _ := r.snapshot()
		if int(r.ready.Load()) < len(r.clients) {
			return nil, fmt.Errorf("setup: only %d of %d clients connected to %s (%s)", r.ready.Load(), len(r.clients), cfg.Broker, failureLine(r.fails.snapshot(), t.ConnFail))
		}
		res.RampSeconds = time.Since(setupStart).Seconds()
	}
	res.SetupSeconds = time.Since(setupStart).Seconds()
	if barrier != nil {
		if err := barrier(int(r.ready.Load())); err != nil {
			return nil, err
		}
	}

	// Measurement. Goroutines below publish their figures through atomics.
	var rampNS, dropped atomic.Int64
	recoveryNS := atomic.Int64{}
	recoveryNS.Store(-1)
	start := time.Now()
	end := start.Add(cfg.Duration.D())
	// conn: ramp, then hold for --duration. The ramp is bounded by
	// rampBound; what has not settled by then counts as failed.
	var rampDone atomic.Bool
	rampBound := start.Add(r.rampBound())
	if cfg.Scenario == ScenarioConn {
		for _, c := range r.clients {
			r.enqueue(c)
		}
		go func() {
			if r.awaitSettled(pctx, len(r.clients), rampBound) == nil {
				rampNS.Store(int64(time.Since(start)))
				rampDone.Store(true)
			}
		}()
	}
	if cfg.Scenario == ScenarioStorm {
		r.reconnect.Store(true)
		at := cfg.StormAt.D()
		if at == 0 {
			at = cfg.Duration.D() / 3
		}
		time.AfterFunc(at, func() {
			if pctx.Err() != nil {
				return
			}
			before := r.ready.Load()
			dropped.Store(before)
			dropAt := time.Now()
			r.onLoops(func(lp *loop) { lp.closeAll(false) })
			for pctx.Err() == nil && time.Now().Before(end) {
				if r.ready.Load() >= before {
					recoveryNS.Store(int64(time.Since(dropAt)))
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	if cfg.publishes() {
		r.publishing.Store(true)
	}

	var prev totals
	var prevLat Hist
	sec := 0
	sample := func(drain bool) {
		t, lat, _ := r.snapshot()
		d := t.sub(&prev)
		dl := lat
		dl.Sub(&prevLat)
		dl.Max = 0
		// Max of this second is not recoverable from cumulative buckets;
		// use the upper end of the highest non-empty bucket.
		for i := histBuckets - 1; i >= 0; i-- {
			if dl.Buckets[i] > 0 {
				_, hi := bucketRange(i)
				dl.Max = min(hi, lat.Max)
				break
			}
		}
		res.Timeline = append(res.Timeline, Second{Type: "second", T: sec, Drain: drain, Sent: d.Sent, Acked: d.Acked,
			Received: d.Received, Expected: d.Expected, Duplicates: d.Duplicates, OutOfOrder: d.OutOfOrder,
			ConnOK: d.ConnOK, ConnFail: d.ConnFail, Closed: d.Closed, Connected: r.ready.Load(), Latency: dl})
		res.PeakConns = max(res.PeakConns, r.ready.Load())
		prev, prevLat = t, lat
		sec++
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case now := <-tick.C:
			sample(false)
			if cfg.Scenario == ScenarioConn {
				ramp := time.Duration(rampNS.Load())
				if !rampDone.Load() && now.Before(rampBound) {
					continue
				}
				end = start.Add(ramp + cfg.Duration.D())
			}
			if !now.Before(end.Add(-10 * time.Millisecond)) {
				break loop
			}
		}
	}
	r.publishing.Store(false)
	r.reconnect.Store(false)
	res.MeasureSeconds = time.Since(start).Seconds()
	// A tick that read the flag before it dropped may still be publishing:
	// wait for every loop to pass this point so that sent and expected are final.
	r.onLoops(func(*loop) {})

	// Drain: wait for what is still in flight.
	if cfg.publishes() {
		snap := func() totals { t, _, _ := r.snapshot(); return t }
		if drain != nil {
			drain(snap)
		} else {
			deadline := time.Now().Add(cfg.Drain.D())
			for time.Now().Before(deadline) && ctx.Err() == nil && !drained(cfg, snap()) {
				time.Sleep(5 * time.Millisecond)
			}
		}
		sample(true)
	}
	cancel()

	t, lat, clat := r.snapshot()
	res.Sent, res.Acked, res.PubErrors, res.Expected = t.Sent, t.Acked, t.PubErrors, t.Expected
	res.Received, res.Duplicates, res.OutOfOrder, res.Foreign = t.Received, t.Duplicates, t.OutOfOrder, t.Foreign
	res.Throttled, res.Lagged, res.Attempts, res.ConnOK = t.Throttled, t.Lagged, t.Attempts, t.ConnOK
	res.ConnFail, res.Closed, res.Pings = t.ConnFail, t.Closed, t.Pings
	res.Latency, res.ConnectLatency = lat, clat
	res.Failures = r.fails.snapshot()
	if cfg.Scenario == ScenarioStorm {
		res.Dropped = dropped.Load()
		res.RecoverySec = -1
		if ns := recoveryNS.Load(); ns >= 0 {
			res.RecoverySec = time.Duration(ns).Seconds()
		}
	}
	if cfg.Scenario == ScenarioConn {
		res.RampSeconds = time.Duration(rampNS.Load()).Seconds()
		if n := uint64(len(r.clients)); t.ConnOK+t.ConnFail < n {
			res.Failures = mergeCounts(res.Failures, map[string]uint64{"not_done_at_end": n - t.ConnOK - t.ConnFail})
			res.ConnFail += n - t.ConnOK - t.ConnFail
		}
		if res.RampSeconds == 0 {
			res.RampSeconds = res.MeasureSeconds
		}
	}
	return res, nil
}

// drained reports whether everything published has been acknowledged and delivered.
func drained(cfg *Config, t totals) bool {
	return t.Received >= t.Expected+t.Duplicates && (cfg.QoS == 0 || t.Acked+t.PubErrors >= t.Sent)
}

// rampBound bounds the conn scenario's ramp: the time --connect-rate needs
// for all clients (or 1 ms each when unlimited) plus the connect timeout.
func (r *runner) rampBound() time.Duration {
	n := float64(len(r.clients))
	per := time.Millisecond
	if r.cfg.ConnectRate > 0 {
		per = time.Duration(float64(time.Second) / r.cfg.ConnectRate * float64(max(r.cfg.workers, 1)))
	}
	return time.Duration(n)*per + r.cfg.ConnectTimeout.D() + 2*time.Second
}

// setupDeadline bounds the setup phase: the ramp at --connect-rate plus the
// connect timeout plus slack.
func (r *runner) setupDeadline() time.Time {
	d := r.cfg.ConnectTimeout.D() + 5*time.Second
	if r.cfg.ConnectRate > 0 {
		d += time.Duration(float64(r.cfg.totalClients()) / r.cfg.ConnectRate * float64(time.Second))
	}
	return time.Now().Add(d)
}

// awaitSettled waits until n clients are ready or failed, or the deadline.
func (r *runner) awaitSettled(ctx context.Context, n int, deadline time.Time) error {
	for {
		t, _, _ := r.snapshot()
		if int(r.ready.Load())+int(t.ConnFail) >= n {
			return nil
		}
		if time.Now().After(deadline) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// failureLine formats the failure reasons for a one-line error.
func failureLine(m map[string]uint64, total uint64) string {
	if len(m) == 0 {
		return fmt.Sprintf("%d failures", total)
	}
	var b strings.Builder
	for i, k := range sortedKeys(m) {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s=%d", k, m[k])
	}
	return b.String()
}
