package session

import (
	"unicode/utf8"

	"edgegw/mqttcodec"
)

// EventKind says what the gateway must do after Handle.
type EventKind uint8

// Events returned by Handle.
const (
	EvNone        EventKind = iota // nothing more to do
	EvPublish                      // route Event.Msg; then acknowledge with AckPublish (now or when delivery allows)
	EvSubscribe                    // apply Scratch.Subscribe to the router; then AppendSuback
	EvUnsubscribe                  // apply Scratch.Unsubscribe; then AppendUnsuback
	EvDisconnect                   // the client disconnected; Event.Reason says whether the will is published (0x04)
	EvAcked                        // an outbound message was acknowledged (the window moved)
	EvPing                         // PINGREQ answered
)

// Event is the result of Handle.
type Event struct {
	Kind     EventKind
	Msg      *Message // EvPublish: the copied message (nil for a suppressed duplicate)
	QoS      byte     // EvPublish: the message's QoS
	PacketID uint16   // EvPublish: the client's packet identifier (QoS 1/2)
	Reason   mqttcodec.ReasonCode
	Sent     SendStats // EvAcked: what the moved window sent
}

// Scratch holds decode targets, reused for every packet on a loop. The
// decoded values are views into the frame, valid until it is discarded.
type Scratch struct {
	Publish     mqttcodec.Publish
	Ack         mqttcodec.Ack
	Subscribe   mqttcodec.Subscribe
	Unsubscribe mqttcodec.Unsubscribe
	Disconnect  mqttcodec.Disconnect
}

// Handle applies one framed packet (the whole frame, borrowed until the
// caller discards it) received after CONNECT. Replies are encoded into o. A
// non-nil error is a protocol violation carrying its reason code
// (mqttcodec.ReasonOf): the gateway disconnects.
//
// Event.Sent carries what an acknowledgement moved (and the inflight and
// queue changes, see SendStats).
func (s *State) Handle(frame []byte, sc *Scratch, now int64, o *Out) (Event, error) {
	v := s.version()
	switch mqttcodec.TypeOf(frame) {
	case mqttcodec.PUBLISH:
		p := &sc.Publish
		if err := mqttcodec.DecodePublish(frame, v, p); err != nil {
			return Event{}, err
		}
		return s.publish(p, now, o)
	case mqttcodec.PUBACK, mqttcodec.PUBREC, mqttcodec.PUBREL, mqttcodec.PUBCOMP:
		a := &sc.Ack
		if err := mqttcodec.DecodeAck(frame, v, a); err != nil {
			return Event{}, err
		}
		if a.Type == mqttcodec.PUBREL {
			s.pubrel(a.PacketID, o)
			return Event{}, nil
		}
		var st SendStats
		m := s.mark()
		s.onAck(a, now, o, &st)
		s.since(m, &st)
		return Event{Kind: EvAcked, Sent: st}, nil
	case mqttcodec.SUBSCRIBE:
		if err := mqttcodec.DecodeSubscribe(frame, v, &sc.Subscribe); err != nil {
			return Event{}, err
		}
		return Event{Kind: EvSubscribe}, nil
	case mqttcodec.UNSUBSCRIBE:
		if err := mqttcodec.DecodeUnsubscribe(frame, v, &sc.Unsubscribe); err != nil {
			return Event{}, err
		}
		return Event{Kind: EvUnsubscribe}, nil
	case mqttcodec.PINGREQ:
		if err := mqttcodec.DecodePing(frame); err != nil {
			return Event{}, err
		}
		st := o.begin()
		*o.Arena = mqttcodec.AppendPingresp(*o.Arena)
		o.commit(st)
		return Event{Kind: EvPing}, nil
	case mqttcodec.DISCONNECT:
		d := &sc.Disconnect
		if err := mqttcodec.DecodeDisconnect(frame, v, d); err != nil {
			return Event{}, err
		}
		if v == mqttcodec.V5 && d.Props.Has(mqttcodec.PropSessionExpiry) {
			// Section 3.14.2.2.2: a session that ends with the connection cannot be revived.
			if s.Expiry == 0 && d.Props.SessionExpiry != 0 {
				return Event{}, ErrSessionExpiryZero
			}
			s.Expiry = min(d.Props.SessionExpiry, s.lim.MaxSessionExpiry)
		}
		return Event{Kind: EvDisconnect, Reason: d.Reason}, nil
	case mqttcodec.CONNECT:
		return Event{}, ErrSecondConnect // [MQTT-3.1.0-2]
	case mqttcodec.AUTH:
		return Event{}, ErrUnexpectedPacket // no authentication method was negotiated [MQTT-4.12.0-1]
	}
	return Event{}, ErrUnexpectedPacket
}

// publish applies an inbound PUBLISH.
func (s *State) publish(p *mqttcodec.Publish, now int64, o *Out) (Event, error) {
	topic := p.Topic
	if s.version() == mqttcodec.V5 {
		if p.Retain && !s.lim.RetainAvailable {
			return Event{}, ErrRetainUnsupported // [MQTT-3.2.2-14]
		}
		if p.Props.NumSubscriptionIDs > 0 {
			// The codec decodes either direction; only a server may send it.
			return Event{}, ErrSubIDFromClient // [MQTT-3.3.4-6]
		}
		if p.Props.Has(mqttcodec.PropTopicAlias) {
			a := p.Props.TopicAlias
			if a == 0 || a > s.lim.TopicAliasMaximum {
				return Event{}, ErrTopicAlias // [MQTT-3.2.2-17] 0 or above our Topic Alias Maximum
			}
			f := s.f()
			if f.aliases == nil {
				f.aliases = make([][]byte, int(s.lim.TopicAliasMaximum)+1)
			}
			al := f.aliases
			if len(topic) > 0 {
				al[a] = append(al[a][:0], topic...)
			} else if topic = al[a]; len(topic) == 0 {
				return Event{}, ErrTopicAlias // [MQTT-3.3.2-12] unknown alias: no mapping yet
			}
		}
		// Section 3.3.2.3.2: payload format 1 means UTF-8; the server may refuse it.
		if p.Props.Has(mqttcodec.PropPayloadFormat) && p.Props.PayloadFormat == 1 && !utf8.Valid(p.Payload) {
			return Event{}, ErrPayloadFormat
		}
	}
	ev := Event{Kind: EvPublish, QoS: p.QoS, PacketID: p.PacketID}
	switch p.QoS {
	case 2:
		if sent, dup := s.qos2()[p.PacketID]; dup {
			// [MQTT-4.3.3-9] a duplicate is not delivered again; answer
			// with PUBREC once the first one was answered.
			if sent {
				s.appendAck(o, mqttcodec.PUBREC, p.PacketID, mqttcodec.Success)
			}
			return Event{}, nil
		}
		if err := s.takeQuota(); err != nil {
			return Event{}, err
		}
		f := s.f()
		if f.inQoS2 == nil {
			f.inQoS2 = make(map[uint16]bool, 4)
		}
		f.inQoS2[p.PacketID] = false
	case 1:
		if err := s.takeQuota(); err != nil {
			return Event{}, err
		}
	}
	ev.Msg = NewMessage(p, topic, now)
	return ev, nil
}

// takeQuota counts one inbound QoS 1/2 message against Receive Maximum. v5
// clients that exceed it are disconnected with 0x93 [MQTT-3.3.4-7]; v3 has no
// such limit, so the gateway stops decoding a v3 client's packets while
// InQuota is at the limit instead.
func (s *State) takeQuota() error {
	if s.version() == mqttcodec.V5 && int(s.inQuota) >= int(s.lim.ReceiveMaximum) {
		return ErrReceiveMaximum
	}
	s.inQuota++
	return nil
}

// AckPublish sends the PUBACK (QoS 1) or PUBREC (QoS 2) for an inbound
// message, possibly later than Handle returned it (backpressure).
func (s *State) AckPublish(qos byte, id uint16, o *Out) {
	switch qos {
	case 1:
		if s.inQuota > 0 {
			s.inQuota--
		}
		s.appendAck(o, mqttcodec.PUBACK, id, mqttcodec.Success)
	case 2:
		if sent, ok := s.qos2()[id]; ok && !sent {
			s.fl.inQoS2[id] = true
			s.appendAck(o, mqttcodec.PUBREC, id, mqttcodec.Success)
		}
	}
}

// pubrel completes an inbound QoS 2 flow with PUBCOMP (section 4.3.3).
func (s *State) pubrel(id uint16, o *Out) {
	if _, ok := s.qos2()[id]; !ok {
		rc := mqttcodec.Success
		if s.version() == mqttcodec.V5 {
			rc = mqttcodec.PacketIDNotFound
		}
		s.appendAck(o, mqttcodec.PUBCOMP, id, rc)
		return
	}
	delete(s.fl.inQoS2, id)
	if s.inQuota > 0 {
		s.inQuota--
	}
	s.appendAck(o, mqttcodec.PUBCOMP, id, mqttcodec.Success)
}

// AppendSuback encodes a SUBACK with one reason code per filter.
func (s *State) AppendSuback(o *Out, id uint16, reasons []byte) {
	a := mqttcodec.Suback{PacketID: id, Reasons: reasons}
	st := o.begin()
	*o.Arena = mqttcodec.AppendSuback(*o.Arena, s.version(), &a)
	o.commit(st)
}

// AppendUnsuback encodes an UNSUBACK (v5: one reason code per filter).
func (s *State) AppendUnsuback(o *Out, id uint16, reasons []byte) {
	a := mqttcodec.Suback{PacketID: id, Reasons: reasons}
	st := o.begin()
	*o.Arena = mqttcodec.AppendUnsuback(*o.Arena, s.version(), &a)
	o.commit(st)
}
