package session

import "edgegw/mqttcodec"

type outState uint8

const (
	waitAck  outState = iota // QoS 1 sent, awaiting PUBACK
	waitRec                  // QoS 2 sent, awaiting PUBREC
	waitComp                 // PUBREL sent, awaiting PUBCOMP
)

// outEntry is one outbound QoS 1/2 message in the inflight window.
type outEntry struct {
	d      Delivery
	sentAt int64 // unix nanos of the last (re)send, for Resend
	id     uint16
	qos    byte
	state  outState
	held   bool // not yet resent on this connection: over its Receive Maximum (see sendHeld)
}

// SendStats counts what Deliver, Attach or an acknowledgement did; the
// gateway folds it into its counters.
type SendStats struct {
	Sent       int // PUBLISH packets encoded
	Queued     int // messages put in the queue
	Expired    int // dropped: Message Expiry Interval passed [MQTT-3.3.2-5]
	TooLarge   int // dropped: larger than the client's Maximum Packet Size [MQTT-3.1.2-25]
	QueueFull  int // dropped: offline queue bound
	OfflineQoS int // dropped: QoS 0 for an offline session (not queued)

	// DInflight and DQueued are the changes in the session's outbound inflight
	// window and queue length that the call made (negative when they
	// shrank). Every State method that moves messages reports them here, so
	// the gateway's gauges follow the state on every delivery path (live,
	// retained, offline queue, resume, will) without reading it before and
	// after.
	DInflight    int
	DQueued      int
	DQueuedBytes int // change in the queue's bytes (Message.Size)
	OverBudget   int // dropped: the process-wide queue budget was over (Limits.Budget)
}

// Add accumulates b into a.
func (a *SendStats) Add(b SendStats) {
	a.Sent += b.Sent
	a.Queued += b.Queued
	a.Expired += b.Expired
	a.TooLarge += b.TooLarge
	a.QueueFull += b.QueueFull
	a.OfflineQoS += b.OfflineQoS
	a.DInflight += b.DInflight
	a.DQueued += b.DQueued
	a.DQueuedBytes += b.DQueuedBytes
	a.OverBudget += b.OverBudget
}

// gaugeMark is a State's inflight and queue lengths at the start of a call
// that reports its changes in SendStats (see mark and since).
type gaugeMark struct{ inf, q, qb int }

func (s *State) mark() gaugeMark {
	n, b := s.Queued()
	return gaugeMark{s.Inflight(), n, b}
}

// since adds the changes made after m to st.
func (s *State) since(m gaugeMark, st *SendStats) {
	n, b := s.Queued()
	st.DInflight += s.Inflight() - m.inf
	st.DQueued += n - m.q
	st.DQueuedBytes += b - m.qb
}

// window is the outbound inflight bound: the client's Receive Maximum
// [MQTT-3.3.4-7] capped by the server's own limit.
func (s *State) window() int {
	return int(min(s.recvMax, s.lim.MaxInflight))
}

// Deliver sends d to the client now, or queues it (inflight window full,
// earlier messages queued, or the session offline). Results are added to st.
//
// With o nil (no connection to write to) an online session queues d as if
// it were offline, so a delivery that arrives between a connection's end and
// the session's Detach can never be written to a missing connection.
func (s *State) Deliver(d Delivery, now int64, o *Out, st *SendStats) {
	if d.Msg.Expired(now) {
		st.Expired++
		return
	}
	m := s.mark()
	defer s.since(m, st)
	q := d.qos()
	if !s.Connected || o == nil {
		if q == 0 {
			st.OfflineQoS++
			return
		}
		f := s.f()
		if s.overBudget(st) {
			return
		}
		f.queue.push(d)
		st.Queued++
		if f.queue.over(s.lim) {
			// Expired messages leave first: they must not push out live ones.
			st.Expired += f.queue.dropExpired(now)
		}
		st.QueueFull += f.queue.trim(s.lim)
		return
	}
	if f := s.fl; f != nil && (f.queue.n > 0 || q > 0 && len(f.inflight) >= s.window()) || o.full() {
		if s.overBudget(st) {
			return
		}
		s.f().queue.push(d)
		st.Queued++
		return
	}
	s.send(d, q, now, o, st)
}

// overBudget applies the process-wide queue budget to a message about to be
// queued: while it is over, the offline policy decides what goes (the new
// message, or the session's oldest queued one to make room), counted in
// st.OverBudget. It reports whether the new message was dropped.
func (s *State) overBudget(st *SendStats) bool {
	if !s.lim.Budget.Over() {
		return false
	}
	st.OverBudget++
	if q := &s.f().queue; s.lim.DropOldest && q.n > 0 {
		q.popFront()
		return false
	}
	return true
}

// send encodes d now; QoS 1/2 take a packet identifier and an inflight slot.
func (s *State) send(d Delivery, q byte, now int64, o *Out, st *SendStats) {
	var id uint16
	if q > 0 {
		id = s.allocID()
	}
	if !s.writePublish(o, &d, q, id, false, now) {
		st.TooLarge++
		return
	}
	st.Sent++
	if q > 0 {
		state := waitAck
		if q == 2 {
			state = waitRec
		}
		f := s.f()
		f.inflight = append(f.inflight, outEntry{d: d, sentAt: now, id: id, qos: q, state: state})
	}
}

// allocID returns a packet identifier not in use [MQTT-2.2.1-3].
func (s *State) allocID() uint16 {
	for {
		s.nextID++
		if s.nextID == 0 {
			s.nextID = 1
		}
		if s.find(s.nextID) < 0 {
			return s.nextID
		}
	}
}

func (s *State) find(id uint16) int {
	out := s.out()
	for i := range out {
		if out[i].id == id {
			return i
		}
	}
	return -1
}

func (s *State) remove(i int) {
	f := s.fl
	copy(f.inflight[i:], f.inflight[i+1:])
	f.inflight[len(f.inflight)-1] = outEntry{}
	f.inflight = f.inflight[:len(f.inflight)-1]
}

// writePublish encodes the PUBLISH header of d (per subscriber: packet ID,
// subscription identifiers, remaining expiry) and references the shared
// payload. It returns false, writing nothing, when the packet exceeds the
// client's Maximum Packet Size [MQTT-3.1.2-25]. For a client that accepts
// topic aliases the topic goes out aliased (see alias.go).
func (s *State) writePublish(o *Out, d *Delivery, q byte, id uint16, dup bool, now int64) bool {
	return s.encodePublish(o, d, q, id, dup, now, true)
}

// encodePublish is writePublish; useAlias false sends the full topic and
// leaves the connection's aliases alone (a size check, see fits).
func (s *State) encodePublish(o *Out, d *Delivery, q byte, id uint16, dup bool, now int64, useAlias bool) bool {
	m := d.Msg
	p := mqttcodec.Publish{Dup: dup, QoS: q, Retain: d.Retain, Topic: m.Topic, PacketID: id}
	var alias uint16
	var first bool
	if s.version() == mqttcodec.V5 {
		p.Props = m.Props
		if useAlias {
			if alias, first = s.topicAlias(m.Topic); alias != 0 {
				// The first use carries topic and alias, later uses an
				// empty topic (section 3.3.2.3.4); never above the
				// client's Topic Alias Maximum [MQTT-3.3.2-11] (topicAlias).
				p.Props.TopicAlias = alias
				p.Props.Set(mqttcodec.PropTopicAlias)
				if !first {
					p.Topic = nil
				}
			}
		}
		if n := len(d.SubIDs); n > 0 {
			p.Props.NumSubscriptionIDs = n
			copy(p.Props.SubscriptionIDs[:], d.SubIDs)
			if n > len(p.Props.SubscriptionIDs) {
				p.Props.MoreSubscriptionIDs = d.SubIDs[len(p.Props.SubscriptionIDs):]
			}
		}
		if m.ExpiresAt != 0 {
			// [MQTT-3.3.2-6] the interval sent is what is left of it. A
			// message whose onward delivery had started before it expired
			// (a resend from the inflight window) is still sent, as the
			// spec only lets us drop a copy not yet sent [MQTT-3.3.2-5]:
			// with 1 s, the smallest interval that is not "no expiry".
			p.Props.MessageExpiry = RemainingExpiry(m.ExpiresAt, now)
			p.Props.Set(mqttcodec.PropMessageExpiry)
		}
	}
	start := o.begin()
	buf, _ := mqttcodec.AppendPublishHeader(*o.Arena, s.version(), &p, len(m.Payload))
	*o.Arena = buf
	if mp := s.maxPacket; mp > 0 && len(buf)-start+len(m.Payload) > int(mp) {
		o.rollback(start)
		return false
	}
	o.commit(start)
	o.ref(m.Payload)
	if first {
		s.keepAlias(m.Topic, alias)
	}
	return true
}

// RemainingExpiry is the Message Expiry Interval to send for a message that
// expires at expiresAt (unix nanos, != 0): the whole seconds left, rounded
// up, and at least 1 once the deadline passed; never a wrapped value.
func RemainingExpiry(expiresAt, now int64) uint32 {
	left := (expiresAt - now + 999_999_999) / 1e9
	switch {
	case left < 1:
		return 1
	case left > 0xFFFFFFFF:
		return 0xFFFFFFFF
	}
	return uint32(left)
}

// onAck applies PUBACK, PUBREC or PUBCOMP from the client and refills the
// window from the queue.
func (s *State) onAck(a *mqttcodec.Ack, now int64, o *Out, st *SendStats) {
	i := s.find(a.PacketID)
	switch a.Type {
	case mqttcodec.PUBACK:
		if i >= 0 && s.fl.inflight[i].state == waitAck {
			s.remove(i)
		}
	case mqttcodec.PUBREC:
		switch {
		case i < 0:
			rc := mqttcodec.Success
			if s.version() == mqttcodec.V5 {
				rc = mqttcodec.PacketIDNotFound
			}
			s.appendAck(o, mqttcodec.PUBREL, a.PacketID, rc)
		case a.Reason.IsError():
			s.remove(i) // section 4.3.3: the flow ends with an error PUBREC
		default:
			e := &s.fl.inflight[i]
			e.state = waitComp
			e.sentAt = now
			e.d = Delivery{} // the message itself is no longer needed
			s.appendAck(o, mqttcodec.PUBREL, a.PacketID, mqttcodec.Success)
		}
	case mqttcodec.PUBCOMP:
		if i >= 0 && s.fl.inflight[i].state == waitComp {
			s.remove(i)
		}
	}
	s.sendHeld(now, o)
	s.drainQueue(now, o, st)
}

// sendHeld resends, with DUP, inflight messages that a resume held back
// because the new connection's Receive Maximum was smaller than the window
// they were sent in [MQTT-3.3.4-9], as acknowledgements make room.
func (s *State) sendHeld(now int64, o *Out) {
	if s.fl == nil || o == nil {
		return
	}
	w, sent := s.window(), 0
	for i := range s.fl.inflight {
		e := &s.fl.inflight[i]
		if !e.held {
			sent++
			continue
		}
		if sent >= w {
			return
		}
		e.held, e.sentAt = false, now
		if e.state == waitComp {
			s.appendAck(o, mqttcodec.PUBREL, e.id, mqttcodec.Success)
		} else {
			s.writePublish(o, &e.d, e.qos, e.id, true, now)
		}
		sent++
	}
}

// drainQueue sends queued messages while the window has room and o is
// below its byte budget (Out.Limit).
func (s *State) drainQueue(now int64, o *Out, st *SendStats) {
	w := s.window()
	for s.Connected && o != nil && s.fl != nil && s.fl.queue.n > 0 && !o.full() {
		qu := &s.fl.queue
		q := qu.front().qos()
		if q > 0 && len(s.fl.inflight) >= w {
			return
		}
		dd := qu.popFront()
		if dd.Msg.Expired(now) {
			st.Expired++
			continue
		}
		s.send(dd, q, now, o, st)
	}
}

// Pump sends queued messages while the inflight window has room and o is
// below its byte budget: the gateway calls it when a connection whose queue
// was held back by Out.Limit has drained. Results are added to st.
func (s *State) Pump(now int64, o *Out, st *SendStats) {
	m := s.mark()
	s.drainQueue(now, o, st)
	s.since(m, st)
}

// CanSend reports whether the front of the queue could be sent now, were
// the connection's output budget not spent: queued messages exist and the
// inflight window has room for the first of them.
func (s *State) CanSend() bool {
	if !s.Connected || s.fl == nil || s.fl.queue.n == 0 {
		return false
	}
	return s.fl.queue.front().qos() == 0 || len(s.fl.inflight) < s.window()
}

// Resend re-sends, on a live MQTT 3.1/3.1.1 connection, every outbound
// QoS 1/2 message (with DUP) or PUBREL unacknowledged for at least interval
// nanoseconds, and returns the next time one will be due (0 = none). MQTT 5
// forbids resending except on session resume [MQTT-4.4.0-1]: for v5 it does
// nothing.
func (s *State) Resend(now, interval int64, o *Out, st *SendStats) (next int64) {
	if !s.Connected || interval <= 0 || s.version() == mqttcodec.V5 {
		return 0
	}
	for i := range s.out() {
		e := &s.fl.inflight[i]
		if e.held {
			continue
		}
		if due := e.sentAt + interval; due > now {
			if next == 0 || due < next {
				next = due
			}
			continue
		}
		e.sentAt = now
		if e.state == waitComp {
			s.appendAck(o, mqttcodec.PUBREL, e.id, mqttcodec.Success)
		} else if s.writePublish(o, &e.d, e.qos, e.id, true, now) {
			st.Sent++
		}
		if due := now + interval; next == 0 || due < next {
			next = due
		}
	}
	return next
}
