package session

// Limits are the server-side limits a State enforces and advertises. One
// Limits value is shared (read-only) by every State of a gateway.
type Limits struct {
	MaxPacketSize      uint32 // inbound packet size limit, advertised in v5 CONNACK
	ReceiveMaximum     uint16 // inbound QoS 1/2 PUBLISH in flight per client (v5 Receive Maximum)
	MaxInflight        uint16 // outbound QoS 1/2 in flight, further capped by the client's Receive Maximum
	TopicAliasMaximum  uint16 // inbound topic aliases per v5 client; 0 = none
	MaxKeepAlive       uint16 // seconds; 0 = no cap
	MaxSessionExpiry   uint32 // seconds; upper bound for v5 Session Expiry, and the expiry of v3 persistent sessions
	MaxOfflineMessages int    // offline queue bound by count; 0 = queue nothing
	MaxOfflineBytes    int    // offline queue bound by bytes; 0 = no byte bound
	DropOldest         bool   // offline queue full: drop the oldest (true) or the new message (false)
	RetainAvailable    bool   // retained messages enabled
}
