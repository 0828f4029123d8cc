package gateway

import (
	"bufio"
	"net"
	"strconv"
	"testing"
	"time"
)

// BenchmarkSubscribeRetained10000: one SUBSCRIBE to a filter matching
// 10,000 retained QoS 0 messages (64 B payloads), from a fresh clean-session
// client, until it has read every one; b.N counts SUBSCRIBEs. The client
// discards what it reads without allocating, so allocs/op is the gateway's
// (plus a connect and a close).
func BenchmarkSubscribeRetained10000(b *testing.B) {
	const n = 10000
	b.ReportAllocs()
	g := benchGateway(b, nil)
	pub := benchDial(b, g, "ret-pub", "", 0)
	payload := make([]byte, 64)
	var buf []byte
	for i := 0; i < n; i++ {
		p := v3Publish(0, 0, "ret/"+strconv.Itoa(i), payload)
		p[0] |= 1 // retain
		buf = append(buf, p...)
	}
	_, _ = pub.Write(buf)
	read := func(id string) int {
		nc, err := net.Dial("tcp", g.Addr("tcp"))
		if err != nil {
			b.Fatal(err)
		}
		defer nc.Close()
		r := bufio.NewReaderSize(nc, 64<<10)
		_, _ = nc.Write(connectPacket(4, id, 0, true))
		_, _ = nc.Write(frame(0x82, []byte{0, 1, 0, 5, 'r', 'e', 't', '/', '#', 0}))
		got := 0
		_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		for got < n {
			h, err := r.ReadByte()
			if err != nil {
				return got
			}
			size, mul := 0, 1
			for {
				x, err := r.ReadByte()
				if err != nil {
					return got
				}
				size += int(x&127) * mul
				mul *= 128
				if x < 128 {
					break
				}
			}
			if _, err := r.Discard(size); err != nil {
				return got
			}
			if h>>4 == 3 {
				got++
			}
		}
		_, _ = nc.Write([]byte{0xE0, 0})
		return got
	}
	deadline := time.Now().Add(30 * time.Second)
	for read("ret-warm") < n { // every retained message stored
		if time.Now().After(deadline) {
			b.Fatal("retained messages not stored")
		}
	}
	b.ResetTimer()
	cpu0 := cpuNanos()
	for i := 0; i < b.N; i++ {
		if got := read("ret-sub"); got != n {
			b.Fatalf("read %d of %d retained messages", got, n)
		}
	}
	b.ReportMetric(float64(cpuNanos()-cpu0)/1e6/float64(b.N), "cpu-ms/op")
}
