package bench

import (
	"encoding/binary"
	"errors"
)

// This file is the bench's own minimal MQTT 3.1.1/5.0 client codec. It is
// deliberately independent of edgegw/mqttcodec: the tool that checks the
// gateway must not share its parser.

// Packet types (MQTT 2.1.2).
const (
	pktConnect     = 1
	pktConnack     = 2
	pktPublish     = 3
	pktPuback      = 4
	pktPubrec      = 5
	pktPubrel      = 6
	pktPubcomp     = 7
	pktSubscribe   = 8
	pktSuback      = 9
	pktUnsubscribe = 10
	pktUnsuback    = 11
	pktPingreq     = 12
	pktPingresp    = 13
	pktDisconnect  = 14
	pktAuth        = 15
)

var (
	errNeedMore  = errors.New("need more bytes")
	errMalformed = errors.New("malformed packet")
	errVarint    = errors.New("malformed remaining length")
)

// packetSize returns the full size of the packet whose fixed header starts
// head: errNeedMore for a short prefix, errVarint for a varint over 4 bytes.
func packetSize(head []byte) (int, error) {
	if len(head) < 2 {
		return 0, errNeedMore
	}
	n, mul := 0, 1
	for i := 1; i <= 4; i++ {
		if i >= len(head) {
			return 0, errNeedMore
		}
		b := head[i]
		n += int(b&0x7f) * mul
		if b&0x80 == 0 {
			return 1 + i + n, nil
		}
		mul <<= 7
	}
	return 0, errVarint
}

// body returns the packet's variable header and payload (after the fixed header).
func body(frame []byte) []byte {
	for i := 1; i < len(frame) && i <= 4; i++ {
		if frame[i]&0x80 == 0 {
			return frame[i+1:]
		}
	}
	return nil
}

func appendVarint(dst []byte, n int) []byte {
	for {
		b := byte(n & 0x7f)
		n >>= 7
		if n > 0 {
			dst = append(dst, b|0x80)
			continue
		}
		return append(dst, b)
	}
}

func varintLen(n int) int {
	l := 1
	for n >= 128 {
		n >>= 7
		l++
	}
	return l
}

func appendStr(dst []byte, s string) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(s)))
	return append(dst, s...)
}

func appendBytesStr(dst, s []byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(s)))
	return append(dst, s...)
}

// readVarint reads a variable byte integer from b.
func readVarint(b []byte) (n, size int, err error) {
	mul := 1
	for i := 0; i < 4; i++ {
		if i >= len(b) {
			return 0, 0, errMalformed
		}
		n += int(b[i]&0x7f) * mul
		if b[i]&0x80 == 0 {
			return n, i + 1, nil
		}
		mul <<= 7
	}
	return 0, 0, errMalformed
}

// connectOpts is what a bench client puts in its CONNECT.
type connectOpts struct {
	version       byte // 4 or 5
	clientID      []byte
	keepAlive     uint16 // seconds
	clean         bool
	sessionExpiry uint32 // v5 only, seconds
	username      string
	password      string
}

// appendConnect encodes a CONNECT packet.
func appendConnect(dst []byte, o *connectOpts) []byte {
	var flags byte
	if o.clean {
		flags |= 0x02
	}
	if o.username != "" {
		flags |= 0x80
	}
	if o.password != "" {
		flags |= 0x40
	}
	n := 2 + 4 + 1 + 1 + 2 + 2 + len(o.clientID)
	var props []byte
	var pbuf [8]byte
	if o.version == 5 {
		props = pbuf[:0]
		if o.sessionExpiry > 0 {
			props = append(props, 0x11)
			props = binary.BigEndian.AppendUint32(props, o.sessionExpiry)
		}
		n += varintLen(len(props)) + len(props)
	}
	if o.username != "" {
		n += 2 + len(o.username)
	}
	if o.password != "" {
		n += 2 + len(o.password)
	}
	dst = append(dst, pktConnect<<4)
	dst = appendVarint(dst, n)
	dst = appendStr(dst, "MQTT")
	dst = append(dst, o.version, flags)
	dst = binary.BigEndian.AppendUint16(dst, o.keepAlive)
	if o.version == 5 {
		dst = appendVarint(dst, len(props))
		dst = append(dst, props...)
	}
	dst = appendBytesStr(dst, o.clientID)
	if o.username != "" {
		dst = appendStr(dst, o.username)
	}
	if o.password != "" {
		dst = appendStr(dst, o.password)
	}
	return dst
}

// appendSubscribe encodes a SUBSCRIBE for one filter.
func appendSubscribe(dst []byte, version byte, pid uint16, filter []byte, qos byte) []byte {
	n := 2 + 2 + len(filter) + 1
	if version == 5 {
		n++ // empty properties
	}
	dst = append(dst, pktSubscribe<<4|0x02)
	dst = appendVarint(dst, n)
	dst = binary.BigEndian.AppendUint16(dst, pid)
	if version == 5 {
		dst = append(dst, 0)
	}
	dst = appendBytesStr(dst, filter)
	return append(dst, qos)
}

// appendPublishHeader encodes a PUBLISH up to (not including) a payload of
// payloadLen bytes; the caller appends the payload.
func appendPublishHeader(dst []byte, version byte, qos byte, dup bool, pid uint16, topic []byte, payloadLen int) []byte {
	n := 2 + len(topic) + payloadLen
	if qos > 0 {
		n += 2
	}
	if version == 5 {
		n++ // empty properties
	}
	b0 := byte(pktPublish<<4) | qos<<1
	if dup {
		b0 |= 0x08
	}
	dst = append(dst, b0)
	dst = appendVarint(dst, n)
	dst = appendBytesStr(dst, topic)
	if qos > 0 {
		dst = binary.BigEndian.AppendUint16(dst, pid)
	}
	if version == 5 {
		dst = append(dst, 0)
	}
	return dst
}

// appendAck encodes PUBACK, PUBREC, PUBREL or PUBCOMP with reason Success
// (v5 allows omitting the reason code and properties then).
func appendAck(dst []byte, typ byte, pid uint16) []byte {
	b0 := typ << 4
	if typ == pktPubrel {
		b0 |= 0x02
	}
	dst = append(dst, b0, 2)
	return binary.BigEndian.AppendUint16(dst, pid)
}

func appendPingreq(dst []byte) []byte { return append(dst, pktPingreq<<4, 0) }

func appendDisconnect(dst []byte) []byte { return append(dst, pktDisconnect<<4, 0) }

// parseConnack returns the session-present flag and the return/reason code.
func parseConnack(frame []byte) (sessionPresent bool, code byte, err error) {
	b := body(frame)
	if len(b) < 2 {
		return false, 0, errMalformed
	}
	return b[0]&1 == 1, b[1], nil
}

// parseSuback returns the packet ID and the first reason code.
func parseSuback(frame []byte, version byte) (pid uint16, code byte, err error) {
	b := body(frame)
	if len(b) < 3 {
		return 0, 0, errMalformed
	}
	pid = binary.BigEndian.Uint16(b)
	b = b[2:]
	if version == 5 {
		pl, sz, err := readVarint(b)
		if err != nil || sz+pl >= len(b) {
			return 0, 0, errMalformed
		}
		b = b[sz+pl:]
	}
	return pid, b[0], nil
}

// publishView is a decoded PUBLISH; Topic and Payload are views into the
// frame, valid until it is discarded.
type publishView struct {
	QoS     byte
	Dup     bool
	PID     uint16
	Topic   []byte
	Payload []byte
}

// parsePublish decodes a PUBLISH frame (v5 properties are skipped).
func parsePublish(frame []byte, version byte, p *publishView) error {
	p.QoS = (frame[0] >> 1) & 3
	p.Dup = frame[0]&0x08 != 0
	if p.QoS == 3 {
		return errMalformed
	}
	b := body(frame)
	if len(b) < 2 {
		return errMalformed
	}
	tl := int(binary.BigEndian.Uint16(b))
	if 2+tl > len(b) {
		return errMalformed
	}
	p.Topic = b[2 : 2+tl]
	b = b[2+tl:]
	p.PID = 0
	if p.QoS > 0 {
		if len(b) < 2 {
			return errMalformed
		}
		p.PID = binary.BigEndian.Uint16(b)
		b = b[2:]
	}
	if version == 5 {
		pl, sz, err := readVarint(b)
		if err != nil || sz+pl > len(b) {
			return errMalformed
		}
		b = b[sz+pl:]
	}
	p.Payload = b
	return nil
}

// parseAck returns the packet ID and reason code (Success when absent) of
// PUBACK, PUBREC, PUBREL or PUBCOMP.
func parseAck(frame []byte) (pid uint16, reason byte, err error) {
	b := body(frame)
	if len(b) < 2 {
		return 0, 0, errMalformed
	}
	pid = binary.BigEndian.Uint16(b)
	if len(b) > 2 {
		reason = b[2]
	}
	return pid, reason, nil
}

// connackName names a CONNACK return code (v3) or reason code (v5).
func connackName(version, code byte) string {
	if version == 4 {
		switch code {
		case 1:
			return "unacceptable_protocol_version"
		case 2:
			return "identifier_rejected"
		case 3:
			return "server_unavailable"
		case 4:
			return "bad_username_or_password"
		case 5:
			return "not_authorized"
		}
	}
	switch code {
	case 0x80:
		return "unspecified_error"
	case 0x81:
		return "malformed_packet"
	case 0x82:
		return "protocol_error"
	case 0x83:
		return "implementation_specific_error"
	case 0x84:
		return "unsupported_protocol_version"
	case 0x85:
		return "client_identifier_not_valid"
	case 0x86:
		return "bad_user_name_or_password"
	case 0x87:
		return "not_authorized"
	case 0x88:
		return "server_unavailable"
	case 0x89:
		return "server_busy"
	case 0x8A:
		return "banned"
	case 0x8C:
		return "bad_authentication_method"
	case 0x90:
		return "topic_name_invalid"
	case 0x91:
		return "packet_identifier_in_use"
	case 0x92:
		return "packet_identifier_not_found"
	case 0x93:
		return "receive_maximum_exceeded"
	case 0x95:
		return "packet_too_large"
	case 0x97:
		return "quota_exceeded"
	case 0x99:
		return "payload_format_invalid"
	case 0x9A:
		return "retain_not_supported"
	case 0x9B:
		return "qos_not_supported"
	case 0x9C:
		return "use_another_server"
	case 0x9D:
		return "server_moved"
	case 0x9F:
		return "connection_rate_exceeded"
	}
	return "code_" + string("0123456789abcdef"[code>>4]) + string("0123456789abcdef"[code&15])
}
