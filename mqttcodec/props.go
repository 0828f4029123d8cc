package mqttcodec

import "strconv"

// PropID is a v5 property identifier [MQTT-2.2.2.2].
type PropID byte

// Property identifiers, MQTT 5.0 section 2.2.2.2.
const (
	PropPayloadFormat        PropID = 0x01 // byte; PUBLISH, will
	PropMessageExpiry        PropID = 0x02 // four-byte integer; PUBLISH, will
	PropContentType          PropID = 0x03 // UTF-8 string; PUBLISH, will
	PropResponseTopic        PropID = 0x08 // UTF-8 string; PUBLISH, will
	PropCorrelationData      PropID = 0x09 // binary data; PUBLISH, will
	PropSubscriptionID       PropID = 0x0B // variable byte integer; PUBLISH, SUBSCRIBE
	PropSessionExpiry        PropID = 0x11 // four-byte integer; CONNECT, CONNACK, DISCONNECT
	PropAssignedClientID     PropID = 0x12 // UTF-8 string; CONNACK
	PropServerKeepAlive      PropID = 0x13 // two-byte integer; CONNACK
	PropAuthMethod           PropID = 0x15 // UTF-8 string; CONNECT, CONNACK, AUTH
	PropAuthData             PropID = 0x16 // binary data; CONNECT, CONNACK, AUTH
	PropRequestProblemInfo   PropID = 0x17 // byte; CONNECT
	PropWillDelay            PropID = 0x18 // four-byte integer; will
	PropRequestResponseInfo  PropID = 0x19 // byte; CONNECT
	PropResponseInfo         PropID = 0x1A // UTF-8 string; CONNACK
	PropServerReference      PropID = 0x1C // UTF-8 string; CONNACK, DISCONNECT
	PropReasonString         PropID = 0x1F // UTF-8 string; CONNACK, acks, SUBACK, UNSUBACK, DISCONNECT, AUTH
	PropReceiveMaximum       PropID = 0x21 // two-byte integer; CONNECT, CONNACK
	PropTopicAliasMaximum    PropID = 0x22 // two-byte integer; CONNECT, CONNACK
	PropTopicAlias           PropID = 0x23 // two-byte integer; PUBLISH
	PropMaximumQoS           PropID = 0x24 // byte; CONNACK
	PropRetainAvailable      PropID = 0x25 // byte; CONNACK
	PropUser                 PropID = 0x26 // UTF-8 string pair; every packet with properties
	PropMaximumPacketSize    PropID = 0x27 // four-byte integer; CONNECT, CONNACK
	PropWildcardSubAvailable PropID = 0x28 // byte; CONNACK
	PropSubIDAvailable       PropID = 0x29 // byte; CONNACK
	PropSharedSubAvailable   PropID = 0x2A // byte; CONNACK
)

var propNames = [64]string{
	0x01: "Payload Format Indicator", 0x02: "Message Expiry Interval", 0x03: "Content Type",
	0x08: "Response Topic", 0x09: "Correlation Data", 0x0B: "Subscription Identifier",
	0x11: "Session Expiry Interval", 0x12: "Assigned Client Identifier", 0x13: "Server Keep Alive",
	0x15: "Authentication Method", 0x16: "Authentication Data", 0x17: "Request Problem Information",
	0x18: "Will Delay Interval", 0x19: "Request Response Information", 0x1A: "Response Information",
	0x1C: "Server Reference", 0x1F: "Reason String", 0x21: "Receive Maximum", 0x22: "Topic Alias Maximum",
	0x23: "Topic Alias", 0x24: "Maximum QoS", 0x25: "Retain Available", 0x26: "User Property",
	0x27: "Maximum Packet Size", 0x28: "Wildcard Subscription Available",
	0x29: "Subscription Identifier Available", 0x2A: "Shared Subscription Available",
}

// String returns the spec's name for the property.
func (id PropID) String() string {
	if id < 64 && propNames[id] != "" {
		return propNames[id]
	}
	return "PropID(0x" + strconv.FormatUint(uint64(id), 16) + ")"
}

// Property value types [MQTT-1.5].
const (
	tNone byte = iota
	tByte
	tU16
	tU32
	tVarint
	tString
	tBinary
	tPair
)

var propType = [64]byte{
	0x01: tByte, 0x02: tU32, 0x03: tString, 0x08: tString, 0x09: tBinary, 0x0B: tVarint,
	0x11: tU32, 0x12: tString, 0x13: tU16, 0x15: tString, 0x16: tBinary, 0x17: tByte, 0x18: tU32,
	0x19: tByte, 0x1A: tString, 0x1C: tString, 0x1F: tString, 0x21: tU16, 0x22: tU16, 0x23: tU16,
	0x24: tByte, 0x25: tByte, 0x26: tPair, 0x27: tU32, 0x28: tByte, 0x29: tByte, 0x2A: tByte,
}

// propSet is a set of property IDs (bit id). Bit 0 (no property has ID 0)
// marks "Subscription Identifier may repeat" (server->client PUBLISH,
// section 3.3.2.3.8, [MQTT-3.3.4-4]).
type propSet uint64

func pset(ids ...PropID) (s propSet) {
	for _, id := range ids {
		s |= 1 << id
	}
	return s
}

const multiSubID propSet = 1

// Which properties each packet may carry, MQTT 5.0 section 2.2.2.2.
var (
	propsConnect = pset(PropSessionExpiry, PropAuthMethod, PropAuthData, PropRequestProblemInfo,
		PropRequestResponseInfo, PropReceiveMaximum, PropTopicAliasMaximum, PropUser, PropMaximumPacketSize)
	propsConnack = pset(PropSessionExpiry, PropAssignedClientID, PropServerKeepAlive, PropAuthMethod,
		PropAuthData, PropResponseInfo, PropServerReference, PropReasonString, PropReceiveMaximum,
		PropTopicAliasMaximum, PropMaximumQoS, PropRetainAvailable, PropUser, PropMaximumPacketSize,
		PropWildcardSubAvailable, PropSubIDAvailable, PropSharedSubAvailable)
	propsPublish = pset(PropPayloadFormat, PropMessageExpiry, PropContentType, PropResponseTopic,
		PropCorrelationData, PropSubscriptionID, PropTopicAlias, PropUser) | multiSubID
	propsWill = pset(PropPayloadFormat, PropMessageExpiry, PropContentType, PropResponseTopic,
		PropCorrelationData, PropWillDelay, PropUser)
	propsAck         = pset(PropReasonString, PropUser) // PUBACK..PUBCOMP, SUBACK, UNSUBACK
	propsSubscribe   = pset(PropSubscriptionID, PropUser)
	propsUnsubscribe = pset(PropUser)
	propsDisconnect  = pset(PropSessionExpiry, PropServerReference, PropReasonString, PropUser)
	propsAuth        = pset(PropAuthMethod, PropAuthData, PropReasonString, PropUser)
	propsKnown       = (propsConnect | propsConnack | propsPublish | propsWill | propsDisconnect | propsAuth) &^ multiSubID
)

// MaxSubscriptionID is the largest subscription identifier [MQTT-3.8.2.1.2].
const MaxSubscriptionID = 268435455

// Properties holds every v5 property, decoded into caller-owned memory
// without allocating. []byte fields are views into the decoded frame, valid
// until the frame's buffer is released. A field is meaningful only when Has
// reports its ID; encoders write exactly the properties Has reports.
// Decoders zero the struct before filling it.
type Properties struct {
	// Present has bit 1<<id set for each property present (see Has, Set).
	Present uint64

	PayloadFormat   byte
	MessageExpiry   uint32
	ContentType     []byte
	ResponseTopic   []byte
	CorrelationData []byte

	// SubscriptionIDs holds the first four subscription identifiers;
	// NumSubscriptionIDs counts all of them. Only a server->client PUBLISH
	// carries more than one [MQTT-3.3.4-4]; read any of them with
	// SubscriptionID(i). MoreSubscriptionIDs supplies identifiers 5.. to the
	// encoder (decoders leave it nil and read them from Raw).
	SubscriptionIDs     [4]uint32
	NumSubscriptionIDs  int
	MoreSubscriptionIDs []uint32

	SessionExpiry       uint32
	AssignedClientID    []byte
	ServerKeepAlive     uint16
	AuthMethod          []byte
	AuthData            []byte
	RequestProblemInfo  byte
	RequestResponseInfo byte
	WillDelay           uint32
	ResponseInfo        []byte
	ServerReference     []byte
	ReasonString        []byte
	ReceiveMaximum      uint16
	TopicAliasMaximum   uint16
	TopicAlias          uint16
	MaximumQoS          byte
	RetainAvailable     byte

	// User holds the user properties as encoded property bytes, in order:
	// iterate with NextUser, build with AppendUserProperty. A decoded User is
	// the span from the first to the last User Property and may contain other
	// properties between them, which NextUser skips.
	User []byte

	MaximumPacketSize    uint32
	WildcardSubAvailable byte
	SubIDAvailable       byte
	SharedSubAvailable   byte

	// Raw is the decoded property block (without its length), a view into
	// the frame; nil when the block was empty. Encoders ignore it.
	Raw []byte
}

// Has reports whether property id is present.
func (p *Properties) Has(id PropID) bool {
	switch id {
	case PropUser:
		return len(p.User) > 0
	case PropSubscriptionID:
		return p.NumSubscriptionIDs > 0
	}
	return id < 64 && p.Present&(1<<id) != 0
}

// Set marks property id present; set the field first. User and Subscription
// Identifier are present when User or NumSubscriptionIDs are non-empty.
func (p *Properties) Set(id PropID) {
	if id < 64 {
		p.Present |= 1 << id
	}
}

// Reset zeroes p.
func (p *Properties) Reset() { *p = Properties{} }

// reset zeroes p cheaply: decoders set a Present bit for every field they
// fill, so a struct with Present == 0 holds nothing a decoder wrote.
func (p *Properties) reset() {
	if p.Present != 0 || p.NumSubscriptionIDs != 0 || p.User != nil || p.Raw != nil || p.MoreSubscriptionIDs != nil {
		*p = Properties{}
	}
}

// SubscriptionID returns the i-th subscription identifier, 0 <= i <
// NumSubscriptionIDs.
func (p *Properties) SubscriptionID(i int) uint32 {
	if i < len(p.SubscriptionIDs) {
		return p.SubscriptionIDs[i]
	}
	if j := i - len(p.SubscriptionIDs); j < len(p.MoreSubscriptionIDs) {
		return p.MoreSubscriptionIDs[j]
	}
	n := 0
	for b := p.Raw; len(b) > 0; {
		id := b[0]
		if id >= 64 || propType[id] == tNone {
			return 0
		}
		if PropID(id) == PropSubscriptionID {
			v, k := readVarint(b[1:])
			if k <= 0 {
				return 0
			}
			if n == i {
				return uint32(v)
			}
			n++
		}
		k := propSize(b)
		if k <= 0 {
			return 0
		}
		b = b[k:]
	}
	return 0
}

// propSize returns the encoded size of the property at b[0], or 0 when it
// is unknown or runs past b.
func propSize(b []byte) int {
	id := b[0]
	if id >= 64 {
		return 0
	}
	n := 1
	switch propType[id] {
	case tByte:
		n += 1
	case tU16:
		n += 2
	case tU32:
		n += 4
	case tVarint:
		_, k := readVarint(b[1:])
		if k <= 0 {
			return 0
		}
		n += k
	case tString, tBinary:
		_, j, ok := readBytes(b, 1)
		if !ok {
			return 0
		}
		n = j
	case tPair:
		_, j, ok := readBytes(b, 1)
		if !ok {
			return 0
		}
		_, j, ok = readBytes(b, j)
		if !ok {
			return 0
		}
		n = j
	default:
		return 0
	}
	if n > len(b) {
		return 0
	}
	return n
}

// NextUser returns the first user property pair in raw (a Properties.User
// value) and the rest after it; ok is false when there is none. Key and
// value are views into raw.
func NextUser(raw []byte) (key, val, rest []byte, ok bool) {
	for len(raw) > 0 {
		if PropID(raw[0]) == PropUser {
			k, j, ok1 := readBytes(raw, 1)
			v, j, ok2 := readBytes(raw, j)
			if !ok1 || !ok2 {
				return nil, nil, nil, false
			}
			return k, v, raw[j:], true
		}
		n := propSize(raw)
		if n <= 0 {
			return nil, nil, nil, false
		}
		raw = raw[n:]
	}
	return nil, nil, nil, false
}

// AppendUserProperty appends one encoded user property (key, val) to raw, for
// building Properties.User.
func AppendUserProperty(raw []byte, key, val []byte) []byte {
	raw = append(raw, byte(PropUser))
	raw = appendString(raw, key)
	return appendString(raw, val)
}
