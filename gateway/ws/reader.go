package ws

import (
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// DefaultMaxFrame is the payload limit of one client data frame when
// Reader.MaxFrame is 0. Payloads are streamed, never buffered whole by the
// Reader, so the limit is a sanity bound, not a memory bound; the MQTT decoder
// bounds packets (limits.max_packet_size).
const DefaultMaxFrame = 1 << 20

// Reader unframes the client-to-server stream of one upgraded connection
// (RFC 6455 section 5). Its zero value is ready; set MaxFrame before the first
// Feed. Loop-only: one Reader per connection, used by the connection's owner.
//
// State between Feed calls is a few words: the unread payload length, mask and
// mask phase of the current data frame, and whether a fragmented message is
// open (and compressed). Frame headers and control frames are never
// buffered: until they are complete in buf, Feed leaves them unconsumed. The
// compressed bytes of a message in progress live in the Inflater, only until
// the message ends.
type Reader struct {
	// MaxFrame is the largest payload of one client data frame, in bytes;
	// larger frames end the stream with close code 1009.
	// 0 means DefaultMaxFrame; a negative value means no limit.
	MaxFrame int
	// Inflate, when set, means permessage-deflate was negotiated
	// (Handshake.Compression): a data message whose first frame has RSV1
	// is gathered compressed and inflated by Inflate once its last frame
	// is in (RFC 7692 6.2). It is the loop's, shared by its Readers. nil
	// means no extension: any RSV bit is a protocol error.
	Inflate *Inflater

	remain uint64      // payload bytes of the current data frame not yet read
	err    *CloseError // terminal: set once the stream ended
	mask   [4]byte     // masking key of the current data frame
	phase  uint8       // bytes of the current frame unmasked so far, mod 4
	inMsg  bool        // a fragmented data message is open
	zmsg   bool        // the current data message is compressed (gathered in Inflate, not here)
}

// Feed reads frames from buf, a borrowed prefix of the inbound stream, and
// returns how many bytes it consumed. It appends the unmasked payload of
// binary and continuation frames to mqtt (partial payloads too, as they
// arrive) and returns the extended slice: that is the MQTT byte stream, with
// no frame boundaries [MQTT-6.0.0-2]. It appends the frames to send back to
// ctrl: a pong for each ping, and a close frame when the stream ends.
//
// buf is read, never modified or kept; bytes after n (an incomplete header or
// control frame) must be given again, first, on the next call. Feed consumes
// everything else in buf, so the caller bounds the work per call by the
// length of buf.
//
// A non-nil error ends the stream: ErrPeerClosed after a valid close frame
// (ctrl holds the echo), or a *CloseError for a violation (ctrl holds a close
// frame with its code). Write ctrl, then close the connection (the server
// closes TCP first, RFC 6455 7.1.1). Every later call returns the same error
// and consumes nothing.
//
// With permessage-deflate, Feed returns early, with bytes of buf left
// unconsumed, once the messages it inflated in this call add up to
// Inflater.Limit (inflateBudget): a read of small compressed messages that
// each inflate to the limit must not become a read of that many limits. The
// caller calls again (another wake) for the rest.
//
// Feed does not allocate when mqtt and ctrl have enough spare capacity (for
// a compressed message: once the Inflater is warm, TestDeflateAllocs).
func (r *Reader) Feed(buf, mqtt, ctrl []byte) (n int, mqttOut, ctrlOut []byte, err error) {
	if r.err != nil {
		return 0, mqtt, ctrl, r.err
	}
	start := len(mqtt) // inflated output of this call is bounded (inflateBudget)
	for {
		if r.remain > 0 {
			k := len(buf) - n
			if uint64(k) > r.remain {
				k = int(r.remain)
			}
			if k == 0 {
				return n, mqtt, ctrl, nil
			}
			if r.zmsg {
				z := r.Inflate.open[r]
				start := len(z)
				z = append(z, buf[n:n+k]...)
				ws.Cipher(z[start:], r.mask, int(r.phase))
				r.Inflate.open[r] = z
			} else {
				start := len(mqtt)
				mqtt = append(mqtt, buf[n:n+k]...)
				ws.Cipher(mqtt[start:], r.mask, int(r.phase))
			}
			r.phase = uint8((int(r.phase) + k) & 3)
			r.remain -= uint64(k)
			n += k
			if r.remain == 0 && r.zmsg && !r.inMsg {
				var cerr *CloseError
				if mqtt, cerr = r.inflate(mqtt); cerr != nil {
					return n, mqtt, r.fail(ctrl, cerr), cerr
				}
				if len(mqtt)-start >= r.Inflate.limit() {
					return n, mqtt, ctrl, nil // inflateBudget
				}
			}
			continue
		}
		if n == len(buf) {
			return n, mqtt, ctrl, nil
		}
		size, ok, cerr := r.header(buf[n:])
		if cerr != nil {
			return n, mqtt, r.fail(ctrl, cerr), cerr
		}
		if !ok {
			return n, mqtt, ctrl, nil
		}
		if buf[n]&opMask < opClose {
			n += size // a data frame: its payload streams in the loop above
			if r.remain == 0 && r.zmsg && !r.inMsg {
				var cerr *CloseError
				if mqtt, cerr = r.inflate(mqtt); cerr != nil { // an empty last frame ends the message
					return n, mqtt, r.fail(ctrl, cerr), cerr
				}
				if len(mqtt)-start >= r.Inflate.limit() {
					return n, mqtt, ctrl, nil // inflateBudget
				}
			}
			continue
		}
		// A control frame, whole in buf: header size plus payload.
		p := buf[n+size : n+size+int(buf[n+1]&len7Mask)]
		mask := [4]byte(buf[n+size-4 : n+size])
		op := buf[n] & opMask
		n += size + len(p)
		switch op {
		case opPing:
			// RFC 6455 5.5.2-5.5.3: answer with a pong carrying the same data.
			ctrl = appendHeader(ctrl, finBit|opPong, len(p))
			start := len(ctrl)
			ctrl = append(ctrl, p...)
			ws.Cipher(ctrl[start:], mask, 0)
		case opPong:
			// Unsolicited pongs are allowed and ignored (RFC 6455 5.5.3).
		case opClose:
			ctrl, err = r.close(p, mask, ctrl)
			return n, mqtt, ctrl, err
		}
	}
}

// header checks the frame header at the start of b, as far as b holds it, and
// returns its size once it is complete (ok) and, for a control frame, once its
// payload is in b too. For a data frame it loads the frame's state into r.
// Checks run in a fixed order as bytes become available, so the verdict does
// not depend on how the stream was split.
func (r *Reader) header(b []byte) (size int, ok bool, err *CloseError) {
	b0 := b[0]
	op := b0 & opMask
	switch rsv := b0 & rsvBits; {
	case rsv != 0 && (r.Inflate == nil || rsv != rsv1):
		return 0, false, ErrReservedBits
	case rsv != 0 && op != opBinary:
		return 0, false, ErrRSV1 // RFC 7692 6: only a message's first frame; 6.1: control frames never
	case op == opText:
		return 0, false, ErrTextFrame // [MQTT-6.0.0-1]
	case op == opBinary && r.inMsg:
		return 0, false, ErrUnfinished
	case op == opContinuation && !r.inMsg:
		return 0, false, ErrContinuation
	case op > opBinary && op < opClose, op > opPong:
		return 0, false, ErrReservedOpcode
	case op >= opClose && b0&finBit == 0:
		return 0, false, ErrControlFragment
	}
	if len(b) < 2 {
		return 0, false, nil
	}
	b1 := b[1]
	if b1&maskBit == 0 {
		return 0, false, ErrUnmasked // RFC 6455 5.1
	}
	len7 := uint64(b1 & len7Mask)
	if op >= opClose {
		if len7 > MaxControlPayload {
			return 0, false, ErrControlTooLong
		}
		size = 2 + 4
		if len(b) < size+int(len7) {
			return 0, false, nil
		}
		return size, true, nil
	}
	var length uint64
	switch len7 {
	case len16Code:
		if len(b) < 4 {
			return 0, false, nil
		}
		length = uint64(b[2])<<8 | uint64(b[3])
		size = 4 + 4
	case len64Code:
		if len(b) < 10 {
			return 0, false, nil
		}
		if b[2]&0x80 != 0 {
			return 0, false, ErrLength
		}
		for _, c := range b[2:10] {
			length = length<<8 | uint64(c)
		}
		size = 10 + 4
	default:
		length = len7
		size = 2 + 4
	}
	limit := r.MaxFrame
	if limit == 0 {
		limit = DefaultMaxFrame
	}
	if limit > 0 && length > uint64(limit) {
		return 0, false, ErrFrameTooBig
	}
	zmsg := r.zmsg
	if op == opBinary {
		zmsg = b0&rsv1 != 0
	}
	if zmsg && uint64(len(r.Inflate.open[r]))+length > r.Inflate.compressedLimit() {
		return 0, false, ErrInflateTooBig // cannot inflate within the limit: not gathered
	}
	if len(b) < size {
		return 0, false, nil
	}
	if zmsg && op == opBinary {
		r.Inflate.begin(r)
	}
	r.zmsg = zmsg
	r.remain = length
	r.mask = [4]byte(b[size-4 : size])
	r.phase = 0
	r.inMsg = b0&finBit == 0
	return size, true, nil
}

// inflate ends a compressed message: it inflates the gathered bytes into
// mqtt and gives their buffer back, so that nothing stays with the
// connection.
func (r *Reader) inflate(mqtt []byte) ([]byte, *CloseError) {
	f := r.Inflate
	z := append(f.open[r], deflateTail...)
	mqtt, err := f.inflate(mqtt, z)
	f.end(r, z)
	r.zmsg = false
	return mqtt, err
}

// Release gives back the buffer of a compressed message still being
// received, if any. Call it when the connection ends without the stream
// ending (a network close); Feed releases it itself when the stream ends.
func (r *Reader) Release() {
	if r.zmsg && r.Inflate != nil {
		r.Inflate.end(r, r.Inflate.open[r])
		r.zmsg = false
	}
}

// close handles the client's close frame with masked payload p: it checks the
// status code and reason and appends the answer to ctrl (RFC 6455 5.5.1).
func (r *Reader) close(p []byte, mask [4]byte, ctrl []byte) ([]byte, error) {
	switch len(p) {
	case 0:
		// No status: answer with no status.
		r.err = ErrPeerClosed
		return appendHeader(ctrl, finBit|opClose, 0), ErrPeerClosed
	case 1:
		return r.fail(ctrl, ErrCloseLength), ErrCloseLength
	}
	// Unmask into ctrl's spare room, where the answer goes, then validate.
	start := len(ctrl)
	ctrl = append(ctrl, p...)
	body := ctrl[start:]
	ws.Cipher(body, mask, 0)
	code := CloseCode(body[0])<<8 | CloseCode(body[1])
	valid := utf8.Valid(body[2:])
	ctrl = ctrl[:start]
	if !code.validOnWire() {
		return r.fail(ctrl, ErrCloseCode), ErrCloseCode
	}
	if !valid {
		return r.fail(ctrl, ErrCloseReasonUTF8), ErrCloseReasonUTF8
	}
	// Echo the status code, not the reason (RFC 6455 5.5.1: "typically echos").
	r.err = ErrPeerClosed
	return AppendClose(ctrl, code, ""), ErrPeerClosed
}

// fail ends the stream with e and appends the close frame that says why.
func (r *Reader) fail(ctrl []byte, e *CloseError) []byte {
	r.err = e
	r.Release()
	return AppendClose(ctrl, e.Code, e.Msg)
}

// Done reports whether the stream has ended (Feed returned an error).
func (r *Reader) Done() bool { return r.err != nil }
