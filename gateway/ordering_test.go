package gateway

import (
	"bufio"
	"encoding/binary"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestOrderAcrossTakeovers [MQTT-4.6.0-6]: one publisher's QoS 1 messages
// reach a persistent subscriber in the order published, while the
// subscriber's session moves between loops (it reconnects, landing on any of
// four loops, with deliveries still on their way to the loop it left). Only
// the first arrival of each message is checked: a resend after resume may
// repeat an unacknowledged one.
func TestOrderAcrossTakeovers(t *testing.T) {
	g := newTestGateway(t, func(c *Config) { c.Limits.MaxInflight = 1000; c.Limits.ReceiveMaximum = 1000 })
	const id = "ord-sub"
	dur := 3 * time.Second
	if testing.Short() {
		dur = time.Second
	}
	// Subscribe once, persistently.
	first := dialRaw(t, g)
	_, _ = first.Write(connectPacket(4, id, 0, false))
	if h, _, err := first.readPacket(5 * time.Second); err != nil || h != 0x20 {
		t.Fatalf("CONNACK %x %v", h, err)
	}
	_, _ = first.Write(frame(0x82, []byte{0, 1, 0, 5, 'o', 'r', 'd', '/', 'x', 1}))
	if h, _, err := first.readPacket(5 * time.Second); err != nil || h != 0x90 {
		t.Fatalf("SUBACK %x %v", h, err)
	}
	_, _ = first.Write([]byte{0xE0, 0})
	first.Close()

	var published atomic.Uint32
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the publisher: QoS 1, pipelined; at the end it waits for every PUBACK
		defer wg.Done()
		nc, err := net.Dial("tcp", g.Addr("tcp"))
		if err != nil {
			t.Error(err)
			return
		}
		defer nc.Close()
		_, _ = nc.Write(connectPacket(4, "ord-pub", 0, true))
		var acked atomic.Uint32
		go func() {
			rc := &rawConn{Conn: nc, r: bufio.NewReader(nc)}
			for {
				h, _, err := rc.readPacket(time.Minute)
				if err != nil {
					return
				}
				if h>>4 == 4 {
					acked.Add(1)
				}
			}
		}()
		var body [4 + 5 + 2 + 4]byte
		for seq := uint32(1); ; seq++ {
			select {
			case <-stop:
				// Only what was acknowledged is owed to the subscriber: wait
				// until that is all of it.
				for end := time.Now().Add(20 * time.Second); acked.Load() < published.Load() && time.Now().Before(end); {
					time.Sleep(5 * time.Millisecond)
				}
				if a, p := acked.Load(), published.Load(); a < p {
					t.Errorf("publisher: %d of %d PUBACKs", a, p)
				}
				return
			default:
			}
			b := body[:0]
			b = append(b, 0, 5, 'o', 'r', 'd', '/', 'x', byte(seq>>8)|0x80, byte(seq)|1)
			b = binary.BigEndian.AppendUint32(b, seq)
			if _, err := nc.Write(frame(0x32, b)); err != nil {
				return
			}
			published.Store(seq)
			if seq%32 == 0 {
				time.Sleep(time.Millisecond) // paced: the check is the order, not the throughput
			}
		}
	}()
	var last uint32 // highest sequence seen so far
	var seen, moves, inversions int
	rng := rand.New(rand.NewPCG(1, 2))
	deadline := time.Now().Add(dur)
	for final := false; !final; {
		final = !time.Now().Before(deadline)
		if final {
			close(stop) // the last connection reads what is left
			wg.Wait()
		}
		nc, err := net.Dial("tcp", g.Addr("tcp"))
		if err != nil {
			t.Fatal(err)
		}
		rc := &rawConn{Conn: nc, r: bufio.NewReader(nc)}
		_, _ = rc.Write(connectPacket(4, id, 0, false))
		moves++
		stay := time.Now().Add(time.Duration(5+rng.IntN(30)) * time.Millisecond)
		wait := 50 * time.Millisecond
		if final {
			// Until the last acknowledged message arrives, or 5 s pass
			// without any (a loaded CI machine can pause a loop for a while).
			stay, wait = time.Now().Add(30*time.Second), 5*time.Second
		}
		for time.Now().Before(stay) && !(final && last == published.Load()) {
			h, body, err := rc.readPacket(wait)
			if err != nil {
				break
			}
			if h>>4 != 3 {
				continue
			}
			tl := int(binary.BigEndian.Uint16(body))
			pid := body[2+tl : 4+tl]
			seq := binary.BigEndian.Uint32(body[4+tl:])
			_, _ = rc.Write([]byte{0x40, 2, pid[0], pid[1]})
			switch {
			case seq > last:
				last = seq
				seen++
			case h&0x08 == 0 && seq < last:
				// A first delivery (no DUP) older than one already seen:
				// the order was broken.
				inversions++
				if inversions <= 5 {
					t.Errorf("move %d: message %d arrived after %d", moves, seq, last)
				}
			}
		}
		if final {
			_, _ = rc.Write([]byte{0xE0, 0})
		}
		nc.Close()
	}
	t.Logf("%d published, %d seen in order, %d reconnects, %d inversions", published.Load(), seen, moves, inversions)
	if p := published.Load(); seen == 0 || last != p {
		t.Fatalf("the last message seen is %d of %d published and acknowledged", last, p)
	}
}
