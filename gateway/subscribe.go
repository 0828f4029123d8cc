package gateway

import (
	"errors"

	"edgegw/mqttcodec"
	"edgegw/router"
	"edgegw/session"
)

// subscribe applies the decoded SUBSCRIBE: one router call per filter, a
// SUBACK with per-filter reason codes, then retained messages per retain
// handling [MQTT-3.3.1-9..11]. It returns false when it closed c.
func (c *conn) subscribe() bool {
	l := c.l
	g := l.g
	rec := c.rec
	st := rec.st
	s := &l.scratch.Subscribe
	var subID uint32
	if s.Props.NumSubscriptionIDs > 0 {
		subID = s.Props.SubscriptionIDs[0]
	}
	reasons := l.reasons[:0]
	type retainedReq struct {
		filter []byte
		qos    byte
	}
	var rr [8]retainedReq
	want := rr[:0]
	for i := range s.Filters {
		f := &s.Filters[i]
		o := router.SubOptions{QoS: f.QoS, NoLocal: f.NoLocal, RetainAsPublished: f.RetainAsPublished, RetainHandling: f.RetainHandling, SubID: subID}
		existed, err := g.router.Subscribe(rec.handle, f.Filter, o)
		if err != nil {
			if errors.Is(err, router.ErrShareNoLocal) {
				c.violation(errNoLocalShared) // [MQTT-3.8.3-4]
				return false
			}
			rc := byte(mqttcodec.TopicFilterInvalid)
			if c.version != mqttcodec.V5 {
				rc = 0x80 // [MQTT-3.9.3] failure
			}
			reasons = append(reasons, rc)
			continue
		}
		if !existed {
			if rec.subs == nil {
				rec.subs = &subList{}
			}
			rec.subs.add(f.Filter)
			l.st.subs++
		}
		reasons = append(reasons, f.QoS)
		if !mqttcodec.IsShared(f.Filter) && (f.RetainHandling == 0 || f.RetainHandling == 1 && !existed) {
			want = append(want, retainedReq{f.Filter, f.QoS})
		}
	}
	l.reasons = reasons
	st.AppendSuback(c.o(), s.PacketID, reasons)
	l.st.pktOut[mqttcodec.SUBACK]++
	if !g.lim.RetainAvailable {
		return true
	}
	var ids []uint32
	if subID != 0 {
		ids = []uint32{subID}
	}
	for _, w := range want {
		g.router.Retained(w.filter, l.now, func(r *router.Retained) bool {
			m := retainedMessage(r)
			if m == nil {
				return true
			}
			inf := st.Inflight()
			qn, _ := st.Queued()
			var ss session.SendStats
			st.Deliver(session.Delivery{Msg: m, QoS: w.qos, Retain: true, SubIDs: ids}, l.now, c.o(), &ss)
			l.countSend(ss)
			l.st.inflight += int64(st.Inflight() - inf)
			qn2, _ := st.Queued()
			l.st.queued += int64(qn2 - qn)
			return true
		})
	}
	return true
}

var errNoLocalShared = &mqttcodec.Error{Code: mqttcodec.ProtocolError, Msg: "gateway: no local on a shared subscription [MQTT-3.8.3-4]"}

// unsubscribe applies the decoded UNSUBSCRIBE and answers UNSUBACK.
func (c *conn) unsubscribe() {
	l := c.l
	st := c.rec.st
	u := &l.scratch.Unsubscribe
	reasons := l.reasons[:0]
	for _, f := range u.Filters {
		existed, err := l.g.router.Unsubscribe(c.rec.handle, f)
		switch {
		case err != nil:
			reasons = append(reasons, byte(mqttcodec.TopicFilterInvalid))
		case existed:
			c.rec.subs.remove(f)
			l.st.subs--
			reasons = append(reasons, byte(mqttcodec.Success))
		default:
			reasons = append(reasons, byte(mqttcodec.NoSubscriptionExisted))
		}
	}
	l.reasons = reasons
	st.AppendUnsuback(c.o(), u.PacketID, reasons)
	l.st.pktOut[mqttcodec.UNSUBACK]++
}

// retain stores (or, with an empty payload, clears) a retained message
// [MQTT-3.3.1-5] [MQTT-3.3.1-6]. Refusals are counted.
func (l *loop) retain(msg *session.Message) {
	r := &router.Retained{Topic: msg.Topic, Payload: msg.Payload, QoS: msg.QoS, ExpiresAt: msg.ExpiresAt}
	if msg.Props.Present != 0 || len(msg.Props.User) > 0 {
		r.Props = mqttcodec.AppendProperties(nil, &msg.Props)
	}
	if err := l.g.router.Retain(r); err != nil && len(msg.Payload) > 0 {
		l.st.dropped[dropRetainedRefused]++
	}
}

// retainedMessage turns a stored retained message back into a Message. The
// topic and payload are shared (both are immutable); v5 properties are
// decoded from their stored encoding.
func retainedMessage(r *router.Retained) *session.Message {
	if len(r.Props) == 0 || len(r.Props) == 1 && r.Props[0] == 0 {
		return &session.Message{Topic: r.Topic, Payload: r.Payload, QoS: r.QoS, Retain: true,
			ExpiresAt: r.ExpiresAt, Size: len(r.Topic) + len(r.Payload)}
	}
	// Re-frame as a QoS 0 v5 PUBLISH and decode it to recover the properties.
	rem := 2 + len(r.Topic) + len(r.Props) + len(r.Payload)
	frame := make([]byte, 0, rem+5)
	frame = append(frame, byte(mqttcodec.PUBLISH)<<4|1)
	for v := rem; ; {
		b := byte(v & 0x7f)
		v >>= 7
		if v > 0 {
			frame = append(frame, b|0x80)
			continue
		}
		frame = append(frame, b)
		break
	}
	frame = append(frame, byte(len(r.Topic)>>8), byte(len(r.Topic)))
	frame = append(frame, r.Topic...)
	frame = append(frame, r.Props...)
	frame = append(frame, r.Payload...)
	var p mqttcodec.Publish
	if err := mqttcodec.DecodePublish(frame, mqttcodec.V5, &p); err != nil {
		return nil
	}
	m := session.NewMessage(&p, p.Topic, 0)
	m.QoS, m.Retain, m.ExpiresAt = r.QoS, true, r.ExpiresAt
	return m
}
