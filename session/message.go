package session

import (
	"sync/atomic"
	"unsafe"

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
	Props  mqttcodec.Properties
	QoS    byte
	Retain bool
	// ackHeld is set while the receiver's acknowledgement of the message to
	// its publisher (PUBACK/PUBREC) is withheld (the gateway's
	// backpressure); see SetAckHeld. It is the one field that changes after
	// NewMessage, hence read and written with sync/atomic (a plain uint32, so
	// that a Message may still be copied); it sits in the padding after
	// Retain.
	ackHeld   uint32
	ExpiresAt int64 // unix nanoseconds; 0 = never expires
	Size      int   // bytes held by the message (topic + payload + properties)
}

// passedOn are the PUBLISH properties forwarded to subscribers [MQTT-3.3.2-*].
const passedOn = 1<<mqttcodec.PropPayloadFormat | 1<<mqttcodec.PropContentType |
	1<<mqttcodec.PropResponseTopic | 1<<mqttcodec.PropCorrelationData

// Messages up to about 1.5 KiB live in one allocation together with their
// bytes: the Message header is followed by an inline buffer sized to fill a
// malloc size class (512, 1024 or 2048 bytes). Larger messages take two.
type (
	inlineS struct {
		m Message
		b [512 - unsafe.Sizeof(Message{})]byte
	}
	inlineM struct {
		m Message
		b [1024 - unsafe.Sizeof(Message{})]byte
	}
	inlineL struct {
		m Message
		b [2048 - unsafe.Sizeof(Message{})]byte
	}
)

// NewMessage copies topic, payload and the forwarded properties of p into
// one new buffer. topic overrides p.Topic (resolved topic alias). now is the
// loop's clock in unix nanoseconds; a v5 Message Expiry Interval becomes an
// absolute deadline.
//
// This is the one allocation per published message on the data path
// (gateway.TestPublishAllocs: 1 alloc per QoS 0 message): for messages whose
// bytes fit an inline buffer the header and the bytes share it.
func NewMessage(p *mqttcodec.Publish, topic []byte, now int64) *Message {
	pr := &p.Props
	n := len(topic) + len(p.Payload) + len(pr.ContentType) + len(pr.ResponseTopic) + len(pr.CorrelationData) + len(pr.User)
	var m *Message
	var buf []byte
	switch {
	case n <= len(inlineS{}.b):
		x := new(inlineS)
		m, buf = &x.m, x.b[:0:n]
	case n <= len(inlineM{}.b):
		x := new(inlineM)
		m, buf = &x.m, x.b[:0:n]
	case n <= len(inlineL{}.b):
		x := new(inlineL)
		m, buf = &x.m, x.b[:0:n]
	default:
		m, buf = new(Message), make([]byte, 0, n)
	}
	cp := func(b []byte) []byte {
		if len(b) == 0 {
			return nil
		}
		s := len(buf)
		buf = append(buf, b...)
		return buf[s:len(buf):len(buf)]
	}
	m.QoS, m.Retain, m.Size = p.QoS, p.Retain, n
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

// SetAckHeld records whether the acknowledgement of m to its publisher is
// withheld (true) or was sent (false). Safe for concurrent use: the
// publisher's loop sets it while other loops hold m.
func (m *Message) SetAckHeld(held bool) {
	var v uint32
	if held {
		v = 1
	}
	atomic.StoreUint32(&m.ackHeld, v)
}

// AckHeld reports whether m's publisher has not been sent its
// acknowledgement (see SetAckHeld). Safe for concurrent use.
func (m *Message) AckHeld() bool { return atomic.LoadUint32(&m.ackHeld) != 0 }

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
