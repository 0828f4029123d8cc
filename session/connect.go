package session

import (
	"unicode/utf8"

	"edgegw/mqttcodec"
)

// Will is a client's will message and its v5 Will Delay Interval.
type Will struct {
	Msg    *Message // ExpiresAt unset: the expiry counts from publication (see Message)
	Delay  uint32   // seconds
	Expiry uint32   // v5 Message Expiry Interval of the will, seconds; 0 = none
}

// Message returns the will as it is published at now: its Message Expiry
// Interval counts from publication, not from CONNECT (v5 section
// 3.1.3.2.4). A will with an expiry gets a copy of the header (the bytes are
// shared); w itself is never changed, so it may be published again.
func (w *Will) Message(now int64) *Message {
	if w.Expiry == 0 {
		return w.Msg
	}
	m := *w.Msg
	m.ExpiresAt = now + int64(w.Expiry)*1e9
	return &m
}

// Params are the negotiated parameters of one accepted CONNECT.
type Params struct {
	ClientID        string
	Will            *Will
	Expiry          uint32 // session expiry, seconds; 0 = ends with the connection
	MaxPacket       uint32 // the client's Maximum Packet Size; 0 = no limit
	KeepAlive       uint16 // effective keep alive, seconds; 0 = none
	RecvMax         uint16 // the client's Receive Maximum (65535 when absent)
	TopicAliasMax   uint16 // the client's Topic Alias Maximum: outbound aliases it accepts (see alias.go)
	Version         mqttcodec.Version
	Assigned        bool // the server assigned ClientID (v5 Assigned Client Identifier)
	CleanStart      bool // discard any existing session [MQTT-3.1.2-4]
	ServerKeepAlive bool // v5: KeepAlive differs from the client's; sent as Server Keep Alive
	ExpiryCapped    bool // v5: Expiry was lowered; sent in CONNACK
	ProblemInfo     bool // v5 Request Problem Information (default 1)
	Bridge          bool // protocol level 0x83/0x84 (mqttcodec.BridgeBit): no-local and retain-as-published subscriptions
}

// ParseConnect validates a decoded CONNECT against lim and returns the
// negotiated parameters, or the reason code to refuse it with in CONNACK
// (AppendRefusal maps it to a v3 return code for v3 clients).
// assign generates a client identifier for an empty one. now is unix nanos.
// Everything in Params is copied out of p.
func ParseConnect(p *mqttcodec.Connect, lim *Limits, now int64, assign func() string) (Params, mqttcodec.ReasonCode) {
	pr := Params{Version: p.Version, CleanStart: p.CleanStart, KeepAlive: p.KeepAlive, RecvMax: 65535, ProblemInfo: true, Bridge: p.Bridge}
	if p.Version == mqttcodec.V5 {
		if p.Props.Has(mqttcodec.PropAuthMethod) {
			return pr, mqttcodec.BadAuthMethod // enhanced authentication is not offered
		}
		if p.Props.Has(mqttcodec.PropReceiveMaximum) {
			pr.RecvMax = p.Props.ReceiveMaximum // 0 is refused by the codec (section 3.1.2.11.3)
		}
		if p.Props.Has(mqttcodec.PropMaximumPacketSize) {
			pr.MaxPacket = p.Props.MaximumPacketSize
		}
		if p.Props.Has(mqttcodec.PropTopicAliasMaximum) {
			pr.TopicAliasMax = p.Props.TopicAliasMaximum
		}
		if p.Props.Has(mqttcodec.PropRequestProblemInfo) {
			pr.ProblemInfo = p.Props.RequestProblemInfo != 0
		}
		if p.Props.Has(mqttcodec.PropSessionExpiry) {
			pr.Expiry = p.Props.SessionExpiry
			if pr.Expiry > lim.MaxSessionExpiry {
				pr.Expiry, pr.ExpiryCapped = lim.MaxSessionExpiry, true
			}
		}
	} else if !p.CleanStart {
		// A v3 persistent session lasts until clean session or the
		// configured maximum [MQTT-3.1.2-4].
		pr.Expiry = lim.MaxSessionExpiry
	}
	if lim.MaxKeepAlive > 0 && (pr.KeepAlive == 0 || pr.KeepAlive > lim.MaxKeepAlive) && p.Version == mqttcodec.V5 {
		pr.KeepAlive, pr.ServerKeepAlive = lim.MaxKeepAlive, true
	}
	if len(p.ClientID) == 0 {
		// [MQTT-3.1.3-8] v3.1.1: an empty ID with clean session 0 is refused.
		if p.Version != mqttcodec.V5 && !p.CleanStart || p.Version == mqttcodec.V31 {
			return pr, mqttcodec.ClientIDNotValid
		}
		pr.ClientID, pr.Assigned = assign(), p.Version == mqttcodec.V5
	} else if p.Version == mqttcodec.V31 && utf8.RuneCount(p.ClientID) > MaxClientID31 {
		return pr, mqttcodec.ClientIDNotValid // 3.1 section 3.1: 1 to 23 characters, else return code 2
	} else {
		pr.ClientID = string(p.ClientID)
	}
	if p.WillFlag {
		wp := mqttcodec.Publish{QoS: p.WillQoS, Retain: p.WillRetain, Topic: p.WillTopic, Payload: p.WillPayload}
		if p.Version == mqttcodec.V5 {
			wp.Props = p.WillProps
			// Section 3.1.3.2.3: a will with payload format 1 must carry UTF-8.
			if wp.Props.Has(mqttcodec.PropPayloadFormat) && wp.Props.PayloadFormat == 1 && !utf8.Valid(p.WillPayload) {
				return pr, mqttcodec.PayloadFormatInvalid
			}
		}
		if p.WillRetain && !lim.RetainAvailable {
			return pr, mqttcodec.RetainNotSupported // [MQTT-3.2.2-12]
		}
		w := &Will{}
		if wp.Props.Has(mqttcodec.PropMessageExpiry) {
			w.Expiry = wp.Props.MessageExpiry
			wp.Props.Present &^= 1 << mqttcodec.PropMessageExpiry // stamped at publication (Will.Message)
		}
		w.Msg = NewMessage(&wp, p.WillTopic, now)
		if p.Version == mqttcodec.V5 && p.WillProps.Has(mqttcodec.PropWillDelay) {
			w.Delay = p.WillProps.WillDelay
		}
		pr.Will = w
	}
	return pr, mqttcodec.Success
}

// AppendConnack encodes the CONNACK for an accepted CONNECT with the
// properties the server advertises (v5) into o.
func AppendConnack(o *Out, pr *Params, lim *Limits, sessionPresent bool) {
	ack := mqttcodec.Connack{SessionPresent: sessionPresent, Reason: mqttcodec.Success}
	if pr.Version == mqttcodec.V5 {
		p := &ack.Props
		p.ReceiveMaximum = lim.ReceiveMaximum
		p.Set(mqttcodec.PropReceiveMaximum)
		if lim.MaxPacketSize > 0 {
			p.MaximumPacketSize = lim.MaxPacketSize
			p.Set(mqttcodec.PropMaximumPacketSize)
		}
		p.TopicAliasMaximum = lim.TopicAliasMaximum
		p.Set(mqttcodec.PropTopicAliasMaximum)
		if !lim.RetainAvailable {
			p.RetainAvailable = 0
			p.Set(mqttcodec.PropRetainAvailable)
		}
		p.WildcardSubAvailable, p.SubIDAvailable, p.SharedSubAvailable = 1, 1, 1
		p.Set(mqttcodec.PropWildcardSubAvailable)
		p.Set(mqttcodec.PropSubIDAvailable)
		p.Set(mqttcodec.PropSharedSubAvailable)
		if pr.ServerKeepAlive {
			p.ServerKeepAlive = pr.KeepAlive
			p.Set(mqttcodec.PropServerKeepAlive)
		}
		if pr.Assigned {
			p.AssignedClientID = []byte(pr.ClientID)
			p.Set(mqttcodec.PropAssignedClientID)
		}
		if pr.ExpiryCapped {
			p.SessionExpiry = pr.Expiry
			p.Set(mqttcodec.PropSessionExpiry)
		}
	}
	s := o.begin()
	*o.Arena = mqttcodec.AppendConnack(*o.Arena, pr.Version, &ack)
	o.commit(s)
}

// AppendRefusal encodes a CONNACK refusing a connection with reason (v5) or
// the matching v3 return code.
func AppendRefusal(o *Out, v mqttcodec.Version, reason mqttcodec.ReasonCode) {
	ack := mqttcodec.Connack{Reason: reason}
	if v != mqttcodec.V5 {
		ack.Reason = mqttcodec.ReasonCode(mqttcodec.ConnackV3Code(reason)) // [MQTT-3.2.2.3]
	}
	s := o.begin()
	*o.Arena = mqttcodec.AppendConnack(*o.Arena, v, &ack)
	o.commit(s)
}

// AppendDisconnect encodes a server DISCONNECT (v5 only; v3 has none) with
// reason and, for 0x9C/0x9D, a server reference.
func AppendDisconnect(o *Out, v mqttcodec.Version, reason mqttcodec.ReasonCode, serverRef string) {
	if v != mqttcodec.V5 {
		return
	}
	d := mqttcodec.Disconnect{Reason: reason}
	if serverRef != "" {
		d.Props.ServerReference = []byte(serverRef)
		d.Props.Set(mqttcodec.PropServerReference)
	}
	s := o.begin()
	*o.Arena = mqttcodec.AppendDisconnect(*o.Arena, v, &d)
	o.commit(s)
}
