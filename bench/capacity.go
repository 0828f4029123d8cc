package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// capacityDimension returns the configured or default dimension.
func capacityDimension(cfg *Config) string {
	if cfg.Capacity.Dimension != "" {
		return cfg.Capacity.Dimension
	}
	if cfg.publishes() {
		return "rate"
	}
	return "connections"
}

// withLoad returns a copy of cfg carrying load for one capacity step.
func withLoad(cfg *Config, dim string, load float64) Config {
	c := *cfg
	c.Capacity.Enabled = false
	c.Duration = c.Capacity.StepDuration
	if c.Scenario == ScenarioStorm && c.StormAt.D() >= c.Duration.D() {
		c.StormAt = 0
	}
	if dim == "rate" {
		c.TotalRate = load
		return c
	}
	n := int(load)
	switch c.Scenario {
	case ScenarioFanOut:
		c.Subscribers = max(n-c.Publishers, c.Topics)
	case ScenarioFanIn, ScenarioShared:
		c.Publishers = max(n-c.Subscribers, 1)
	default:
		c.Clients = n
	}
	return c
}

// judge reports whether res holds the thresholds, and which broke.
func judge(cfg *Config, dim string, res *Result) (bool, string) {
	cp := &cfg.Capacity
	if res.ConnErrRatio > cp.MaxConnErr {
		return false, fmt.Sprintf("connect error ratio %.4f > %.4f", res.ConnErrRatio, cp.MaxConnErr)
	}
	if cfg.publishes() {
		if res.DeliveryRatio < cp.MinDelivery {
			return false, fmt.Sprintf("delivery ratio %.4f < %.4f", res.DeliveryRatio, cp.MinDelivery)
		}
		if p := res.Latency.Quantile(0.99); p > cp.P99Max.D() {
			return false, fmt.Sprintf("p99 %s > %s", p, cp.P99Max.D())
		}
		if dim == "rate" && res.SendRate < 0.95*res.TargetRate {
			return false, fmt.Sprintf("sent %.0f msgs/s < 95%% of %.0f", res.SendRate, res.TargetRate)
		}
		return true, ""
	}
	if p := res.ConnectLatency.Quantile(0.99); p > cp.P99Max.D() {
		return false, fmt.Sprintf("connect p99 %s > %s", p, cp.P99Max.D())
	}
	return true, ""
}

// runCapacity raises the load while the thresholds hold, bisects the knee
// and returns every step and the highest passing load (0: none passed).
func runCapacity(ctx context.Context, cfg *Config, out io.Writer) ([]*Result, float64, error) {
	dim := capacityDimension(cfg)
	cp := cfg.Capacity
	start, limit := cp.Start, cp.Max
	if start == 0 {
		start = 100
		if dim == "rate" {
			start = 1000
		}
	}
	if limit == 0 {
		limit = float64(cfg.MaxClients)
		if dim == "rate" {
			limit = hardMaxTotalRate
		}
	}
	if dim == "connections" {
		limit = math.Min(limit, float64(cfg.MaxClients))
	}
	var steps []*Result
	step := func(load float64) (bool, error) {
		c := withLoad(cfg, dim, load)
		if err := c.Validate(); err != nil {
			return false, fmt.Errorf("capacity step at load %.0f: %w", load, err)
		}
		res, err := runStep(ctx, &c)
		if err != nil {
			// The broker is gone or cannot be observed: no step can pass
			// any more, so the search stops instead of stepping down.
			if ctx.Err() != nil || errors.Is(err, errNoBroker) || errors.Is(err, errPID) {
				return false, err
			}
			// A step that cannot even set up has failed its thresholds.
			res = &Result{Scenario: c.Scenario, Broker: c.Broker, Why: err.Error(), RecoverySec: -1}
		}
		res.Type = "step"
		res.Load = load
		ok, why := judge(&c, dim, res)
		if err != nil {
			ok = false
			why = oneLine(err)
		}
		res.Pass = &ok
		res.Why = why
		steps = append(steps, res)
		printStep(out, dim, res)
		select {
		case <-ctx.Done():
			return ok, ctx.Err()
		case <-time.After(stepPause):
		}
		return ok, nil
	}
	good, bad := 0.0, 0.0
	for load := start; load <= limit; load = math.Min(load*cp.Factor, limitNext(load, limit)) {
		ok, err := step(load)
		if err != nil {
			return steps, good, err
		}
		if !ok {
			bad = load
			break
		}
		good = load
		if load == limit {
			break
		}
	}
	if bad > 0 {
		lo, hi := good, bad
		for i := 0; i < cp.Bisect; i++ {
			mid := (lo + hi) / 2
			if dim == "connections" {
				mid = math.Floor(mid)
			}
			if mid <= lo || mid >= hi || mid < 1 {
				break
			}
			ok, err := step(mid)
			if err != nil {
				return steps, lo, err
			}
			if ok {
				lo = mid
			} else {
				hi = mid
			}
		}
		good = lo
	}
	fmt.Fprintf(out, "capacity: highest sustained %s = %.0f (%d steps)\n", dim, good, len(steps))
	return steps, good, nil
}

// limitNext makes the last step land exactly on the limit.
func limitNext(load, limit float64) float64 {
	if load >= limit {
		return limit * 2 // ends the loop
	}
	return limit
}

// runStep runs one capacity step; tests replace it.
var runStep = runOnce

// stepPause lets the broker settle between steps (closed sockets, TIME_WAIT).
var stepPause = 500 * time.Millisecond
