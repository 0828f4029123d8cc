package mqttcodec

// Disconnect is a DISCONNECT packet (v3: no fields).
type Disconnect struct {
	Reason ReasonCode // v5
	Props  Properties // v5
}

// DecodeDisconnect decodes a DISCONNECT frame of version v into p.
func DecodeDisconnect(frame []byte, v Version, p *Disconnect) error {
	_, b, err := body(frame, DISCONNECT) // [MQTT-3.14.1-1] flags 0
	if err != nil {
		return err
	}
	p.Reason = NormalDisconnection
	p.Props.reset()
	switch v {
	case V5:
		return decodeReasonProps(b, &p.Reason, &p.Props, &disconnectReasons, propsDisconnect)
	case V311, V31:
		if len(b) != 0 {
			return ErrTrailingBytes // 3.1.1 section 3.14.1: remaining length 0
		}
		return nil
	}
	return ErrUnknownVersion
}

// decodeReasonProps decodes the v5 "[reason [properties]]" body of
// DISCONNECT and AUTH: an empty body means Success and no properties
// [MQTT-3.14.2.1] [MQTT-3.15.2.1].
func decodeReasonProps(b []byte, r *ReasonCode, p *Properties, set *reasons, allowed propSet) error {
	if len(b) == 0 {
		return nil
	}
	*r = ReasonCode(b[0])
	if !set.has(b[0]) {
		return ErrReasonCode // [MQTT-3.14.2-1] [MQTT-3.15.2-1]
	}
	if len(b) == 1 {
		return nil // [MQTT-3.14.2.2.1] remaining length < 2: no properties
	}
	i, err := decodeProps(b, 1, p, allowed)
	if err != nil {
		return err
	}
	if i != len(b) {
		return ErrTrailingBytes
	}
	return nil
}

func appendReasonProps(dst []byte, h byte, r ReasonCode, p *Properties) []byte {
	block, pb := propsLen(p)
	if pb == 0 {
		if r == Success {
			return append(dst, h, 0)
		}
		return append(dst, h, 1, byte(r))
	}
	dst = appendHeader(dst, h, 1+block)
	dst = append(dst, byte(r))
	return appendProps(dst, p, pb)
}

// AppendDisconnect appends p encoded for version v. v5 omits reason and
// properties when the reason is Normal disconnection and there are none.
func AppendDisconnect(dst []byte, v Version, p *Disconnect) []byte {
	if v != V5 {
		return append(dst, byte(DISCONNECT)<<4, 0)
	}
	return appendReasonProps(dst, byte(DISCONNECT)<<4, p.Reason, &p.Props)
}

// Auth is a v5 AUTH packet.
type Auth struct {
	Reason ReasonCode
	Props  Properties
}

// DecodeAuth decodes an AUTH frame into p. AUTH exists only in v5; for v3
// type 15 is reserved [MQTT-2.1.2]. Every AUTH but the empty Success form
// must carry an Authentication Method [MQTT-3.15.2.2.2].
func DecodeAuth(frame []byte, v Version, p *Auth) error {
	if v != V5 {
		if v == V311 || v == V31 {
			return ErrReservedType // [MQTT-2.1.2] type 15 reserved in 3.1.1
		}
		return ErrUnknownVersion
	}
	_, b, err := body(frame, AUTH) // [MQTT-3.15.1-1] flags 0
	if err != nil {
		return err
	}
	p.Reason = Success
	p.Props.reset()
	if err := decodeReasonProps(b, &p.Reason, &p.Props, &authReasons, propsAuth); err != nil {
		return err
	}
	// [MQTT-3.15.2.2.2] "It is a Protocol Error to omit the Authentication
	// Method". Only the empty form (remaining length 0, Success, no
	// properties) may leave it out [MQTT-3.15.2.1].
	if len(b) > 0 && !p.Props.Has(PropAuthMethod) {
		return ErrAuthMethodMissing
	}
	return nil
}

// AppendAuth appends p encoded as a v5 AUTH packet (v is accepted for
// symmetry; AUTH exists only in v5).
func AppendAuth(dst []byte, v Version, p *Auth) []byte {
	_ = v
	return appendReasonProps(dst, byte(AUTH)<<4, p.Reason, &p.Props)
}

// DecodePing checks a PINGREQ or PINGRESP frame: flags 0 [MQTT-2.1.3-1] and
// remaining length 0 [MQTT-3.12.1] [MQTT-3.13.1].
func DecodePing(frame []byte) error {
	t := TypeOf(frame)
	if t != PINGREQ && t != PINGRESP {
		return ErrWrongType
	}
	_, b, err := body(frame, t)
	if err != nil {
		return err
	}
	if len(b) != 0 {
		return ErrTrailingBytes
	}
	return nil
}

// AppendPingreq appends a PINGREQ.
func AppendPingreq(dst []byte) []byte { return append(dst, byte(PINGREQ)<<4, 0) }

// AppendPingresp appends a PINGRESP.
func AppendPingresp(dst []byte) []byte { return append(dst, byte(PINGRESP)<<4, 0) }
