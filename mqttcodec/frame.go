package mqttcodec

// MaxFixedHeader is the largest fixed header: one type byte and a four-byte
// remaining length [MQTT-2.1.4].
const MaxFixedHeader = 5

// MaxRemainingLength is the largest remaining length a four-byte variable byte
// integer can carry (268,435,455) [MQTT-1.5.5].
const MaxRemainingLength = 268435455

// MaxPacketSize is the largest possible MQTT packet: fixed header plus
// MaxRemainingLength.
const MaxPacketSize = MaxRemainingLength + MaxFixedHeader

// PacketSize reads the fixed header from head, a borrowed prefix of the
// stream, and returns the whole packet's size (fixed header plus remaining
// length). It returns ErrNeedMore while head is too short to hold the fixed
// header, ErrReservedType for packet type 0, ErrMalformedVarint for a
// remaining length longer than four bytes [MQTT-1.5.5-1], and
// ErrPacketTooLarge when the size exceeds maxPacket (maxPacket <= 0: no
// limit), decided before the body is buffered: a peer that sends a packet
// larger than the Maximum Packet Size it was given commits a Protocol Error,
// answered with DISCONNECT 0x95 [MQTT-3.2.2-15] [MQTT-3.2.2.3.6]
// [MQTT-3.1.2.11.4]. It reads at most MaxFixedHeader bytes of head and never
// allocates. Non-minimal remaining lengths are rejected for every version:
// 5.0 requires the minimum encoding [MQTT-1.5.5-1]; 3.1.1 (section 2.2.3)
// only describes it, and no known client sends anything else.
func PacketSize(head []byte, maxPacket int) (int, error) {
	if len(head) < 2 {
		return 0, ErrNeedMore
	}
	if head[0]>>4 == 0 {
		return 0, ErrReservedType // [MQTT-2.1.2] type 0 is reserved
	}
	var rl, shift int
	for i := 1; ; i++ {
		if i == MaxFixedHeader {
			return 0, ErrMalformedVarint // [MQTT-1.5.5-1]
		}
		if i >= len(head) {
			return 0, ErrNeedMore
		}
		c := head[i]
		rl |= int(c&0x7f) << shift
		if c < 0x80 {
			if c == 0 && i > 1 {
				return 0, ErrMalformedVarint // [MQTT-1.5.5-1] not the minimum number of bytes
			}
			size := i + 1 + rl
			if maxPacket > 0 && size > maxPacket {
				return 0, ErrPacketTooLarge
			}
			return size, nil
		}
		shift += 7
	}
}

// TypeOf returns the packet type of a frame (byte 0's high nibble), or 0 for
// an empty frame.
func TypeOf(frame []byte) PacketType {
	if len(frame) == 0 {
		return 0
	}
	return PacketType(frame[0] >> 4)
}

// body checks that frame is exactly one packet of type t with the required
// flags and returns the fixed header byte and the bytes after the fixed
// header. PUBLISH flags are checked by its decoder.
func body(frame []byte, t PacketType) (byte, []byte, error) {
	return bodyV(frame, t, 0)
}

// bodyV is body for a packet whose flags depend on the version v: MQTT 3.1
// (section 2.1, "DUP flag") sets DUP (0x08) when it re-sends a PUBREL,
// SUBSCRIBE or UNSUBSCRIBE, whose QoS bits are 01 as in 3.1.1. 3.1.1 and 5.0
// fix those flags at 0010 [MQTT-2.1.3-1] (3.1.1: [MQTT-2.2.2-1]).
func bodyV(frame []byte, t PacketType, v Version) (byte, []byte, error) {
	if len(frame) < 2 {
		return 0, nil, ErrFrameLength
	}
	h := frame[0]
	if PacketType(h>>4) != t {
		return 0, nil, ErrWrongType
	}
	f := h & 0x0f
	if v == V31 && fixedFlags[t] == 2 {
		f &^= flagDup31
	}
	if t != PUBLISH && f != fixedFlags[t] {
		return 0, nil, ErrReservedFlags // [MQTT-2.1.3-1]
	}
	rl, n := readVarint(frame[1:])
	if n < 0 {
		return 0, nil, ErrMalformedVarint // [MQTT-1.5.5-1]
	}
	if n == 0 || 1+n+rl != len(frame) {
		return 0, nil, ErrFrameLength
	}
	return h, frame[1+n:], nil
}

// readVarint decodes a variable byte integer [MQTT-1.5.5]. n is the number of
// bytes used, 0 when b ends first, -1 when it is longer than four bytes or
// not minimal [MQTT-1.5.5-1].
func readVarint(b []byte) (v int, n int) {
	var shift uint
	for i := 0; i < 4; i++ {
		if i >= len(b) {
			return 0, 0
		}
		c := b[i]
		v |= int(c&0x7f) << shift
		if c < 0x80 {
			if c == 0 && i > 0 {
				return 0, -1 // [MQTT-1.5.5-1] minimum number of bytes
			}
			return v, i + 1
		}
		shift += 7
	}
	return 0, -1
}

// varintLen is the encoded size of v.
func varintLen(v int) int {
	switch {
	case v < 128:
		return 1
	case v < 16384:
		return 2
	case v < 2097152:
		return 3
	}
	return 4
}

func appendVarint(dst []byte, v int) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

func appendUint16(dst []byte, v uint16) []byte { return append(dst, byte(v>>8), byte(v)) }

func appendUint32(dst []byte, v uint32) []byte {
	return append(dst, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// appendString appends a two-byte length prefix and b [MQTT-1.5.4] [MQTT-1.5.6].
func appendString(dst []byte, b []byte) []byte {
	dst = append(dst, byte(len(b)>>8), byte(len(b)))
	return append(dst, b...)
}

// readBytes reads a two-byte length prefixed field at b[i:]. It returns the
// field, the index after it, and ok=false if it runs past b.
func readBytes(b []byte, i int) ([]byte, int, bool) {
	if i+2 > len(b) {
		return nil, i, false
	}
	n := int(b[i])<<8 | int(b[i+1])
	i += 2
	if n > len(b)-i {
		return nil, i, false
	}
	return b[i : i+n : i+n], i + n, true
}

// readString is readBytes plus the UTF-8 rules [MQTT-1.5.4-1] [MQTT-1.5.4-2].
func readString(b []byte, i int) ([]byte, int, error) {
	s, i, ok := readBytes(b, i)
	if !ok {
		return nil, i, ErrTruncated
	}
	if err := ValidUTF8String(s); err != nil {
		return nil, i, err
	}
	return s, i, nil
}

// appendHeader appends the fixed header byte and the remaining length.
func appendHeader(dst []byte, h byte, rl int) []byte {
	dst = append(dst, h)
	return appendVarint(dst, rl)
}

// strLen is the encoded size of a length-prefixed string or binary field.
func strLen(b []byte) int { return 2 + len(b) }
