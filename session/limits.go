package session

import "sync/atomic"

// Limits are the server-side limits a State enforces and advertises. One
// Limits value is shared (read-only) by every State of a gateway.
type Limits struct {
	MaxPacketSize      uint32 // inbound packet size limit, advertised in v5 CONNACK
	ReceiveMaximum     uint16 // inbound QoS 1/2 PUBLISH in flight per client (v5 Receive Maximum)
	MaxInflight        uint16 // outbound QoS 1/2 in flight, further capped by the client's Receive Maximum
	TopicAliasMaximum  uint16 // inbound topic aliases per v5 client; 0 = none
	OutTopicAliases    uint16 // outbound topic aliases per v5 connection, capped by the client's Topic Alias Maximum; 0 = none (see alias.go)
	MaxKeepAlive       uint16 // seconds; 0 = no cap
	MaxSessionExpiry   uint32 // seconds; upper bound for v5 Session Expiry, and the expiry of v3 persistent sessions
	MaxOfflineMessages int    // offline queue bound by count; 0 = queue nothing
	MaxOfflineBytes    int    // offline queue bound by bytes; 0 = no byte bound
	DropOldest         bool   // offline queue full: drop the oldest (true) or the new message (false)
	RetainAvailable    bool   // retained messages enabled
	// Budget, when set, is the process-wide bound on queued message bytes
	// (every session's queue, online and offline): while it is over, a
	// message that would be queued is dropped by the offline policy
	// instead (SendStats.OverBudget). nil = no bound.
	Budget *QueueBudget
}

// QueueBudget says whether the bytes queued by all sessions together are
// over their bound. The gateway sets it from the sum it folds per tick;
// sessions only read it. Safe for concurrent use.
type QueueBudget struct{ over atomic.Bool }

// Over reports whether the queued bytes are over the bound (false for nil).
func (b *QueueBudget) Over() bool { return b != nil && b.over.Load() }

// Set records whether the queued bytes are over the bound.
func (b *QueueBudget) Set(over bool) { b.over.Store(over) }

// MaxClientID31 is the longest client identifier, in characters, that an
// MQTT 3.1 client may send (3.1 section 3.1, "Client Identifier": 1 to 23
// characters); a longer one is refused with return code 2 (identifier
// rejected). 3.1.1 and 5.0 lift the limit [MQTT-3.1.3-5].
const MaxClientID31 = 23
