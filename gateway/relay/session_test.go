package relay

import (
	"net"
	"sync"
	"testing"
	"time"

	"edgegw/mqttcodec"
)

// TestResumedSessionPubrel: a scripted v5 upstream. On the first
// connection (clean start, Session Expiry Interval 60) it answers a QoS 2
// PUBLISH with PUBREC and then drops the connection without answering the
// PUBREL. On the second (clean start 0, session present) the relay must
// send that PUBREL again under its packet identifier and no PUBLISH; the
// upstream answers PUBCOMP 0x92 (Packet Identifier not found: it had
// finished the flow), which completes the message as delivered, not
// rejected.
func TestResumedSessionPubrel(t *testing.T) {
	type seen struct {
		clean  bool
		expiry uint32
		pkts   []byte // packet types after CONNECT
		relIDs []uint16
		pubIDs []uint16
	}
	var mu sync.Mutex
	var conns []*seen
	f := startFake(t, func(c net.Conn) {
		r := &pktReader{c: c}
		cn, ok := r.connect()
		if !ok {
			return
		}
		s := &seen{clean: cn.CleanStart, expiry: cn.Props.SessionExpiry}
		mu.Lock()
		conns = append(conns, s)
		first := len(conns) == 1
		mu.Unlock()
		present := byte(0)
		if !first {
			present = 1
		}
		_, _ = c.Write([]byte{0x20, 3, present, 0, 0}) // CONNACK (5.0), no properties
		for {
			pk, err := r.next()
			if err != nil {
				return
			}
			mu.Lock()
			s.pkts = append(s.pkts, byte(mqttcodec.TypeOf(pk)))
			mu.Unlock()
			switch mqttcodec.TypeOf(pk) {
			case mqttcodec.PINGREQ:
				_, _ = c.Write([]byte{0xd0, 0})
			case mqttcodec.PUBLISH:
				var p mqttcodec.Publish
				if mqttcodec.DecodePublish(pk, mqttcodec.V5, &p) != nil {
					return
				}
				mu.Lock()
				s.pubIDs = append(s.pubIDs, p.PacketID)
				mu.Unlock()
				_, _ = c.Write([]byte{0x50, 2, byte(p.PacketID >> 8), byte(p.PacketID)}) // PUBREC
			case mqttcodec.PUBREL:
				var a mqttcodec.Ack
				if mqttcodec.DecodeAck(pk, mqttcodec.V5, &a) != nil {
					return
				}
				mu.Lock()
				s.relIDs = append(s.relIDs, a.PacketID)
				mu.Unlock()
				if first {
					return // the PUBCOMP never comes: the connection drops
				}
				_, _ = c.Write([]byte{0x70, 3, byte(a.PacketID >> 8), byte(a.PacketID), 0x92}) // PUBCOMP 0x92
			}
		}
	})
	c := upstreamCfg(f.ln.Addr().String())
	c.Forward, c.Pool, c.Protocol = []string{"t/#"}, 1, 5
	c.SessionExpiry = 60 * 1e9
	var s sink
	u := newTestUpstream(t, c, s.hooks())
	waitFor(t, 5*time.Second, "the link up", func() bool { return u.Stats().Up == 1 })
	u.Forward(msg("t/a", 2, "x"), "tok")
	waitFor(t, 10*time.Second, "the token back", func() bool { return s.doneCount() == 1 })

	mu.Lock()
	defer mu.Unlock()
	if len(conns) != 2 {
		t.Fatalf("%d connections, want 2", len(conns))
	}
	a, b := conns[0], conns[1]
	if !a.clean || a.expiry != 60 || b.clean || b.expiry != 60 {
		t.Errorf("CONNECTs: clean %v then %v, Session Expiry Interval %d then %d; want clean then resumed, 60 both", a.clean, b.clean, a.expiry, b.expiry)
	}
	if len(a.pubIDs) != 1 || len(a.relIDs) != 1 || a.relIDs[0] != a.pubIDs[0] {
		t.Fatalf("first connection: PUBLISH %v, PUBREL %v", a.pubIDs, a.relIDs)
	}
	if len(b.pubIDs) != 0 || len(b.relIDs) != 1 || b.relIDs[0] != a.pubIDs[0] {
		t.Errorf("resumed connection: PUBLISH %v, PUBREL %v; want no PUBLISH and PUBREL %d", b.pubIDs, b.relIDs, a.pubIDs[0])
	}
	if r := u.m.dropped[dropRejected].Get(); r != 0 {
		t.Errorf("%d counted rejected: PUBCOMP 0x92 after a resumed PUBREL is a delivery", r)
	}
	if st := u.Stats(); st.Resumed != 1 || st.Forwarded != 1 {
		t.Errorf("resumed %d, forwarded %d; want 1 and 1", st.Resumed, st.Forwarded)
	}
}

// TestKeptSessionCleanAfterFailover: sessions kept, the link's first
// connection to address A is clean and its reconnect to A resumes; when A
// then fails before the link is healthy and the link fails over to B, the
// first CONNECT to B is clean: a session B may hold from long ago has
// identifiers this process never saw.
func TestKeptSessionCleanAfterFailover(t *testing.T) {
	var mu sync.Mutex
	cleans := map[string][]bool{}
	serve := func(name string, ok func(n int) bool) func(net.Conn) {
		return func(c net.Conn) {
			r := &pktReader{c: c}
			cn, read := r.connect()
			if !read {
				return
			}
			mu.Lock()
			cleans[name] = append(cleans[name], cn.CleanStart)
			n := len(cleans[name])
			mu.Unlock()
			if !ok(n) {
				return // closed before CONNACK: not healthy, the link fails over
			}
			_, _ = c.Write([]byte{0x20, 3, 0, 0, 0})
			if pk, err := r.next(); err == nil && mqttcodec.TypeOf(pk) == mqttcodec.PINGREQ {
				_, _ = c.Write([]byte{0xd0, 0})
			}
			if name == "a" {
				time.Sleep(50 * time.Millisecond) // healthy, then gone: the link retries A
				return
			}
			_, _ = r.next() // B stays
		}
	}
	a := startFake(t, serve("a", func(n int) bool { return n == 1 }))
	b := startFake(t, serve("b", func(int) bool { return true }))
	c := upstreamCfg(a.ln.Addr().String(), b.ln.Addr().String())
	c.Forward, c.Pool, c.Protocol = []string{"t/#"}, 1, 5
	c.SessionExpiry = 60 * 1e9
	var s sink
	u := newTestUpstream(t, c, s.hooks())
	waitFor(t, 5*time.Second, "the link up on B", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(cleans["b"]) > 0 && u.Stats().Up == 1
	})
	mu.Lock()
	defer mu.Unlock()
	if len(cleans["a"]) < 2 || !cleans["a"][0] || cleans["a"][1] || !cleans["b"][0] {
		t.Fatalf("clean start per CONNECT: A %v, B %v; want A [true false ...], B [true ...]", cleans["a"], cleans["b"])
	}
}

// connect reads and decodes the client's CONNECT.
func (r *pktReader) connect() (mqttcodec.Connect, bool) {
	var cn mqttcodec.Connect
	pk, err := r.next()
	return cn, err == nil && mqttcodec.DecodeConnect(pk, &cn) == nil
}
