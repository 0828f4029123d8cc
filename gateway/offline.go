package gateway

// Offline sessions and the end of a session: detach to offline (the
// offline queue, session expiry, delayed wills on the loop's wheel), the
// end of a session (registry, router, gauges), clean start. Loop-only.

import (
	"edgegw/router"
	"edgegw/session"
)

// offline makes rec's session offline, or ends it when its expiry is 0; a
// will is published now or after its delay [MQTT-3.1.3-9].
func (l *loop) offline(rec *sessionRec, w *session.Will) {
	st := rec.st
	exp := st.Expiry
	if exp == 0 {
		l.endSession(rec)
		if w != nil {
			l.publishWill(rec, w)
		}
		return
	}
	var ss session.SendStats
	st.Detach(l.now, &ss)
	l.countSend(ss)
	x := rec.ext()
	if exp != 0xFFFFFFFF {
		x.expireAt = l.now + int64(exp)*1e9
	}
	if w != nil {
		if w.Delay == 0 {
			l.publishWill(rec, w)
		} else {
			x.will, x.willAt = w, l.now+int64(w.Delay)*1e9
		}
	}
	l.wheel.schedule(rec, rec.nextDeadline())
}

// slotAt is rec's wheel deadline; rec is scheduled only by offline, which
// allocates x.
func (rec *sessionRec) slotAt() *int64 { return &rec.ext().wheelAt }

func (rec *sessionRec) nextDeadline() int64 {
	x := rec.x
	if x == nil {
		return 0
	}
	d := x.expireAt
	if x.will != nil && (d == 0 || x.willAt < d) {
		d = x.willAt
	}
	return d
}

// fire publishes a delayed will and ends an expired offline session.
func (rec *sessionRec) fire(l *loop, now int64) int64 {
	if rec.dead() || rec.conn != nil || !rec.ownedBy(l) || rec.st == nil || rec.x == nil {
		return 0
	}
	x := rec.x
	if x.will != nil && now >= x.willAt {
		w := x.will
		x.will = nil
		l.publishWill(rec, w)
	}
	if x.expireAt != 0 && now >= x.expireAt {
		if w := x.will; w != nil {
			x.will = nil
			l.publishWill(rec, w) // the session ends before the will delay [MQTT-3.1.3-9]
		}
		l.endSession(rec)
		return 0
	}
	return rec.nextDeadline()
}

// endSession removes rec: registry, router subscriptions, gauges.
func (l *loop) endSession(rec *sessionRec) {
	if !l.g.reg.remove(rec) {
		return
	}
	l.g.m.sessions.Add(-1)
	l.resetSession(rec)
	l.releaseWaiters(rec)
}

// resetSession drops every subscription and message of rec (clean start).
//
// A session that ended (rec dead: its handle resolves to nothing any more)
// and holds more than unsubSlice filters leaves the router in slices, one
// per wake (l.unsubs), so that ending a huge session does not stall its loop;
// a session that goes on (clean start on takeover) is cleared at once, since
// its handle subscribes again.
func (l *loop) resetSession(rec *sessionRec) {
	st := rec.st
	if n := rec.subs.len(); n > 0 {
		filters := rec.subs.appendTo(make([][]byte, 0, n))
		l.relayUnsubscribed(filters...) // the aggregation stops counting them (relay.go)
		if n > unsubSlice && rec.dead() {
			l.unsubs = append(l.unsubs, staleSubs{h: rec.handle, filters: filters})
		} else {
			l.g.router.UnsubscribeAll(rec.handle, filters)
		}
		l.st.subs -= int64(n)
	}
	rec.subs = nil
	var ss session.SendStats
	st.Reset(&ss)
	l.countSend(ss)
}

// unsubSlice is how many filters of an ended session leave the router per
// wake (about 1 ms of router work).
const unsubSlice = 1024

// staleSubs are the filters of an ended session still in the router.
type staleSubs struct {
	h       router.Subscriber
	filters [][]byte
}

// dropStaleSubs removes the next slice of ended sessions' filters.
func (l *loop) dropStaleSubs() {
	u := &l.unsubs[0]
	k := min(unsubSlice, len(u.filters))
	l.g.router.UnsubscribeAll(u.h, u.filters[:k])
	clear(u.filters[:k])
	u.filters = u.filters[k:]
	if len(u.filters) == 0 {
		copy(l.unsubs, l.unsubs[1:])
		l.unsubs[len(l.unsubs)-1] = staleSubs{}
		l.unsubs = l.unsubs[:len(l.unsubs)-1]
	}
}
