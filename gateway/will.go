package gateway

import "edgegw/session"

// publishWill queues a will message for publication at the end of the
// current wake (see loop.end). A will is never published from inside the
// code that ends its session (detach, kick, takeover, expiry), which may
// itself run inside a publish (a subscriber kicked mid fan-out): publish is
// never re-entered, and the session is offline or gone before its own will
// reaches it [MQTT-3.1.2-8].
func (l *loop) publishWill(rec *sessionRec, w *session.Will) {
	l.wills = append(l.wills, pendingWill{rec: rec, msg: w.Message(l.now)})
}

// pendingWill is a will waiting for the end of the wake; msg is stamped with
// its expiry at the moment the will became due.
type pendingWill struct {
	rec *sessionRec
	msg *session.Message
}

// publishWills routes the wills that became due during this wake; wills
// that their publication makes due (a slow subscriber kicked) follow in the
// same call.
func (l *loop) publishWills() {
	for i := 0; i < len(l.wills); i++ {
		w := l.wills[i]
		l.wills[i] = pendingWill{}
		l.publish(w.msg, w.rec, nil, 0, 0)
	}
	l.wills = l.wills[:0]
}
