package mqttcodec

// Differential tests against Eclipse Paho's codecs (test-only dependencies):
// github.com/eclipse/paho.golang/packets (v5) and
// github.com/eclipse/paho.mqtt.golang/packets (3.1.1). Random packets are
// encoded by one side and decoded by the other, then compared field by field
// through a canonical text form.

import (
	"bytes"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	p5 "github.com/eclipse/paho.golang/packets"
)

// ---- canonical forms -------------------------------------------------------

func canonPahoProps(pp *p5.Properties) string {
	if pp == nil {
		return ""
	}
	var s []string
	add := func(f string, a ...any) { s = append(s, fmt.Sprintf(f, a...)) }
	if pp.PayloadFormat != nil {
		add("01=%d", *pp.PayloadFormat)
	}
	if pp.MessageExpiry != nil {
		add("02=%d", *pp.MessageExpiry)
	}
	if pp.ContentType != "" {
		add("03=%q", pp.ContentType)
	}
	if pp.ResponseTopic != "" {
		add("08=%q", pp.ResponseTopic)
	}
	if len(pp.CorrelationData) > 0 {
		add("09=%x", pp.CorrelationData)
	}
	if pp.SubscriptionIdentifier != nil {
		add("0b=%d", *pp.SubscriptionIdentifier)
	}
	if pp.SessionExpiryInterval != nil {
		add("11=%d", *pp.SessionExpiryInterval)
	}
	if pp.AssignedClientID != "" {
		add("12=%q", pp.AssignedClientID)
	}
	if pp.ServerKeepAlive != nil {
		add("13=%d", *pp.ServerKeepAlive)
	}
	if pp.AuthMethod != "" {
		add("15=%q", pp.AuthMethod)
	}
	if len(pp.AuthData) > 0 {
		add("16=%x", pp.AuthData)
	}
	if pp.RequestProblemInfo != nil {
		add("17=%d", *pp.RequestProblemInfo)
	}
	if pp.WillDelayInterval != nil {
		add("18=%d", *pp.WillDelayInterval)
	}
	if pp.RequestResponseInfo != nil {
		add("19=%d", *pp.RequestResponseInfo)
	}
	if pp.ResponseInfo != "" {
		add("1a=%q", pp.ResponseInfo)
	}
	if pp.ServerReference != "" {
		add("1c=%q", pp.ServerReference)
	}
	if pp.ReasonString != "" {
		add("1f=%q", pp.ReasonString)
	}
	if pp.ReceiveMaximum != nil {
		add("21=%d", *pp.ReceiveMaximum)
	}
	if pp.TopicAliasMaximum != nil {
		add("22=%d", *pp.TopicAliasMaximum)
	}
	if pp.TopicAlias != nil {
		add("23=%d", *pp.TopicAlias)
	}
	if pp.MaximumQOS != nil {
		add("24=%d", *pp.MaximumQOS)
	}
	if pp.RetainAvailable != nil {
		add("25=%d", *pp.RetainAvailable)
	}
	for _, u := range pp.User {
		add("26=%q:%q", u.Key, u.Value)
	}
	if pp.MaximumPacketSize != nil {
		add("27=%d", *pp.MaximumPacketSize)
	}
	if pp.WildcardSubAvailable != nil {
		add("28=%d", *pp.WildcardSubAvailable)
	}
	if pp.SubIDAvailable != nil {
		add("29=%d", *pp.SubIDAvailable)
	}
	if pp.SharedSubAvailable != nil {
		add("2a=%d", *pp.SharedSubAvailable)
	}
	return strings.Join(s, " ")
}

func canonProps(p *Properties) string {
	var s []string
	add := func(f string, a ...any) { s = append(s, fmt.Sprintf(f, a...)) }
	for id := PropID(1); id < 64; id++ {
		if !p.Has(id) {
			continue
		}
		switch id {
		case PropSubscriptionID:
			for i := 0; i < p.NumSubscriptionIDs; i++ {
				add("0b=%d", p.SubscriptionID(i))
			}
			continue
		case PropUser:
			for raw := p.User; ; {
				k, v, rest, ok := NextUser(raw)
				if !ok {
					break
				}
				add("26=%q:%q", k, v)
				raw = rest
			}
			continue
		}
		switch propType[id] {
		case tByte:
			add("%02x=%d", byte(id), p.byteField(id))
		case tU16:
			add("%02x=%d", byte(id), p.u16Field(id))
		case tU32:
			add("%02x=%d", byte(id), p.u32Field(id))
		case tString:
			add("%02x=%q", byte(id), p.bytesField(id))
		case tBinary:
			add("%02x=%x", byte(id), p.bytesField(id))
		}
	}
	return strings.Join(s, " ")
}

func canonOurs(x any, v Version) string {
	pr := func(p *Properties) string {
		if v != V5 {
			return ""
		}
		return canonProps(p)
	}
	switch p := x.(type) {
	case *Connect:
		s := fmt.Sprintf("CONNECT name=%s v=%d clean=%v ka=%d props[%s] cid=%q", p.ProtocolName, p.Version, p.CleanStart, p.KeepAlive, pr(&p.Props), p.ClientID)
		if p.WillFlag {
			s += fmt.Sprintf(" will qos=%d retain=%v props[%s] topic=%q payload=%x", p.WillQoS, p.WillRetain, pr(&p.WillProps), p.WillTopic, p.WillPayload)
		}
		if p.UsernameFlag {
			s += fmt.Sprintf(" user=%q", p.Username)
		}
		if p.PasswordFlag {
			s += fmt.Sprintf(" pass=%x", p.Password)
		}
		return s
	case *Connack:
		return fmt.Sprintf("CONNACK sp=%v rc=%d props[%s]", p.SessionPresent, p.Reason, pr(&p.Props))
	case *Publish:
		return fmt.Sprintf("PUBLISH dup=%v qos=%d retain=%v topic=%q id=%d props[%s] payload=%x", p.Dup, p.QoS, p.Retain, p.Topic, p.PacketID, pr(&p.Props), p.Payload)
	case *Ack:
		return fmt.Sprintf("%v id=%d rc=%d props[%s]", p.Type, p.PacketID, p.Reason, pr(&p.Props))
	case *Subscribe:
		s := fmt.Sprintf("SUBSCRIBE id=%d props[%s]", p.PacketID, pr(&p.Props))
		for _, f := range p.Filters {
			s += fmt.Sprintf(" %q:%d", f.Filter, f.QoS)
			if v == V5 {
				s += fmt.Sprintf(":%v:%v:%d", f.NoLocal, f.RetainAsPublished, f.RetainHandling)
			}
		}
		return s
	case *Unsubscribe:
		s := fmt.Sprintf("UNSUBSCRIBE id=%d props[%s]", p.PacketID, pr(&p.Props))
		for _, f := range p.Filters {
			s += fmt.Sprintf(" %q", f)
		}
		return s
	case *Suback:
		return fmt.Sprintf("ACKS id=%d props[%s] reasons=%x", p.PacketID, pr(&p.Props), p.Reasons)
	case *Disconnect:
		return fmt.Sprintf("DISCONNECT rc=%d props[%s]", p.Reason, pr(&p.Props))
	case *Auth:
		return fmt.Sprintf("AUTH rc=%d props[%s]", p.Reason, pr(&p.Props))
	case *pingPacket:
		return p.Type.String()
	}
	panic(fmt.Sprintf("canonOurs %T", x))
}

func canonPaho5(c p5.Packet) string {
	switch p := c.(type) {
	case *p5.Connect:
		s := fmt.Sprintf("CONNECT name=%s v=%d clean=%v ka=%d props[%s] cid=%q", p.ProtocolName, p.ProtocolVersion, p.CleanStart, p.KeepAlive, canonPahoProps(p.Properties), p.ClientID)
		if p.WillFlag {
			s += fmt.Sprintf(" will qos=%d retain=%v props[%s] topic=%q payload=%x", p.WillQOS, p.WillRetain, canonPahoProps(p.WillProperties), p.WillTopic, p.WillMessage)
		}
		if p.UsernameFlag {
			s += fmt.Sprintf(" user=%q", p.Username)
		}
		if p.PasswordFlag {
			s += fmt.Sprintf(" pass=%x", p.Password)
		}
		return s
	case *p5.Connack:
		return fmt.Sprintf("CONNACK sp=%v rc=%d props[%s]", p.SessionPresent, p.ReasonCode, canonPahoProps(p.Properties))
	case *p5.Publish:
		return fmt.Sprintf("PUBLISH dup=%v qos=%d retain=%v topic=%q id=%d props[%s] payload=%x", p.Duplicate, p.QoS, p.Retain, p.Topic, p.PacketID, canonPahoProps(p.Properties), p.Payload)
	case *p5.Puback:
		return fmt.Sprintf("PUBACK id=%d rc=%d props[%s]", p.PacketID, p.ReasonCode, canonPahoProps(p.Properties))
	case *p5.Pubrec:
		return fmt.Sprintf("PUBREC id=%d rc=%d props[%s]", p.PacketID, p.ReasonCode, canonPahoProps(p.Properties))
	case *p5.Pubrel:
		return fmt.Sprintf("PUBREL id=%d rc=%d props[%s]", p.PacketID, p.ReasonCode, canonPahoProps(p.Properties))
	case *p5.Pubcomp:
		return fmt.Sprintf("PUBCOMP id=%d rc=%d props[%s]", p.PacketID, p.ReasonCode, canonPahoProps(p.Properties))
	case *p5.Subscribe:
		s := fmt.Sprintf("SUBSCRIBE id=%d props[%s]", p.PacketID, canonPahoProps(p.Properties))
		for _, f := range p.Subscriptions {
			s += fmt.Sprintf(" %q:%d:%v:%v:%d", f.Topic, f.QoS, f.NoLocal, f.RetainAsPublished, f.RetainHandling)
		}
		return s
	case *p5.Unsubscribe:
		s := fmt.Sprintf("UNSUBSCRIBE id=%d props[%s]", p.PacketID, canonPahoProps(p.Properties))
		for _, f := range p.Topics {
			s += fmt.Sprintf(" %q", f)
		}
		return s
	case *p5.Suback:
		return fmt.Sprintf("ACKS id=%d props[%s] reasons=%x", p.PacketID, canonPahoProps(p.Properties), p.Reasons)
	case *p5.Unsuback:
		return fmt.Sprintf("ACKS id=%d props[%s] reasons=%x", p.PacketID, canonPahoProps(p.Properties), p.Reasons)
	case *p5.Disconnect:
		return fmt.Sprintf("DISCONNECT rc=%d props[%s]", p.ReasonCode, canonPahoProps(p.Properties))
	case *p5.Auth:
		return fmt.Sprintf("AUTH rc=%d props[%s]", p.ReasonCode, canonPahoProps(p.Properties))
	case *p5.Pingreq:
		return "PINGREQ"
	case *p5.Pingresp:
		return "PINGRESP"
	}
	panic(fmt.Sprintf("canonPaho5 %T", c))
}

// ---- random packets ---------------------------------------------------------

var (
	randStrings = []string{"a", "dev/1", "héllo", "日本", "x/y/z", "text/plain", "0123456789abcdef0123456789abcdef"}
	randFilters = []string{"a/+", "#", "a/b/#", "+/x", "$share/g/a/#", "dev/1"}
)

func rs(r *rand.Rand) []byte    { return []byte(randStrings[r.Intn(len(randStrings))]) }
func rbin(r *rand.Rand) []byte  { b := make([]byte, 1+r.Intn(8)); r.Read(b); return b }
func rnz16(r *rand.Rand) uint16 { return uint16(1 + r.Intn(65535)) }

// randProps fills the properties of allowed, each with probability 1/2, with
// values Paho can express (one subscription identifier, non-empty strings).
func randProps(r *rand.Rand, allowed propSet) Properties {
	var p Properties
	for id := PropID(1); id < 64; id++ {
		if uint64(allowed)&(1<<id) == 0 || r.Intn(2) == 0 {
			continue
		}
		switch id {
		case PropSubscriptionID:
			p.SubscriptionIDs[0] = uint32(1 + r.Intn(MaxSubscriptionID))
			p.NumSubscriptionIDs = 1
		case PropUser:
			for n := 1 + r.Intn(2); n > 0; n-- {
				p.User = AppendUserProperty(p.User, rs(r), rs(r))
			}
		default:
			p.Set(id)
			switch id {
			case PropPayloadFormat:
				p.PayloadFormat = byte(r.Intn(2))
			case PropMessageExpiry:
				p.MessageExpiry = r.Uint32()
			case PropContentType:
				p.ContentType = rs(r)
			case PropResponseTopic:
				p.ResponseTopic = rs(r)
			case PropCorrelationData:
				p.CorrelationData = rbin(r)
			case PropSessionExpiry:
				p.SessionExpiry = r.Uint32()
			case PropAssignedClientID:
				p.AssignedClientID = rs(r)
			case PropServerKeepAlive:
				p.ServerKeepAlive = uint16(r.Intn(65536))
			case PropAuthMethod:
				p.AuthMethod = rs(r)
			case PropAuthData:
				p.AuthData = rbin(r)
			case PropRequestProblemInfo:
				p.RequestProblemInfo = byte(r.Intn(2))
			case PropWillDelay:
				p.WillDelay = r.Uint32()
			case PropRequestResponseInfo:
				p.RequestResponseInfo = byte(r.Intn(2))
			case PropResponseInfo:
				p.ResponseInfo = rs(r)
			case PropServerReference:
				p.ServerReference = rs(r)
			case PropReasonString:
				p.ReasonString = rs(r)
			case PropReceiveMaximum:
				p.ReceiveMaximum = rnz16(r)
			case PropTopicAliasMaximum:
				p.TopicAliasMaximum = uint16(r.Intn(65536))
			case PropTopicAlias:
				p.TopicAlias = rnz16(r)
			case PropMaximumQoS:
				p.MaximumQoS = byte(r.Intn(2))
			case PropRetainAvailable:
				p.RetainAvailable = byte(r.Intn(2))
			case PropMaximumPacketSize:
				p.MaximumPacketSize = 1 + uint32(r.Intn(1<<28))
			case PropWildcardSubAvailable:
				p.WildcardSubAvailable = byte(r.Intn(2))
			case PropSubIDAvailable:
				p.SubIDAvailable = byte(r.Intn(2))
			case PropSharedSubAvailable:
				p.SharedSubAvailable = byte(r.Intn(2))
			}
		}
	}
	if p.Has(PropAuthData) && !p.Has(PropAuthMethod) {
		p.AuthMethod = rs(r) // [MQTT-3.1.2.11.10] data needs a method
		p.Set(PropAuthMethod)
	}
	return p
}

func pick(r *rand.Rand, set *reasons) ReasonCode {
	for {
		if c := byte(r.Intn(256)); set.has(c) {
			return ReasonCode(c)
		}
	}
}

// randPacket returns a random valid packet of type t for version v.
func randPacket(r *rand.Rand, v Version, t PacketType) any {
	props := func(s propSet) Properties {
		if v != V5 {
			return Properties{}
		}
		return randProps(r, s)
	}
	id := rnz16(r)
	switch t {
	case CONNECT:
		c := &Connect{Version: v, CleanStart: r.Intn(2) == 0, KeepAlive: uint16(r.Intn(65536)), ClientID: rs(r), Props: props(propsConnect)}
		c.ProtocolName = []byte("MQTT")
		if r.Intn(2) == 0 {
			c.WillFlag, c.WillQoS, c.WillRetain = true, byte(r.Intn(3)), r.Intn(2) == 0
			c.WillTopic, c.WillPayload = rs(r), rbin(r)
			c.WillProps = props(pset(PropUser)) // Paho packs will properties with the CONNECT filter
		}
		if r.Intn(2) == 0 {
			c.UsernameFlag, c.Username = true, rs(r)
			if r.Intn(2) == 0 {
				c.PasswordFlag, c.Password = true, rbin(r)
			}
		}
		return c
	case CONNACK:
		c := &Connack{Props: props(propsConnack)}
		if v == V5 {
			c.Reason = pick(r, &connackReasons)
		} else {
			c.Reason = ReasonCode(r.Intn(6))
		}
		c.SessionPresent = c.Reason == 0 && r.Intn(2) == 0
		return c
	case PUBLISH:
		p := &Publish{QoS: byte(r.Intn(3)), Retain: r.Intn(2) == 0, Topic: rs(r), Payload: rbin(r), Props: props(propsPublish &^ multiSubID)}
		if p.QoS > 0 {
			p.PacketID, p.Dup = id, r.Intn(2) == 0
		}
		return p
	case PUBACK, PUBREC, PUBREL, PUBCOMP:
		a := &Ack{Type: t, PacketID: id}
		if v == V5 {
			set := &pubackReasons
			if t == PUBREL || t == PUBCOMP {
				set = &pubrelReasons
			}
			a.Reason = pick(r, set)
			a.Props = props(propsAck)
		}
		return a
	case SUBSCRIBE:
		s := &Subscribe{PacketID: id, Props: props(propsSubscribe)}
		for n := 1 + r.Intn(4); n > 0; n-- {
			f := Subscription{Filter: []byte(randFilters[r.Intn(len(randFilters))]), QoS: byte(r.Intn(3))}
			if v == V5 {
				f.NoLocal = !IsShared(f.Filter) && r.Intn(2) == 0
				f.RetainAsPublished, f.RetainHandling = r.Intn(2) == 0, byte(r.Intn(3))
			}
			s.Filters = append(s.Filters, f)
		}
		return s
	case UNSUBSCRIBE:
		u := &Unsubscribe{PacketID: id, Props: props(propsUnsubscribe)}
		for n := 1 + r.Intn(4); n > 0; n-- {
			u.Filters = append(u.Filters, []byte(randFilters[r.Intn(len(randFilters))]))
		}
		return u
	case SUBACK, UNSUBACK:
		s := &Suback{PacketID: id, Props: props(propsAck)}
		if t == UNSUBACK && v != V5 {
			return s
		}
		set := &subackV3Reasons
		if v == V5 {
			set = &subackReasons
			if t == UNSUBACK {
				set = &unsubackReasons
			}
		}
		for n := 1 + r.Intn(4); n > 0; n-- {
			s.Reasons = append(s.Reasons, byte(pick(r, set)))
		}
		return s
	case DISCONNECT:
		d := &Disconnect{}
		if v == V5 {
			d.Reason, d.Props = pick(r, &disconnectReasons), props(propsDisconnect)
		}
		return d
	case AUTH:
		a := &Auth{Reason: pick(r, &authReasons), Props: props(propsAuth)}
		if !a.Props.Has(PropAuthMethod) {
			a.Props.AuthMethod = []byte("m") // [MQTT-3.15.2.2.2] every AUTH but the empty one names its method
			a.Props.Set(PropAuthMethod)
		}
		return a
	case PINGREQ, PINGRESP:
		return &pingPacket{t}
	}
	panic("randPacket")
}

// ---- v5 ---------------------------------------------------------------------

func toPahoProps(p *Properties) *p5.Properties {
	pp := &p5.Properties{}
	u8 := func(b byte) *byte { return &b }
	u16 := func(v uint16) *uint16 { return &v }
	u32 := func(v uint32) *uint32 { return &v }
	if p.Has(PropPayloadFormat) {
		pp.PayloadFormat = u8(p.PayloadFormat)
	}
	if p.Has(PropMessageExpiry) {
		pp.MessageExpiry = u32(p.MessageExpiry)
	}
	pp.ContentType, pp.ResponseTopic, pp.CorrelationData = string(p.ContentType), string(p.ResponseTopic), p.CorrelationData
	if p.NumSubscriptionIDs > 0 {
		id := int(p.SubscriptionIDs[0])
		pp.SubscriptionIdentifier = &id
	}
	if p.Has(PropSessionExpiry) {
		pp.SessionExpiryInterval = u32(p.SessionExpiry)
	}
	pp.AssignedClientID = string(p.AssignedClientID)
	if p.Has(PropServerKeepAlive) {
		pp.ServerKeepAlive = u16(p.ServerKeepAlive)
	}
	pp.AuthMethod, pp.AuthData = string(p.AuthMethod), p.AuthData
	if p.Has(PropRequestProblemInfo) {
		pp.RequestProblemInfo = u8(p.RequestProblemInfo)
	}
	if p.Has(PropWillDelay) {
		pp.WillDelayInterval = u32(p.WillDelay)
	}
	if p.Has(PropRequestResponseInfo) {
		pp.RequestResponseInfo = u8(p.RequestResponseInfo)
	}
	pp.ResponseInfo, pp.ServerReference, pp.ReasonString = string(p.ResponseInfo), string(p.ServerReference), string(p.ReasonString)
	if p.Has(PropReceiveMaximum) {
		pp.ReceiveMaximum = u16(p.ReceiveMaximum)
	}
	if p.Has(PropTopicAliasMaximum) {
		pp.TopicAliasMaximum = u16(p.TopicAliasMaximum)
	}
	if p.Has(PropTopicAlias) {
		pp.TopicAlias = u16(p.TopicAlias)
	}
	if p.Has(PropMaximumQoS) {
		pp.MaximumQOS = u8(p.MaximumQoS)
	}
	if p.Has(PropRetainAvailable) {
		pp.RetainAvailable = u8(p.RetainAvailable)
	}
	for raw := p.User; ; {
		k, v, rest, ok := NextUser(raw)
		if !ok {
			break
		}
		pp.User = append(pp.User, p5.User{Key: string(k), Value: string(v)})
		raw = rest
	}
	if p.Has(PropMaximumPacketSize) {
		pp.MaximumPacketSize = u32(p.MaximumPacketSize)
	}
	if p.Has(PropWildcardSubAvailable) {
		pp.WildcardSubAvailable = u8(p.WildcardSubAvailable)
	}
	if p.Has(PropSubIDAvailable) {
		pp.SubIDAvailable = u8(p.SubIDAvailable)
	}
	if p.Has(PropSharedSubAvailable) {
		pp.SharedSubAvailable = u8(p.SharedSubAvailable)
	}
	return pp
}

func toPaho5(x any) p5.Packet {
	switch p := x.(type) {
	case *Connect:
		return &p5.Connect{ProtocolName: "MQTT", ProtocolVersion: 5, CleanStart: p.CleanStart, KeepAlive: p.KeepAlive,
			Properties: toPahoProps(&p.Props), ClientID: string(p.ClientID), WillFlag: p.WillFlag, WillQOS: p.WillQoS,
			WillRetain: p.WillRetain, WillProperties: toPahoProps(&p.WillProps), WillTopic: string(p.WillTopic),
			WillMessage: p.WillPayload, UsernameFlag: p.UsernameFlag, Username: string(p.Username),
			PasswordFlag: p.PasswordFlag, Password: p.Password}
	case *Connack:
		return &p5.Connack{SessionPresent: p.SessionPresent, ReasonCode: byte(p.Reason), Properties: toPahoProps(&p.Props)}
	case *Publish:
		return &p5.Publish{Duplicate: p.Dup, QoS: p.QoS, Retain: p.Retain, Topic: string(p.Topic), PacketID: p.PacketID,
			Properties: toPahoProps(&p.Props), Payload: p.Payload}
	case *Ack:
		switch p.Type {
		case PUBACK:
			return &p5.Puback{PacketID: p.PacketID, ReasonCode: byte(p.Reason), Properties: toPahoProps(&p.Props)}
		case PUBREC:
			return &p5.Pubrec{PacketID: p.PacketID, ReasonCode: byte(p.Reason), Properties: toPahoProps(&p.Props)}
		case PUBREL:
			return &p5.Pubrel{PacketID: p.PacketID, ReasonCode: byte(p.Reason), Properties: toPahoProps(&p.Props)}
		}
		return &p5.Pubcomp{PacketID: p.PacketID, ReasonCode: byte(p.Reason), Properties: toPahoProps(&p.Props)}
	case *Subscribe:
		s := &p5.Subscribe{PacketID: p.PacketID, Properties: toPahoProps(&p.Props)}
		for _, f := range p.Filters {
			s.Subscriptions = append(s.Subscriptions, p5.SubOptions{Topic: string(f.Filter), QoS: f.QoS, NoLocal: f.NoLocal,
				RetainAsPublished: f.RetainAsPublished, RetainHandling: f.RetainHandling})
		}
		return s
	case *Unsubscribe:
		u := &p5.Unsubscribe{PacketID: p.PacketID, Properties: toPahoProps(&p.Props)}
		for _, f := range p.Filters {
			u.Topics = append(u.Topics, string(f))
		}
		return u
	case *Disconnect:
		return &p5.Disconnect{ReasonCode: byte(p.Reason), Properties: toPahoProps(&p.Props)}
	case *Auth:
		return &p5.Auth{ReasonCode: byte(p.Reason), Properties: toPahoProps(&p.Props)}
	case *pingPacket:
		if p.Type == PINGREQ {
			return &p5.Pingreq{}
		}
		return &p5.Pingresp{}
	}
	panic(fmt.Sprintf("toPaho5 %T", x))
}

// toPaho5Suback handles the SUBACK/UNSUBACK ambiguity of *Suback.
func toPaho5Suback(t PacketType, p *Suback) p5.Packet {
	if t == UNSUBACK {
		return &p5.Unsuback{PacketID: p.PacketID, Properties: toPahoProps(&p.Props), Reasons: p.Reasons}
	}
	return &p5.Suback{PacketID: p.PacketID, Properties: toPahoProps(&p.Props), Reasons: p.Reasons}
}

func TestPahoV5(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	for pt := CONNECT; pt <= AUTH; pt++ {
		for i := 0; i < 150; i++ {
			ours := randPacket(r, V5, pt)
			var pp p5.Packet
			if s, ok := ours.(*Suback); ok {
				pp = toPaho5Suback(pt, s)
			} else {
				pp = toPaho5(ours)
			}
			want := canonOurs(ours, V5)

			// Paho encodes, we decode.
			var wb bytes.Buffer
			if _, err := pp.WriteTo(&wb); err != nil {
				t.Fatalf("%v paho encode: %v", pt, err)
			}
			frame := wb.Bytes()
			if n, err := PacketSize(frame, 0); err != nil || n != len(frame) {
				t.Fatalf("%v PacketSize(paho frame) = %d, %v (len %d)", pt, n, err, len(frame))
			}
			got, err := decodeFrame(frame, V5)
			if err != nil {
				t.Fatalf("%v: decode of paho frame % x: %v\n%s", pt, frame, err, want)
			}
			if g := canonOurs(got, V5); g != want {
				t.Fatalf("%v paho->ours\n got %s\nwant %s\nframe % x", pt, g, want, frame)
			}

			// We encode, Paho decodes.
			enc := encode(nil, V5, pt, ours)
			cp, err := p5.ReadPacket(bytes.NewReader(enc))
			if err != nil {
				t.Fatalf("%v: paho decode of % x: %v", pt, enc, err)
			}
			if g := canonPaho5(cp.Content); g != canonPaho5(pp) {
				t.Fatalf("%v ours->paho\n got %s\nwant %s\nframe % x", pt, g, canonPaho5(pp), enc)
			}
		}
	}
}
