package tlsrec

// Conn is the TLS state of one connection. Loop-only: one Conn per
// connection, used by the goroutine that owns the socket (the gnet event
// loop), never shared; the pool goroutine of a handshake in progress meets
// it only through its handshake.
//
// Before the handshake completes a Conn holds a handshake (pipe buffers,
// the tls.Conn, its goroutine); after, only the two directions' AEAD state
// and sequence numbers, and the client certificate's Identity: no buffer
// and no goroutine.
type Conn struct {
	srv     *Server
	wake    func()
	h       *handshake // non-nil while a handshake runs
	err     error      // terminal; an *Error
	cause   error      // crypto/tls's error or the peer's alert, for the log
	suite   *suite     // non-nil once established
	peer    *Identity
	vers    uint16
	resumed bool
	ignored uint8 // records in a row without data (maxIgnored)
	in, out halfConn
}

// Feed reads the ciphertext in, a borrowed prefix of the inbound stream,
// and returns how many bytes it consumed. It appends the decrypted
// application data to plain and what must be sent to the client to out
// (handshake messages, alerts, KeyUpdate answers), and returns the extended
// slices. in is read, never modified or kept; the bytes after n (a partial
// record, or whole records the handshake cannot take yet) must be given
// again, first, on the next call. Feed consumes every whole record
// otherwise, so the caller bounds the work per call by the length of in,
// and must be able to buffer MaxRecord bytes.
//
// While the handshake runs Feed only moves whole records to the pool and
// output back; plain stays empty. The Conn calls its wake function when it
// has more to do; the loop then calls Feed, with in empty if nothing new
// arrived. Handshaking reports the phase.
//
// A non-nil error ends the connection: an *Error, with its alert already
// in out when Error.Sent (a failed handshake's out holds crypto/tls's alert,
// if it sent one). plain holds the data of the records before the error: it
// is authentic and should be processed (an MQTT DISCONNECT is often followed
// by close_notify in the same read). Write out, then close. Every later call
// returns the same error and consumes nothing.
//
// Feed does not allocate after the handshake when plain has len(in) and
// out a few dozen bytes of spare capacity.
func (c *Conn) Feed(in, plain, out []byte) (n int, plainOut, outOut []byte, err error) {
	if c.err != nil {
		return 0, plain, out, c.err
	}
	if c.suite == nil {
		n, plain, out = c.feedHandshake(in, plain, out)
		if c.err != nil || c.suite == nil {
			return n, plain, out, c.err
		}
	}
	m, plain, out, err := c.feedRecords(in[n:], plain, out)
	return n + m, plain, out, err
}

// feedHandshake starts the handshake on the first whole record, moves
// records to it and its output back, and installs the record layer once it
// has finished (consuming the records crypto/tls left unread).
func (c *Conn) feedHandshake(in, plain, out []byte) (int, []byte, []byte) {
	h := c.h
	if h == nil {
		// The first record must be a handshake record with a TLS 1.x
		// version (RFC 8446 5.1); anything else is refused on the loop,
		// with no slot taken.
		if len(in) >= 1 && in[0] != typeHandshake || len(in) >= 2 && in[1] != 3 {
			c.err = ErrNotTLS
			c.srv.count(ErrNotTLS)
			return 0, plain, out
		}
		if len(in) < recordHeaderLen {
			return 0, plain, out
		}
		if size := int(in[3])<<8 | int(in[4]); size <= maxCiphertext12 && len(in) < recordHeaderLen+size {
			return 0, plain, out // wait for the whole first record (push clips an oversized one)
		}
		if !c.srv.acquire() {
			c.err = ErrBusy
			c.srv.count(ErrBusy)
			// A plaintext fatal alert: nothing was negotiated yet.
			return 0, plain, append(out, typeAlert, 3, 1, 0, 2, alertFatal, byte(AlertInternalError))
		}
		h = &handshake{srv: c.srv, gen: c.srv.gen.Load(), wake: c.wake, notify: make(chan struct{}, 1)}
		c.h = h
		n := h.push(in)
		go h.run()
		return n, plain, out
	}
	h.mu.Lock()
	h.woken = false
	out = append(out, h.out...)
	h.out = h.out[:0]
	if !h.done {
		n := h.push(in)
		h.mu.Unlock()
		if n > 0 {
			h.signal()
		}
		return n, plain, out
	}
	res, left := h.res, h.in[h.off:]
	h.mu.Unlock()
	c.h = nil
	if res.err != nil {
		c.err, c.cause = res.err, res.cause
		return 0, plain, out
	}
	c.suite, c.vers, c.resumed, c.peer = res.suite, res.vers, res.resumed, res.peer
	c.in, c.out = res.in, res.out
	// Records that arrived with or after the client's Finished.
	m, plain, out, _ := c.feedRecords(left, plain, out)
	if m != len(left) && c.err == nil {
		c.err = ErrInternal // push moved whole records only
	}
	return 0, plain, out
}

// push moves the whole records at the head of in to the handshake, as many
// as fit in pipeCap, and returns how many bytes it took. A record over the
// size limit is clipped to its header, for crypto/tls to refuse with
// record_overflow. Called with h.mu held, or before run starts.
func (h *handshake) push(in []byte) int {
	n := 0
	for len(in)-n >= recordHeaderLen {
		rest := in[n:]
		size := recordHeaderLen + (int(rest[3])<<8 | int(rest[4]))
		if size-recordHeaderLen > maxCiphertext12 {
			size = recordHeaderLen
		}
		if len(rest) < size {
			break
		}
		if len(h.in)-h.off > 0 && len(h.in)-h.off+size > pipeCap {
			h.waiting = true
			break
		}
		h.in = append(h.in, rest[:size]...)
		n += size
	}
	return n
}

// signal tells the handshake goroutine that input arrived or the Conn
// closed, without waiting.
func (h *handshake) signal() {
	select {
	case h.notify <- struct{}{}:
	default:
	}
}

// Close ends the Conn. A handshake in progress is abandoned: its goroutine
// stops at its next read or write, frees its slot and counts it. Close
// never blocks and sends nothing; use AppendCloseNotify first for a clean
// close. Loop-only.
func (c *Conn) Close() {
	if h := c.h; h != nil {
		h.mu.Lock()
		h.closed = true
		h.mu.Unlock()
		h.signal()
		c.h = nil
	}
	if c.err == nil {
		c.err = ErrClosed
	}
}

// Handshaking reports whether the handshake started and has not ended
// (Feed has not yet seen its end).
func (c *Conn) Handshaking() bool { return c.h != nil }

// Established reports whether the handshake completed and the Conn has not
// ended: AppendRecord works.
func (c *Conn) Established() bool { return c.suite != nil && c.err == nil }

// Err returns the error that ended the Conn, or nil.
func (c *Conn) Err() error { return c.err }

// Cause returns what lies behind the end of a Conn, for its one log line:
// crypto/tls's error for a failed handshake, the alert for ErrPeerAlert, or
// nil.
func (c *Conn) Cause() error { return c.cause }

// Peer returns the client certificate's identity, or nil when the client
// sent none (or before the handshake completed).
func (c *Conn) Peer() *Identity { return c.peer }

// Version returns the negotiated version (tls.VersionTLS12 or
// tls.VersionTLS13), 0 before the handshake completed.
func (c *Conn) Version() uint16 { return c.vers }

// CipherSuite returns the negotiated suite, 0 before the handshake completed.
func (c *Conn) CipherSuite() uint16 {
	if c.suite == nil {
		return 0
	}
	return c.suite.id
}

// DidResume reports whether the handshake resumed a session (ticket).
func (c *Conn) DidResume() bool { return c.resumed }
