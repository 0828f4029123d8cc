package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"edgegw/mqttcodec"
)

// procCPU returns the user+system CPU time of process pid (/proc/pid/stat).
func procCPU(tb testing.TB, pid int) time.Duration {
	tb.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		tb.Fatal(err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // fields from 3 (state) on
	ut, _ := strconv.ParseInt(f[11], 10, 64)                 // field 14: utime, clock ticks
	st, _ := strconv.ParseInt(f[12], 10, 64)                 // field 15: stime
	return time.Duration(ut+st) * time.Second / 100          // USER_HZ = 100 on Linux
}

// upstreamCounter counts the PUBLISH packets a QoS 0 subscriber to
// filter receives from addr (a minimal 3.1.1 client of its own).
func upstreamCounter(tb testing.TB, addr, filter string) *atomic.Int64 {
	tb.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { nc.Close() })
	sub := mqttcodec.AppendSubscribe(nil, mqttcodec.V311, &mqttcodec.Subscribe{PacketID: 1, Filters: []mqttcodec.Subscription{{Filter: []byte(filter)}}})
	if _, err := nc.Write(append(connectPacket(4, fmt.Sprintf("counter-%d", time.Now().UnixNano()), 0, true), sub...)); err != nil {
		tb.Fatal(err)
	}
	var n atomic.Int64
	go func() {
		r := bufio.NewReaderSize(nc, 256<<10)
		buf := make([]byte, 0, 4096)
		for {
			h, err := r.Peek(2)
			if err != nil {
				return
			}
			_ = h
			head, _ := r.Peek(min(r.Buffered(), 5))
			size, err := mqttcodec.PacketSize(head, 0)
			if err == mqttcodec.ErrNeedMore {
				if _, err := r.Peek(len(head) + 1); err != nil {
					return
				}
				continue
			}
			if err != nil {
				return
			}
			if cap(buf) < size {
				buf = make([]byte, size)
			}
			if _, err := io.ReadFull(r, buf[:size]); err != nil {
				return
			}
			if mqttcodec.TypeOf(buf[:size]) == mqttcodec.PUBLISH {
				n.Add(1)
			}
		}
	}()
	time.Sleep(100 * time.Millisecond) // CONNACK, SUBACK
	return &n
}

// qos1Load runs devices raw 3.1.1 clients against addr, each keeping
// window QoS 1 PUBLISH packets (64-byte payloads, topic telemetry/d<i>) in
// flight for dur, and returns how many PUBACKs they received.
func qos1Load(tb testing.TB, addr string, devices, window int, dur time.Duration) int64 {
	tb.Helper()
	conns := make([]net.Conn, devices)
	for i := range conns {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := nc.Write(connectPacket(4, fmt.Sprintf("bench-dev-%d", i), 0, true)); err != nil {
			tb.Fatal(err)
		}
		var ack [4]byte
		if _, err := io.ReadFull(nc, ack[:]); err != nil || ack[3] != 0 {
			tb.Fatalf("CONNACK % x: %v", ack, err)
		}
		conns[i] = nc
	}
	var acked atomic.Int64
	var wg sync.WaitGroup
	stop := time.Now().Add(dur)
	payload := make([]byte, 64)
	for i, nc := range conns {
		wg.Add(1)
		go func(i int, nc net.Conn) {
			defer wg.Done()
			defer nc.Close()
			p := mqttcodec.Publish{QoS: 1, Topic: []byte(fmt.Sprintf("telemetry/d%04d", i)), Payload: payload}
			id := uint16(0)
			next := func(dst []byte) []byte {
				id++
				if id == 0 {
					id = 1
				}
				p.PacketID = id
				return mqttcodec.AppendPublish(dst, mqttcodec.V311, &p)
			}
			var out []byte
			for k := 0; k < window; k++ {
				out = next(out)
			}
			if _, err := nc.Write(out); err != nil {
				return
			}
			r := bufio.NewReader(nc)
			var a [4]byte
			inflight := window
			for inflight > 0 {
				_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
				if _, err := io.ReadFull(r, a[:]); err != nil {
					return
				}
				acked.Add(1)
				inflight--
				if time.Now().Before(stop) {
					if _, err := nc.Write(next(out[:0])); err != nil {
						return
					}
					inflight++
				}
			}
		}(i, nc)
	}
	wg.Wait()
	return acked.Load()
}

// BenchmarkRelayForward: 1,000 devices publish QoS 1 (4 in flight each)
// to an edge that forwards telemetry/# to a mosquitto upstream; the edge is
// edgegw (relay pool 4, end-to-end acknowledgement) or a mosquitto bridge
// (which acknowledges on receipt), each in a process of its own whose CPU
// is read from /proc. Reported: messages that reached the upstream per
// second (a QoS 0 subscriber there counts them), and edge CPU per
// forwarded message. One 5 s run per sub-benchmark (-benchtime=1x):
//
//	go test -run '^$' -bench BenchmarkRelayForward -benchtime=1x ./gateway/
func BenchmarkRelayForward(b *testing.B) {
	const devices, window, dur = 1000, 4, 5 * time.Second
	run := func(b *testing.B, edgeAddr string, pid int, upAddr string) {
		b.ReportAllocs()
		count := upstreamCounter(b, upAddr, "telemetry/#")
		cpu0, at0 := procCPU(b, pid), count.Load()
		start := time.Now()
		acked := qos1Load(b, edgeAddr, devices, window, dur)
		// What the edge acknowledged and still holds reaches the upstream.
		for last := int64(-1); count.Load() != last; {
			last = count.Load()
			time.Sleep(300 * time.Millisecond)
		}
		elapsed := time.Since(start)
		cpu := procCPU(b, pid) - cpu0
		fwd := count.Load() - at0
		b.ReportMetric(float64(fwd)/elapsed.Seconds(), "fwd-msgs/s")
		b.ReportMetric(float64(cpu.Microseconds())/float64(max(fwd, 1)), "edge-cpu-µs/msg")
		b.ReportMetric(float64(fwd)/cpu.Seconds(), "fwd-msgs/cpu-s")
		b.ReportMetric(float64(acked), "device-acks")
		b.ReportMetric(float64(fwd), "at-upstream")
	}
	// The upstream lets a v5 client have 1,000 QoS 1 messages in flight
	// (mosquitto's Receive Maximum is max_inflight_messages, 20 by default:
	// with it a pool of 4 carries at most 80 at a time); a 3.1.1 bridge has
	// no such limit towards it.
	const upstreamConf = "max_inflight_messages 1000\n"
	// The device side alone: the same load against edgegw without a relay
	// (nothing subscribes; each PUBLISH is acknowledged in the wake that
	// read it). The floor under the relay's figure.
	b.Run("edgegw-no-relay", func(b *testing.B) {
		addr, child := startRelayChildB(b, "", 0)
		pid := child.Process.Pid
		cpu0 := procCPU(b, pid)
		acked := qos1Load(b, addr, devices, window, dur)
		cpu := procCPU(b, pid) - cpu0
		b.ReportMetric(float64(cpu.Microseconds())/float64(max(acked, 1)), "edge-cpu-µs/msg")
		b.ReportMetric(float64(acked)/dur.Seconds(), "device-acks/s")
	})
	b.Run("edgegw", func(b *testing.B) {
		up := startMosquittoB(b, upstreamConf)
		addr, child := startRelayChildB(b, up.addr, 4)
		run(b, addr, child.Process.Pid, up.addr)
	})
	// The bridge with room to forward at this rate: 100 in flight to the
	// upstream, and a queue that does not drop (at its defaults, 20 and
	// 1,000 messages, it forwards about 1,000 msgs/s here and drops most of
	// what it acknowledged: see mosquitto-bridge-defaults).
	b.Run("mosquitto-bridge", func(b *testing.B) {
		up := startMosquittoB(b, upstreamConf)
		edge := startMosquittoB(b, "max_inflight_messages 100\nmax_queued_messages 1000000\nconnection up\naddress "+up.addr+"\ntopic telemetry/# out 1\n")
		run(b, edge.addr, edge.pid(), up.addr)
	})
	b.Run("mosquitto-bridge-defaults", func(b *testing.B) {
		up := startMosquittoB(b, upstreamConf)
		edge := startMosquittoB(b, "connection up\naddress "+up.addr+"\ntopic telemetry/# out 1\n")
		run(b, edge.addr, edge.pid(), up.addr)
	})
}
