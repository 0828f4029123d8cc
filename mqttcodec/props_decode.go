package mqttcodec

// decodeProps decodes the property block (length varint + properties) at
// b[i:] into p, allowing only the properties in allowed, and returns the
// index after the block.
func decodeProps(b []byte, i int, p *Properties, allowed propSet) (int, error) {
	p.reset()
	if i >= len(b) {
		return i, ErrTruncated
	}
	l := int(b[i])
	i++
	if l >= 0x80 {
		v, n := readVarint(b[i-1:])
		if n < 0 {
			return i, ErrMalformedVarint // [MQTT-1.5.5-1]
		}
		if n == 0 {
			return i, ErrTruncated
		}
		l, i = v, i-1+n
	}
	if l > len(b)-i {
		return i, ErrPropLength // [MQTT-2.2.2.1] the block runs past the packet
	}
	if l == 0 {
		return i, nil
	}
	end := i + l
	pb := b[i:end:end]
	p.Raw = pb
	userStart, userEnd := -1, 0
	for j := 0; j < len(pb); {
		start := j
		id := pb[j]
		j++
		// The identifier is a variable byte integer; every defined one is a
		// single byte, so a continuation bit means an unknown identifier.
		if id >= 64 || propsKnown&(1<<id) == 0 {
			return end, ErrPropUnknown // [MQTT-2.2.2.2] "not valid for its packet type ... a Malformed Packet"
		}
		bit := uint64(1) << id
		if uint64(allowed)&bit == 0 {
			return end, ErrPropNotAllowed // [MQTT-2.2.2.2]
		}
		if p.Present&bit != 0 && PropID(id) != PropUser && !(PropID(id) == PropSubscriptionID && allowed&multiSubID != 0) {
			return end, ErrPropDuplicate // [MQTT-2.2.2.2] "more than once is a Protocol Error"
		}
		p.Present |= bit
		var (
			u8  byte
			u16 uint16
			u32 uint32
			s   []byte
			ok  bool
		)
		switch propType[id] {
		case tByte:
			if j >= len(pb) {
				return end, ErrPropLength
			}
			u8 = pb[j]
			j++
		case tU16:
			if j+2 > len(pb) {
				return end, ErrPropLength
			}
			u16 = uint16(pb[j])<<8 | uint16(pb[j+1])
			j += 2
		case tU32:
			if j+4 > len(pb) {
				return end, ErrPropLength
			}
			u32 = uint32(pb[j])<<24 | uint32(pb[j+1])<<16 | uint32(pb[j+2])<<8 | uint32(pb[j+3])
			j += 4
		case tVarint:
			v, n := readVarint(pb[j:])
			if n < 0 {
				return end, ErrMalformedVarint // [MQTT-1.5.5-1]
			}
			if n == 0 {
				return end, ErrPropLength
			}
			u32 = uint32(v)
			j += n
		case tString, tBinary:
			s, j, ok = readBytes(pb, j)
			if !ok {
				return end, ErrPropLength
			}
			if propType[id] == tString && ValidUTF8String(s) != nil {
				return end, ErrInvalidUTF8 // [MQTT-1.5.4-1] [MQTT-1.5.4-2]
			}
		case tPair:
			var k, v []byte
			k, j, ok = readBytes(pb, j)
			if !ok {
				return end, ErrPropLength
			}
			v, j, ok = readBytes(pb, j)
			if !ok {
				return end, ErrPropLength
			}
			if ValidUTF8String(k) != nil || ValidUTF8String(v) != nil {
				return end, ErrInvalidUTF8 // [MQTT-1.5.7-1]
			}
		}
		switch PropID(id) {
		case PropPayloadFormat:
			if u8 > 1 {
				return end, ErrPropValue // [MQTT-3.3.2.3.2] 0 or 1; the spec names no error for 2..255, we use Protocol Error
			}
			p.PayloadFormat = u8
		case PropMessageExpiry:
			p.MessageExpiry = u32
		case PropContentType:
			p.ContentType = s
		case PropResponseTopic:
			if topicChars(s) != nil {
				return end, ErrTopicWildcard // [MQTT-3.3.2-14] no wildcards in a Response Topic
			}
			p.ResponseTopic = s
		case PropCorrelationData:
			p.CorrelationData = s
		case PropSubscriptionID:
			if u32 == 0 {
				return end, ErrSubIDZero // [MQTT-3.3.2.3.8] [MQTT-3.8.2.1.2] "a Protocol Error if ... 0"
			}
			if p.NumSubscriptionIDs < len(p.SubscriptionIDs) {
				p.SubscriptionIDs[p.NumSubscriptionIDs] = u32
			}
			p.NumSubscriptionIDs++
		case PropSessionExpiry:
			p.SessionExpiry = u32
		case PropAssignedClientID:
			p.AssignedClientID = s
		case PropServerKeepAlive:
			p.ServerKeepAlive = u16
		case PropAuthMethod:
			p.AuthMethod = s
		case PropAuthData:
			p.AuthData = s
		case PropRequestProblemInfo:
			if u8 > 1 {
				return end, ErrPropValue // [MQTT-3.1.2.11.7] 0 or 1, else Protocol Error
			}
			p.RequestProblemInfo = u8
		case PropWillDelay:
			p.WillDelay = u32
		case PropRequestResponseInfo:
			if u8 > 1 {
				return end, ErrPropValue // [MQTT-3.1.2.11.6] 0 or 1, else Protocol Error
			}
			p.RequestResponseInfo = u8
		case PropResponseInfo:
			p.ResponseInfo = s
		case PropServerReference:
			p.ServerReference = s
		case PropReasonString:
			p.ReasonString = s
		case PropReceiveMaximum:
			if u16 == 0 {
				return end, ErrPropValue // [MQTT-3.1.2.11.3] [MQTT-3.2.2.3.3] 0 is a Protocol Error
			}
			p.ReceiveMaximum = u16
		case PropTopicAliasMaximum:
			p.TopicAliasMaximum = u16
		case PropTopicAlias:
			if u16 == 0 {
				return end, ErrTopicAliasZero // [MQTT-3.3.2-8]; receiver: Protocol Error, DISCONNECT 0x94 (section 3.3.4)
			}
			p.TopicAlias = u16
		case PropMaximumQoS:
			if u8 > 1 {
				return end, ErrPropValue // [MQTT-3.2.2.3.4] 0 or 1, else Protocol Error
			}
			p.MaximumQoS = u8
		case PropRetainAvailable:
			if u8 > 1 {
				return end, ErrPropValue // [MQTT-3.2.2.3.5] 0 or 1, else Protocol Error
			}
			p.RetainAvailable = u8
		case PropUser:
			if userStart < 0 {
				userStart = start
			}
			userEnd = j
		case PropMaximumPacketSize:
			if u32 == 0 {
				return end, ErrPropValue // [MQTT-3.1.2.11.4] [MQTT-3.2.2.3.6] 0 is a Protocol Error
			}
			p.MaximumPacketSize = u32
		case PropWildcardSubAvailable:
			if u8 > 1 {
				return end, ErrPropValue // [MQTT-3.2.2.3.11]
			}
			p.WildcardSubAvailable = u8
		case PropSubIDAvailable:
			if u8 > 1 {
				return end, ErrPropValue // [MQTT-3.2.2.3.12]
			}
			p.SubIDAvailable = u8
		case PropSharedSubAvailable:
			if u8 > 1 {
				return end, ErrPropValue // [MQTT-3.2.2.3.13]
			}
			p.SharedSubAvailable = u8
		}
	}
	if userStart >= 0 {
		p.User = pb[userStart:userEnd:userEnd]
	}
	if p.Present&(1<<PropAuthData) != 0 && p.Present&(1<<PropAuthMethod) == 0 {
		return end, ErrAuthDataNoMethod // [MQTT-3.1.2.11.10] [MQTT-3.15.2.2.3] data without a method
	}
	return end, nil
}
