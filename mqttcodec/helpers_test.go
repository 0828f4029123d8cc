package mqttcodec

import (
	"fmt"
)

// Independent mini-encoder for building golden frames by hand: it shares no
// code with the package's encoders.

func vbi(n int) []byte {
	var b []byte
	for {
		c := byte(n % 128)
		n /= 128
		if n > 0 {
			c |= 0x80
		}
		b = append(b, c)
		if n == 0 {
			return b
		}
	}
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func raw(b ...byte) []byte { return b }

func str(s string) []byte { return cat(raw(byte(len(s)>>8), byte(len(s))), []byte(s)) }

func be16(v uint16) []byte { return raw(byte(v>>8), byte(v)) }

func be32(v uint32) []byte { return raw(byte(v>>24), byte(v>>16), byte(v>>8), byte(v)) }

func pkt(h byte, parts ...[]byte) []byte {
	body := cat(parts...)
	return cat(raw(h), vbi(len(body)), body)
}

func props(parts ...[]byte) []byte {
	body := cat(parts...)
	return cat(vbi(len(body)), body)
}

func pB(id PropID, v byte) []byte     { return raw(byte(id), v) }
func pU16(id PropID, v uint16) []byte { return cat(raw(byte(id)), be16(v)) }
func pU32(id PropID, v uint32) []byte { return cat(raw(byte(id)), be32(v)) }
func pS(id PropID, s string) []byte   { return cat(raw(byte(id)), str(s)) }
func pV(id PropID, v int) []byte      { return cat(raw(byte(id)), vbi(v)) }
func pUser(k, v string) []byte        { return cat(raw(byte(PropUser)), str(k), str(v)) }
func propBits(ids ...PropID) (m uint64) {
	for _, id := range ids {
		m |= 1 << id
	}
	return m
}
func users(kv ...string) (b []byte) {
	for i := 0; i+1 < len(kv); i += 2 {
		b = AppendUserProperty(b, []byte(kv[i]), []byte(kv[i+1]))
	}
	return b
}

// normalize clears fields that legitimately differ between a decoded value
// and a hand-built one (Raw views, MoreSubscriptionIDs) so that %+v compares
// the meaning. nil and empty slices print alike.
func normalize(x any) string {
	switch p := x.(type) {
	case *Connect:
		c := *p
		c.Props.Raw, c.WillProps.Raw = nil, nil
		return fmt.Sprintf("%+v", c)
	case *Connack:
		c := *p
		c.Props.Raw = nil
		return fmt.Sprintf("%+v", c)
	case *Publish:
		c := *p
		ids := make([]uint32, c.Props.NumSubscriptionIDs)
		for i := range ids {
			ids[i] = c.Props.SubscriptionID(i)
		}
		c.Props.Raw = nil
		c.Props.MoreSubscriptionIDs = nil
		return fmt.Sprintf("%+v subids=%v", c, ids)
	case *Ack:
		c := *p
		c.Props.Raw = nil
		return fmt.Sprintf("%+v", c)
	case *Subscribe:
		c := *p
		c.Props.Raw = nil
		if len(c.Filters) == 0 {
			c.Filters = nil
		}
		return fmt.Sprintf("%+v", c)
	case *Unsubscribe:
		c := *p
		c.Props.Raw = nil
		if len(c.Filters) == 0 {
			c.Filters = nil
		}
		return fmt.Sprintf("%+v", c)
	case *Suback:
		c := *p
		c.Props.Raw = nil
		return fmt.Sprintf("%+v", c)
	case *Disconnect:
		c := *p
		c.Props.Raw = nil
		return fmt.Sprintf("%+v", c)
	case *Auth:
		c := *p
		c.Props.Raw = nil
		return fmt.Sprintf("%+v", c)
	case *pingPacket:
		return fmt.Sprintf("%+v", *p)
	}
	panic(fmt.Sprintf("normalize: %T", x))
}

// pingPacket stands for PINGREQ/PINGRESP in tables.
type pingPacket struct{ Type PacketType }

// newLike returns a zero value of the same packet type as want.
func newLike(want any) any {
	switch want.(type) {
	case *Connect:
		return new(Connect)
	case *Connack:
		return new(Connack)
	case *Publish:
		return new(Publish)
	case *Ack:
		return new(Ack)
	case *Subscribe:
		return new(Subscribe)
	case *Unsubscribe:
		return new(Unsubscribe)
	case *Suback:
		return new(Suback)
	case *Disconnect:
		return new(Disconnect)
	case *Auth:
		return new(Auth)
	case *pingPacket:
		return new(pingPacket)
	}
	panic(fmt.Sprintf("newLike: %T", want))
}

// decodeInto dispatches on the type of p; t distinguishes SUBACK/UNSUBACK.
func decodeInto(frame []byte, v Version, p any) error {
	switch q := p.(type) {
	case *Connect:
		return DecodeConnect(frame, q)
	case *Connack:
		return DecodeConnack(frame, v, q)
	case *Publish:
		return DecodePublish(frame, v, q)
	case *Ack:
		return DecodeAck(frame, v, q)
	case *Subscribe:
		return DecodeSubscribe(frame, v, q)
	case *Unsubscribe:
		return DecodeUnsubscribe(frame, v, q)
	case *Suback:
		if TypeOf(frame) == UNSUBACK {
			return DecodeUnsuback(frame, v, q)
		}
		return DecodeSuback(frame, v, q)
	case *Disconnect:
		return DecodeDisconnect(frame, v, q)
	case *Auth:
		return DecodeAuth(frame, v, q)
	case *pingPacket:
		q.Type = TypeOf(frame)
		return DecodePing(frame)
	}
	panic(fmt.Sprintf("decodeInto: %T", p))
}

// encode dispatches on the type of p; t picks SUBACK/UNSUBACK.
func encode(dst []byte, v Version, t PacketType, p any) []byte {
	switch q := p.(type) {
	case *Connect:
		return AppendConnect(dst, q)
	case *Connack:
		return AppendConnack(dst, v, q)
	case *Publish:
		return AppendPublish(dst, v, q)
	case *Ack:
		return AppendAck(dst, v, q)
	case *Subscribe:
		return AppendSubscribe(dst, v, q)
	case *Unsubscribe:
		return AppendUnsubscribe(dst, v, q)
	case *Suback:
		if t == UNSUBACK {
			return AppendUnsuback(dst, v, q)
		}
		return AppendSuback(dst, v, q)
	case *Disconnect:
		return AppendDisconnect(dst, v, q)
	case *Auth:
		return AppendAuth(dst, v, q)
	case *pingPacket:
		if q.Type == PINGREQ {
			return AppendPingreq(dst)
		}
		return AppendPingresp(dst)
	}
	panic(fmt.Sprintf("encode: %T", p))
}

// decodeFrame decodes any frame of version v into a fresh value of the right type.
func decodeFrame(frame []byte, v Version) (any, error) {
	var p any
	switch TypeOf(frame) {
	case CONNECT:
		p = new(Connect)
	case CONNACK:
		p = new(Connack)
	case PUBLISH:
		p = new(Publish)
	case PUBACK, PUBREC, PUBREL, PUBCOMP:
		p = new(Ack)
	case SUBSCRIBE:
		p = new(Subscribe)
	case UNSUBSCRIBE:
		p = new(Unsubscribe)
	case SUBACK, UNSUBACK:
		p = new(Suback)
	case DISCONNECT:
		p = new(Disconnect)
	case AUTH:
		p = new(Auth)
	case PINGREQ, PINGRESP:
		p = new(pingPacket)
	default:
		return nil, ErrReservedType
	}
	return p, decodeInto(frame, v, p)
}
