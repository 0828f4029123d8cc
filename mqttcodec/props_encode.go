package mqttcodec

import "math/bits"

// Len returns the encoded size of the property body (without its length
// varint).
func (p *Properties) Len() int {
	n := 0
	for pr := p.Present &^ (1<<PropUser | 1<<PropSubscriptionID); pr != 0; pr &= pr - 1 {
		id := PropID(bits.TrailingZeros64(pr))
		switch propType[id] {
		case tByte:
			n += 2
		case tU16:
			n += 3
		case tU32:
			n += 5
		case tString, tBinary:
			n += 3 + len(p.bytesField(id))
		}
	}
	for i := 0; i < p.NumSubscriptionIDs; i++ {
		n += 1 + varintLen(int(p.SubscriptionID(i)))
	}
	for raw := p.User; ; {
		k, v, rest, ok := NextUser(raw)
		if !ok {
			break
		}
		n += 5 + len(k) + len(v)
		raw = rest
	}
	return n
}

func (p *Properties) bytesField(id PropID) []byte {
	switch id {
	case PropContentType:
		return p.ContentType
	case PropResponseTopic:
		return p.ResponseTopic
	case PropCorrelationData:
		return p.CorrelationData
	case PropAssignedClientID:
		return p.AssignedClientID
	case PropAuthMethod:
		return p.AuthMethod
	case PropAuthData:
		return p.AuthData
	case PropResponseInfo:
		return p.ResponseInfo
	case PropServerReference:
		return p.ServerReference
	case PropReasonString:
		return p.ReasonString
	}
	return nil
}

func (p *Properties) byteField(id PropID) byte {
	switch id {
	case PropPayloadFormat:
		return p.PayloadFormat
	case PropRequestProblemInfo:
		return p.RequestProblemInfo
	case PropRequestResponseInfo:
		return p.RequestResponseInfo
	case PropMaximumQoS:
		return p.MaximumQoS
	case PropRetainAvailable:
		return p.RetainAvailable
	case PropWildcardSubAvailable:
		return p.WildcardSubAvailable
	case PropSubIDAvailable:
		return p.SubIDAvailable
	case PropSharedSubAvailable:
		return p.SharedSubAvailable
	}
	return 0
}

func (p *Properties) u16Field(id PropID) uint16 {
	switch id {
	case PropServerKeepAlive:
		return p.ServerKeepAlive
	case PropReceiveMaximum:
		return p.ReceiveMaximum
	case PropTopicAliasMaximum:
		return p.TopicAliasMaximum
	case PropTopicAlias:
		return p.TopicAlias
	}
	return 0
}

func (p *Properties) u32Field(id PropID) uint32 {
	switch id {
	case PropMessageExpiry:
		return p.MessageExpiry
	case PropSessionExpiry:
		return p.SessionExpiry
	case PropWillDelay:
		return p.WillDelay
	case PropMaximumPacketSize:
		return p.MaximumPacketSize
	}
	return 0
}

// AppendProperties appends the property block of p (length varint, then the
// present properties in ascending identifier order, subscription identifiers
// and user properties at their identifiers' places) to dst.
func AppendProperties(dst []byte, p *Properties) []byte {
	if p.Present == 0 && p.NumSubscriptionIDs == 0 && len(p.User) == 0 {
		return append(dst, 0)
	}
	return p.appendBody(appendVarint(dst, p.Len()))
}

// appendProps appends a property block whose body size n is already known.
func appendProps(dst []byte, p *Properties, n int) []byte {
	dst = appendVarint(dst, n)
	if n == 0 {
		return dst
	}
	return p.appendBody(dst)
}

func (p *Properties) appendBody(dst []byte) []byte {
	pr := p.Present &^ (1<<PropUser | 1<<PropSubscriptionID)
	if p.NumSubscriptionIDs > 0 {
		pr |= 1 << PropSubscriptionID
	}
	if len(p.User) > 0 {
		pr |= 1 << PropUser
	}
	for ; pr != 0; pr &= pr - 1 {
		id := PropID(bits.TrailingZeros64(pr))
		switch id {
		case PropSubscriptionID:
			for i := 0; i < p.NumSubscriptionIDs; i++ {
				dst = append(dst, byte(id))
				dst = appendVarint(dst, int(p.SubscriptionID(i)))
			}
			continue
		case PropUser:
			for raw := p.User; ; {
				k, v, rest, ok := NextUser(raw)
				if !ok {
					break
				}
				dst = AppendUserProperty(dst, k, v)
				raw = rest
			}
			continue
		}
		switch propType[id] {
		case tByte:
			dst = append(dst, byte(id), p.byteField(id))
		case tU16:
			v := p.u16Field(id)
			dst = append(dst, byte(id), byte(v>>8), byte(v))
		case tU32:
			v := p.u32Field(id)
			dst = append(dst, byte(id), byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
		case tString, tBinary:
			f := p.bytesField(id)
			dst = append(dst, byte(id), byte(len(f)>>8), byte(len(f)))
			dst = append(dst, f...)
		}
	}
	return dst
}

// propsLen is the encoded size of p's block including the length varint.
func propsLen(p *Properties) (block, body int) {
	if p.Present == 0 && p.NumSubscriptionIDs == 0 && len(p.User) == 0 {
		return 1, 0
	}
	body = p.Len()
	return varintLen(body) + body, body
}
