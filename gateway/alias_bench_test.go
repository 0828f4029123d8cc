package gateway

import (
	"bufio"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// aliasTopics are realistic telemetry topics (62-70 bytes): a fleet's
// devices publishing on a handful of long, repeating topics.
func aliasTopics(n int) []string {
	t := make([]string, n)
	for i := range t {
		t[i] = fmt.Sprintf("tenants/acme-logistics/sites/hamburg-port-03/devices/reefer-%04d/telemetry", 1000+i)
	}
	return t
}

// connectV5 builds a v5 CONNECT whose properties announce Topic Alias
// Maximum aliasMax (none when 0).
func connectV5(id string, aliasMax uint16) []byte {
	body := []byte{0, 4, 'M', 'Q', 'T', 'T', 5, 2, 0, 0}
	if aliasMax > 0 {
		body = append(body, 3, 0x22, byte(aliasMax>>8), byte(aliasMax))
	} else {
		body = append(body, 0)
	}
	body = append(body, byte(len(id)>>8), byte(len(id)))
	return frame(0x10, append(body, id...))
}

// BenchmarkFanOutTopicAlias: one QoS 0 publisher, 100 v5 subscribers of
// tenants/#, 16 topics of 74 bytes in turn, a 40-byte JSON payload; the
// subscribers announce Topic Alias Maximum 16 (aliases) or none (full). b.N
// counts messages; bytes/msg is what one subscriber receives per message
// (fixed header, topic or alias, properties, payload).
//
//	go test -run '^$' -bench FanOutTopicAlias -benchtime 2000x ./gateway/
func BenchmarkFanOutTopicAlias(b *testing.B) {
	for _, bc := range []struct {
		name     string
		aliasMax uint16
	}{{"full", 0}, {"aliases", 16}} {
		b.Run(bc.name, func(b *testing.B) {
			const subs = 100
			b.ReportAllocs()
			g := benchGateway(b, nil)
			var got, bytes atomic.Int64
			for i := 0; i < subs; i++ {
				c := dialV5Sub(b, g, "alias-"+strconv.Itoa(i), bc.aliasMax, "tenants/#")
				go c.countBytes(&got, &bytes)
			}
			pub := benchDial(b, g, "alias-pub", "", 0)
			topics := aliasTopics(16)
			payload := []byte(`{"temp":-18.4,"door":"closed","v":3.71}`)
			b.ResetTimer()
			cpu0, start := cpuNanos(), time.Now()
			buf := make([]byte, 0, 64<<10)
			for i := 0; i < b.N; i++ {
				buf = append(buf, v3Publish(0, 0, topics[i%len(topics)], payload)...)
				if len(buf) > 32<<10 || i == b.N-1 {
					_, _ = pub.Write(buf)
					buf = buf[:0]
				}
			}
			want := int64(b.N) * subs
			deadline := time.Now().Add(60 * time.Second)
			for got.Load()+droppedTotal(g) < want {
				if time.Now().After(deadline) {
					b.Fatalf("received %d + dropped %d of %d", got.Load(), droppedTotal(g), want)
				}
				time.Sleep(time.Millisecond)
			}
			el, cpu := time.Since(start), cpuNanos()-cpu0
			b.ReportMetric(float64(bytes.Load())/float64(got.Load()), "bytes/msg")
			b.ReportMetric(float64(got.Load())/el.Seconds(), "deliveries/s")
			b.ReportMetric(float64(cpu)/1e3/float64(got.Load()), "cpu-us/delivery")
			b.ReportMetric(float64(droppedTotal(g)), "dropped")
		})
	}
}

// dialV5Sub connects a raw v5 client announcing Topic Alias Maximum
// aliasMax and subscribes to filter at QoS 0.
func dialV5Sub(b *testing.B, g *Gateway, id string, aliasMax uint16, filter string) *benchConn {
	nc, err := net.Dial("tcp", g.Addr("tcp"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { nc.Close() })
	c := &benchConn{Conn: nc, r: bufio.NewReaderSize(nc, 64<<10)}
	_, _ = nc.Write(connectV5(id, aliasMax))
	if h, _, err := c.read(); err != nil || h != 0x20 {
		b.Fatalf("CONNACK %x %v", h, err)
	}
	sub := []byte{0, 1, 0, byte(len(filter) >> 8), byte(len(filter))} // packet ID, no properties
	sub = append(append(sub, filter...), 0)
	_, _ = nc.Write(frame(0x82, sub))
	if h, _, err := c.read(); err != nil || h != 0x90 {
		b.Fatalf("SUBACK %x %v", h, err)
	}
	return c
}

// countBytes reads packets until the connection ends, counting PUBLISH
// packets into n and their whole size on the wire into bytes.
func (c *benchConn) countBytes(n, bytes *atomic.Int64) {
	for {
		h, body, err := c.read()
		if err != nil {
			return
		}
		if h>>4 == 3 {
			size := 1 + len(body) + 1
			for l := len(body); l >= 128; l >>= 7 {
				size++
			}
			bytes.Add(int64(size))
			n.Add(1)
		}
	}
}
