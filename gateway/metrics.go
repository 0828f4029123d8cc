package gateway

import (
	"strconv"
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"

	"edgegw/gateway/telemetry"
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
	closeOverCapacity                       // CONNECT past the memory budget's capacity (0x89; admission.go)
	closeMemoryPressure                     // CONNECT while memory is above the high watermark (0x89; admission.go)
	closeTLS                                // TLS handshake failed or timed out, or a TLS record violation (tls.go)
	closeInflateTooLarge                    // WebSocket message inflating past limits.max_packet_size (close 1009; wsdeflate.go)
	closeInflateCorrupt                     // WebSocket message that is not valid DEFLATE (close 1007; wsdeflate.go)
	numCloseReasons
)

var closeLabels = [numCloseReasons]string{
	"client_disconnect", "network", "connect_timeout", "keepalive_timeout", "protocol_error",
	"malformed_packet", "packet_too_large", "receive_maximum_exceeded", "violation", "connect_refused",
	"session_taken_over", "slow_consumer", "shutdown", "inbound_overflow", "connection_limit",
	"over_capacity", "memory_pressure", "tls_error", "ws_inflate_too_large", "ws_inflate_corrupt",
}

// String is r's label in edgegw_connections_closed_total and in logs.
func (r closeReason) String() string {
	if r < numCloseReasons {
		return closeLabels[r]
	}
	return "close_reason_" + strconv.Itoa(int(r))
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

// String is r's label in edgegw_dropped_total.
func (r dropReason) String() string {
	if r < numDropReasons {
		return dropLabels[r]
	}
	return "drop_reason_" + strconv.Itoa(int(r))
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
	dropQueueMemory                       // tune.queue_memory: the queued bytes of all sessions were over it
	numDropReasons
)

var dropLabels = [numDropReasons]string{
	"slow_consumer", "expired", "packet_too_large", "offline_queue_full", "offline_qos0",
	"inbox_full", "stale_subscriber", "retained_refused", "queue_memory",
}

// drainReason labels edgegw_drain_undelivered_total: where an acknowledged
// message was when a drain ended without delivering it (drain.go).
type drainReason uint8

const (
	undeliveredQueued   drainReason = iota // queued for a connected subscriber, never sent
	undeliveredInflight                    // sent to a connected subscriber, its PUBACK/PUBREC never came
	undeliveredOffline                     // held for an offline session: lost at exit, nothing persists
	numDrainReasons
)

var drainLabels = [numDrainReasons]string{"queued", "inflight", "offline"}

// metricSet holds every metric of one Gateway in its own VictoriaMetrics Set
// (several gateways may live in one process, e.g. in tests).
type metricSet struct {
	set *metrics.Set

	conns       atomic.Int64 // current connections
	sessions    atomic.Int64
	inflight    atomic.Int64
	queued      atomic.Int64
	queuedBytes atomic.Int64 // bytes of the queued messages (Message.Size), for tune.queue_memory
	subscribers atomic.Int64 // subscriptions held by sessions

	opened     *metrics.Counter
	closed     [numCloseReasons]*metrics.Counter
	dropped    [numDropReasons]*metrics.Counter
	pktIn      [16]*metrics.Counter
	pktOut     [16]*metrics.Counter
	bytesIn    *metrics.Counter
	bytesOut   *metrics.Counter
	published  *metrics.Counter
	delivered  *metrics.Counter
	parked     *metrics.Counter // publisher acks withheld by backpressure
	paused     *metrics.Counter // v3 publishers whose reading was paused
	stalled    *metrics.Counter // clients not read while their replies were over budget (replybound.go)
	subRefused *metrics.Counter // subscriptions refused by limits.max_subscriptions

	wsDeflated [2]*metrics.Counter // compressed WebSocket messages, [0] received, [1] sent (wsdeflate.go)

	flushes [numFlushTriggers]*metrics.Counter // writes of pending output to client sockets, by trigger (coalesce.go)

	// TLS handshakes, folded from tlsrec.Server.Stats each tick (foldTLS).
	tlsHandshakes atomic.Int64     // in progress
	tlsCompleted  *metrics.Counter // completed
	tlsResumed    *metrics.Counter // of those, resumed by session ticket
	tlsRefused    *metrics.Counter // refused: limits.max_tls_handshakes in progress
	tlsTimeout    *metrics.Counter // failed: not done within limits.connect_timeout
	tlsFailed     *metrics.Counter // failed: refused by crypto/tls (or an internal error)
	tlsNotTLS     *metrics.Counter // failed: the first bytes were not a TLS handshake
	tlsClientCert *metrics.Counter // failed: client certificate missing or not verified
	tlsPeerAlert  *metrics.Counter // failed: the client sent a fatal alert
	tlsAbandoned  *metrics.Counter // failed: the connection closed mid-handshake

	undelivered  [numDrainReasons]*metrics.Counter // acknowledged messages a drain could not deliver (drain.go)
	drainRefused *metrics.Counter                  // PUBLISH packets ignored (not acknowledged) while draining
	reclaims     *metrics.Counter                  // memory given back to the OS after connection churn (reclaim.go)

	lingers [numLingerOutcomes]*metrics.Counter // lingering closes by outcome (linger.go)
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
	m.stalled = s.NewCounter("edgegw_reads_stalled_total")
	m.subRefused = s.NewCounter("edgegw_subscribe_refused_total")
	m.wsDeflated[0] = s.NewCounter(`edgegw_ws_deflate_messages_total{dir="in"}`)
	m.wsDeflated[1] = s.NewCounter(`edgegw_ws_deflate_messages_total{dir="out"}`)
	for i := range m.flushes {
		m.flushes[i] = s.NewCounter(`edgegw_flushes_total{trigger="` + flushLabels[i] + `"}`)
	}
	m.tlsRefused = s.NewCounter("edgegw_tls_handshakes_refused_total")
	m.tlsTimeout = s.NewCounter(`edgegw_tls_handshakes_failed_total{reason="timeout"}`)
	m.tlsFailed = s.NewCounter(`edgegw_tls_handshakes_failed_total{reason="error"}`)
	m.tlsNotTLS = s.NewCounter(`edgegw_tls_handshakes_failed_total{reason="not_tls"}`)
	m.tlsClientCert = s.NewCounter(`edgegw_tls_handshakes_failed_total{reason="client_cert"}`)
	m.tlsPeerAlert = s.NewCounter(`edgegw_tls_handshakes_failed_total{reason="peer_alert"}`)
	m.tlsAbandoned = s.NewCounter(`edgegw_tls_handshakes_failed_total{reason="abandoned"}`)
	m.tlsCompleted = s.NewCounter("edgegw_tls_handshakes_completed_total")
	m.tlsResumed = s.NewCounter("edgegw_tls_handshakes_resumed_total")
	for i := range m.undelivered {
		m.undelivered[i] = s.NewCounter(`edgegw_drain_undelivered_total{reason="` + drainLabels[i] + `"}`)
	}
	m.drainRefused = s.NewCounter("edgegw_drain_publish_ignored_total")
	m.reclaims = s.NewCounter("edgegw_memory_reclaims_total")
	for i := range m.lingers {
		m.lingers[i] = s.NewCounter(`edgegw_linger_closes_total{outcome="` + lingerLabels[i] + `"}`)
	}
	gauge := func(name string, a *atomic.Int64) {
		s.NewGauge(name, func() float64 { return float64(a.Load()) })
	}
	gauge("edgegw_connections", &m.conns)
	gauge("edgegw_sessions", &m.sessions)
	gauge("edgegw_inflight", &m.inflight)
	gauge("edgegw_queued_messages", &m.queued)
	gauge("edgegw_queued_bytes", &m.queuedBytes)
	gauge("edgegw_subscriptions", &m.subscribers)
	gauge("edgegw_tls_handshakes", &m.tlsHandshakes)
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
	opened     uint64
	closed     [numCloseReasons]uint64
	dropped    [numDropReasons]uint64
	pktIn      [16]uint64
	pktOut     [16]uint64
	bytesIn    uint64
	bytesOut   uint64
	published  uint64
	delivered  uint64
	parked     uint64
	paused     uint64
	stalled    uint64
	subRefused uint64
	inflight   int64 // deltas of the gauges
	queued     int64
	queuedB    int64
	subs       int64

	wsDeflated [2]uint64 // compressed WebSocket messages received, sent
	flushes    [numFlushTriggers]uint64
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
	add(m.stalled, &s.stalled)
	add(m.subRefused, &s.subRefused)
	add(m.wsDeflated[0], &s.wsDeflated[0])
	add(m.wsDeflated[1], &s.wsDeflated[1])
	for i := range s.flushes {
		add(m.flushes[i], &s.flushes[i])
	}
	m.inflight.Add(s.inflight)
	m.queued.Add(s.queued)
	m.queuedBytes.Add(s.queuedB)
	m.subscribers.Add(s.subs)
	s.inflight, s.queued, s.queuedB, s.subs = 0, 0, 0, 0
}

// counterValue returns a counter's value by its full name (tests).
func (m *metricSet) counterValue(name string) uint64 {
	return m.set.GetOrCreateCounter(name).Get()
}

func hexByte(b byte) string { return "0x" + strconv.FormatUint(uint64(b), 16) }

// metricMeta is the # TYPE and # HELP of one metric family on /metrics.
type metricMeta struct {
	typ  string // "counter" or "gauge"
	help string // what it counts, and its labels
}

// metricHelp documents every family /metrics writes (the README's "Metrics"
// table lists the same); the endpoint (gateway/telemetry) writes each under
// its # HELP and # TYPE (helpTable). A family missing here is written as
// "untyped" with its name as help, and TestMetricsMetadata fails. Read-only
// after init: init adds the families of gateway/telemetry (its endpoint, log
// and runtime figures), admission.go and kernelsignals.go the tune families.
var metricHelp = map[string]metricMeta{
	"edgegw_connections_opened_total":             {"counter", "Client connections accepted on every listener (TCP, WebSocket, TLS), refused ones included."},
	"edgegw_connections_closed_total":             {"counter", "Client connections closed, by reason (client_disconnect, network, connect_timeout, keepalive_timeout, protocol_error, malformed_packet, packet_too_large, receive_maximum_exceeded, violation, connect_refused, session_taken_over, slow_consumer, shutdown, inbound_overflow, connection_limit, over_capacity, memory_pressure, tls_error, ws_inflate_too_large, ws_inflate_corrupt)."},
	"edgegw_dropped_total":                        {"counter", "Messages not delivered to a subscriber, by reason (slow_consumer, expired, packet_too_large, offline_queue_full, offline_qos0, inbox_full, stale_subscriber, retained_refused)."},
	"edgegw_packets_received_total":               {"counter", "MQTT packets received from clients, by packet type."},
	"edgegw_packets_sent_total":                   {"counter", "MQTT packets sent to clients, by packet type."},
	"edgegw_bytes_received_total":                 {"counter", "Bytes received from clients (MQTT packets; WebSocket frames on the ws listener)."},
	"edgegw_bytes_sent_total":                     {"counter", "MQTT bytes sent to clients."},
	"edgegw_messages_published_total":             {"counter", "PUBLISH messages routed: from clients and wills."},
	"edgegw_messages_delivered_total":             {"counter", "PUBLISH messages sent to subscribers."},
	"edgegw_backpressure_acks_withheld_total":     {"counter", "Publisher acknowledgements withheld until a congested subscriber drained (slow_consumer_policy = backpressure)."},
	"edgegw_backpressure_publishers_paused_total": {"counter", "MQTT 3 publishers whose reading was paused by backpressure."},
	"edgegw_subscribe_refused_total":              {"counter", "Subscriptions refused because the session holds limits.max_subscriptions (SUBACK 0x97; v3 0x80)."},
	"edgegw_ws_deflate_messages_total":            {"counter", "WebSocket messages compressed with permessage-deflate, by direction (in: inflated from clients, out: compressed for clients)."},
	"edgegw_reads_stalled_total":                  {"counter", "Times a client's input stopped being decoded because the replies written for it and not yet read passed limits.max_outbound_bytes."},
	"edgegw_drain_undelivered_total":              {"counter", "Acknowledged messages a drain ended without delivering, by where they were (queued, inflight, offline)."},
	"edgegw_drain_publish_ignored_total":          {"counter", "PUBLISH packets ignored (not acknowledged) while draining."},
	"edgegw_memory_reclaims_total":                {"counter", "Times memory was given back to the OS after connection churn."},
	"edgegw_flushes_total":                        {"counter", "Flushes of pending output to a client socket (one writev of up to 1024 segments), by trigger (wake: at the end of the wake that produced it; delay: deliveries held by engine.flush_delay, at their deadline)."},
	"edgegw_linger_closes_total":                  {"counter", "Lingering closes after a DISCONNECT or refusing CONNACK (FIN sent, input discarded), by outcome (eof: the client closed in time; timeout: not within 2 s; bytes: 64 KiB discarded; full: 1024 lingering on the loop, closed at once; unflushed: the reason did not fit the socket buffer)."},
	"edgegw_tls_handshakes_refused_total":         {"counter", "TLS connections refused at their ClientHello (internal_error alert) because limits.max_tls_handshakes handshakes were in progress."},
	"edgegw_tls_handshakes_failed_total":          {"counter", "TLS handshakes that failed, by reason (timeout: not done within limits.connect_timeout; not_tls: the first bytes were not a TLS handshake; client_cert: client certificate missing or not verified; peer_alert: the client sent a fatal alert; abandoned: closed mid-handshake; error: refused by crypto/tls)."},
	"edgegw_tls_handshakes_completed_total":       {"counter", "TLS handshakes completed on the tls and wss listeners."},
	"edgegw_tls_handshakes_resumed_total":         {"counter", "Completed TLS handshakes that resumed a session by ticket."},
	"edgegw_connections":                          {"gauge", "Client connections open now."},
	"edgegw_sessions":                             {"gauge", "Sessions held: connected clients and persistent offline sessions."},
	"edgegw_inflight":                             {"gauge", "Outbound QoS 1 and 2 messages sent and not yet acknowledged, all sessions."},
	"edgegw_queued_messages":                      {"gauge", "Messages queued for sessions and not yet sent (online and offline queues)."},
	"edgegw_queued_bytes":                         {"gauge", "Bytes of the messages queued for sessions (online and offline queues), bounded by tune.queue_memory."},
	"edgegw_subscriptions":                        {"gauge", "Subscriptions held by sessions."},
	"edgegw_tls_handshakes":                       {"gauge", "TLS handshakes in progress."},
	"edgegw_router_subscriptions":                 {"gauge", "Subscriptions in the router: non-shared ones plus $share group memberships."},
	"edgegw_router_filters":                       {"gauge", "Distinct non-shared topic filters with at least one subscriber."},
	"edgegw_router_shared_groups":                 {"gauge", "Distinct ($share group, filter) pairs."},
	"edgegw_retained_messages":                    {"gauge", "Messages in the retained store."},
	"edgegw_retained_bytes":                       {"gauge", "Topic, payload and property bytes in the retained store."},
}

func init() {
	for k, v := range telemetry.MetricHelp() {
		metricHelp[k] = metricMeta{typ: v.Type, help: v.Text}
	}
}

// helpTable is metricHelp as the endpoint takes it.
func helpTable() map[string]telemetry.Help {
	t := make(map[string]telemetry.Help, len(metricHelp))
	for k, v := range metricHelp {
		t[k] = telemetry.Help{Type: v.typ, Text: v.help}
	}
	return t
}
