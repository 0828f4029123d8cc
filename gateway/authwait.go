package gateway

// The protected CONNECT (README "Protection"), in this order: storm
// shaping (connect rates, bans, flapping), then the per-user auth rate,
// then authentication on gateway/auth's worker pool, then the per-user
// connection cap, the client's ACL matcher and its will. Loop-only.

import (
	"errors"

	"edgegw/gateway/auth"
	"edgegw/gateway/limit"
	"edgegw/mqttcodec"
	"edgegw/session"
)

// Errors logged with a protection refusal (never with a secret).
var (
	errLimited     = errors.New("refused by [limits]")
	errAuthRefused = errors.New("authentication refused")
	errAuthBusy    = errors.New("authentication queue full")
	errACLWill     = errors.New("will topic not allowed by the ACL")
	errACLRules    = errors.New("the verifier's ACL rules do not parse")
)

// protectConnect runs for a CONNECT that passed ParseConnect and admission
// when Gateway.prot is set. It returns true when the CONNECT goes on at once
// (claim), false when it was refused or waits for its verdict: then c is
// in stWaiting, not read, until the pool's verdict comes back through the
// inbox (authDone). p is the borrowed packet: what the request keeps is
// copied. Refused connects never reach the verifiers.
func (c *conn) protectConnect(p *mqttcodec.Connect, pr *session.Params) bool {
	l := c.l
	pt := l.g.prot
	gd := l.guards[c]
	if gd == nil {
		gd = l.newGuard(c) // a connection accepted before the loop saw the gateway's protection (cannot happen today)
		gd.proxyWait = false
	}
	ip := c.clientAddr().Addr()
	if pt.lim != nil {
		if r := pt.lim.Connect(l.now, ip, p.ClientID); r != limit.OK {
			if r == limit.Flapping {
				l.g.banLog(pr.ClientID, ip)
			}
			c.refuseLimit(pr.Version, r, pr.ClientID)
			return false
		}
	}
	if id := c.tlsIdentity(); id != "" {
		// listeners.tls_username_from: the client certificate, verified
		// against tls_client_ca in the handshake, is the credential (as
		// mosquitto's use_identity_as_username): the CONNECT's user name
		// and password are not checked, and the identity is the user name
		// for the ACLs and the per-user cap.
		pt.m.certificate.Inc()
		gd.user = id
		return c.admitClient(gd, pr, nil, "")
	}
	if !pt.authOn || pt.anon && !p.UsernameFlag && !p.PasswordFlag {
		// The fast path: no pool. Without verifiers (authOn false) a user
		// name is taken as given, for the ACLs and the per-user cap.
		pt.m.anonymous.Inc()
		if p.UsernameFlag {
			gd.user = string(p.Username)
		}
		return c.admitClient(gd, pr, nil, "")
	}
	if pt.lim != nil && p.UsernameFlag {
		if r := pt.lim.Auth(l.now, p.Username); r != limit.OK {
			c.refuseLimit(pr.Version, r, pr.ClientID) // the verifier is not called
			return false
		}
	}
	gd.user = string(p.Username)
	req := auth.NewRequest(pr.ClientID, gd.user, p.UsernameFlag, p.Password, p.PasswordFlag, ip, c.listenerName(), "", nil)
	if t := l.tls[c]; c.tls && t != nil {
		if id := t.rec.Peer(); id != nil {
			req.TLSCommonName, req.TLSSANs = id.CommonName, id.SANs
		}
	}
	tr := &takeoverReq{c: c, l: l, pr: *pr}
	c.state = stWaiting // not read until the verdict (conn.read)
	err := pt.authn.Submit(req, func(r auth.Result) {
		gd.res = r // ordered before the loop reads it by the inbox lock
		postNow(l, inItem{kind: inAuth, req: tr})
	})
	if err != nil {
		// [MQTT-3.2.2-6]/[MQTT-3.2.2-7] v5 0x89 Server busy, v3 0x03.
		pt.m.authBusy.Inc()
		c.refuse(pr.Version, mqttcodec.ServerBusy, errAuthBusy, pr.ClientID)
		return false
	}
	return false
}

// authDone applies a verdict that came back from the pool (inAuth). The
// connection may have closed meanwhile (its slot is -1, its guard gone),
// or be closing: then the verdict is dropped.
func (l *loop) authDone(tr *takeoverReq) {
	c := tr.c
	if c.gone() || c.closed || c.state != stWaiting {
		return
	}
	gd := l.guards[c]
	if gd == nil {
		return
	}
	res := gd.res
	gd.res.ACL = nil
	if !res.Allowed {
		// v5 0x86/0x87/0x88/0x89; v3 0x04/0x05/0x03 (ConnackV3Code
		// maps them as auth.Reason.V3 does) [MQTT-3.2.2-6] [MQTT-3.2.2-7].
		c.refuse(tr.pr.Version, mqttcodec.ReasonCode(res.Reason), errAuthRefused, tr.pr.ClientID)
		return
	}
	src := "jwt"
	if res.Cause == auth.CauseHTTP || res.Cause == auth.CauseHTTPCached {
		src = "http"
	}
	if !c.admitClient(gd, &tr.pr, res.ACL, src) {
		return
	}
	l.claim(tr)
	if !c.closed && c.state != stClosing && (c.tls || c.ws) && !c.reading {
		_ = c.gc.Wake(nil) // bytes the transport decoded while the verdict travelled
	}
}

// admitClient applies what follows a successful authentication: the user's
// connection cap, the client's ACL matcher (the file's rules plus the
// verifier's, from source) and the will's topic against it. It refuses the
// CONNECT and returns false when one of them says no.
func (c *conn) admitClient(gd *guard, pr *session.Params, rules []string, source string) bool {
	l := c.l
	pt := l.g.prot
	if pt.lim != nil && gd.user != "" {
		slot, r := pt.lim.Acquire(l.now, []byte(gd.user))
		if r != limit.OK {
			c.refuseLimit(pr.Version, r, pr.ClientID) // v5 0x97, v3 0x03
			return false
		}
		gd.slot = slot
	}
	var extra []auth.ACLRule
	if len(rules) > 0 {
		var err error
		if extra, err = auth.ParseACLLines(rules, source); err != nil {
			pt.m.acl[aclClaims].Inc()
			c.refuse(pr.Version, mqttcodec.NotAuthorized, errACLRules, pr.ClientID)
			return false
		}
	}
	set := pt.acl.Current()
	if set == nil && len(extra) > 0 {
		set = pt.noRules
	}
	gd.acl = set.Compile(gd.user, pr.ClientID, extra)
	if w := pr.Will; w != nil && gd.acl != nil && !gd.acl.CanPublish(w.Msg.Topic) {
		// The will is checked once, here, rather than at publication: a
		// client learns at CONNECT that its will could never be sent
		// (v5 0x87 Not authorized, v3 0x05).
		pt.m.acl[aclWill].Inc()
		c.refuse(pr.Version, mqttcodec.NotAuthorized, errACLWill, pr.ClientID)
		return false
	}
	return true
}

// refuseLimit refuses a CONNECT for r: CONNACK with r's v5 code, or its
// v3.1.1 code where 3.1.1 has one; a v3 client over a rate is closed
// without an answer. Counted by reason.
func (c *conn) refuseLimit(v mqttcodec.Version, r limit.Reason, id string) {
	c.l.g.prot.m.refused[r].Inc()
	if v == mqttcodec.V5 {
		c.refuse(v, mqttcodec.ReasonCode(r.V5()), errLimited, id)
		return
	}
	if _, answer := r.V3(); answer {
		c.refuse(v, mqttcodec.ReasonCode(r.V5()), errLimited, id) // AppendRefusal maps it to the 3.1.1 code
		return
	}
	c.version = v
	c.l.refusing = id // for kick's log line
	c.kick(0, closeRefused, errLimited)
	c.l.refusing = ""
}

// tlsIdentity is the identity listeners.tls_username_from takes from c's
// verified client certificate, "" when none. Loop-only.
func (c *conn) tlsIdentity() string {
	if !c.tls {
		return ""
	}
	if t := c.l.tls[c]; t != nil {
		return t.user
	}
	return ""
}

// listenerName names the listener c arrived on, for the HTTP backend.
func (c *conn) listenerName() string {
	switch {
	case c.ws && c.tls:
		return "wss"
	case c.ws:
		return "ws"
	case c.tls:
		return "tls"
	}
	return "tcp"
}
