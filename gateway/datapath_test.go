package gateway

import (
	"net"
	"testing"
	"unsafe"

	"github.com/panjf2000/gnet/v2"
)

// fakeConn stands in for a gnet.Conn in tests that drive a loop's code
// directly, without sockets or an engine. Only what the data path calls is
// implemented; anything else panics (nil embedded interface).
type fakeConn struct {
	gnet.Conn
	written int
	inbound int // what InboundBuffered reports
}

func (f *fakeConn) Writev(bs [][]byte) (int, error) {
	n := 0
	for _, b := range bs {
		n += len(b)
	}
	f.written += n
	return n, nil
}
func (f *fakeConn) Write(b []byte) (int, error)                 { f.written += len(b); return len(b), nil }
func (f *fakeConn) OutboundBuffered() int                       { return 0 }
func (f *fakeConn) InboundBuffered() int                        { return f.inbound }
func (f *fakeConn) Wake(gnet.AsyncCallback) error               { return nil }
func (f *fakeConn) Close() error                                { return nil }
func (f *fakeConn) RemoteAddr() net.Addr                        { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
func (f *fakeConn) Discard(n int) (int, error)                  { return n, nil }
func (f *fakeConn) Peek(n int) ([]byte, error)                  { return nil, nil }
func (f *fakeConn) SetContext(any)                              {}
func (f *fakeConn) EventLoop() gnet.EventLoop                   { return nil }
func (f *fakeConn) LocalAddr() net.Addr                         { return nil }
func (f *fakeConn) Context() any                                { return nil }
func (f *fakeConn) Flush() error                                { return nil }
func (f *fakeConn) AsyncWrite([]byte, gnet.AsyncCallback) error { return nil }

// testLoops returns a gateway that is not started and n loops of it, for
// driving the data path by hand on the test goroutine.
func testLoops(t testing.TB, n int, mutate func(*Config)) (*Gateway, []*loop) {
	t.Helper()
	cfg := Default()
	cfg.Listeners.TCP = "127.0.0.1:0"
	cfg.Listeners.WS = ""
	if mutate != nil {
		mutate(&cfg)
	}
	g, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ls := make([]*loop, n)
	for i := range ls {
		ls[i] = newLoop(g, nil, i)
	}
	g.loops.Store(&ls)
	return g, ls
}

// testClient opens a fake connection on l and connects it as a v3.1.1
// client with clean session; filter, when set, is subscribed at qos.
func testClient(t testing.TB, l *loop, id, filter string, qos byte) (*conn, *fakeConn) {
	t.Helper()
	fc := &fakeConn{}
	l.begin()
	c := &conn{gc: fc, l: l, lastActive: l.now}
	l.addConn(c)
	c.handle(connectPacket(4, id, 0, true))
	l.end()
	if c.state != stConnected {
		t.Fatalf("%s: state %d after CONNECT", id, c.state)
	}
	if filter != "" {
		sub := []byte{0, 1, byte(len(filter) >> 8), byte(len(filter))}
		sub = append(append(sub, filter...), qos)
		l.begin()
		c.handle(frame(0x82, sub))
		l.end()
	}
	return c, fc
}

// TestPublishAllocs: a QoS 0 PUBLISH applied on the loop and delivered to
// one subscriber on the same loop (decode, copy, match, encode, writev)
// allocates once: the single copy of the message into its shared immutable
// buffer (session.NewMessage). Anything more is a regression.
func TestPublishAllocs(t *testing.T) {
	_, ls := testLoops(t, 1, nil)
	l := ls[0]
	_, sfc := testClient(t, l, "sub", "a/b", 0)
	pub, _ := testClient(t, l, "pub", "", 0)
	pkt := v3Publish(0, 0, "a/b", make([]byte, 64))
	before := sfc.written
	step := func() {
		l.begin()
		pub.handle(pkt)
		l.end()
	}
	step()
	if sfc.written-before != len(pkt) {
		t.Fatalf("subscriber got %d bytes, want %d", sfc.written-before, len(pkt))
	}
	if n := testing.AllocsPerRun(200, step); n != 1 {
		t.Fatalf("QoS 0 publish to one same-loop subscriber: %v allocs per message, want 1 (the message copy)", n)
	}
}

// TestIdleSizes: what the gateway keeps per idle connection is a budget
// (BenchmarkIdleConnections); each struct stays within its malloc size class.
func TestIdleSizes(t *testing.T) {
	for _, tc := range []struct {
		name      string
		size, max uintptr
	}{
		{"sessionRec", unsafe.Sizeof(sessionRec{}), 64},
		{"conn", unsafe.Sizeof(conn{}), 80},
	} {
		if tc.size > tc.max {
			t.Errorf("%s is %d bytes, budget %d", tc.name, tc.size, tc.max)
		}
	}
}

// TestInboxBound: a delivery to a loop whose inbox is at engine.inbox_size
// (counting what this wake already collected for it) is dropped and counted
// as inbox_full, whatever its QoS, unless backpressure withholds the
// publisher's acknowledgement for it.
func TestInboxBound(t *testing.T) {
	for _, tc := range []struct {
		policy  string
		qos     byte
		dropped uint64
	}{
		{"drop", 0, 1},
		{"drop", 1, 1},
		{"disconnect", 1, 1},
		{"backpressure", 0, 1},
		{"backpressure", 1, 0}, // held: the PUBACK waits for the subscriber's loop
	} {
		t.Run(tc.policy+"/qos"+string(rune('0'+tc.qos)), func(t *testing.T) {
			g, ls := testLoops(t, 2, func(c *Config) {
				c.Limits.SlowConsumerPolicy = tc.policy
				c.Engine.InboxSize = 64
			})
			testClient(t, ls[1], "sub", "a/b", 1)
			pub, _ := testClient(t, ls[0], "pub", "", 0)
			for i := 0; i < 63; i++ {
				ls[1].in.post(inItem{kind: inTick}, g.cfg.Engine.InboxSize) // armed: no Execute needed
			}
			ls[0].begin()
			pub.handle(v3Publish(tc.qos, 1, "a/b", []byte("x"))) // the 64th: fits
			pub.handle(v3Publish(tc.qos, 2, "a/b", []byte("x"))) // over the bound
			ls[0].end()
			queued := int(ls[1].in.n.Load())
			if got := ls[0].st.dropped[dropInboxFull]; got != tc.dropped || queued != 64+int(1-tc.dropped) {
				t.Fatalf("dropped %d (want %d), inbox holds %d", got, tc.dropped, queued)
			}
			if tc.dropped == 0 && pub.withheld != 1 {
				t.Fatalf("withheld %d: the delivery past the bound must hold the publisher's ack", pub.withheld)
			}
		})
	}
}

// TestPublishAllocsQoS1: the QoS 1 flow (PUBLISH in, PUBACK to the
// publisher, PUBLISH out with a packet ID, the subscriber's PUBACK) also
// allocates only the message copy once the session's flows exist.
func TestPublishAllocsQoS1(t *testing.T) {
	_, ls := testLoops(t, 1, nil)
	l := ls[0]
	sub, sfc := testClient(t, l, "sub", "a/b", 1)
	pub, pfc := testClient(t, l, "pub", "", 0)
	pkt := v3Publish(1, 1, "a/b", make([]byte, 64))
	var ack [4]byte
	var id uint16
	step := func() {
		l.begin()
		pub.handle(pkt)
		l.end()
		id++
		ack = [4]byte{0x40, 2, byte(id >> 8), byte(id)}
		l.begin()
		sub.handle(ack[:])
		l.end()
	}
	s0, p0 := sfc.written, pfc.written
	step()
	if sfc.written-s0 != len(pkt) || pfc.written-p0 != 4 || sub.rec.st.Inflight() != 0 {
		t.Fatalf("subscriber got %d bytes, publisher %d, inflight %d", sfc.written-s0, pfc.written-p0, sub.rec.st.Inflight())
	}
	if n := testing.AllocsPerRun(200, step); n != 1 {
		t.Fatalf("QoS 1 publish and acknowledgements: %v allocs per message, want 1", n)
	}
}

// TestPausedKeepsAlive: bytes from a v3 publisher whose reading is paused
// by backpressure count as activity [MQTT-3.1.2-24]: it is not closed for
// keep alive while its packets wait in our buffer.
func TestPausedKeepsAlive(t *testing.T) {
	_, ls := testLoops(t, 1, nil)
	l := ls[0]
	c, fc := testClient(t, l, "paused", "", 0)
	c.keepAlive = 1
	c.paused = true
	fc.inbound = 2 // a PINGREQ, held back
	start := c.lastActive
	l.begin()
	l.now = start + 1_400_000_000
	c.read()
	l.now = start + 2_000_000_000 // past 1.5 x keep alive after the last packet decoded
	c.fire(l, l.now)
	l.end()
	if c.state != stConnected {
		t.Fatalf("paused publisher closed (reason %s) while sending", closeLabels[c.reason])
	}
}
