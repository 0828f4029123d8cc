package mqttcodec

import (
	"bytes"
	"fmt"
	"math/rand"
	"testing"

	p3 "github.com/eclipse/paho.mqtt.golang/packets"
)

// ---- 3.1.1 ------------------------------------------------------------------

func toPaho3(t PacketType, x any) p3.ControlPacket {
	cp := p3.NewControlPacket(byte(t))
	switch p := x.(type) {
	case *Connect:
		c := cp.(*p3.ConnectPacket)
		c.ProtocolName, c.ProtocolVersion, c.CleanSession, c.Keepalive = "MQTT", 4, p.CleanStart, p.KeepAlive
		c.ClientIdentifier = string(p.ClientID)
		c.WillFlag, c.WillQos, c.WillRetain, c.WillTopic, c.WillMessage = p.WillFlag, p.WillQoS, p.WillRetain, string(p.WillTopic), p.WillPayload
		c.UsernameFlag, c.Username, c.PasswordFlag, c.Password = p.UsernameFlag, string(p.Username), p.PasswordFlag, p.Password
	case *Connack:
		c := cp.(*p3.ConnackPacket)
		c.SessionPresent, c.ReturnCode = p.SessionPresent, byte(p.Reason)
	case *Publish:
		c := cp.(*p3.PublishPacket)
		c.Dup, c.Qos, c.Retain, c.TopicName, c.MessageID, c.Payload = p.Dup, p.QoS, p.Retain, string(p.Topic), p.PacketID, p.Payload
	case *Ack:
		switch c := cp.(type) {
		case *p3.PubackPacket:
			c.MessageID = p.PacketID
		case *p3.PubrecPacket:
			c.MessageID = p.PacketID
		case *p3.PubrelPacket:
			c.MessageID = p.PacketID
		case *p3.PubcompPacket:
			c.MessageID = p.PacketID
		}
	case *Subscribe:
		c := cp.(*p3.SubscribePacket)
		c.MessageID = p.PacketID
		for _, f := range p.Filters {
			c.Topics, c.Qoss = append(c.Topics, string(f.Filter)), append(c.Qoss, f.QoS)
		}
	case *Unsubscribe:
		c := cp.(*p3.UnsubscribePacket)
		c.MessageID = p.PacketID
		for _, f := range p.Filters {
			c.Topics = append(c.Topics, string(f))
		}
	case *Suback:
		switch c := cp.(type) {
		case *p3.SubackPacket:
			c.MessageID, c.ReturnCodes = p.PacketID, p.Reasons
		case *p3.UnsubackPacket:
			c.MessageID = p.PacketID
		}
	}
	return cp
}

func canonPaho3(cp p3.ControlPacket) string {
	switch p := cp.(type) {
	case *p3.ConnectPacket:
		s := fmt.Sprintf("CONNECT name=%s v=%d clean=%v ka=%d props[] cid=%q", p.ProtocolName, p.ProtocolVersion, p.CleanSession, p.Keepalive, p.ClientIdentifier)
		if p.WillFlag {
			s += fmt.Sprintf(" will qos=%d retain=%v props[] topic=%q payload=%x", p.WillQos, p.WillRetain, p.WillTopic, p.WillMessage)
		}
		if p.UsernameFlag {
			s += fmt.Sprintf(" user=%q", p.Username)
		}
		if p.PasswordFlag {
			s += fmt.Sprintf(" pass=%x", p.Password)
		}
		return s
	case *p3.ConnackPacket:
		return fmt.Sprintf("CONNACK sp=%v rc=%d props[]", p.SessionPresent, p.ReturnCode)
	case *p3.PublishPacket:
		return fmt.Sprintf("PUBLISH dup=%v qos=%d retain=%v topic=%q id=%d props[] payload=%x", p.Dup, p.Qos, p.Retain, p.TopicName, p.MessageID, p.Payload)
	case *p3.PubackPacket:
		return fmt.Sprintf("PUBACK id=%d rc=0 props[]", p.MessageID)
	case *p3.PubrecPacket:
		return fmt.Sprintf("PUBREC id=%d rc=0 props[]", p.MessageID)
	case *p3.PubrelPacket:
		return fmt.Sprintf("PUBREL id=%d rc=0 props[]", p.MessageID)
	case *p3.PubcompPacket:
		return fmt.Sprintf("PUBCOMP id=%d rc=0 props[]", p.MessageID)
	case *p3.SubscribePacket:
		s := fmt.Sprintf("SUBSCRIBE id=%d props[]", p.MessageID)
		for i, f := range p.Topics {
			s += fmt.Sprintf(" %q:%d", f, p.Qoss[i])
		}
		return s
	case *p3.UnsubscribePacket:
		s := fmt.Sprintf("UNSUBSCRIBE id=%d props[]", p.MessageID)
		for _, f := range p.Topics {
			s += fmt.Sprintf(" %q", f)
		}
		return s
	case *p3.SubackPacket:
		return fmt.Sprintf("ACKS id=%d props[] reasons=%x", p.MessageID, p.ReturnCodes)
	case *p3.UnsubackPacket:
		return fmt.Sprintf("ACKS id=%d props[] reasons=", p.MessageID)
	case *p3.DisconnectPacket:
		return "DISCONNECT rc=0 props[]"
	case *p3.PingreqPacket:
		return "PINGREQ"
	case *p3.PingrespPacket:
		return "PINGRESP"
	}
	panic(fmt.Sprintf("canonPaho3 %T", cp))
}

func TestPahoV311(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	for pt := CONNECT; pt <= DISCONNECT; pt++ {
		for i := 0; i < 150; i++ {
			ours := randPacket(r, V311, pt)
			want := canonOurs(ours, V311)
			pp := toPaho3(pt, ours)

			var wb bytes.Buffer
			if err := pp.Write(&wb); err != nil {
				t.Fatalf("%v paho encode: %v", pt, err)
			}
			frame := wb.Bytes()
			got, err := decodeFrame(frame, V311)
			if err != nil {
				t.Fatalf("%v: decode of paho frame % x: %v", pt, frame, err)
			}
			if g := canonOurs(got, V311); g != want {
				t.Fatalf("%v paho->ours\n got %s\nwant %s", pt, g, want)
			}

			enc := encode(nil, V311, pt, ours)
			if !bytes.Equal(enc, frame) {
				t.Errorf("%v: encodings differ\nours % x\npaho % x", pt, enc, frame)
			}
			cp, err := p3.ReadPacket(bytes.NewReader(enc))
			if err != nil {
				t.Fatalf("%v: paho decode of % x: %v", pt, enc, err)
			}
			if g := canonPaho3(cp); g != want {
				t.Fatalf("%v ours->paho\n got %s\nwant %s", pt, g, want)
			}
		}
	}
}
