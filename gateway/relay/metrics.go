package relay

import (
	"maps"
	"strconv"
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"

	"edgegw/gateway/telemetry"
)

// linkState is a pooled connection's state, a label of
// edgegw_relay_connections and the subject of one log line per change.
type linkState uint8

const (
	stateDown       linkState = iota // not connected: backing off before the next attempt
	stateConnecting                  // dialling, TLS, CONNECT sent
	stateConnected                   // CONNACK accepted, first PINGRESP not yet received
	stateUp                          // healthy: CONNACK and a PINGRESP (backoff reset)
	numStates
)

var stateLabels = [numStates]string{"down", "connecting", "connected", "up"}

// String is s's label.
func (s linkState) String() string {
	if s < numStates {
		return stateLabels[s]
	}
	return "state_" + strconv.Itoa(int(s))
}

// latencyBounds are the upper bounds, in seconds, of the acknowledgement
// latency buckets (the last bucket, +Inf, counts every sample).
var latencyBounds = [...]float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// latencySampleEvery: one forwarded message in this many per connection is
// timed from Forward to the upstream's acknowledgement (the clock is read
// twice per sample, never for the others).
const latencySampleEvery = 16

// upMetrics are one upstream's metrics, registered on the gateway's set
// with the label upstream="name". Safe for concurrent use.
type upMetrics struct {
	states    [numStates]atomic.Int64
	linkState []atomic.Int32 // per pooled connection: its linkState
	held      atomic.Int64   // messages held: queued, sent and not acknowledged
	heldBytes atomic.Int64
	upSubs    atomic.Int64 // upstream subscriptions
	localSubs atomic.Int64 // local subscriptions they cover

	connects  *metrics.Counter
	failovers *metrics.Counter
	forwarded *metrics.Counter
	resent    *metrics.Counter
	resumed   *metrics.Counter // connections on which the upstream resumed our kept session
	imported  *metrics.Counter
	notAcked  *metrics.Counter // QoS 1 forwards refused while the buffer was full: not acknowledged to the device
	overBound *metrics.Counter // QoS 2 forwards admitted past the buffer bound
	errors    [numDownReasons]*metrics.Counter
	dropped   [numDropReasons]*metrics.Counter
	latency   [len(latencyBounds) + 1]*metrics.Counter // cumulative, le="+Inf" last
}

func newUpMetrics(set *metrics.Set, name string, pool int) *upMetrics {
	m := &upMetrics{linkState: make([]atomic.Int32, pool)}
	lbl := `upstream="` + name + `"`
	for i := range m.linkState {
		st := &m.linkState[i]
		set.NewGauge(`edgegw_relay_connection_state{`+lbl+`,conn="`+strconv.Itoa(i)+`"}`, func() float64 { return float64(st.Load()) })
	}
	for s := range m.states {
		st := &m.states[s]
		set.NewGauge(`edgegw_relay_connections{`+lbl+`,state="`+stateLabels[s]+`"}`, func() float64 { return float64(st.Load()) })
	}
	gauge := func(fam string, a *atomic.Int64) {
		set.NewGauge(fam+`{`+lbl+`}`, func() float64 { return float64(a.Load()) })
	}
	gauge("edgegw_relay_held_messages", &m.held)
	gauge("edgegw_relay_held_bytes", &m.heldBytes)
	gauge("edgegw_relay_upstream_subscriptions", &m.upSubs)
	gauge("edgegw_relay_local_subscriptions", &m.localSubs)
	m.connects = set.NewCounter(`edgegw_relay_connects_total{` + lbl + `}`)
	m.failovers = set.NewCounter(`edgegw_relay_failovers_total{` + lbl + `}`)
	m.forwarded = set.NewCounter(`edgegw_relay_forwarded_total{` + lbl + `}`)
	m.resent = set.NewCounter(`edgegw_relay_resent_total{` + lbl + `}`)
	m.resumed = set.NewCounter(`edgegw_relay_sessions_resumed_total{` + lbl + `}`)
	m.imported = set.NewCounter(`edgegw_relay_imported_total{` + lbl + `}`)
	m.notAcked = set.NewCounter(`edgegw_relay_not_acknowledged_total{` + lbl + `}`)
	m.overBound = set.NewCounter(`edgegw_relay_over_bound_total{` + lbl + `}`)
	for i := range m.errors {
		m.errors[i] = set.NewCounter(`edgegw_relay_connection_errors_total{` + lbl + `,reason="` + downLabels[i] + `"}`)
	}
	for i := range m.dropped {
		m.dropped[i] = set.NewCounter(`edgegw_relay_dropped_total{` + lbl + `,reason="` + dropLabels[i] + `"}`)
	}
	for i := range m.latency {
		le := "+Inf"
		if i < len(latencyBounds) {
			le = strconv.FormatFloat(latencyBounds[i], 'g', -1, 64)
		}
		m.latency[i] = set.NewCounter(`edgegw_relay_ack_latency_samples_total{` + lbl + `,le="` + le + `"}`)
	}
	return m
}

// observe records one sampled acknowledgement latency in cumulative
// buckets (every bucket whose bound it does not exceed).
func (m *upMetrics) observe(seconds float64) {
	i := 0
	for i < len(latencyBounds) && seconds > latencyBounds[i] {
		i++
	}
	for ; i < len(m.latency); i++ {
		m.latency[i].Inc()
	}
}

// metricHelp documents every family this package registers.
var metricHelp = map[string]telemetry.Help{
	"edgegw_relay_connections":               {Type: "gauge", Text: "Pooled upstream connections by state (down: backing off; connecting; connected: CONNACK, no PINGRESP yet; up: healthy), per upstream."},
	"edgegw_relay_connection_state":          {Type: "gauge", Text: "State of each pooled upstream connection (label conn, its index): 0 down, 1 connecting, 2 connected (CONNACK, no PINGRESP yet), 3 up."},
	"edgegw_relay_connects_total":            {Type: "counter", Text: "Upstream connections established (CONNACK accepted), per upstream."},
	"edgegw_relay_connection_errors_total":   {Type: "counter", Text: "Upstream connection attempts that failed and connections that ended, per upstream, by reason (dial, tls, refused, timeout, protocol, closed, server_disconnect, write)."},
	"edgegw_relay_failovers_total":           {Type: "counter", Text: "Times a pooled connection moved on to the next of its upstream's addresses after a failure."},
	"edgegw_relay_forwarded_total":           {Type: "counter", Text: "Local messages the upstream acknowledged (QoS 1: PUBACK, QoS 2: PUBCOMP; QoS 0: written), per upstream."},
	"edgegw_relay_resent_total":              {Type: "counter", Text: "Forwarded messages sent again, with DUP, after a reconnect, per upstream."},
	"edgegw_relay_sessions_resumed_total":    {Type: "counter", Text: "Reconnects on which the upstream resumed the connection's kept session (session_expiry > 0), per upstream."},
	"edgegw_relay_imported_total":            {Type: "counter", Text: "Upstream messages matching an import rule handed to local subscribers, per upstream."},
	"edgegw_relay_not_acknowledged_total":    {Type: "counter", Text: "QoS 1 messages not taken while the upstream's buffer was full: not acknowledged to the device, which keeps and resends them."},
	"edgegw_relay_over_bound_total":          {Type: "counter", Text: "QoS 2 messages taken past a full buffer (the device's Receive Maximum bounds them), per upstream."},
	"edgegw_relay_dropped_total":             {Type: "counter", Text: "Messages the relay ended without delivering, per upstream, by reason (buffer_full: QoS 0 while full; rejected: v5 error reason code from the upstream; packet_too_large; expired; unmapped: upstream message outside remote_prefix or the import rules)."},
	"edgegw_relay_held_messages":             {Type: "gauge", Text: "Forwarded messages held for an upstream: queued, or sent and not yet acknowledged (bounded by buffer_messages)."},
	"edgegw_relay_held_bytes":                {Type: "gauge", Text: "Bytes of the held forwarded messages (bounded by buffer_bytes)."},
	"edgegw_relay_ack_latency_samples_total": {Type: "counter", Text: "Sampled time from a message's forward to the upstream's acknowledgement, one message in 16: a cumulative histogram by upper bound le in seconds (le=\"+Inf\" counts every sample)."},
	"edgegw_relay_upstream_subscriptions":    {Type: "gauge", Text: "Subscriptions the relay holds on an upstream (aggregated)."},
	"edgegw_relay_local_subscriptions":       {Type: "gauge", Text: "Local subscriptions covered by an upstream's import rules (with edgegw_relay_upstream_subscriptions: the aggregation ratio)."},
}

// MetricHelp returns a new map of the families an Upstream registers, for
// the gateway to merge into its /metrics help table.
func MetricHelp() map[string]telemetry.Help { return maps.Clone(metricHelp) }
