package gateway

import (
	"errors"
	"fmt"

	"github.com/panjf2000/gnet/v2"

	"edgegw/gateway/tlsrec"
)

// tlsConn is the TLS state of a connection that arrived on the tls or wss
// listener. Loop-only; kept in loop.tls so that TCP connections pay nothing
// for it. The record layer (rec) decrypts on the loop into in, which is the
// connection's inbound byte stream: MQTT packets on tls, the WebSocket
// stream on wss (readWS reads it through rawSource).
type tlsConn struct {
	rec *tlsrec.Conn
	// in is the plaintext not yet consumed. During a wake it is the loop's
	// scratch (loop.tlsPlain) when nothing was left from an earlier one;
	// compact copies what is left at the end of the wake into a buffer of
	// the connection's own, so an idle connection holds none.
	in      []byte
	off     int  // bytes of in already consumed (see compact)
	scratch bool // in is loop.tlsPlain
	// end is Feed's error, kept until the plaintext before it is handled
	// (endTLS); nil while the stream goes on.
	end error
	// established: the handshake's end was seen.
	established bool
	// deferred: the CONNECT timeout found the handshake in progress and left
	// it to the record layer's timeout; it starts again at the handshake's
	// end (tlsEstablished).
	deferred bool
	// notified: our close_notify is written; nothing may follow it.
	notified bool
	// user is the client certificate's identity per listeners.tls_username_from
	// ("" when none), for the coming authentication; logged at close.
	user string
}

// newTLSServer builds the record layer's server from the listeners.tls_*
// keys: limits.max_tls_handshakes bounds the handshakes in progress and
// limits.connect_timeout each of them.
func (g *Gateway) newTLSServer() (*tlsrec.Server, error) {
	auth, err := tlsrec.ParseClientAuth(g.cfg.Listeners.TLSClientAuth)
	if err != nil {
		return nil, err
	}
	cred, err := g.loadTLSCredentials()
	if err != nil {
		return nil, err
	}
	kx, err := tlsrec.ParseKeyExchange(g.cfg.Listeners.TLSKeyExchange)
	if err != nil {
		return nil, err
	}
	return tlsrec.NewServer(tlsrec.Config{
		KeyExchange:      kx,
		ClientAuth:       auth,
		MaxHandshakes:    g.cfg.Limits.MaxTLSHandshakes,
		HandshakeTimeout: g.cfg.Limits.ConnectTimeout.D(),
	}, cred)
}

func (g *Gateway) loadTLSCredentials() (tlsrec.Credentials, error) {
	l := g.cfg.Listeners
	return tlsrec.LoadCredentials(l.TLSCert, l.TLSKey, l.TLSClientCA)
}

// ReloadTLS re-reads listeners.tls_cert, tls_key and tls_client_ca for the
// handshakes that start after it returns; established connections and
// handshakes in progress keep what they had. main calls it on SIGHUP. A
// file that cannot be read leaves the current credentials in place. Safe for
// concurrent use; a no-op without a TLS or WSS listener.
func (g *Gateway) ReloadTLS() error {
	if g.tlsSrv == nil {
		return nil
	}
	cred, err := g.loadTLSCredentials()
	if err != nil {
		return err
	}
	if err := g.tlsSrv.Reload(cred); err != nil {
		return fmt.Errorf("cannot reload TLS credentials: %w", err)
	}
	g.log.Info("TLS credentials reloaded", "cert", g.cfg.Listeners.TLSCert, "client_ca", g.cfg.Listeners.TLSClientCA)
	return nil
}

// foldTLS copies the record layer's handshake counters into the metrics.
// Called once per tick (OnTick), from gnet's ticker goroutine.
func (g *Gateway) foldTLS() {
	if g.tlsSrv == nil {
		return
	}
	s, m := g.tlsSrv.Stats(), g.m
	m.tlsHandshakes.Store(s.InProgress)
	m.tlsCompleted.Set(s.Completed)
	m.tlsResumed.Set(s.Resumed)
	m.tlsRefused.Set(s.Busy)
	m.tlsTimeout.Set(s.Timeout)
	m.tlsFailed.Set(s.Failed + s.Internal)
	m.tlsNotTLS.Set(s.NotTLS)
	m.tlsClientCert.Set(s.ClientCert)
	m.tlsPeerAlert.Set(s.PeerAlert)
	m.tlsAbandoned.Set(s.Abandoned)
}

// tlsFeedMax bounds the ciphertext one wake decrypts for a connection; at
// least one whole record (tlsrec.MaxRecord), which Feed needs to progress.
func (l *loop) tlsFeedMax() int { return max(l.g.cfg.Engine.ReadBufferSize, tlsrec.MaxRecord) }

// readTLS is read for a TLS connection: gnet's buffer (ciphertext) is fed to
// the record layer, which answers the handshake and decrypts into t.in;
// then t.in is read as on TCP (frames), or as the WebSocket stream on wss
// (readWS). The end of the TLS stream (close_notify, a failed handshake, a
// record violation) acts only after the plaintext before it is handled
// (endTLS). Loop-only, inside OnTraffic.
func (c *conn) readTLS() gnet.Action {
	gc, l := c.gc, c.l
	t := l.tls[c]
	if t == nil {
		return gnet.Close
	}
	defer t.compact(l)
	if t.end == nil && c.feedTLS(t) {
		_ = gc.Wake(nil) // ciphertext left past tlsFeedMax: come back for it
	}
	if c.closed || c.state == stClosing {
		return gnet.None // a failed write closed c, or the handshake end decided
	}
	if t.buffered() > l.inboundBound() {
		c.kick(0, closeInboundOverflow, nil)
		return gnet.None
	}
	var stop frameStop
	if c.ws {
		// readWS frames and wakes on its own; TLS may end only once the
		// WebSocket stream holds nothing more (its end, a packet left for
		// the next wake or cut by the read, or plaintext not unframed yet).
		c.readWS(t)
		w := l.ws[c]
		if c.closed || c.state == stClosing || w == nil || w.end != nil || w.buffered() > 0 || t.buffered() > 0 {
			return gnet.None
		}
		stop = stopNeedMore
		if c.state == stWaiting || c.paused || c.held() {
			stop = stopHeld
		}
	} else {
		stop = c.frames(t)
	}
	switch stop {
	case stopBudget:
		_ = gc.Wake(nil)
		return gnet.None
	case stopHeld:
		return gnet.None
	}
	if t.end != nil && t.buffered() == 0 {
		c.endTLS(t)
	}
	return gnet.None
}

// feedTLS gives the record layer up to tlsFeedMax bytes of gnet's buffer,
// writes what it answers (handshake messages, alerts) and keeps its error in
// t.end. It reports whether bytes it did not look at are left for another
// wake. A record cut by the read stays in gnet's buffer until its rest
// arrives: Feed consumes whole records only.
func (c *conn) feedTLS(t *tlsConn) (more bool) {
	gc, l := c.gc, c.l
	avail := gc.InboundBuffered()
	buf, _ := gc.Peek(min(avail, l.tlsFeedMax()))
	if len(t.in) == 0 {
		t.in, t.off, t.scratch = l.tlsPlain[:0], 0, true
	}
	start := len(l.arena)
	n, plain, out, err := t.rec.Feed(buf, t.in, l.arena)
	t.in = plain
	if n > 0 {
		// Not Discard(0): gnet's Discard(n <= 0) drops everything buffered.
		_, _ = gc.Discard(n)
		l.st.bytesIn += uint64(n)
	}
	if len(out) > start {
		l.arena = out
		_, _ = gc.Write(out[start:]) // sealed by the record layer, or the handshake's own
	}
	if !t.established && t.rec.Established() {
		t.established = true
		c.tlsEstablished(t)
	}
	if err != nil {
		t.end = err
	}
	return err == nil && n > 0 && len(buf) < avail
}

// tlsEstablished records the client certificate's identity and, when the
// CONNECT timeout was deferred during the handshake, gives the client
// limits.connect_timeout from now for its CONNECT.
func (c *conn) tlsEstablished(t *tlsConn) {
	l := c.l
	if id := t.rec.Peer(); id != nil {
		switch l.g.cfg.Listeners.TLSUsernameFrom {
		case "cn":
			t.user = id.CommonName
		case "san":
			if len(id.SANs) > 0 {
				t.user = id.SANs[0]
			}
		}
	}
	if t.deferred && c.state == stConnecting {
		c.wheelAt = l.now // the latest time in the FIFO: its order holds
		l.connecting = append(l.connecting, c)
	}
}

// deferConnectTimeout is asked by the CONNECT timeout (expireConnecting)
// for a connection whose time is up: it reports true, and the timeout
// starts again at the handshake's end, when c is a TLS connection whose
// handshake is in progress; the record layer ends that at its own timeout
// (limits.connect_timeout from the first record), counted as a handshake
// timeout.
func (c *conn) deferConnectTimeout() bool {
	if !c.tls {
		return false
	}
	t := c.l.tls[c]
	if t == nil || !t.rec.Handshaking() {
		return false
	}
	t.deferred = true
	return true
}

// errTLSPeerClosed is the close cause logged when the client ended TLS with
// close_notify before a DISCONNECT.
var errTLSPeerClosed = tlsrec.ErrPeerClosed

// endTLS closes c once its TLS stream ended (t.end) and the plaintext
// before the end is handled: close_notify without a DISCONNECT is a network
// close (the will is published [MQTT-3.1.2-8]); a failed handshake or a
// record violation is closeTLS, logged with its cause (crypto/tls's error
// or the client's alert). A no-op when a DISCONNECT already closed c.
func (c *conn) endTLS(t *tlsConn) {
	t.notified = true // Feed wrote whatever may still be sent (our close_notify, an alert)
	if errors.Is(t.end, errTLSPeerClosed) {
		c.kick(0, closeNetwork, t.end)
		return
	}
	err := t.end
	if cause := t.rec.Cause(); cause != nil && cause.Error() != t.end.Error() {
		err = fmt.Errorf("%w: %w", t.end, cause)
	}
	c.kick(0, closeTLS, err)
}

// tlsNotify writes close_notify, the clean end of our side (RFC 8446 6.1),
// once, when the handshake completed. Loop-only; a no-op for TCP.
func (c *conn) tlsNotify() {
	if !c.tls || c.closed {
		return
	}
	t := c.l.tls[c]
	if t == nil || t.notified {
		return
	}
	t.notified = true
	l := c.l
	start := len(l.arena)
	l.arena = t.rec.AppendCloseNotify(l.arena)
	if len(l.arena) > start {
		_, _ = c.gc.Write(l.arena[start:])
	}
}

// writev writes iov to c's socket: as it is for TCP, sealed into TLS
// records in the loop's arena for TLS (nothing once the record layer ended
// or before the handshake completed). Loop-only.
func (c *conn) writev(iov [][]byte) {
	if !c.tls {
		_, _ = c.gc.Writev(iov)
		return
	}
	t := c.l.tls[c]
	if t == nil || t.notified {
		return
	}
	l := c.l
	start := len(l.arena)
	out, err := t.rec.AppendRecordv(l.arena, iov)
	if err != nil {
		return
	}
	l.arena = out
	_, _ = c.gc.Write(out[start:])
}

// write is writev for one buffer.
func (c *conn) write(b []byte) {
	if !c.tls {
		_, _ = c.gc.Write(b)
		return
	}
	l := c.l
	l.tlsIov = append(l.tlsIov[:0], b)
	c.writev(l.tlsIov)
	l.tlsIov[0] = nil
}

// tlsConn is its connection's plaintext as a byteSource; the ciphertext was
// counted in bytesIn when it was fed.
func (t *tlsConn) buffered() int     { return len(t.in) - t.off }
func (t *tlsConn) peek(n int) []byte { return t.in[t.off : t.off+n] }
func (t *tlsConn) discard(n int)     { t.off += n }

// compact drops the consumed bytes from in at the end of a wake. What is
// left (a packet cut by the read, or packets held back) moves out of the
// loop's scratch into a buffer of the connection's own; an empty in is
// dropped, so an idle TLS connection holds no buffer.
func (t *tlsConn) compact(l *loop) {
	rest := t.in[t.off:]
	if t.scratch {
		l.tlsPlain = t.in[:0] // keep what Feed grew it to
		t.scratch = false
		t.in, t.off = nil, 0
		if len(rest) > 0 {
			t.in = append(make([]byte, 0, len(rest)+len(rest)/2), rest...)
		}
		return
	}
	if len(rest) == 0 {
		t.in, t.off = nil, 0
		return
	}
	if t.off > 0 {
		k := copy(t.in, rest)
		t.in, t.off = t.in[:k], 0
	}
}
