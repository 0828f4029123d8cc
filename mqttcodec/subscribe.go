package mqttcodec

// Subscription is one topic filter of a SUBSCRIBE and its options
// [MQTT-3.8.3.1]. Filter is a view into the frame.
type Subscription struct {
	Filter            []byte
	QoS               byte
	NoLocal           bool // v5
	RetainAsPublished bool // v5
	RetainHandling    byte // v5: 0, 1 or 2
}

// Subscribe is a SUBSCRIBE packet. Filters is scratch: DecodeSubscribe
// reuses its capacity and appends one entry per filter actually present in
// the frame, so a caller that keeps Filters between packets decodes without
// allocating. All views are valid until the frame's buffer is released.
type Subscribe struct {
	PacketID uint16
	Props    Properties // v5 only
	Filters  []Subscription
}

// DecodeSubscribe decodes a SUBSCRIBE frame of version v into p. Each filter
// is checked for the UTF-8 rules only: its syntax (ValidTopicFilter) is
// answered per filter with SUBACK 0x8F, not by closing the connection.
func DecodeSubscribe(frame []byte, v Version, p *Subscribe) error {
	_, b, err := bodyV(frame, SUBSCRIBE, v) // [MQTT-3.8.1-1] flags 0010 (same ID in 3.1.1; 3.1 may add DUP)
	if err != nil {
		return err
	}
	p.Filters = p.Filters[:0]
	var i int
	if p.PacketID, i, err = idAndProps(b, v, &p.Props, propsSubscribe); err != nil {
		return err
	}
	if i == len(b) {
		return ErrNoFilters // [MQTT-3.8.3-2] "a Protocol Error" (3.1.1: [MQTT-3.8.3-3])
	}
	for i < len(b) {
		var s Subscription
		if s.Filter, i, err = readString(b, i); err != nil {
			return err // [MQTT-3.8.3-1] [MQTT-1.5.4-1]: ill-formed UTF-8 is malformed
		}
		if i >= len(b) {
			return ErrTruncated
		}
		o := b[i]
		i++
		s.QoS = o & 3
		if v == V5 {
			if o&0xc0 != 0 {
				return ErrSubOptionsReserved // [MQTT-3.8.3-5] "malformed"
			}
			if s.QoS == 3 {
				return ErrSubQoS3 // [MQTT-3.8.3.1] "a Protocol Error if the Maximum QoS field has the value 3"
			}
			s.NoLocal = o&0x04 != 0
			s.RetainAsPublished = o&0x08 != 0
			s.RetainHandling = (o >> 4) & 3
			if s.RetainHandling == 3 {
				return ErrRetainHandling // [MQTT-3.8.3.1] "a Protocol Error to send a Retain Handling value of 3"
			}
			if s.NoLocal && IsShared(s.Filter) {
				return ErrNoLocalShared // [MQTT-3.8.3-4]
			}
		} else if o&0xfc != 0 {
			return ErrSubOptionsReserved // 3.1.1: [MQTT-3-8.3-4] upper 6 bits reserved: malformed
		} else if s.QoS == 3 {
			return ErrQoS3 // 3.1.1: [MQTT-3-8.3-4] "or QoS is not 0,1 or 2": malformed
		}
		p.Filters = append(p.Filters, s)
	}
	return nil
}

func subOptions(v Version, s *Subscription) byte {
	o := s.QoS & 3
	if v == V5 {
		if s.NoLocal {
			o |= 0x04
		}
		if s.RetainAsPublished {
			o |= 0x08
		}
		o |= (s.RetainHandling & 3) << 4
	}
	return o
}

// AppendSubscribe appends p encoded for version v.
func AppendSubscribe(dst []byte, v Version, p *Subscribe) []byte {
	rl := 2
	var pb int
	if v == V5 {
		var block int
		block, pb = propsLen(&p.Props)
		rl += block
	}
	for i := range p.Filters {
		rl += strLen(p.Filters[i].Filter) + 1
	}
	dst = appendHeader(dst, byte(SUBSCRIBE)<<4|2, rl)
	dst = appendUint16(dst, p.PacketID)
	if v == V5 {
		dst = appendProps(dst, &p.Props, pb)
	}
	for i := range p.Filters {
		dst = appendString(dst, p.Filters[i].Filter)
		dst = append(dst, subOptions(v, &p.Filters[i]))
	}
	return dst
}

// Unsubscribe is an UNSUBSCRIBE packet; Filters is scratch like
// Subscribe.Filters. Views are valid until the frame's buffer is released.
type Unsubscribe struct {
	PacketID uint16
	Props    Properties // v5 only
	Filters  [][]byte
}

// DecodeUnsubscribe decodes an UNSUBSCRIBE frame of version v into p.
func DecodeUnsubscribe(frame []byte, v Version, p *Unsubscribe) error {
	_, b, err := bodyV(frame, UNSUBSCRIBE, v) // [MQTT-3.10.1-1] flags 0010 (same ID in 3.1.1; 3.1 may add DUP)
	if err != nil {
		return err
	}
	p.Filters = p.Filters[:0]
	var i int
	if p.PacketID, i, err = idAndProps(b, v, &p.Props, propsUnsubscribe); err != nil {
		return err
	}
	if i == len(b) {
		return ErrNoFilters // [MQTT-3.10.3-2] "a Protocol Error" (same ID in 3.1.1)
	}
	for i < len(b) {
		var f []byte
		if f, i, err = readString(b, i); err != nil {
			return err // [MQTT-3.10.3-1] [MQTT-1.5.4-1]
		}
		p.Filters = append(p.Filters, f)
	}
	return nil
}

// AppendUnsubscribe appends p encoded for version v.
func AppendUnsubscribe(dst []byte, v Version, p *Unsubscribe) []byte {
	rl := 2
	var pb int
	if v == V5 {
		var block int
		block, pb = propsLen(&p.Props)
		rl += block
	}
	for _, f := range p.Filters {
		rl += strLen(f)
	}
	dst = appendHeader(dst, byte(UNSUBSCRIBE)<<4|2, rl)
	dst = appendUint16(dst, p.PacketID)
	if v == V5 {
		dst = appendProps(dst, &p.Props, pb)
	}
	for _, f := range p.Filters {
		dst = appendString(dst, f)
	}
	return dst
}

// Suback is a SUBACK or UNSUBACK packet. Reasons is a view into the frame
// (one reason code per filter, in order), valid until its buffer is
// released. A v3.1.1 UNSUBACK has no reason codes.
type Suback struct {
	PacketID uint16
	Props    Properties // v5 only
	Reasons  []byte
}

// DecodeSuback decodes a SUBACK frame of version v into p.
func DecodeSuback(frame []byte, v Version, p *Suback) error {
	return decodeSuback(frame, v, p, SUBACK)
}

// DecodeUnsuback decodes an UNSUBACK frame of version v into p.
func DecodeUnsuback(frame []byte, v Version, p *Suback) error {
	return decodeSuback(frame, v, p, UNSUBACK)
}

func decodeSuback(frame []byte, v Version, p *Suback, t PacketType) error {
	_, b, err := body(frame, t) // [MQTT-2.1.3-1]
	if err != nil {
		return err
	}
	p.Reasons = nil
	if len(b) < 2 {
		return ErrTruncated
	}
	p.PacketID = uint16(b[0])<<8 | uint16(b[1])
	if p.PacketID == 0 {
		return ErrPacketIDZero // [MQTT-2.2.1-6]: it echoes a SUBSCRIBE/UNSUBSCRIBE identifier, never 0 [MQTT-2.2.1-3]
	}
	i := 2
	set := &subackV3Reasons
	switch v {
	case V5:
		if i, err = decodeProps(b, i, &p.Props, propsAck); err != nil {
			return err
		}
		set = &subackReasons
		if t == UNSUBACK {
			set = &unsubackReasons
		}
	case V311, V31:
		p.Props.reset()
		if t == UNSUBACK {
			if len(b) != 2 {
				return ErrTrailingBytes // 3.1.1 section 3.11.1: remaining length 2
			}
			return nil
		}
	default:
		return ErrUnknownVersion
	}
	if i == len(b) {
		return ErrNoReasons // [MQTT-3.8.4-6] [MQTT-3.11.3] one per filter (3.1.1: [MQTT-3.8.4-5])
	}
	for _, c := range b[i:] {
		if !set.has(c) {
			return ErrReasonCode // [MQTT-3.9.3-2] [MQTT-3.11.3-2] (3.1.1: [MQTT-3.9.3-2])
		}
	}
	p.Reasons = b[i:len(b):len(b)]
	return nil
}

// AppendSuback appends a SUBACK encoded for version v.
func AppendSuback(dst []byte, v Version, p *Suback) []byte {
	return appendSuback(dst, v, p, SUBACK)
}

// AppendUnsuback appends an UNSUBACK encoded for version v; v3 writes only
// the packet identifier.
func AppendUnsuback(dst []byte, v Version, p *Suback) []byte {
	if v != V5 {
		return append(dst, byte(UNSUBACK)<<4, 2, byte(p.PacketID>>8), byte(p.PacketID))
	}
	return appendSuback(dst, v, p, UNSUBACK)
}

func appendSuback(dst []byte, v Version, p *Suback, t PacketType) []byte {
	rl := 2 + len(p.Reasons)
	var pb int
	if v == V5 {
		var block int
		block, pb = propsLen(&p.Props)
		rl += block
	}
	dst = appendHeader(dst, byte(t)<<4, rl)
	dst = appendUint16(dst, p.PacketID)
	if v == V5 {
		dst = appendProps(dst, &p.Props, pb)
	}
	return append(dst, p.Reasons...)
}

// idAndProps decodes the variable header SUBSCRIBE and UNSUBSCRIBE share: a
// non-zero packet identifier, then (v5) properties from the allowed set. It
// returns the identifier and the offset of the payload in b.
func idAndProps(b []byte, v Version, props *Properties, allowed propSet) (uint16, int, error) {
	if len(b) < 2 {
		return 0, 0, ErrTruncated
	}
	id := uint16(b[0])<<8 | uint16(b[1])
	if id == 0 {
		return 0, 0, ErrPacketIDZero // [MQTT-2.2.1-3] (3.1.1: [MQTT-2.3.1-1])
	}
	switch v {
	case V5:
		i, err := decodeProps(b, 2, props, allowed)
		return id, i, err
	case V311, V31:
		props.reset()
		return id, 2, nil
	default:
		return 0, 0, ErrUnknownVersion
	}
}
