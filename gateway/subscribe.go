package gateway

import (
	"errors"
	"time"

	"edgegw/mqttcodec"
	"edgegw/router"
	"edgegw/session"
)

// subscribe applies the decoded SUBSCRIBE: one router call per filter, a
// SUBACK with per-filter reason codes, then retained messages per retain
// handling [MQTT-3.3.1-9..11]. It returns false when it closed c.
//
// Retained messages go through the session like any delivery, within the
// connection's output budget: what does not fit waits in the session's queue
// and follows as the socket drains (pump.go), so one SUBSCRIBE matching a
// large retained store neither buffers it all nor stalls the loop. A filter
// that appears more than once in one SUBSCRIBE gets its retained messages
// once (the last occurrence's options apply, as the later subscription
// replaces the earlier [MQTT-3.8.4-3]).
func (c *conn) subscribe() bool {
	l := c.l
	g := l.g
	rec := c.rec
	st := rec.st
	s := &l.scratch.Subscribe
	if !st.AckFits(len(s.Filters)) {
		// The SUBACK could never be sent [MQTT-3.1.2-24]: refuse the
		// request before applying any of it.
		c.violation(errAckTooLarge)
		return false
	}
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
	maxSubs := g.cfg.Limits.MaxSubscriptions
	for i := range s.Filters {
		f := &s.Filters[i]
		if maxSubs > 0 && rec.subs.len() >= maxSubs && !rec.subs.has(f.Filter) {
			// A new filter past the cap; replacing an existing one is fine.
			l.st.subRefused++
			rc := byte(mqttcodec.QuotaExceeded)
			if c.version != mqttcodec.V5 {
				rc = 0x80 // [MQTT-3.9.3] failure
			}
			reasons = append(reasons, rc)
			continue
		}
		if !c.maySubscribe(f.Filter) { // aclcheck.go
			reasons = append(reasons, aclSubRefusal(c.version))
			continue
		}
		o := router.SubOptions{QoS: f.QoS, NoLocal: f.NoLocal, RetainAsPublished: f.RetainAsPublished, RetainHandling: f.RetainHandling, SubID: subID}
		if c.bridge && !mqttcodec.IsShared(f.Filter) {
			// What the bridge bit asks for (mqttcodec.BridgeBit): never echo
			// the bridge's own messages back to it, keep their retain flag.
			o.NoLocal, o.RetainAsPublished = true, true
		}
		existed, err := g.router.Subscribe(rec.handle, f.Filter, o)
		if err != nil {
			if errors.Is(err, router.ErrShareNoLocal) {
				c.violation(mqttcodec.ErrNoLocalShared) // [MQTT-3.8.3-4]
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
			l.relaySubscribed(f.Filter) // the aggregation counts it (relay.go)
		}
		reasons = append(reasons, f.QoS)
		for j := range want {
			if string(want[j].filter) == string(f.Filter) {
				want = append(want[:j], want[j+1:]...) // a duplicate: the later one counts
				break
			}
		}
		if !mqttcodec.IsShared(f.Filter) && (f.RetainHandling == 0 || f.RetainHandling == 1 && !existed) {
			want = append(want, retainedReq{f.Filter, f.QoS})
		}
	}
	l.reasons = reasons
	st.AppendSuback(c.o(), s.PacketID, reasons)
	l.st.pktOut[mqttcodec.SUBACK]++
	if !g.lim.RetainAvailable || len(want) == 0 {
		return true
	}
	var ids []uint32
	if subID != 0 {
		ids = []uint32{subID}
	}
	var ss session.SendStats
	o := c.o()
	for _, w := range want {
		g.router.Retained(w.filter, l.now, func(r *router.Retained) bool {
			if m := retainedMessage(r); m != nil {
				st.Deliver(session.Delivery{Msg: m, QoS: w.qos, Retain: true, SubIDs: ids}, l.now, o, &ss)
			}
			return true
		})
	}
	l.countSend(ss)
	return true
}

// unsubscribe applies the decoded UNSUBSCRIBE and answers UNSUBACK.
func (c *conn) unsubscribe() {
	l := c.l
	st := c.rec.st
	u := &l.scratch.Unsubscribe
	if c.version == mqttcodec.V5 && !st.AckFits(len(u.Filters)) {
		c.violation(errAckTooLarge) // [MQTT-3.1.2-24]
		return
	}
	reasons := l.reasons[:0]
	for _, f := range u.Filters {
		existed, err := l.g.router.Unsubscribe(c.rec.handle, f)
		switch {
		case err != nil:
			reasons = append(reasons, byte(mqttcodec.TopicFilterInvalid))
		case existed:
			c.rec.subs.remove(f)
			l.st.subs--
			l.relayUnsubscribed(f)
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
// [MQTT-3.3.1-5] [MQTT-3.3.1-6]. The store keeps msg itself (immutable and
// shared) for deliveries; refusals are counted.
func (l *loop) retain(msg *session.Message) {
	r := &router.Retained{Topic: msg.Topic, Payload: msg.Payload, QoS: msg.QoS, ExpiresAt: msg.ExpiresAt,
		Value: msg, Size: msg.Size}
	if err := l.g.router.Retain(r); err != nil && len(msg.Payload) > 0 {
		l.st.dropped[dropRetainedRefused]++
	}
}

// retainedMessage returns the message a retained entry was stored from
// (see retain); nil for an entry the gateway did not store.
func retainedMessage(r *router.Retained) *session.Message {
	m, _ := r.Value.(*session.Message)
	return m
}

// retainedSweep is how often expired retained messages are removed from the
// store.
const retainedSweep = time.Second

// purgeRetained removes expired retained messages once per retainedSweep, on
// a goroutine of its own (the sweep takes each shard's lock in turn and walks
// it: never on a loop, never on the ticker). Lookups already skip expired
// entries; the sweep is what stops them counting against
// router.retained_max_messages and retained_max_bytes [MQTT-3.3.2-5].
func (g *Gateway) purgeRetained(now int64) {
	if now-g.purgeAt.Load() < int64(retainedSweep) || !g.purging.CompareAndSwap(false, true) {
		return
	}
	g.purgeAt.Store(now)
	go func() {
		defer g.purging.Store(false)
		g.router.PurgeExpired(time.Now().UnixNano())
	}()
}
