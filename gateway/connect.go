package gateway

// CONNECT: the first packet of a connection, its refusal, and the
// registry lookup that creates a session or claims an existing one
// (takeover.go). Loop-only.

import (
	"edgegw/mqttcodec"
	"edgegw/session"
)

// onConnect handles the first packet of a connection, which must be CONNECT.
func (c *conn) onConnect(frame []byte) {
	l := c.l
	g := l.g
	if mqttcodec.TypeOf(frame) != mqttcodec.CONNECT {
		// [MQTT-3.1.0-1] the first packet must be CONNECT: garbage is closed.
		c.kick(0, closeProtocol, errNotConnect)
		return
	}
	p := &l.connect
	if err := mqttcodec.DecodeConnect(frame, p); err != nil {
		rc := mqttcodec.ReasonOf(err)
		switch {
		case rc == mqttcodec.UnsupportedProtocolVersion:
			// [MQTT-3.1.2-2] CONNACK 0x01 (v3) / 0x84 (v5), then close.
			v := mqttcodec.V311
			if p.Version == mqttcodec.V5 {
				v = mqttcodec.V5
			}
			c.refuse(v, rc, err, string(p.ClientID))
		case p.Version == mqttcodec.V5:
			c.refuse(mqttcodec.V5, rc, err, string(p.ClientID))
		default:
			c.kick(0, closeReasonOf(rc), err)
		}
		return
	}
	pr, rc := session.ParseConnect(p, &g.lim, l.now, g.assignID)
	if rc != mqttcodec.Success {
		c.refuse(p.Version, rc, nil, string(p.ClientID))
		return
	}
	if !c.admit(pr.Version, pr.ClientID) { // memory budget (admission.go)
		return
	}
	c.version = pr.Version
	c.bridge = pr.Bridge
	c.keepAlive = pr.KeepAlive
	c.wheelAt = 0 // it held the open time; from now on it is the wheel's
	if g.prot != nil && !c.protectConnect(p, &pr) {
		return // refused, or waiting for its verdict (authwait.go)
	}
	// The request lives in the loop's scratch: a new session is attached
	// before claim returns, so the common CONNECT leaves no garbage behind
	// (a connect storm would otherwise grow the heap by the request's size
	// per client until the next GC). claim copies it to the heap when it
	// has to wait for another loop.
	l.req = takeoverReq{c: c, l: l, pr: pr}
	l.claim(&l.req)
	l.req = takeoverReq{}
}

// refuse answers CONNECT with a CONNACK reason code and closes; id is the
// CONNECT's client ID, for the close's log line (no session names it).
func (c *conn) refuse(v mqttcodec.Version, rc mqttcodec.ReasonCode, err error, id string) {
	session.AppendRefusal(c.o(), v, rc)
	c.l.st.pktOut[mqttcodec.CONNACK]++
	c.markDirty()
	c.version = v
	c.state = stClosing
	c.reason = closeRefused
	c.l.refusing = id
	c.logClose(closeRefused, rc, err)
	c.l.refusing = ""
	c.closeTold() // FIN after the CONNACK, then a bounded linger (linger.go)
}

// claim looks the client ID up in the registry: a new session is attached
// at once; an existing one is claimed from its owner loop. req may be the
// loop's scratch (l.req): it is used only before claim returns, and copied
// to the heap when the claim has to wait.
func (l *loop) claim(req *takeoverReq) {
	rec, created := l.g.reg.acquire(req.pr.ClientID, l)
	req.rec = rec
	if created {
		l.g.m.sessions.Add(1)
		req.st = session.New(&req.pr, &l.g.lim)
		l.attach(req)
		return
	}
	if req == &l.req {
		h := new(takeoverReq)
		*h = *req
		req = h
	}
	req.c.state = stWaiting
	if owner := rec.owner(l.g); owner == l {
		l.takeover(req)
	} else {
		l.send(owner, inItem{kind: inTakeover, req: req})
	}
}

// retryConnect redoes claim after the claimed session ended meanwhile.
func (l *loop) retryConnect(req *takeoverReq) {
	if req.c.closed || req.c.state == stClosing {
		return
	}
	l.claim(req)
}
