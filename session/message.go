package session

import (
	"edgegw/mqttcodec"
)

// Message is an application message copied once out of the inbound frame.
// After NewMessage returns it is immutable and may be shared by every
// delivery on every loop, the inflight window, offline queues and the
// retained store.
type Message struct {
	Topic   []byte
	Payload []byte
	// Props are the v5 properties passed on to subscribers (payload format,
	// content type, response topic, correlation data, user properties). Its
	// []byte fields point into the message's own buffer. Topic Alias and
	// Subscription Identifiers are never set: they are per connection.
	Props     mqttcodec.Properties
	QoS       byte
	Retain    bool
	ExpiresAt int64 // unix nanoseconds; 0 = never expires
	Size      int   // bytes held by the message (topic + payload + properties)
}

// passedOn are the PUBLISH properties forwarded to subscribers [MQTT-3.3.2-*].
const passedOn = 1<<mqttcodec.PropPayloadFormat | 1<<mqttcodec.PropContentType |
	1<<mqttcodec.PropResponseTopic | 1<<mqttcodec.PropCorrelationData

// NewMessage copies topic, payload and the forwarded properties of p into
// one new buffer. topic overrides p.Topic (resolved topic alias). now is the
// loop's clock in unix nanoseconds; a v5 Message Expiry Interval becomes an
// absolute deadline.
func NewMessage(p *mqttcodec.Publish, topic []byte, now int64) *Message {
	pr := &p.Props
	n := len(topic) + len(p.Payload) + len(pr.ContentType) + len(pr.ResponseTopic) + len(pr.CorrelationData) + len(pr.User)
	buf := make([]byte, 0, n)
	cp := func(b []byte) []byte {
		if len(b) == 0 {
			return nil
		}
		s := len(buf)
		buf = append(buf, b...)
		return buf[s:len(buf):len(buf)]
	}
	m := &Message{QoS: p.QoS, Retain: p.Retain, Size: n}
	m.Topic = cp(topic)
	m.Payload = cp(p.Payload)
	m.Props.Present = pr.Present & passedOn
	m.Props.PayloadFormat = pr.PayloadFormat
	m.Props.ContentType = cp(pr.ContentType)
	m.Props.ResponseTopic = cp(pr.ResponseTopic)
	m.Props.CorrelationData = cp(pr.CorrelationData)
	m.Props.User = cp(pr.User)
	if pr.Has(mqttcodec.PropMessageExpiry) {
		m.ExpiresAt = now + int64(pr.MessageExpiry)*1e9
	}
	return m
}

// Expired reports whether m's Message Expiry Interval has passed at now.
func (m *Message) Expired(now int64) bool { return m.ExpiresAt != 0 && now >= m.ExpiresAt }

// Delivery is one message on its way to one session.
type Delivery struct {
	Msg    *Message
	QoS    byte     // subscription QoS; the sent QoS is min(Msg.QoS, QoS) [MQTT-3.8.4-8]
	Retain bool     // RETAIN flag to send (retain-as-published or retained delivery)
	SubIDs []uint32 // subscription identifiers (v5); immutable, may be shared
}

// qos is the QoS the delivery is sent with.
func (d *Delivery) qos() byte { return min(d.Msg.QoS, d.QoS) }
