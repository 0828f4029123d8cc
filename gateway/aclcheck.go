package gateway

// ACL and publish-rate checks on the data path (README "Protection").
// Loop-only. With no protection configured (Gateway.prot nil, no guards)
// each costs one nil map check.

import (
	"edgegw/gateway/limit"
	"edgegw/mqttcodec"
	"edgegw/session"
)

// errPublishLimited is logged when a publish limit closes a connection.
var errPublishLimited = &publishLimitError{}

type publishLimitError struct{}

func (*publishLimitError) Error() string { return "publish rate over [limits]" }

// publishGuard returns c's guard for an inbound PUBLISH of size bytes, or
// nil when c has none. It applies publish_rate_per_client and
// publish_bytes_per_client before the session sees the packet (so a
// refused QoS 1/2 message leaves no flow behind): over either, c is
// closed, v5 with DISCONNECT 0x96 Message rate too high, v3 plainly, and
// ok is false.
func (c *conn) publishGuard(size int) (gd *guard, ok bool) {
	l := c.l
	if l.guards == nil {
		return nil, true
	}
	if gd = l.guards[c]; gd == nil {
		return nil, true
	}
	if pr := l.g.prot.pubRates.Load(); pr != nil && !pr.Off() {
		if r := gd.pub.Allow(l.now, size, *pr); r != limit.OK {
			l.g.prot.m.refused[r].Inc()
			c.kick(mqttcodec.ReasonCode(r.V5()), closeOtherViolation, errPublishLimited)
			return gd, false
		}
	}
	return gd, true
}

// mayPublish reports whether ev's message may be routed. A message the
// client's ACL refuses is dropped and counted; a QoS 1/2 one is answered
// here: v5 PUBACK/PUBREC 0x87 Not authorized, v3 an ordinary
// acknowledgement (3.1.1 has no failure code there). It does not allocate.
func (c *conn) mayPublish(gd *guard, ev *session.Event) bool {
	if gd == nil || gd.acl == nil || gd.acl.CanPublish(ev.Msg.Topic) {
		return true
	}
	l := c.l
	l.g.prot.m.acl[aclPublish].Inc()
	if ev.QoS > 0 {
		c.rec.st.RefusePublish(ev.QoS, ev.PacketID, mqttcodec.NotAuthorized, c.o())
		l.countAck(ev.QoS)
		c.markDirty()
	}
	return false
}

// maySubscribe reports whether c's ACL lets it subscribe to filter; a
// refusal is counted and the caller answers it in the SUBACK (aclSubRefusal).
func (c *conn) maySubscribe(filter []byte) bool {
	l := c.l
	if l.guards == nil {
		return true
	}
	gd := l.guards[c]
	if gd == nil || gd.acl == nil || gd.acl.CanSubscribe(filter) {
		return true
	}
	l.g.prot.m.acl[aclSubscribe].Inc()
	return false
}

// aclSubRefusal is the SUBACK code of a filter the ACL refuses: v5 0x87 Not
// authorized, v3.1.1 0x80 Failure [MQTT-3.9.3].
func aclSubRefusal(v mqttcodec.Version) byte {
	if v == mqttcodec.V5 {
		return byte(mqttcodec.NotAuthorized)
	}
	return 0x80
}
