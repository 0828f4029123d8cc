package gateway

import (
	"context"
	"log/slog"
	"os"
	"runtime/debug"
	"time"

	"edgegw/mqttcodec"
	"edgegw/session"
	"edgegw/tune"
)

// Admission: the memory budget (package tune) bounds the connections the
// gateway accepts, so that the process meets a CONNACK "server busy"
// before it meets the OOM killer. New computes the budget once (the cgroup
// or tune.memory_limit or RAM, minus what the process already uses, divided
// by tune.connection_cost); a goroutine of ours (tuneLoop, off the event
// loops) samples the memory use on a ticker; the loops, at each CONNECT,
// only load the atomics of tune.Admission (admit).

// tuneSample is how often tuneLoop samples the memory use: a connection
// storm can fill a small container in about a second.
const tuneSample = 250 * time.Millisecond

// tuneGlue is the gateway's tune state. Created by New, read-only after,
// except adm and refusedLog (atomics) and kernel (the tune goroutine's).
type tuneGlue struct {
	budget     tune.Budget
	adm        *tune.Admission
	refusedLog tune.Every     // rate limit of the refusal log
	kernel     *kernelMetrics // kernel signals (kernelsignals.go)
	followGC   bool           // GOMEMLIMIT follows the unmanaged memory (tune.FollowGoMemLimit)
	goLimit    int64          // GOMEMLIMIT last set; the tune goroutine's
	probs      []string       // what initTune could not read, logged by tuneLoop
}

// initTune computes the budget and the admission of g. Called by New.
func (g *Gateway) initTune() {
	tc := g.cfg.Tune
	cg, probs := tune.ReadCgroup("")
	memTotal, err := tune.ReadMemTotal("")
	if err != nil {
		probs = append(probs, err.Error())
	}
	var probe tune.UsageProbe
	var baseline int64
	b := tune.NewBudget(cg, memTotal, tc, 0)
	if b.Source == tune.SourceCgroup {
		probe = tune.CgroupProbe(cg.Probe(""))
	} else {
		probe = tune.ResidentProbe("")
	}
	if ms, ok := probe(); ok {
		baseline = ms.WorkingSet
	}
	b = tune.NewBudget(cg, memTotal, tc, baseline)
	g.tn = &tuneGlue{budget: b, adm: tune.NewAdmission(b, probe), followGC: tune.FollowGoMemLimit(b, os.Getenv)}
	g.tn.probs = probs
	s := g.m.set
	s.NewGauge("edgegw_capacity_connections", func() float64 { return float64(g.tn.adm.Capacity()) })
	s.NewGauge("edgegw_memory_limit_bytes", func() float64 { return float64(g.tn.budget.Limit) })
	s.NewGauge("edgegw_memory_usage_bytes", func() float64 { return float64(g.tn.adm.Usage()) })
	g.tn.kernel = newKernelMetrics(s)
	g.tn.kernel.sample(time.Now()) // the first scrape has every series
	g.tn.adm.Sample()
	g.followGoMemLimit()
}

// tuneLoop samples the memory use every tuneSample and the kernel signals
// every signalSample until stop is closed. Its own goroutine.
func (g *Gateway) tuneLoop(stop <-chan struct{}) {
	// Logged here, not in New: before Start the log writes synchronously.
	b := g.tn.budget
	for _, p := range g.tn.probs {
		g.log.Debug("tune: could not read", "what", p)
	}
	g.log.Info("memory budget", "limit", b.Limit, "source", b.Source, "high_watermark", b.HighWatermark,
		"baseline", b.Baseline, "connection_cost", b.ConnectionCost, "capacity_connections", b.Capacity)
	t := time.NewTicker(tuneSample)
	defer t.Stop()
	lastSignals := time.Now()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			if usage, pressure, changed := g.tn.adm.Sample(); changed {
				g.logPressure(usage, pressure)
			}
			g.followGoMemLimit()
			g.boundQueues()
			if now.Sub(lastSignals) >= signalSample {
				lastSignals = now
				for _, w := range g.tn.kernel.sample(now) {
					g.log.Warn(w.Msg, "signal", w.Kind)
				}
			}
		}
	}
}

// boundQueues applies tune.queue_memory: over the bound, sessions drop
// what they would queue (session.Limits.Budget); back below 90% of it, they
// queue again. The sum is what the loops folded at their last tick. The
// tune goroutine only.
func (g *Gateway) boundQueues() {
	bound := g.cfg.Tune.QueueBound(g.tn.budget.Limit)
	if bound <= 0 {
		return
	}
	q, b := g.m.queuedBytes.Load(), g.lim.Budget
	switch {
	case !b.Over() && q > bound:
		b.Set(true)
		g.log.Warn("queued messages over tune.queue_memory: new ones are dropped by session.offline_policy",
			"queued_bytes", q, "bound", bound)
	case b.Over() && q < bound/10*9:
		b.Set(false)
		g.log.Info("queued messages back under tune.queue_memory", "queued_bytes", q, "bound", bound)
	}
}

// followGoMemLimit keeps GOMEMLIMIT at the budget minus the memory the
// runtime does not see (tune.GoMemLimit), which grows with the kernel's
// share of each connection: without it, garbage from a storm of refused
// connections grew the heap into the kernel's share and the cgroup killed
// the process (TestCgroupAdmission). Process-wide, like engine.gc_percent.
// The tune goroutine only.
func (g *Gateway) followGoMemLimit() {
	if !g.tn.followGC {
		return
	}
	l := tune.GoMemLimit(g.tn.budget, g.cfg.Tune, g.tn.adm.Unmanaged())
	if d := l - g.tn.goLimit; d > 256<<10 || d < -256<<10 {
		debug.SetMemoryLimit(l)
		g.tn.goLimit = l
	}
}

func (g *Gateway) logPressure(usage int64, pressure bool) {
	if pressure {
		g.log.Warn("memory above the high watermark: refusing new connections (CONNACK 0x89, v3 0x03)",
			"usage", usage, "high_watermark", g.tn.adm.HighWatermark(), "limit", g.tn.budget.Limit)
	} else {
		g.log.Info("memory back below the high watermark: accepting connections", "usage", usage)
	}
}

// admit asks the admission at CONNECT; false means c was refused (CONNACK
// server busy, then closed) and counted. Loop-only; loads atomics.
func (c *conn) admit(v mqttcodec.Version, clientID string) bool {
	g := c.l.g
	verdict := g.tn.adm.Admit(g.m.conns.Load())
	if verdict == tune.Admit {
		return true
	}
	reason := closeOverCapacity
	if verdict == tune.MemoryPressure {
		reason = closeMemoryPressure
	}
	// v5: CONNACK 0x89 Server busy; v3: 0x03 Server unavailable
	// [MQTT-3.2.2.3]; a non-zero code is followed by the close
	// [MQTT-3.2.2-5] (v3) [MQTT-3.2.2-7] (v5).
	session.AppendRefusal(c.o(), v, mqttcodec.ServerBusy)
	c.l.st.pktOut[mqttcodec.CONNACK]++
	c.markDirty()
	c.version = v
	c.state = stClosing
	c.reason = reason
	if ok, held := g.tn.refusedLog.Allow(time.Unix(0, c.l.now)); ok {
		g.log.LogAttrs(context.Background(), slog.LevelWarn, "connection refused: server busy",
			slog.String("client_id", clientID), slog.String("addr", addrText(c.gc.RemoteAddr())),
			slog.String("reason", closeLabels[reason]), slog.Int64("capacity", g.tn.adm.Capacity()),
			slog.Int64("memory_usage", g.tn.adm.Usage()), slog.Int64("suppressed", held))
	}
	c.closeSocket()
	return false
}

// tuneMetricHelp documents the families this file and kernelsignals.go
// write; init adds them to metricHelp.
var tuneMetricHelp = map[string]metricMeta{
	"edgegw_capacity_connections": {"gauge", "Connections the memory budget holds (tune: memory limit x high watermark minus the baseline, over tune.connection_cost); CONNECTs past it get 0x89 (v3 0x03)."},
	"edgegw_memory_limit_bytes":   {"gauge", "Memory limit the budget is computed from: the cgroup's, tune.memory_limit or RAM."},
	"edgegw_memory_usage_bytes":   {"gauge", "Memory in use as last sampled for admission: the cgroup's working set (usage minus inactive file pages), else the process's resident memory."},
}

func init() {
	for k, v := range tuneMetricHelp {
		metricHelp[k] = v
	}
}
