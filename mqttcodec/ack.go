package mqttcodec

// Ack is a PUBACK, PUBREC, PUBREL or PUBCOMP packet. Props views are valid
// until the frame's buffer is released.
type Ack struct {
	Type     PacketType // PUBACK, PUBREC, PUBREL or PUBCOMP
	PacketID uint16
	Reason   ReasonCode // v5; Success for v3
	Props    Properties // v5 only
}

// DecodeAck decodes a PUBACK, PUBREC, PUBREL or PUBCOMP frame of version v.
func DecodeAck(frame []byte, v Version, p *Ack) error {
	t := TypeOf(frame)
	if t < PUBACK || t > PUBCOMP {
		return ErrWrongType
	}
	_, b, err := bodyV(frame, t, v) // [MQTT-3.6.1-1] PUBREL flags 0010 (3.1 may add DUP), others 0000 [MQTT-2.1.3-1]
	if err != nil {
		return err
	}
	p.Type = t
	p.Reason = Success
	if len(b) < 2 {
		return ErrTruncated
	}
	p.PacketID = uint16(b[0])<<8 | uint16(b[1])
	if p.PacketID == 0 {
		return ErrPacketIDZero // [MQTT-2.2.1-5]: it echoes a PUBLISH identifier, never 0 [MQTT-2.2.1-3]
	}
	switch v {
	case V5:
		p.Props.reset()
		if len(b) == 2 {
			return nil // [MQTT-3.4.2.1] no reason code means Success
		}
		p.Reason = ReasonCode(b[2])
		set := &pubackReasons
		if t == PUBREL || t == PUBCOMP {
			set = &pubrelReasons
		}
		if !set.has(b[2]) {
			return ErrReasonCode // [MQTT-3.4.2-1] [MQTT-3.5.2-1] [MQTT-3.6.2-1] [MQTT-3.7.2-1]
		}
		if len(b) == 3 {
			return nil // [MQTT-3.4.2.2.1] remaining length < 4: no properties
		}
		i, err := decodeProps(b, 3, &p.Props, propsAck)
		if err != nil {
			return err
		}
		if i != len(b) {
			return ErrTrailingBytes
		}
	case V311, V31:
		p.Props.reset()
		if len(b) != 2 {
			return ErrTrailingBytes // 3.1.1 sections 3.4.1-3.7.1: remaining length 2
		}
	default:
		return ErrUnknownVersion
	}
	return nil
}

// AppendAck appends p encoded for version v. p.Type must be PUBACK, PUBREC,
// PUBREL or PUBCOMP. v5 omits reason code and properties when the reason is
// Success and there are no properties [MQTT-3.4.2.1], and the property length
// when there are none.
func AppendAck(dst []byte, v Version, p *Ack) []byte {
	h := byte(p.Type)<<4 | fixedFlags[p.Type&15]
	if v != V5 {
		return append(dst, h, 2, byte(p.PacketID>>8), byte(p.PacketID))
	}
	block, pb := propsLen(&p.Props)
	if pb == 0 {
		if p.Reason == Success {
			return append(dst, h, 2, byte(p.PacketID>>8), byte(p.PacketID))
		}
		return append(dst, h, 3, byte(p.PacketID>>8), byte(p.PacketID), byte(p.Reason))
	}
	dst = appendHeader(dst, h, 3+block)
	dst = append(dst, byte(p.PacketID>>8), byte(p.PacketID), byte(p.Reason))
	return appendProps(dst, &p.Props, pb)
}
