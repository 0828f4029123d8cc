package mqttcodec

// Publish is a decoded or to-be-encoded PUBLISH packet. After DecodePublish,
// Topic, Payload and the []byte fields of Props are views into the frame,
// valid until the frame's buffer is released.
type Publish struct {
	Dup      bool
	QoS      byte
	Retain   bool
	Topic    []byte
	PacketID uint16 // present when QoS > 0
	Props    Properties
	Payload  []byte
}

// DecodePublish decodes a PUBLISH frame (exactly PacketSize bytes) of
// protocol version v into p. An empty topic is accepted only for v5 with a
// Topic Alias property; resolving the alias is the session's job. A v5
// Subscription Identifier is accepted (a client receives them); a server
// must reject one from a client [MQTT-3.3.4-6]. The Payload Format Indicator
// is not checked against the payload: section 3.3.2.3.2 makes that a MAY
// (see CheckPayloadFormat). A topic that is not well-formed UTF-8 or holds
// U+0000 is a Malformed Packet (ErrTopicUTF8, section 1.5.4); a wildcard in
// it is ErrTopicWildcard (0x90) [MQTT-3.3.2-2].
func DecodePublish(frame []byte, v Version, p *Publish) error {
	if len(frame) < 2 {
		return ErrFrameLength
	}
	h := frame[0]
	if h>>4 != byte(PUBLISH) {
		return ErrWrongType
	}
	var b []byte
	if c := frame[1]; c < 0x80 { // one-byte remaining length: the common case
		if int(c)+2 != len(frame) {
			return ErrFrameLength
		}
		b = frame[2:]
	} else {
		rl, n := readVarint(frame[1:])
		if n < 0 {
			return ErrMalformedVarint // [MQTT-1.5.5-1]
		}
		if n == 0 || 1+n+rl != len(frame) {
			return ErrFrameLength
		}
		b = frame[1+n:]
	}
	qos := (h >> 1) & 3
	if qos == 3 {
		return ErrQoS3 // [MQTT-3.3.1-4]
	}
	if qos == 0 && h&0x08 != 0 {
		return ErrDupQoS0 // [MQTT-3.3.1-2] [MQTT-4.3.1-1]; no receiver action is specified: treated as malformed flags (section 2.1.3)
	}
	p.Dup = h&0x08 != 0
	p.QoS = qos
	p.Retain = h&0x01 != 0
	if len(b) < 2 {
		return ErrTruncated
	}
	tl := int(b[0])<<8 | int(b[1])
	i := 2 + tl
	if i > len(b) {
		return ErrTruncated
	}
	p.Topic = b[2:i:i]
	if err := topicChars(p.Topic); err != nil {
		return err // [MQTT-3.3.2-1] [MQTT-3.3.2-2] [MQTT-1.5.4-1] [MQTT-4.7.3-2]
	}
	p.PacketID = 0
	if qos > 0 {
		if i+2 > len(b) {
			return ErrTruncated
		}
		p.PacketID = uint16(b[i])<<8 | uint16(b[i+1])
		if p.PacketID == 0 {
			return ErrPacketIDZero // [MQTT-2.2.1-3] (3.1.1: [MQTT-2.3.1-1])
		}
		i += 2
	}
	switch v {
	case V5:
		var err error
		if i, err = decodeProps(b, i, &p.Props, propsPublish); err != nil {
			return err
		}
		if tl == 0 && !p.Props.Has(PropTopicAlias) {
			return ErrTopicAliasMissing // [MQTT-3.3.2.1] "a Protocol Error if the Topic Name is zero length and there is no Topic Alias"
		}
	case V311, V31:
		p.Props.reset()
		if tl == 0 {
			return ErrTopicEmpty // [MQTT-4.7.3-1]
		}
	default:
		return ErrUnknownVersion
	}
	p.Payload = b[i:len(b):len(b)]
	return nil
}

func publishFlags(p *Publish) byte {
	h := byte(PUBLISH)<<4 | (p.QoS&3)<<1
	if p.Dup {
		h |= 0x08
	}
	if p.Retain {
		h |= 0x01
	}
	return h
}

// AppendPublish appends p encoded for version v to dst. It does not validate
// p: encoding a packet the spec forbids is the caller's bug. With enough
// capacity in dst it does not allocate.
func AppendPublish(dst []byte, v Version, p *Publish) []byte {
	dst, _ = AppendPublishHeader(dst, v, p, len(p.Payload))
	return append(dst, p.Payload...)
}

// AppendPublishHeader appends everything of a PUBLISH but the payload: fixed
// header (remaining length sized for payloadLen), topic, a packet identifier
// slot when QoS > 0 (filled with p.PacketID), and the v5 properties. idOffset
// is the index of the packet identifier in out, or -1 for QoS 0. Encode once,
// then SetPacketID per delivery and send header and shared payload together
// (writev) [DESIGN: header once, per-subscriber packet ID].
func AppendPublishHeader(dst []byte, v Version, p *Publish, payloadLen int) (out []byte, idOffset int) {
	rl := 2 + len(p.Topic) + payloadLen
	if p.QoS > 0 {
		rl += 2
	}
	var pbody int
	if v == V5 {
		var block int
		block, pbody = propsLen(&p.Props)
		rl += block
	}
	if rl < 128 {
		dst = append(dst, publishFlags(p), byte(rl), byte(len(p.Topic)>>8), byte(len(p.Topic)))
	} else {
		dst = appendHeader(dst, publishFlags(p), rl)
		dst = append(dst, byte(len(p.Topic)>>8), byte(len(p.Topic)))
	}
	dst = append(dst, p.Topic...)
	idOffset = -1
	if p.QoS > 0 {
		idOffset = len(dst)
		dst = append(dst, byte(p.PacketID>>8), byte(p.PacketID))
	}
	if v == V5 {
		dst = appendProps(dst, &p.Props, pbody)
	}
	return dst, idOffset
}

// PublishHeader is an encoded PUBLISH header shared by many deliveries: the
// payload is sent after it. Buf is owned by whoever built it.
type PublishHeader struct {
	Buf      []byte
	IDOffset int // index of the packet identifier in Buf; < 0 for QoS 0
}

// NewPublishHeader encodes p's header (see AppendPublishHeader) into dst.
func NewPublishHeader(dst []byte, v Version, p *Publish, payloadLen int) PublishHeader {
	b, off := AppendPublishHeader(dst, v, p, payloadLen)
	return PublishHeader{Buf: b, IDOffset: off}
}

// SetPacketID patches the packet identifier (no-op for QoS 0). The header
// must not be shared with a write still in flight.
func (h *PublishHeader) SetPacketID(id uint16) { SetPacketID(h.Buf, h.IDOffset, id) }

// SetPacketID writes id at hdr[idOffset:]; a negative idOffset (QoS 0) is a
// no-op.
func SetPacketID(hdr []byte, idOffset int, id uint16) {
	if idOffset < 0 || idOffset+2 > len(hdr) {
		return
	}
	hdr[idOffset] = byte(id >> 8)
	hdr[idOffset+1] = byte(id)
}

// SetDup sets the DUP bit of a PUBLISH header for a redelivery [MQTT-3.3.1-1].
func SetDup(hdr []byte) {
	if len(hdr) > 0 {
		hdr[0] |= 0x08
	}
}

// CheckPayloadFormat returns ErrPayloadFormat when p carries a Payload Format
// Indicator of 1 (UTF-8) and its payload is not valid UTF-8 as MQTT defines
// it. The check is a MAY for receivers (section 3.3.2.3.2; [MQTT-3.3.2-4] is
// the Server's duty to forward the indicator unaltered), so decoders leave it
// to the caller; it never allocates.
func CheckPayloadFormat(p *Publish) error {
	if p.Props.Has(PropPayloadFormat) && p.Props.PayloadFormat == 1 && ValidUTF8String(p.Payload) != nil {
		return ErrPayloadFormat
	}
	return nil
}
