package gateway

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"io"
	"net"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

// BenchmarkWSDeflateFanOut measures bytes on the wire per delivered message
// for a JSON telemetry fan-out (one TCP publisher, 10 WebSocket subscribers,
// ~330-byte PUBLISH packets) with permessage-deflate negotiated and without.
// wire-B/msg counts every byte the subscribers read (frame headers
// included) per PUBLISH they decoded. burst=1 publishes one message per
// round trip, so each delivery is its own WebSocket message (compressed
// alone, the common case at telemetry rates); burst=64 lets the gateway put
// the PUBLISHes of one wake into one message, which deflate shrinks much
// further.
//
//	go test -run '^$' -bench BenchmarkWSDeflateFanOut -benchtime 2000x ./gateway/
func BenchmarkWSDeflateFanOut(b *testing.B) {
	for _, burst := range []int{1, 64} {
		for _, offer := range []string{"", "permessage-deflate"} {
			name := "burst=" + strconv.Itoa(burst) + "/deflate=off"
			if offer != "" {
				name = "burst=" + strconv.Itoa(burst) + "/deflate=on"
			}
			benchWSFanOut(b, name, offer, burst)
		}
	}
}

func benchWSFanOut(b *testing.B, name, offer string, burst int) {
	{
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			g := benchGateway(b, func(c *Config) { c.Listeners.WS = "127.0.0.1:0" })
			const subs = 10
			var wg sync.WaitGroup
			wire := make([]int64, subs)
			got := make([]int, subs)
			for i := range subs {
				c, _ := dialDeflateWS(b, g.Addr("ws"), offer)
				c.connectWS(b, "sub-"+strconv.Itoa(i))
				_, _ = c.Write(wsBinary(frame(0x82, append([]byte{0, 1, 0, 3}, "j/t\x00"...))))
				if _, p := c.rawFrameB0(b); p[0] != 0x90 {
					b.Fatalf("SUBACK %x", p)
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					wire[i], got[i] = countPublishes(c, b.N)
				}()
			}
			pub := dialRaw(b, g)
			_, _ = pub.Write(connectPacket(4, "pub", 0, true))
			if _, _, err := pub.readPacket(5 * time.Second); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			w := bufio.NewWriter(pub)
			for n := range b.N {
				_, _ = w.Write(publishV3(1, uint16(n%65535+1), "j/t", jsonTelemetry(n)))
				if n%burst == burst-1 {
					_ = w.Flush()
					for range burst { // QoS 1: wait for the PUBACKs, so subscribers are not outrun
						if _, _, err := pub.readPacket(5 * time.Second); err != nil {
							b.Fatal(err)
						}
					}
				}
			}
			_ = w.Flush()
			wg.Wait()
			b.StopTimer()
			var bytes int64
			var msgs int
			for i := range subs {
				bytes += wire[i]
				msgs += got[i]
			}
			if msgs == 0 {
				b.Fatal("no message delivered")
			}
			b.ReportMetric(float64(bytes)/float64(msgs), "wire-B/msg")
			b.ReportMetric(float64(len(publishV3(0, 0, "j/t", jsonTelemetry(0)))), "mqtt-B/msg")
		})
	}
}

// countPublishes reads c's frames until it decoded want PUBLISH packets or
// 5 s pass without a frame; it returns the bytes read and the packets.
func countPublishes(c *rawWS, want int) (wire int64, pubs int) {
	var stream []byte
	var fr io.ReadCloser // reused: the client's allocations stay out of B/op
	var src bytes.Reader
	tail := []byte{0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff}
	for pubs < want {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		var h [10]byte
		if _, err := io.ReadFull(c.r, h[:2]); err != nil {
			return wire, pubs
		}
		hl, n := 2, uint64(h[1]&0x7f)
		switch n {
		case 126:
			_, _ = io.ReadFull(c.r, h[2:4])
			hl, n = 4, uint64(binary.BigEndian.Uint16(h[2:4]))
		case 127:
			_, _ = io.ReadFull(c.r, h[2:10])
			hl, n = 10, binary.BigEndian.Uint64(h[2:10])
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(c.r, p); err != nil {
			return wire, pubs
		}
		wire += int64(hl) + int64(n)
		if h[0]&0x40 != 0 {
			src.Reset(append(p, tail...))
			if fr == nil {
				fr = flate.NewReader(&src)
			} else {
				_ = fr.(flate.Resetter).Reset(&src, nil)
			}
			var out bytes.Buffer
			_, _ = out.ReadFrom(fr)
			p = out.Bytes()
		}
		stream = append(stream, p...)
		for len(stream) > 1 {
			size, mul, i := 0, 1, 1
			for ; i < len(stream) && i < 5; i++ {
				size += int(stream[i]&127) * mul
				mul *= 128
				if stream[i] < 128 {
					break
				}
			}
			if i >= len(stream) || len(stream) < i+1+size {
				break
			}
			if stream[0]>>4 == 3 {
				pubs++
			}
			stream = stream[i+1+size:]
		}
	}
	return wire, pubs
}

// BenchmarkWSIdleDeflate reports the gateway heap per idle, connected
// WebSocket client (B/conn: HeapAlloc after GC, delta over 2000 clients,
// client sockets in the same process counted in both) with and without
// permessage-deflate negotiated: the goal is within 100 B of each other,
// since the compressor and decompressor belong to the loop.
//
//	go test -run '^$' -bench BenchmarkWSIdleDeflate -benchtime 1x ./gateway/
func BenchmarkWSIdleDeflate(b *testing.B) {
	for _, offer := range []string{"", "permessage-deflate; client_max_window_bits"} {
		name := "deflate=off"
		if offer != "" {
			name = "deflate=on"
		}
		b.Run(name, func(b *testing.B) {
			g := benchGateway(b, func(c *Config) { c.Listeners.WS = "127.0.0.1:0" })
			// Warm the loops' pools (and their deflaters) with one client, then measure.
			warm, _ := dialDeflateWS(b, g.Addr("ws"), offer)
			warm.connectWS(b, "warm")
			const n = 2000
			conns := make([]net.Conn, 0, n)
			heap := func() uint64 {
				var ms runtime.MemStats
				runtime.GC()
				runtime.GC()
				runtime.ReadMemStats(&ms)
				return ms.HeapAlloc
			}
			before := heap()
			for i := range n {
				c, ext := dialDeflateWS(b, g.Addr("ws"), offer)
				if (ext != "") != (offer != "") {
					b.Fatalf("extension answer %q", ext)
				}
				c.connectWS(b, "idle-"+strconv.Itoa(i))
				conns = append(conns, c.Conn)
				c.r = nil // the client keeps only its socket
			}
			eventually(b, "all connected", func() bool { return g.m.conns.Load() >= n+1 })
			after := heap()
			b.ReportMetric(float64(int64(after)-int64(before))/n, "B/conn")
			runtime.KeepAlive(conns)
		})
	}
}
