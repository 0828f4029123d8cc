package ws

import (
	"testing"

	"github.com/gobwas/ws"
)

// publish256 is a 256-byte MQTT 3.1.1 PUBLISH (QoS 0): fixed header 0x30,
// remaining length 253, topic "sensors/room1/temp", 233 bytes of payload.
func publish256() []byte {
	topic := "sensors/room1/temp"
	p := []byte{0x30, 0xfd, 0x01, 0x00, byte(len(topic))}
	p = append(p, topic...)
	p = append(p, pattern(256-len(p), 7)...)
	if len(p) != 256 {
		panic("BUG: publish256 is not 256 bytes")
	}
	return p
}

// BenchmarkReaderPublish256 unframes one masked frame carrying a 256-byte
// PUBLISH per Feed: header parse, copy and unmask into the MQTT buffer.
func BenchmarkReaderPublish256(b *testing.B) {
	frame := clientFrame(ws.OpBinary, true, publish256())
	benchFeed(b, frame, 1)
}

// BenchmarkReaderPublish256Batch16 unframes 16 such frames per Feed, as when
// one read brings a burst from the same client.
func BenchmarkReaderPublish256Batch16(b *testing.B) {
	var in []byte
	for range 16 {
		in = append(in, clientFrame(ws.OpBinary, true, publish256())...)
	}
	benchFeed(b, in, 16)
}

func benchFeed(b *testing.B, in []byte, frames int) {
	mqtt := make([]byte, 0, len(in))
	var r Reader
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		n, m, _, err := r.Feed(in, mqtt[:0], nil)
		if err != nil || n != len(in) || len(m) != 256*frames {
			b.Fatalf("n=%d err=%v", n, err)
		}
	}
	b.ReportMetric(float64(b.N*frames)/b.Elapsed().Seconds(), "frames/s")
}

// BenchmarkAppendFrameHeader writes the header the gateway sends before each
// outgoing MQTT packet (Writev [header, packet]).
func BenchmarkAppendFrameHeader(b *testing.B) {
	hdr := make([]byte, 0, MaxServerHeader)
	b.ReportAllocs()
	for b.Loop() {
		hdr = AppendFrameHeader(hdr[:0], 256)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "headers/s")
}

// BenchmarkHandshake parses an upgrade request and writes the 101.
func BenchmarkHandshake(b *testing.B) {
	req := []byte(upgradeRequest(nil))
	dst := make([]byte, 0, 512)
	b.ReportAllocs()
	b.SetBytes(int64(len(req)))
	for b.Loop() {
		h := Handshake{Path: "/mqtt"}
		if _, _, err := h.Feed(req, dst[:0]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "upgrades/s")
}
