package tlsrec

import (
	"crypto/cipher"
	"encoding/binary"
	"slices"
)

// Record layer limits and content types (RFC 8446 section 5, RFC 5246 section 6.2).
const (
	recordHeaderLen = 5
	maxPlaintext    = 1 << 14      // RFC 8446 5.1
	maxCiphertext12 = 1<<14 + 2048 // RFC 5246 6.2.3
	maxCiphertext13 = 1<<14 + 256  // RFC 8446 5.2
	tagLen          = 16           // AES-GCM and ChaCha20-Poly1305
	explicitNonce   = 8            // TLS 1.2 AES-GCM, RFC 5288 3
	maxIgnored      = 16           // records in a row without data, as crypto/tls maxUselessRecords
	typeCCS         = 20           // change_cipher_spec
	typeAlert       = 21           // alert
	typeHandshake   = 22           // handshake
	typeAppData     = 23           // application_data
	hsClientHello   = 1            // handshake message types
	hsKeyUpdate     = 24           // RFC 8446 4.6.3
	alertWarning    = 1            // alert levels (RFC 5246 7.2)
	alertFatal      = 2
)

// MaxRecord is the size of the largest record a client may send, header
// included: the caller's inbound buffer must be able to hold one whole.
const MaxRecord = recordHeaderLen + maxCiphertext12

// MaxOverhead is the most bytes AppendRecord adds to each 16 KiB of plaintext:
// header, explicit nonce (TLS 1.2) or inner content type (TLS 1.3), tag.
const MaxOverhead = recordHeaderLen + explicitNonce + tagLen

// keyUpdateAfter is the number of records sent under one TLS 1.3 key after
// which AppendRecord first sends a KeyUpdate: well below the AES-GCM limit
// of 2^24.5 full records (RFC 8446 5.5). A variable for tests.
var keyUpdateAfter uint64 = 1 << 23

// halfConn is the state of one direction: its AEAD, sequence number and, in
// TLS 1.3, the traffic secret the next KeyUpdate derives from. Loop-only.
type halfConn struct {
	aead   cipher.AEAD
	seq    uint64
	secret []byte   // TLS 1.3 traffic secret; nil in TLS 1.2
	iv     [12]byte // TLS 1.2 AES-GCM uses iv[:4] as the implicit salt
	nonce  [12]byte // scratch, kept here so that no call escapes to the heap
	aad    [13]byte // scratch, likewise
}

// setKey installs a key and IV and restarts the sequence numbers.
func (h *halfConn) setKey(s *suite, key, iv []byte) error {
	a, err := s.aead(key)
	if err != nil {
		return err
	}
	h.aead = a
	h.seq = 0
	h.iv = [12]byte{}
	copy(h.iv[:], iv)
	return nil
}

// setSecret installs a TLS 1.3 traffic secret (RFC 8446 section 7.3).
func (h *halfConn) setSecret(s *suite, secret []byte) error {
	key, err := expandLabel(s.hash, secret, "key", s.keyLen)
	if err != nil {
		return err
	}
	iv, err := expandLabel(s.hash, secret, "iv", 12)
	if err != nil {
		return err
	}
	if err := h.setKey(s, key, iv); err != nil {
		return err
	}
	clear(key)
	h.secret = secret
	return nil
}

// update moves to the next TLS 1.3 traffic secret (RFC 8446 section 7.2).
func (h *halfConn) update(s *suite) error {
	next, err := expandLabel(s.hash, h.secret, "traffic upd", s.hash().Size())
	if err != nil {
		return err
	}
	clear(h.secret)
	return h.setSecret(s, next)
}

// xorNonce sets h.nonce to the IV XOR the sequence number (RFC 8446 5.3,
// RFC 7905 2).
func (h *halfConn) xorNonce() {
	h.nonce = h.iv
	for i := range 8 {
		h.nonce[4+i] ^= byte(h.seq >> (56 - 8*i))
	}
}

// open authenticates and decrypts the whole record rec (header included)
// and appends its plaintext to dst. In TLS 1.3 the returned type is the inner
// content type and the padding is removed (RFC 8446 5.4). It advances the
// sequence number only on success.
func (h *halfConn) open(s *suite, rec, dst []byte) (out []byte, typ byte, err error) {
	typ = rec[0]
	payload := rec[recordHeaderLen:]
	var aad []byte
	switch {
	case s.tls13:
		if len(payload) < tagLen+1 {
			return dst, 0, ErrBadRecordMAC
		}
		h.xorNonce()
		copy(h.aad[:], rec[:recordHeaderLen])
		aad = h.aad[:recordHeaderLen]
	case s.explicit:
		if len(payload) < explicitNonce+tagLen {
			return dst, 0, ErrBadRecordMAC
		}
		copy(h.nonce[:4], h.iv[:4])
		copy(h.nonce[4:], payload[:explicitNonce])
		payload = payload[explicitNonce:]
	default:
		if len(payload) < tagLen {
			return dst, 0, ErrBadRecordMAC
		}
		h.xorNonce()
	}
	if !s.tls13 {
		// seq_num + type + version + length (RFC 5246 6.2.3.3).
		binary.BigEndian.PutUint64(h.aad[:8], h.seq)
		h.aad[8] = typ
		h.aad[9], h.aad[10] = 3, 3
		binary.BigEndian.PutUint16(h.aad[11:], uint16(len(payload)-tagLen))
		aad = h.aad[:]
	}
	start := len(dst)
	dst = slices.Grow(dst, len(payload))
	p, err := h.aead.Open(dst[start:start], h.nonce[:], payload, aad)
	if err != nil {
		return dst[:start], 0, ErrBadRecordMAC
	}
	h.seq++
	if s.tls13 {
		i := len(p) - 1
		for i >= 0 && p[i] == 0 {
			i--
		}
		if i < 0 {
			return dst[:start], 0, ErrUnexpectedMessage // no content type (RFC 8446 5.4)
		}
		typ, p = p[i], p[:i]
	}
	if len(p) > maxPlaintext {
		return dst[:start], 0, ErrRecordOverflow // RFC 8446 5.2, RFC 5246 6.2.3
	}
	return dst[:start+len(p)], typ, nil
}

// beginRecord appends the header of a record of type typ (the outer type,
// application_data in TLS 1.3) and, in TLS 1.2 AES-GCM, the explicit nonce.
// The caller then appends at most maxPlaintext bytes and calls seal.
func (h *halfConn) beginRecord(s *suite, dst []byte, typ byte) []byte {
	if s.tls13 {
		typ = typeAppData
	}
	dst = append(dst, typ, 3, 3, 0, 0)
	if s.explicit {
		dst = binary.BigEndian.AppendUint64(dst, h.seq) // Go's choice too: unique per key
	}
	return dst
}

// seal encrypts in place the record that starts at dst[start], begun with
// beginRecord, whose plaintext is everything after its header and nonce.
func (h *halfConn) seal(s *suite, dst []byte, start int, typ byte) []byte {
	body := start + recordHeaderLen
	if s.explicit {
		body += explicitNonce
	}
	if s.tls13 {
		dst = append(dst, typ) // inner content type, no padding
	}
	n := len(dst) - body
	ctLen := len(dst) - start - recordHeaderLen + tagLen
	binary.BigEndian.PutUint16(dst[start+3:], uint16(ctLen))
	var aad []byte
	if s.tls13 {
		h.xorNonce()
		copy(h.aad[:], dst[start:start+recordHeaderLen])
		aad = h.aad[:recordHeaderLen]
	} else {
		if s.explicit {
			copy(h.nonce[:4], h.iv[:4])
			binary.BigEndian.PutUint64(h.nonce[4:], h.seq)
		} else {
			h.xorNonce()
		}
		binary.BigEndian.PutUint64(h.aad[:8], h.seq)
		h.aad[8] = typ
		h.aad[9], h.aad[10] = 3, 3
		binary.BigEndian.PutUint16(h.aad[11:], uint16(n))
		aad = h.aad[:]
	}
	h.seq++
	return h.aead.Seal(dst[:body], h.nonce[:], dst[body:body+n], aad)
}

// feedRecords reads whole records from in after the handshake; see Feed.
func (c *Conn) feedRecords(in, plain, out []byte) (n int, _, _ []byte, _ error) {
	max := maxCiphertext12
	if c.suite.tls13 {
		max = maxCiphertext13
	}
	for {
		rest := in[n:]
		if len(rest) < recordHeaderLen {
			return n, plain, out, nil
		}
		if rest[1] != 3 || rest[2] != 3 {
			return c.stop(n, plain, out, ErrProtocolVersion) // RFC 8446 5.1
		}
		size := recordHeaderLen + int(binary.BigEndian.Uint16(rest[3:]))
		if size-recordHeaderLen > max {
			return c.stop(n, plain, out, ErrRecordOverflow) // RFC 8446 5.2
		}
		if len(rest) < size {
			return n, plain, out, nil
		}
		rec := rest[:size]
		n += size
		start := len(plain)
		var typ byte
		var err error
		switch {
		case rec[0] == typeAppData || rec[0] == typeAlert && !c.suite.tls13:
			plain, typ, err = c.in.open(c.suite, rec, plain)
		case rec[0] == typeCCS && c.suite.tls13 && size == recordHeaderLen+1 && rec[5] == 1:
			// crypto/tls skips a TLS 1.3 compatibility change_cipher_spec
			// at any time, counting it as an ignored record; so do we.
			typ = typeCCS
		default:
			// A handshake record in TLS 1.2 is renegotiation: refused
			// unread, as its content cannot change the answer.
			if rec[0] == typeHandshake && !c.suite.tls13 {
				err = ErrRenegotiation
			} else {
				err = ErrUnexpectedMessage
			}
		}
		if err != nil {
			return c.stop(n, plain, out, err.(*Error))
		}
		data := plain[start:]
		switch typ {
		case typeAppData:
			if len(data) > 0 {
				c.ignored = 0
				continue
			}
		case typeAlert:
			plain = plain[:start]
			if len(data) != 2 {
				return c.stop(n, plain, out, ErrDecode)
			}
			switch {
			case Alert(data[1]) == AlertCloseNotify:
				return c.stop(n, plain, out, ErrPeerClosed)
			case c.suite.tls13 && Alert(data[1]) == AlertUserCanceled, !c.suite.tls13 && data[0] == alertWarning:
				// Ignored, as crypto/tls does (RFC 8446 6.1).
			case c.suite.tls13 || data[0] == alertFatal:
				c.cause = peerAlert(data[1])
				return c.stop(n, plain, out, ErrPeerAlert)
			default:
				return c.stop(n, plain, out, ErrUnexpectedMessage)
			}
		case typeHandshake:
			plain = plain[:start]
			if out, err = c.postHandshake(data, out); err != nil {
				return c.stop(n, plain, out, err.(*Error))
			}
		case typeCCS:
		default:
			plain = plain[:start]
			return c.stop(n, plain, out, ErrUnexpectedMessage)
		}
		if c.ignored++; c.ignored > maxIgnored {
			return c.stop(n, plain, out, ErrTooManyIgnored)
		}
	}
}

// postHandshake handles the handshake messages of one TLS 1.3 record: only
// KeyUpdate may come from a client (RFC 8446 4.6). A message split across
// records is refused (decode_error): no client stack sends one, and refusing
// it keeps the Conn free of a reassembly buffer.
func (c *Conn) postHandshake(msgs, out []byte) ([]byte, error) {
	if !c.suite.tls13 {
		if len(msgs) > 0 && msgs[0] == hsClientHello {
			return out, ErrRenegotiation
		}
		return out, ErrUnexpectedMessage
	}
	if len(msgs) == 0 {
		return out, ErrUnexpectedMessage // RFC 8446 5.1: no zero-length handshake fragments
	}
	for len(msgs) > 0 {
		if len(msgs) < 4 {
			return out, ErrDecode
		}
		typ, size := msgs[0], int(msgs[1])<<16|int(msgs[2])<<8|int(msgs[3])
		if len(msgs) < 4+size {
			return out, ErrDecode
		}
		body := msgs[4 : 4+size]
		msgs = msgs[4+size:]
		if typ != hsKeyUpdate {
			return out, ErrUnexpectedMessage
		}
		if size != 1 || body[0] > 1 {
			return out, ErrDecode
		}
		if len(msgs) > 0 {
			return out, ErrUnexpectedMessage // RFC 8446 5.1: must end the record
		}
		if body[0] == 1 { // update_requested: answer under the old key, then move on
			out = c.appendKeyUpdate(out)
		}
		if err := c.in.update(c.suite); err != nil {
			return out, ErrInternal
		}
	}
	return out, nil
}

// appendKeyUpdate sends KeyUpdate(update_not_requested) and moves the write
// side to the next traffic secret.
func (c *Conn) appendKeyUpdate(dst []byte) []byte {
	start := len(dst)
	dst = c.out.beginRecord(c.suite, dst, typeHandshake)
	dst = append(dst, hsKeyUpdate, 0, 0, 1, 0)
	dst = c.out.seal(c.suite, dst, start, typeHandshake)
	if err := c.out.update(c.suite); err != nil {
		panic("BUG: tlsrec: key update: " + err.Error())
	}
	return dst
}

// appendAlert sends an alert under the current keys.
func (c *Conn) appendAlert(dst []byte, a Alert) []byte {
	level := byte(alertFatal)
	if a == AlertCloseNotify || a == AlertNoRenegotiation {
		level = alertWarning
	}
	start := len(dst)
	dst = c.out.beginRecord(c.suite, dst, typeAlert)
	dst = append(dst, level, byte(a))
	return c.out.seal(c.suite, dst, start, typeAlert)
}

// stop ends the Conn with e: Feed's return values.
func (c *Conn) stop(n int, plain, out []byte, e *Error) (int, []byte, []byte, error) {
	return n, plain, c.fail(out, e), e
}

// fail ends the Conn with e, appending e's alert to out when e says so.
func (c *Conn) fail(out []byte, e *Error) []byte {
	c.err = e
	if e.Sent && c.out.aead != nil {
		out = c.appendAlert(out, e.Alert)
	}
	return out
}

// AppendRecord encrypts p into application_data records appended to dst:
// one record per 16 KiB, none for an empty p. p is read, never kept. It allocates only when dst
// lacks the room for len(p) plus MaxOverhead per 16 KiB. Loop-only.
func (c *Conn) AppendRecord(dst, p []byte) ([]byte, error) {
	return c.AppendRecordv(dst, [][]byte{p})
}

// AppendRecordv is AppendRecord for the concatenation of bufs, so that a
// header and a shared payload become one record without a copy of their own.
func (c *Conn) AppendRecordv(dst []byte, bufs [][]byte) ([]byte, error) {
	if c.err != nil {
		return dst, c.err
	}
	if c.suite == nil {
		return dst, ErrNotEstablished
	}
	total := 0
	for _, b := range bufs {
		total += len(b)
	}
	records := (total + maxPlaintext - 1) / maxPlaintext
	bi, bo := 0, 0                                                  // next byte: bufs[bi][bo]
	dst = slices.Grow(dst, total+records*MaxOverhead+2*MaxOverhead) // +1 KeyUpdate, +1 spare
	for total > 0 {
		if c.suite.tls13 && c.out.seq >= keyUpdateAfter {
			dst = c.appendKeyUpdate(dst)
		}
		chunk := min(total, maxPlaintext)
		total -= chunk
		start := len(dst)
		dst = c.out.beginRecord(c.suite, dst, typeAppData)
		for chunk > 0 {
			k := min(chunk, len(bufs[bi])-bo)
			dst = append(dst, bufs[bi][bo:bo+k]...)
			chunk -= k
			if bo += k; bo == len(bufs[bi]) {
				bi, bo = bi+1, 0
			}
		}
		dst = c.out.seal(c.suite, dst, start, typeAppData)
	}
	return dst, nil
}

// AppendCloseNotify appends a close_notify alert, the clean end of the
// server's side (RFC 8446 6.1), when the handshake has completed; otherwise
// it returns dst unchanged. Loop-only.
func (c *Conn) AppendCloseNotify(dst []byte) []byte {
	if c.suite == nil || c.err != nil {
		return dst
	}
	return c.appendAlert(dst, AlertCloseNotify)
}

// peerAlert is an alert received from the client, as Conn.Cause reports it.
type peerAlert Alert

func (a peerAlert) Error() string { return "tls: remote error: " + Alert(a).String() }
