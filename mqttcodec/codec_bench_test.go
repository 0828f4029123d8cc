package mqttcodec

import (
	"bytes"
	"fmt"
	"testing"
)

var benchTopic = []byte("devices/0123456789abcdef/telemet") // 32 bytes

func benchPublish(v Version, payload int) *Publish {
	p := &Publish{QoS: 1, Topic: benchTopic, PacketID: 42, Payload: bytes.Repeat([]byte("x"), payload)}
	if v == V5 {
		p.Props = Properties{Present: propBits(PropPayloadFormat, PropMessageExpiry, PropContentType),
			PayloadFormat: 1, MessageExpiry: 3600, ContentType: []byte("application/json"), User: users("trace", "abc123")}
	}
	return p
}

func BenchmarkPublishDecode(b *testing.B) {
	for _, v := range []Version{V311, V5} {
		for _, n := range []int{16, 256, 4096} {
			b.Run(fmt.Sprintf("%s/%dB", v, n), func(b *testing.B) {
				frame := AppendPublish(nil, v, benchPublish(v, n))
				var p Publish
				b.ReportAllocs()
				b.SetBytes(int64(len(frame)))
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if err := DecodePublish(frame, v, &p); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			})
		}
	}
}

func BenchmarkPublishEncode(b *testing.B) {
	for _, v := range []Version{V311, V5} {
		for _, n := range []int{16, 256, 4096} {
			b.Run(fmt.Sprintf("%s/%dB", v, n), func(b *testing.B) {
				p := benchPublish(v, n)
				buf := make([]byte, 0, n+256)
				b.ReportAllocs()
				b.SetBytes(int64(len(AppendPublish(nil, v, p))))
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					buf = AppendPublish(buf[:0], v, p)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			})
		}
	}
}

// BenchmarkPublishHeader is the fan-out path: the header is encoded once per
// variant and only the packet identifier is patched per subscriber.
func BenchmarkPublishHeaderPatch(b *testing.B) {
	p := benchPublish(V311, 256)
	hdr := NewPublishHeader(make([]byte, 0, 64), V311, p, len(p.Payload))
	b.ReportAllocs()
	b.SetBytes(int64(len(hdr.Buf) + len(p.Payload)))
	for i := 0; i < b.N; i++ {
		hdr.SetPacketID(uint16(i) | 1)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func benchConnect() *Connect {
	return &Connect{Version: V5, CleanStart: true, KeepAlive: 60, ClientID: []byte("device-0123456789"),
		Props: Properties{Present: propBits(PropSessionExpiry, PropReceiveMaximum, PropTopicAliasMaximum, PropMaximumPacketSize,
			PropRequestProblemInfo), SessionExpiry: 3600, ReceiveMaximum: 100, TopicAliasMaximum: 16,
			MaximumPacketSize: 1 << 20, RequestProblemInfo: 1, User: users("region", "eu-west", "fw", "1.2.3")},
		WillFlag: true, WillQoS: 1, WillTopic: []byte("devices/0123456789/status"), WillPayload: []byte("offline"),
		WillProps:    Properties{Present: propBits(PropWillDelay, PropPayloadFormat), WillDelay: 30, PayloadFormat: 1},
		UsernameFlag: true, Username: []byte("user"), PasswordFlag: true, Password: []byte("secret-password")}
}

func BenchmarkConnectV5Decode(b *testing.B) {
	frame := AppendConnect(nil, benchConnect())
	var p Connect
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for i := 0; i < b.N; i++ {
		if err := DecodeConnect(frame, &p); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func BenchmarkConnectV5Encode(b *testing.B) {
	p := benchConnect()
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	b.SetBytes(int64(len(AppendConnect(nil, p))))
	for i := 0; i < b.N; i++ {
		buf = AppendConnect(buf[:0], p)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func benchSubscribe() *Subscribe {
	s := &Subscribe{PacketID: 7, Props: Properties{Present: propBits(PropSubscriptionID), SubscriptionIDs: [4]uint32{12}, NumSubscriptionIDs: 1}}
	for i := 0; i < 8; i++ {
		s.Filters = append(s.Filters, Subscription{Filter: []byte(fmt.Sprintf("devices/+/sensor%d/#", i)), QoS: byte(i % 3)})
	}
	return s
}

func BenchmarkSubscribe8Decode(b *testing.B) {
	for _, v := range []Version{V311, V5} {
		b.Run(v.String(), func(b *testing.B) {
			frame := AppendSubscribe(nil, v, benchSubscribe())
			p := Subscribe{Filters: make([]Subscription, 0, 8)}
			b.ReportAllocs()
			b.SetBytes(int64(len(frame)))
			for i := 0; i < b.N; i++ {
				if err := DecodeSubscribe(frame, v, &p); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

func BenchmarkSubscribe8Encode(b *testing.B) {
	p := benchSubscribe()
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	b.SetBytes(int64(len(AppendSubscribe(nil, V5, p))))
	for i := 0; i < b.N; i++ {
		buf = AppendSubscribe(buf[:0], V5, p)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func BenchmarkPacketSize(b *testing.B) {
	head := raw(0x32, 0xc8, 0x01)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := PacketSize(head, 1<<20); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}
