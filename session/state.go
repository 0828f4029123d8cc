package session

import (
	"edgegw/mqttcodec"
)

// State is one client's session. Loop-only: owned by one event loop at a
// time; no locks.
//
// The struct is kept small (it exists for every idle client, 48 bytes):
// it keeps of the connection's Params only what the session uses after
// CONNACK (the client ID lives in the gateway's session record), and
// everything a session needs only once it carries QoS 1/2 messages, topic
// aliases or queued messages lives in flows, allocated on first use.
type State struct {
	Will      *Will // of the current (or last) connection; nil = none
	lim       *Limits
	fl        *flows // nil until first needed (see f)
	Expiry    uint32 // session expiry, seconds; 0 = ends with the connection (v5 DISCONNECT may change it)
	maxPacket uint32 // the client's Maximum Packet Size; 0 = no limit
	inQuota   int32  // inbound QoS 1/2 PUBLISH not yet acknowledged (PUBACK/PUBCOMP unsent)
	keepAlive uint16 // effective keep alive, seconds
	recvMax   uint16 // the client's Receive Maximum
	nextID    uint16
	aliasMax  uint16 // the client's Topic Alias Maximum: outbound aliases it accepts (v5); 0 = none
	ver       mqttcodec.Version
	Connected bool
}

// SetParams takes what the session keeps of a connection's parameters.
func (s *State) SetParams(pr *Params) {
	s.Will, s.Expiry, s.maxPacket = pr.Will, pr.Expiry, pr.MaxPacket
	s.keepAlive, s.recvMax, s.ver = pr.KeepAlive, pr.RecvMax, pr.Version
	s.aliasMax = 0
	if pr.Version == mqttcodec.V5 {
		s.aliasMax = pr.TopicAliasMax
	}
}

// flows is the part of a State that idle sessions do not need. Once
// allocated it stays (its slices' capacity is reused) until Reset.
type flows struct {
	inQoS2   map[uint16]bool // QoS 2 packet IDs awaiting PUBREL; true once PUBREC was sent
	aliases  [][]byte        // inbound topic alias -> topic (copied); nil until the first alias
	outAlias *outAliases     // outbound topic aliases of the current connection; nil until the first (see alias.go)
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

// version is the protocol level of the current connection.
func (s *State) version() mqttcodec.Version { return s.ver }

// New returns a fresh session for accepted parameters.
func New(pr *Params, lim *Limits) *State {
	s := &State{lim: lim}
	s.SetParams(pr)
	return s
}

// Attach binds a (new or resumed) session to a connection with parameters
// pr and encodes what must be re-sent: unacknowledged QoS 1/2 PUBLISH with
// DUP, then PUBREL for those awaiting PUBCOMP [MQTT-4.4.0-1], then queued
// messages up to the window. Only as many as the new connection's Receive
// Maximum allows are resent now; the rest follow as acknowledgements make
// room [MQTT-3.3.4-9]. Withheld inbound acknowledgements of a previous
// connection are forgotten (the client resends those PUBLISH packets).
func (s *State) Attach(pr *Params, now int64, o *Out) (st SendStats) {
	m := s.mark()
	s.SetParams(pr)
	s.Connected = true
	s.inQuota = 0
	if f := s.fl; f != nil {
		f.aliases = nil // topic aliases live per connection [MQTT-3.3.2-7]
		f.outAlias = nil
		s.inQuota = int32(len(f.inQoS2))
		for id := range f.inQoS2 {
			// The PUBREC may have been withheld on the old connection; the
			// message is held, so a resent PUBLISH gets its PUBREC now.
			f.inQoS2[id] = true
		}
		k, w := 0, s.window()
		for i := range f.inflight {
			e := f.inflight[i]
			e.sentAt = now
			e.held = k >= w
			switch {
			case e.held:
				if e.state != waitComp && !s.fits(&e.d, e.qos, e.id, now) {
					st.TooLarge++
					continue
				}
			case e.state == waitComp:
				s.appendAck(o, mqttcodec.PUBREL, e.id, mqttcodec.Success)
			case !s.writePublish(o, &e.d, e.qos, e.id, true, now):
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
	s.since(m, &st)
	return st
}

// fits reports whether d would fit the client's Maximum Packet Size.
func (s *State) fits(d *Delivery, q byte, id uint16, now int64) bool {
	if s.maxPacket == 0 {
		return true
	}
	var arena []byte
	o := Out{Arena: &arena}
	return s.encodePublish(&o, d, q, id, true, now, false)
}

// Detach marks the session offline. The queue becomes the offline queue:
// expired messages leave it [MQTT-3.3.2-5] and it is trimmed to its bounds;
// both are counted in st.
func (s *State) Detach(now int64, st *SendStats) {
	s.Connected = false
	if s.fl == nil {
		return
	}
	m := s.mark()
	s.fl.aliases = nil
	s.fl.outAlias = nil
	st.Expired += s.fl.queue.dropExpired(now)
	st.QueueFull += s.fl.queue.trim(s.lim)
	s.since(m, st)
}

// Unlink marks the session as having no connection while it stays
// resumable (a takeover hands it to a new connection): deliveries until the
// next Attach are queued, never written.
func (s *State) Unlink() { s.Connected = false }

// Reset discards all session state (clean start) but keeps the
// connection's parameters. The messages it drops are reported in st's
// DInflight and DQueued.
func (s *State) Reset(st *SendStats) {
	m := s.mark()
	st.DInflight -= m.inf
	st.DQueued -= m.q
	st.DQueuedBytes -= m.qb
	*s = State{Will: s.Will, lim: s.lim, Expiry: s.Expiry, maxPacket: s.maxPacket, keepAlive: s.keepAlive,
		recvMax: s.recvMax, aliasMax: s.aliasMax, ver: s.ver, Connected: s.Connected}
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

// AckFits reports whether a SUBACK or UNSUBACK carrying n reason codes
// fits the client's Maximum Packet Size [MQTT-3.1.2-24] (v5: no Reason
// String or User Property is ever sent, so this is its smallest form).
func (s *State) AckFits(n int) bool {
	if s.maxPacket == 0 {
		return true
	}
	body := 2 + n // packet identifier, reason codes
	if s.ver == mqttcodec.V5 {
		body++ // property length 0
	}
	size := 1 + 1 + body // fixed header with a 1-byte remaining length
	if body > 127 {
		size++
	}
	if body > 16383 {
		size++
	}
	if body > 2097151 {
		size++
	}
	return size <= int(s.maxPacket)
}

// KeepAliveNanos is the time after the last packet at which the connection
// is closed: 1.5 x keep alive [MQTT-3.1.2-24]; 0 = never.
func (s *State) KeepAliveNanos() int64 { return int64(s.keepAlive) * 1500_000_000 }

// appendAck encodes PUBACK, PUBREC, PUBREL or PUBCOMP.
func (s *State) appendAck(o *Out, t mqttcodec.PacketType, id uint16, rc mqttcodec.ReasonCode) {
	a := mqttcodec.Ack{Type: t, PacketID: id, Reason: rc}
	st := o.begin()
	*o.Arena = mqttcodec.AppendAck(*o.Arena, s.version(), &a)
	o.commit(st)
}
