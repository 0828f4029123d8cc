package gateway

import (
	"strconv"
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"

	"edgegw/mqttcodec"
)

// closeReason labels edgegw_connections_closed_total.
type closeReason uint8

const (
	closeClient          closeReason = iota // DISCONNECT from the client
	closeNetwork                            // EOF or socket error without DISCONNECT
	closeConnectTimeout                     // no CONNECT within limits.connect_timeout
	closeKeepAlive                          // 1.5 x keep alive without a packet
	closeProtocol                           // protocol error (v5 0x82, second CONNECT, garbage before CONNECT)
	closeMalformed                          // malformed packet (0x81)
	closeTooLarge                           // packet over limits.max_packet_size (0x95)
	closeReceiveMax                         // v5 receive maximum exceeded (0x93)
	closeOtherViolation                     // other reason-coded violation (topic alias, payload format, ...)
	closeRefused                            // CONNECT refused with a CONNACK reason code
	closeTakeover                           // session taken over (0x8E)
	closeSlowConsumer                       // slow_consumer_policy = "disconnect" (0x97)
	closeShutdown                           // graceful drain (0x8B / 0x9C)
	closeInboundOverflow                    // paused client kept sending past the inbound bound
	closeConnLimit                          // limits.max_connections reached
	numCloseReasons
)

var closeLabels = [numCloseReasons]string{
	"client_disconnect", "network", "connect_timeout", "keepalive_timeout", "protocol_error",
	"malformed_packet", "packet_too_large", "receive_maximum_exceeded", "violation", "connect_refused",
	"session_taken_over", "slow_consumer", "shutdown", "inbound_overflow", "connection_limit",
}

// closeReasonOf maps a violation's reason code to its close label.
func closeReasonOf(rc mqttcodec.ReasonCode) closeReason {
	switch rc {
	case mqttcodec.MalformedPacket:
		return closeMalformed
	case mqttcodec.ProtocolError:
		return closeProtocol
	case mqttcodec.PacketTooLarge:
		return closeTooLarge
	case mqttcodec.ReceiveMaximumExceeded:
		return closeReceiveMax
	case mqttcodec.KeepAliveTimeout:
		return closeKeepAlive
	case mqttcodec.SessionTakenOver:
		return closeTakeover
	case mqttcodec.QuotaExceeded:
		return closeSlowConsumer
	case mqttcodec.ServerShuttingDown, mqttcodec.UseAnotherServer:
		return closeShutdown
	}
	return closeOtherViolation
}

// dropReason labels edgegw_dropped_total.
type dropReason uint8

const (
	dropSlowConsumer    dropReason = iota // subscriber over limits.max_outbound_bytes (QoS 0, or policy "drop")
	dropExpired                           // message expiry interval passed
	dropTooLarge                          // larger than the client's maximum packet size
	dropOfflineFull                       // offline queue bound (session.max_offline_*)
	dropOfflineQoS0                       // QoS 0 for an offline session
	dropInboxFull                         // QoS 0 to a loop whose inbox is full
	dropStale                             // subscriber handle of a session that ended
	dropRetainedRefused                   // retained store full or disabled
	numDropReasons
)

var dropLabels = [numDropReasons]string{
	"slow_consumer", "expired", "packet_too_large", "offline_queue_full", "offline_qos0",
	"inbox_full", "stale_subscriber", "retained_refused",
}

// metricSet holds every metric of one Gateway in its own VictoriaMetrics Set
// (several gateways may live in one process, e.g. in tests).
type metricSet struct {
	set *metrics.Set

	conns       atomic.Int64 // current connections
	sessions    atomic.Int64
	inflight    atomic.Int64
	queued      atomic.Int64
	subscribers atomic.Int64 // subscriptions held by sessions

	opened    *metrics.Counter
	closed    [numCloseReasons]*metrics.Counter
	dropped   [numDropReasons]*metrics.Counter
	pktIn     [16]*metrics.Counter
	pktOut    [16]*metrics.Counter
	bytesIn   *metrics.Counter
	bytesOut  *metrics.Counter
	published *metrics.Counter
	delivered *metrics.Counter
	parked    *metrics.Counter // publisher acks withheld by backpressure
	paused    *metrics.Counter // v3 publishers whose reading was paused
	logLost   *metrics.Counter // log records dropped: the log writer fell behind
}

func newMetricSet(routerStats func() (subs, filters, groups, retained, retainedBytes int64)) *metricSet {
	m := &metricSet{set: metrics.NewSet()}
	s := m.set
	m.opened = s.NewCounter("edgegw_connections_opened_total")
	for i := range m.closed {
		m.closed[i] = s.NewCounter(`edgegw_connections_closed_total{reason="` + closeLabels[i] + `"}`)
	}
	for i := range m.dropped {
		m.dropped[i] = s.NewCounter(`edgegw_dropped_total{reason="` + dropLabels[i] + `"}`)
	}
	for t := mqttcodec.CONNECT; t <= mqttcodec.AUTH; t++ {
		m.pktIn[t] = s.NewCounter(`edgegw_packets_received_total{type="` + t.String() + `"}`)
		m.pktOut[t] = s.NewCounter(`edgegw_packets_sent_total{type="` + t.String() + `"}`)
	}
	m.bytesIn = s.NewCounter("edgegw_bytes_received_total")
	m.bytesOut = s.NewCounter("edgegw_bytes_sent_total")
	m.published = s.NewCounter("edgegw_messages_published_total")
	m.delivered = s.NewCounter("edgegw_messages_delivered_total")
	m.parked = s.NewCounter("edgegw_backpressure_acks_withheld_total")
	m.paused = s.NewCounter("edgegw_backpressure_publishers_paused_total")
	m.logLost = s.NewCounter("edgegw_log_dropped_total")
	gauge := func(name string, a *atomic.Int64) {
		s.NewGauge(name, func() float64 { return float64(a.Load()) })
	}
	gauge("edgegw_connections", &m.conns)
	gauge("edgegw_sessions", &m.sessions)
	gauge("edgegw_inflight", &m.inflight)
	gauge("edgegw_queued_messages", &m.queued)
	gauge("edgegw_subscriptions", &m.subscribers)
	rs := func(pick func(a, b, c, d, e int64) int64) func() float64 {
		return func() float64 { return float64(pick(routerStats())) }
	}
	s.NewGauge("edgegw_router_subscriptions", rs(func(a, _, _, _, _ int64) int64 { return a }))
	s.NewGauge("edgegw_router_filters", rs(func(_, b, _, _, _ int64) int64 { return b }))
	s.NewGauge("edgegw_router_shared_groups", rs(func(_, _, c, _, _ int64) int64 { return c }))
	s.NewGauge("edgegw_retained_messages", rs(func(_, _, _, d, _ int64) int64 { return d }))
	s.NewGauge("edgegw_retained_bytes", rs(func(_, _, _, _, e int64) int64 { return e }))
	return m
}

// loopStats are a loop's counters, bumped on the hot path without atomics
// and folded into the metric set once per tick (and at shutdown).
type loopStats struct {
	opened    uint64
	closed    [numCloseReasons]uint64
	dropped   [numDropReasons]uint64
	pktIn     [16]uint64
	pktOut    [16]uint64
	bytesIn   uint64
	bytesOut  uint64
	published uint64
	delivered uint64
	parked    uint64
	paused    uint64
	inflight  int64 // deltas of the gauges
	queued    int64
	subs      int64
}

// fold adds s to m and zeroes s. Loop-only (s); m is safe for concurrent use.
func (s *loopStats) fold(m *metricSet) {
	add := func(c *metrics.Counter, v *uint64) {
		if *v != 0 {
			c.AddInt64(int64(*v))
			*v = 0
		}
	}
	add(m.opened, &s.opened)
	for i := range s.closed {
		add(m.closed[i], &s.closed[i])
	}
	for i := range s.dropped {
		add(m.dropped[i], &s.dropped[i])
	}
	for t := 1; t < 16; t++ {
		add(m.pktIn[t], &s.pktIn[t])
		add(m.pktOut[t], &s.pktOut[t])
	}
	add(m.bytesIn, &s.bytesIn)
	add(m.bytesOut, &s.bytesOut)
	add(m.published, &s.published)
	add(m.delivered, &s.delivered)
	add(m.parked, &s.parked)
	add(m.paused, &s.paused)
	m.inflight.Add(s.inflight)
	m.queued.Add(s.queued)
	m.subscribers.Add(s.subs)
	s.inflight, s.queued, s.subs = 0, 0, 0
}

// counterValue returns a counter's value by its full name (tests).
func (m *metricSet) counterValue(name string) uint64 {
	return m.set.GetOrCreateCounter(name).Get()
}

func hexByte(b byte) string { return "0x" + strconv.FormatUint(uint64(b), 16) }
