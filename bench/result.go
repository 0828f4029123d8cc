package bench

import "sort"

// Second is one line of the per-second timeline. T counts seconds from the
// start of the measurement phase; deltas are per second, except in the last
// line of a publishing run when Drain is set: what arrived after publishing
// stopped, over the drain wait (up to --drain, often a few milliseconds), so
// that the timeline adds up to the totals. It is not a rate: the table labels
// it and the chart leaves it out.
type Second struct {
	Type       string  `json:"type"` // "second"
	T          int     `json:"t"`
	Drain      bool    `json:"drain,omitempty"`
	Sent       uint64  `json:"sent"`
	Acked      uint64  `json:"acked"`
	Received   uint64  `json:"received"`
	Expected   uint64  `json:"expected"`
	Duplicates uint64  `json:"duplicates"`
	OutOfOrder uint64  `json:"out_of_order"`
	ConnOK     uint64  `json:"connects"`
	ConnFail   uint64  `json:"connect_failures"`
	Closed     uint64  `json:"closed"`
	Connected  int64   `json:"connected"`
	Latency    Hist    `json:"latency"`
	BrokerCPU  float64 `json:"broker_cpu_s,omitempty"` // broker CPU seconds used in this second
	BrokerRSS  int64   `json:"broker_rss_bytes,omitempty"`
}

// Result is the outcome of one run (or one capacity step), merged over workers.
type Result struct {
	Type        string  `json:"type"` // "summary" or "step"
	Scenario    string  `json:"scenario"`
	Broker      string  `json:"broker"`
	SubBroker   string  `json:"subscriber_broker,omitempty"` // where the subscribers connected, when not Broker
	MQTT        int     `json:"mqtt"`
	QoS         int     `json:"qos"`
	Payload     int     `json:"payload"`
	Procs       int     `json:"procs"`
	Clients     int     `json:"clients"`
	Publishers  int     `json:"publishers"`
	Subscribers int     `json:"subscribers"`
	TargetRate  float64 `json:"target_rate"` // msgs/s over all publishers

	Sent       uint64 `json:"sent"`
	Acked      uint64 `json:"acked"`
	PubErrors  uint64 `json:"publish_errors"`
	Expected   uint64 `json:"expected"`
	Received   uint64 `json:"received"`
	Duplicates uint64 `json:"duplicates"`
	OutOfOrder uint64 `json:"out_of_order"`
	Foreign    uint64 `json:"foreign"`
	Throttled  uint64 `json:"throttled"`
	Lagged     uint64 `json:"lagged"`
	Attempts   uint64 `json:"connect_attempts"`
	ConnOK     uint64 `json:"connects"`
	ConnFail   uint64 `json:"connect_failures"`
	Closed     uint64 `json:"closed_by_peer"`
	Pings      uint64 `json:"pings"`
	PeakConns  int64  `json:"peak_connected"`

	Failures       map[string]uint64 `json:"failures_by_reason"`
	Latency        Hist              `json:"latency"`
	ConnectLatency Hist              `json:"connect_latency"`

	SetupSeconds   float64 `json:"setup_s"`
	RampSeconds    float64 `json:"ramp_s"` // first dial to the last client settled
	MeasureSeconds float64 `json:"measure_s"`
	Dropped        int64   `json:"storm_dropped,omitempty"`
	RecoverySec    float64 `json:"storm_recovery_s,omitempty"` // -1: not recovered within the run

	// Derived by finish.
	DeliveryRatio float64 `json:"delivery_ratio"`
	SendRate      float64 `json:"send_rate"`    // msgs/s published
	Throughput    float64 `json:"throughput"`   // msgs/s delivered
	ConnectRate   float64 `json:"connect_rate"` // connections/s during the ramp
	ConnErrRatio  float64 `json:"connect_error_ratio"`

	BrokerCPUSeconds float64 `json:"broker_cpu_s,omitempty"`
	BrokerRSSStart   int64   `json:"broker_rss_start_bytes,omitempty"`
	BrokerRSSPeak    int64   `json:"broker_rss_peak_bytes,omitempty"`
	BrokerCPUPerMsg  float64 `json:"broker_cpu_us_per_msg,omitempty"`
	BrokerBytesConn  float64 `json:"broker_bytes_per_conn,omitempty"`
	Load             float64 `json:"load,omitempty"` // capacity step: the load tried
	Pass             *bool   `json:"pass,omitempty"` // capacity step: thresholds held
	Why              string  `json:"why,omitempty"`  // capacity step: the threshold that broke

	Timeline []Second `json:"timeline,omitempty"`
}

// merge adds o (another worker's result of the same run) into r exactly.
func (r *Result) merge(o *Result) {
	r.Clients += o.Clients
	r.Sent += o.Sent
	r.Acked += o.Acked
	r.PubErrors += o.PubErrors
	r.Expected += o.Expected
	r.Received += o.Received
	r.Duplicates += o.Duplicates
	r.OutOfOrder += o.OutOfOrder
	r.Foreign += o.Foreign
	r.Throttled += o.Throttled
	r.Lagged += o.Lagged
	r.Attempts += o.Attempts
	r.ConnOK += o.ConnOK
	r.ConnFail += o.ConnFail
	r.Closed += o.Closed
	r.Pings += o.Pings
	r.PeakConns += o.PeakConns
	r.Failures = mergeCounts(r.Failures, o.Failures)
	r.Latency.Add(&o.Latency)
	r.ConnectLatency.Add(&o.ConnectLatency)
	r.SetupSeconds = max(r.SetupSeconds, o.SetupSeconds)
	r.RampSeconds = max(r.RampSeconds, o.RampSeconds)
	r.MeasureSeconds = max(r.MeasureSeconds, o.MeasureSeconds)
	r.Dropped += o.Dropped
	if o.RecoverySec < 0 || r.RecoverySec < 0 {
		r.RecoverySec = -1
	} else {
		r.RecoverySec = max(r.RecoverySec, o.RecoverySec)
	}
	type slot struct {
		t     int
		drain bool
	}
	byT := map[slot]int{}
	for i := range r.Timeline {
		byT[slot{r.Timeline[i].T, r.Timeline[i].Drain}] = i
	}
	for _, s := range o.Timeline {
		i, ok := byT[slot{s.T, s.Drain}]
		if !ok {
			r.Timeline = append(r.Timeline, s)
			byT[slot{s.T, s.Drain}] = len(r.Timeline) - 1
			continue
		}
		d := &r.Timeline[i]
		d.Sent += s.Sent
		d.Acked += s.Acked
		d.Received += s.Received
		d.Expected += s.Expected
		d.Duplicates += s.Duplicates
		d.OutOfOrder += s.OutOfOrder
		d.ConnOK += s.ConnOK
		d.ConnFail += s.ConnFail
		d.Closed += s.Closed
		d.Connected += s.Connected
		d.Latency.Add(&s.Latency)
	}
	// Drain lines last: a worker may have measured one second more than
	// another, whose drain line then has that second's T.
	sort.Slice(r.Timeline, func(i, j int) bool {
		a, b := &r.Timeline[i], &r.Timeline[j]
		if a.Drain != b.Drain {
			return b.Drain
		}
		return a.T < b.T
	})
}

// finish computes the derived figures.
func (r *Result) finish() {
	if r.Expected > 0 {
		uniq := r.Received - min(r.Received, r.Duplicates+r.Foreign)
		r.DeliveryRatio = float64(uniq) / float64(r.Expected)
	} else if r.Sent == 0 {
		r.DeliveryRatio = 1
	}
	if r.MeasureSeconds > 0 {
		r.SendRate = float64(r.Sent) / r.MeasureSeconds
		r.Throughput = float64(r.Received) / r.MeasureSeconds
	}
	if r.RampSeconds > 0 {
		ramped := r.ConnOK
		if r.Scenario == ScenarioStorm {
			ramped = uint64(r.Clients) // the rest are reconnects after the drop
		}
		r.ConnectRate = float64(ramped) / r.RampSeconds
	}
	if a := r.ConnOK + r.ConnFail; a > 0 {
		r.ConnErrRatio = float64(r.ConnFail) / float64(a)
	}
	if r.BrokerCPUSeconds > 0 {
		if msgs := r.Sent + r.Received; msgs > 0 {
			r.BrokerCPUPerMsg = r.BrokerCPUSeconds * 1e6 / float64(msgs)
		}
	}
	// Bytes per connection only mean something when connections are the load.
	// They are taken while every connection is held (the highest RSS of a
	// second that ended with PeakConns connected), not from the peak, which
	// may come from the teardown (a broker logging 10,000 disconnects).
	if r.BrokerRSSPeak > r.BrokerRSSStart && r.PeakConns > 0 && (r.Scenario == ScenarioConn || r.Scenario == ScenarioStorm) {
		held := int64(0)
		for _, s := range r.Timeline {
			if s.Connected == r.PeakConns && s.BrokerRSS > held {
				held = s.BrokerRSS
			}
		}
		if held <= r.BrokerRSSStart {
			held = r.BrokerRSSPeak
		}
		r.BrokerBytesConn = float64(held-r.BrokerRSSStart) / float64(r.PeakConns)
	}
}
