package session

import (
	"edgegw/mqttcodec"
)

// State is one client's session. Loop-only: owned by one event loop at a
// time; no locks.
//
// The struct is kept small (it exists for every idle client, 80 bytes):
// everything a session needs only once it carries QoS 1/2 messages, topic
// aliases or queued messages lives in flows, allocated on first use.
type State struct {
	Params    Params // of the current (or last) connection
	lim       *Limits
	fl        *flows // nil until first needed (see f)
	inQuota   int32  // inbound QoS 1/2 PUBLISH not yet acknowledged (PUBACK/PUBCOMP unsent)
	nextID    uint16
	Connected bool
}

// flows is the part of a State that idle sessions do not need. Once
// allocated it stays (its slices' capacity is reused) until Reset.
type flows struct {
	inQoS2   map[uint16]bool // QoS 2 packet IDs awaiting PUBREL; true once PUBREC was sent
	aliases  [][]byte        // inbound topic alias -> topic (copied); nil until the first alias
	inflight []outEntry      // outbound QoS 1/2 in send order
	queue    queue           // waiting for the inflight window (online) or the client (offline)
}

// f returns s's flows, allocating them.
func (s *State) f() *flows {
	if s.fl == nil {
		s.fl = &flows{}
	}
	return s.fl
}

// qos2 returns the inbound QoS 2 packet IDs (nil map when none).
func (s *State) qos2() map[uint16]bool {
	if s.fl == nil {
		return nil
	}
	return s.fl.inQoS2
}

// out returns the outbound inflight window (nil when none).
func (s *State) out() []outEntry {
	if s.fl == nil {
		return nil
	}
	return s.fl.inflight
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
	s.inQuota = 0
	if f := s.fl; f != nil {
		f.aliases = nil // topic aliases live per connection [MQTT-3.3.2-7]
		s.inQuota = int32(len(f.inQoS2))
		for id := range f.inQoS2 {
			// The PUBREC may have been withheld on the old connection; the
			// message is held, so a resent PUBLISH gets its PUBREC now.
			f.inQoS2[id] = true
		}
		k := 0
		for i := range f.inflight {
			e := f.inflight[i]
			e.sentAt = now
			if e.state == waitComp {
				s.appendAck(o, mqttcodec.PUBREL, e.id, mqttcodec.Success)
			} else if !s.writePublish(o, &e.d, e.qos, e.id, true, now) {
				// Larger than the new connection's Maximum Packet Size: it
				// can never be sent, so it is dropped, not kept in the
				// window for ever [MQTT-3.1.2-25].
				st.TooLarge++
				continue
			}
			f.inflight[k] = e
			k++
		}
		clear(f.inflight[k:])
		f.inflight = f.inflight[:k]
	}
	s.drainQueue(now, o, &st)
	return st
}

// Detach marks the session offline. The queue becomes the offline queue and
// is trimmed to its bounds; trimmed messages are counted in the result.
func (s *State) Detach() (dropped int) {
	s.Connected = false
	if s.fl == nil {
		return 0
	}
	s.fl.aliases = nil
	return s.fl.queue.trim(s.lim)
}

// Reset discards all session state (clean start) but keeps ClientID.
func (s *State) Reset() {
	*s = State{Params: s.Params, lim: s.lim, Connected: s.Connected}
}

// Inflight returns the number of outbound QoS 1/2 messages awaiting
// acknowledgement.
func (s *State) Inflight() int { return len(s.out()) }

// Queued returns the number and bytes of queued (not yet sent) messages.
func (s *State) Queued() (n, bytes int) {
	if s.fl == nil {
		return 0, 0
	}
	return s.fl.queue.n, s.fl.queue.bytes
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
