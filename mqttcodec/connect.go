package mqttcodec

// Connect is a decoded or to-be-encoded CONNECT packet. After DecodeConnect
// every []byte is a view into the frame, valid until its buffer is released.
type Connect struct {
	ProtocolName []byte // "MQTT" (levels 4, 5) or "MQIsdp" (level 3)
	Version      Version
	// Bridge is set when the protocol level carried BridgeBit (0x83, 0x84):
	// a broker bridging to us, such as mosquitto with try_private (its
	// default). Version holds the level without the bit.
	Bridge     bool
	CleanStart bool // Clean Session in v3
	KeepAlive  uint16
	Props      Properties // v5 only
	ClientID   []byte

	WillFlag    bool
	WillQoS     byte
	WillRetain  bool
	WillProps   Properties // v5 only
	WillTopic   []byte
	WillPayload []byte

	UsernameFlag bool
	Username     []byte
	PasswordFlag bool
	Password     []byte
}

var (
	nameMQTT   = []byte("MQTT")
	nameMQIsdp = []byte("MQIsdp")
)

// BridgeBit is the high bit of the protocol level that bridging brokers
// (mosquitto, EMQX, VerneMQ, RSMB) set on a 3.1 or 3.1.1 CONNECT to ask for
// no-local and retain-as-published semantics on their subscriptions: levels
// 0x83 and 0x84. It is not part of any MQTT specification.
const BridgeBit = 0x80

// Connect flag bits [MQTT-3.1.2.3].
const (
	flagReserved   = 0x01
	flagCleanStart = 0x02
	flagWill       = 0x04
	flagWillRetain = 0x20
	flagPassword   = 0x40
	flagUsername   = 0x80
)

// DecodeConnect decodes a CONNECT frame; the version is read from the packet.
// Protocol name and level are decoded first, so on ErrProtocolName or
// ErrUnsupportedVersion p.Version tells the session which CONNACK to send
// [MQTT-3.1.2-2]. Levels 0x83 ("MQIsdp") and 0x84 ("MQTT") are accepted as
// 3.1 and 3.1.1 with p.Bridge set (see BridgeBit); 0x85 is refused. The
// Client Identifier's content (empty, length, allowed characters
// [MQTT-3.1.3-5]) is the session's decision: it is answered with a CONNACK,
// not a malformed-packet close.
func DecodeConnect(frame []byte, p *Connect) error {
	_, b, err := body(frame, CONNECT) // [MQTT-2.1.3-1] flags 0
	if err != nil {
		return err
	}
	name, i, ok := readBytes(b, 0)
	if !ok {
		return ErrTruncated
	}
	p.ProtocolName = name
	if i >= len(b) {
		return ErrTruncated
	}
	p.Version = Version(b[i])
	p.Bridge = false
	if lvl := p.Version &^ BridgeBit; p.Version&BridgeBit != 0 && (lvl == V31 || lvl == V311) {
		p.Version, p.Bridge = lvl, true
	}
	i++
	switch string(name) { // no allocation: compiler-optimized comparison
	case "MQTT":
		if p.Version != V311 && p.Version != V5 {
			return ErrUnsupportedVersion // [MQTT-3.1.2-2]
		}
	case "MQIsdp":
		if p.Version != V31 {
			return ErrUnsupportedVersion // [MQTT-3.1.2-2]
		}
	default:
		return ErrProtocolName // [MQTT-3.1.2-1]
	}
	if i+3 > len(b) {
		return ErrTruncated
	}
	f := b[i]
	p.KeepAlive = uint16(b[i+1])<<8 | uint16(b[i+2])
	i += 3
	if f&flagReserved != 0 {
		return ErrConnectReserved // [MQTT-3.1.2-3]
	}
	p.CleanStart = f&flagCleanStart != 0
	p.WillFlag = f&flagWill != 0
	p.WillQoS = (f >> 3) & 3
	p.WillRetain = f&flagWillRetain != 0
	p.UsernameFlag = f&flagUsername != 0
	p.PasswordFlag = f&flagPassword != 0
	if !p.WillFlag && (p.WillQoS != 0 || p.WillRetain) {
		return ErrWillFlags // [MQTT-3.1.2-11] [MQTT-3.1.2-13] (3.1.1: [MQTT-3.1.2-11] [MQTT-3.1.2-13] [MQTT-3.1.2-15])
	}
	if p.WillQoS == 3 {
		return ErrWillQoS // [MQTT-3.1.2-12] "a Malformed Packet" (3.1.1: [MQTT-3.1.2-14])
	}
	if p.Version != V5 && p.PasswordFlag && !p.UsernameFlag {
		return ErrPasswordFlag // 3.1.1: [MQTT-3.1.2-22]; 5.0 allows a password alone (section 3.1.2.9)
	}
	p.Props.reset()
	p.WillProps.reset()
	p.ClientID, p.WillTopic, p.WillPayload, p.Username, p.Password = nil, nil, nil, nil, nil
	if p.Version == V5 {
		if i, err = decodeProps(b, i, &p.Props, propsConnect); err != nil {
			return err
		}
	}
	if p.ClientID, i, err = readString(b, i); err != nil {
		return err // [MQTT-3.1.3-4] UTF-8 string (same ID in 3.1.1)
	}
	if p.WillFlag {
		if p.Version == V5 {
			if i, err = decodeProps(b, i, &p.WillProps, propsWill); err != nil {
				return err
			}
		}
		// [MQTT-3.1.3-11] (3.1.1: [MQTT-3.1.3-10]): a UTF-8 Encoded String,
		// so ill-formed UTF-8 is a Malformed Packet [MQTT-1.5.4-1]; an empty
		// or wildcard topic is a well-formed packet refused with 0x90.
		if p.WillTopic, i, err = readString(b, i); err != nil {
			return err
		}
		if ValidTopicName(p.WillTopic) != nil {
			return ErrWillTopic // [MQTT-4.7.3-1] [MQTT-4.7.0-1]
		}
		if p.WillPayload, i, ok = readBytes(b, i); !ok {
			return ErrTruncated // [MQTT-3.1.3.4] will payload is Binary Data
		}
	}
	if p.UsernameFlag {
		if p.Username, i, err = readString(b, i); err != nil {
			return err // [MQTT-3.1.3-12] (3.1.1: [MQTT-3.1.3-11])
		}
	}
	if p.PasswordFlag {
		if p.Password, i, ok = readBytes(b, i); !ok {
			return ErrTruncated // [MQTT-3.1.3.6] Password is Binary Data (3.1.1: section 3.1.3.5)
		}
	}
	if i != len(b) {
		return ErrTrailingBytes // [MQTT-3.1.2-16] [MQTT-3.1.2-18] (3.1.1: [MQTT-3.1.2-18] [MQTT-3.1.2-20]): no unannounced field
	}
	return nil
}

// AppendConnect appends p to dst, encoded for p.Version. An empty
// ProtocolName is replaced by "MQIsdp" for V31 and "MQTT" otherwise. Flags
// are derived from the fields (WillFlag, UsernameFlag, PasswordFlag are
// honoured as given); Bridge adds BridgeBit to the level.
func AppendConnect(dst []byte, p *Connect) []byte {
	name := p.ProtocolName
	if len(name) == 0 {
		name = nameMQTT
		if p.Version == V31 {
			name = nameMQIsdp
		}
	}
	rl := strLen(name) + 1 + 1 + 2 + strLen(p.ClientID)
	var pb, wpb int
	if p.Version == V5 {
		var block int
		block, pb = propsLen(&p.Props)
		rl += block
	}
	var f byte
	if p.CleanStart {
		f |= flagCleanStart
	}
	if p.WillFlag {
		f |= flagWill | (p.WillQoS&3)<<3
		if p.WillRetain {
			f |= flagWillRetain
		}
		rl += strLen(p.WillTopic) + strLen(p.WillPayload)
		if p.Version == V5 {
			var block int
			block, wpb = propsLen(&p.WillProps)
			rl += block
		}
	}
	if p.UsernameFlag {
		f |= flagUsername
		rl += strLen(p.Username)
	}
	if p.PasswordFlag {
		f |= flagPassword
		rl += strLen(p.Password)
	}
	dst = appendHeader(dst, byte(CONNECT)<<4, rl)
	dst = appendString(dst, name)
	lvl := byte(p.Version)
	if p.Bridge {
		lvl |= BridgeBit
	}
	dst = append(dst, lvl, f, byte(p.KeepAlive>>8), byte(p.KeepAlive))
	if p.Version == V5 {
		dst = appendProps(dst, &p.Props, pb)
	}
	dst = appendString(dst, p.ClientID)
	if p.WillFlag {
		if p.Version == V5 {
			dst = appendProps(dst, &p.WillProps, wpb)
		}
		dst = appendString(dst, p.WillTopic)
		dst = appendString(dst, p.WillPayload)
	}
	if p.UsernameFlag {
		dst = appendString(dst, p.Username)
	}
	if p.PasswordFlag {
		dst = appendString(dst, p.Password)
	}
	return dst
}

// Connack is a CONNACK packet. For v3 Reason holds the v3 return code
// (V3ConnAccepted..V3ConnNotAuthorized); see ConnackV3Code.
type Connack struct {
	SessionPresent bool
	Reason         ReasonCode
	Props          Properties // v5 only
}

// DecodeConnack decodes a CONNACK frame of version v into p.
func DecodeConnack(frame []byte, v Version, p *Connack) error {
	_, b, err := body(frame, CONNACK) // [MQTT-2.1.3-1]
	if err != nil {
		return err
	}
	if len(b) < 2 {
		return ErrTruncated
	}
	switch {
	case v == V31:
		// 3.1 section 3.2: the first byte is reserved ("Topic Name
		// Compression Response", not used); there is no session present flag.
		p.SessionPresent = false
	case b[0]&^1 != 0:
		return ErrConnackFlags // [MQTT-3.2.2-1] (3.1.1: section 3.2.2.1)
	default:
		p.SessionPresent = b[0]&1 != 0
	}
	p.Reason = ReasonCode(b[1])
	switch v {
	case V5:
		if !connackReasons.has(b[1]) {
			return ErrReasonCode // [MQTT-3.2.2-8]
		}
		i, err := decodeProps(b, 2, &p.Props, propsConnack)
		if err != nil {
			return err
		}
		if i != len(b) {
			return ErrTrailingBytes
		}
	case V311, V31:
		p.Props.reset()
		if len(b) != 2 {
			return ErrTrailingBytes
		}
		if b[1] > V3ConnNotAuthorized {
			return ErrReasonCode // [MQTT-3.2.2.3] return codes 6-255 are reserved
		}
	default:
		return ErrUnknownVersion
	}
	if p.SessionPresent && p.Reason != Success {
		return ErrConnackPresent // [MQTT-3.2.2-6] (3.1.1: [MQTT-3.2.2-4])
	}
	return nil
}

// AppendConnack appends p encoded for version v. For 3.1 SessionPresent is
// ignored: 3.1 has no such flag and its byte is reserved (section 3.2).
func AppendConnack(dst []byte, v Version, p *Connack) []byte {
	var sp byte
	if p.SessionPresent && v != V31 {
		sp = 1
	}
	if v != V5 {
		return append(dst, byte(CONNACK)<<4, 2, sp, byte(p.Reason))
	}
	block, pb := propsLen(&p.Props)
	dst = appendHeader(dst, byte(CONNACK)<<4, 2+block)
	dst = append(dst, sp, byte(p.Reason))
	return appendProps(dst, &p.Props, pb)
}
