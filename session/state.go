package session

import (
	"edgegw/mqttcodec"
)

// State is one client's session. Loop-only: owned by one event loop at a
// time; no locks.
//
// The struct is kept small (it exists for every idle client): rarely used
// parts (topic aliases, the queue) are allocated on first use.
type State struct {
	Params Params // of the current (or last) connection
	lim    *Limits

	// inbound
	inQoS2  map[uint16]bool // QoS 2 packet IDs awaiting PUBREL; true once PUBREC was sent
	aliases *[][]byte       // inbound topic alias -> topic (copied); nil until the first alias
	inQuota int32           // inbound QoS 1/2 PUBLISH not yet acknowledged (PUBACK/PUBCOMP unsent)

	// outbound
	nextID    uint16
	Connected bool
	inflight  []outEntry // in send order
	queue     *queue     // waiting for the inflight window (online) or the client (offline); nil when empty
}

// ClientID returns the session's client identifier.
func (s *State) ClientID() string { return s.Params.ClientID }

// version is the protocol level of the current connection.
func (s *State) version() mqttcodec.Version { return s.Params.Version }

// New returns a fresh session for accepted parameters.
func New(pr *Params, lim *Limits) *State {
	return &State{Params: *pr, lim: lim}
}

// Attach binds a (new or resumed) session to a connection with parameters
// pr and encodes what must be re-sent: unacknowledged QoS 1/2 PUBLISH with
// DUP, then PUBREL for those awaiting PUBCOMP [MQTT-4.4.0-1], then queued
// messages up to the window. Withheld inbound acknowledgements of a previous
// connection are forgotten (the client resends those PUBLISH packets).
func (s *State) Attach(pr *Params, now int64, o *Out) (st SendStats) {
	s.Params = *pr
	s.Connected = true
	s.aliases = nil // topic aliases live per connection [MQTT-3.3.2-7]
	s.inQuota = int32(len(s.inQoS2))
	for id := range s.inQoS2 {
		// The PUBREC may have been withheld on the old connection; the
		// message is held, so a resent PUBLISH gets its PUBREC now.
		s.inQoS2[id] = true
	}
	for i := range s.inflight {
		e := &s.inflight[i]
		if e.state == waitComp {
			e.sentAt = now
			s.appendAck(o, mqttcodec.PUBREL, e.id, mqttcodec.Success)
			continue
		}
		e.sentAt = now
		if !s.writePublish(o, &e.d, e.qos, e.id, true, now) {
			st.TooLarge++
		}
	}
	s.drainQueue(now, o, &st)
	return st
}

// Detach marks the session offline. The queue becomes the offline queue and
// is trimmed to its bounds; trimmed messages are counted in the result.
func (s *State) Detach() (dropped int) {
	s.Connected = false
	s.aliases = nil
	if s.queue == nil {
		return 0
	}
	return s.queue.trim(s.lim)
}

// Reset discards all session state (clean start) but keeps ClientID.
func (s *State) Reset() {
	*s = State{Params: s.Params, lim: s.lim, Connected: s.Connected}
}

// Inflight returns the number of outbound QoS 1/2 messages awaiting
// acknowledgement.
func (s *State) Inflight() int { return len(s.inflight) }

// Queued returns the number and bytes of queued (not yet sent) messages.
func (s *State) Queued() (n, bytes int) {
	if s.queue == nil {
		return 0, 0
	}
	return s.queue.n, s.queue.bytes
}

// InQuota returns the number of inbound QoS 1/2 messages not yet
// acknowledged to the client.
func (s *State) InQuota() int { return int(s.inQuota) }

// KeepAliveNanos is the time after the last packet at which the connection
// is closed: 1.5 x keep alive [MQTT-3.1.2-24]; 0 = never.
func (s *State) KeepAliveNanos() int64 { return int64(s.Params.KeepAlive) * 1500_000_000 }

// appendAck encodes PUBACK, PUBREC, PUBREL or PUBCOMP.
func (s *State) appendAck(o *Out, t mqttcodec.PacketType, id uint16, rc mqttcodec.ReasonCode) {
	a := mqttcodec.Ack{Type: t, PacketID: id, Reason: rc}
	st := o.begin()
	*o.Arena = mqttcodec.AppendAck(*o.Arena, s.version(), &a)
	o.commit(st)
}
