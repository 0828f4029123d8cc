package bench

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
)

// MQTT over WebSocket (RFC 6455, MQTT 5.0 section 6), client side: the
// upgrade request, masked binary frames out, frame parsing in. Kept apart
// from the gateway's gateway/ws for the same reason as the codec.

const (
	wsOpCont   = 0x0
	wsOpBinary = 0x2
	wsOpClose  = 0x8
	wsOpPing   = 0x9
	wsOpPong   = 0xA

	wsMaxHandshake = 4096    // bytes of HTTP response we wait for
	wsMaxFrame     = 1 << 24 // larger frames from the broker are refused
	wsGUID         = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
)

var (
	errWSHandshake = errors.New("websocket handshake refused")
	errWSFrame     = errors.New("bad websocket frame")
)

// wsKey is the Sec-WebSocket-Key of every connection of a run (the key
// only proves the server speaks WebSocket; it is not a secret).
type wsKey struct {
	key    string // base64 of 16 bytes
	accept string // the Sec-WebSocket-Accept the server must answer
}

func newWSKey(seed []byte) wsKey {
	var raw [16]byte
	copy(raw[:], seed)
	k := base64.StdEncoding.EncodeToString(raw[:])
	h := sha1.Sum([]byte(k + wsGUID))
	return wsKey{key: k, accept: base64.StdEncoding.EncodeToString(h[:])}
}

// appendWSUpgrade appends the HTTP upgrade request.
func appendWSUpgrade(dst []byte, host, path string, k *wsKey) []byte {
	dst = append(dst, "GET "...)
	dst = append(dst, path...)
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, host...)
	dst = append(dst, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: "...)
	dst = append(dst, k.key...)
	dst = append(dst, "\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n"...)
	return dst
}

// wsHandshake checks a buffered HTTP response: n is its length once
// complete (0 and no error while incomplete).
func wsHandshake(b []byte, k *wsKey) (n int, err error) {
	end := bytes.Index(b, []byte("\r\n\r\n"))
	if end < 0 {
		if len(b) > wsMaxHandshake {
			return 0, errWSHandshake
		}
		return 0, nil
	}
	head := b[:end]
	if !bytes.HasPrefix(head, []byte("HTTP/1.1 101")) {
		return 0, errWSHandshake
	}
	ok := false
	for _, line := range bytes.Split(head, []byte("\r\n")) {
		name, val, found := bytes.Cut(line, []byte(":"))
		if found && bytes.EqualFold(bytes.TrimSpace(name), []byte("Sec-WebSocket-Accept")) {
			ok = string(bytes.TrimSpace(val)) == k.accept
		}
	}
	if !ok {
		return 0, errWSHandshake
	}
	return end + 4, nil
}

// appendWSFrame appends payload as one masked binary frame [RFC 6455 5.2, 5.3].
func appendWSFrame(dst []byte, op byte, payload []byte, mask [4]byte) []byte {
	dst = append(dst, 0x80|op)
	switch n := len(payload); {
	case n < 126:
		dst = append(dst, 0x80|byte(n))
	case n <= 0xFFFF:
		dst = append(dst, 0x80|126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	dst = append(dst, mask[:]...)
	p := len(dst)
	dst = append(dst, payload...)
	for i := range payload {
		dst[p+i] ^= mask[i&3]
	}
	return dst
}

// wsFrame is one parsed frame header.
type wsFrame struct {
	op      byte
	hdr     int // header length
	length  int // payload length
	masked  bool
	maskKey [4]byte
}

// parseWSFrame reads a frame header from b; ok is false while incomplete.
func parseWSFrame(b []byte) (f wsFrame, ok bool, err error) {
	if len(b) < 2 {
		return f, false, nil
	}
	f.op = b[0] & 0x0F
	f.masked = b[1]&0x80 != 0
	n := int(b[1] & 0x7F)
	f.hdr = 2
	switch n {
	case 126:
		if len(b) < 4 {
			return f, false, nil
		}
		n = int(binary.BigEndian.Uint16(b[2:]))
		f.hdr = 4
	case 127:
		if len(b) < 10 {
			return f, false, nil
		}
		v := binary.BigEndian.Uint64(b[2:])
		if v > wsMaxFrame {
			return f, false, errWSFrame
		}
		n = int(v)
		f.hdr = 10
	}
	if f.masked {
		if len(b) < f.hdr+4 {
			return f, false, nil
		}
		copy(f.maskKey[:], b[f.hdr:])
		f.hdr += 4
	}
	if n > wsMaxFrame || b[0]&0x70 != 0 {
		return f, false, errWSFrame
	}
	f.length = n
	return f, len(b) >= f.hdr+n, nil
}

// wsStream consumes the complete frames in in: binary and continuation
// payloads are appended to data (the MQTT byte stream), a ping's payload is
// answered through pong, a close frame sets closed. It returns the bytes
// consumed.
func wsStream(in, data []byte, pong func(p []byte)) (n int, out []byte, closed bool, err error) {
	out = data
	for {
		f, ok, err := parseWSFrame(in[n:])
		if err != nil {
			return n, out, false, err
		}
		if !ok {
			return n, out, false, nil
		}
		p := in[n+f.hdr : n+f.hdr+f.length]
		start := len(out)
		switch f.op {
		case wsOpBinary, wsOpCont:
			out = append(out, p...)
			if f.masked {
				for i := start; i < len(out); i++ {
					out[i] ^= f.maskKey[(i-start)&3]
				}
			}
		case wsOpPing:
			if pong != nil {
				pong(p)
			}
		case wsOpPong:
		case wsOpClose:
			return n + f.hdr + f.length, out, true, nil
		default:
			return n, out, false, errWSFrame
		}
		n += f.hdr + f.length
	}
}
