package relay

import (
	"bytes"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"edgegw/mqttcodec"
)

// TestStalledUpstream: while the upstream stops reading (a proxy that
// stops reading from the relay), no token comes back, so no device is
// acknowledged; once it reads again every message arrives, in order, and
// every token comes back.
func TestStalledUpstream(t *testing.T) {
	m := startMochi(t, "127.0.0.1:0")
	p := startProxy(t, m.addr)
	c := upstreamCfg(p.addr())
	c.Forward, c.Pool = []string{"telemetry/#"}, 1
	var s sink
	u := newTestUpstream(t, c, s.hooks())
	waitFor(t, 5*time.Second, "the link up", func() bool { return u.Stats().Up == 1 })
	p.stall()
	const n = 200
	for i := 0; i < n; i++ {
		u.Forward(msg("telemetry/x", 1, seq("s", n)[i]), i)
	}
	time.Sleep(500 * time.Millisecond)
	if d := s.doneCount(); d != 0 {
		t.Fatalf("%d tokens back while the upstream read nothing: devices acknowledged early", d)
	}
	if got := len(m.rec.all()); got != 0 {
		t.Fatalf("Mochi got %d messages through a stalled proxy", got)
	}
	if st := u.Stats(); st.Held != n {
		t.Fatalf("held %d, want %d", st.Held, n)
	}
	p.unstall()
	waitFor(t, 5*time.Second, "every token back", func() bool { return s.doneCount() == n })
	if got := payloads(m.rec.all(), "telemetry/x"); !slices.Equal(got, seq("s", n)) {
		t.Fatalf("Mochi got %d messages, out of order or missing: %v", len(got), got)
	}
}

// TestBufferBound: past buffer_messages a QoS 0 message is dropped and a
// QoS 1 one refused (Full: its token never comes back); a QoS 2 message
// with a token is taken over the bound. Nothing is held past it otherwise.
func TestBufferBound(t *testing.T) {
	c := upstreamCfg("127.0.0.1:1") // nothing listens: everything stays held
	c.Forward, c.BufferMessages = []string{"t/#"}, 10
	var s sink
	u := newTestUpstream(t, c, s.hooks())
	for i := 0; i < 10; i++ {
		if v := u.Forward(msg("t/x", 1, "a"), i); v != Queued {
			t.Fatalf("message %d: %v", i, v)
		}
	}
	if v := u.Forward(msg("t/x", 1, "over"), 10); v != Full {
		t.Fatalf("QoS 1 past the bound: %v, want Full", v)
	}
	if v := u.Forward(msg("t/x", 0, "over"), nil); v != Full {
		t.Fatalf("QoS 0 past the bound: %v, want Full", v)
	}
	if v := u.Forward(msg("t/x", 2, "over"), 11); v != Queued {
		t.Fatalf("QoS 2 past the bound: %v, want Queued (over bound)", v)
	}
	st := u.Stats()
	if st.Held != 11 || st.NotAcked != 1 || st.BufferFull != 1 || u.m.overBound.Get() != 1 {
		t.Fatalf("held %d, not acked %d, dropped %d, over bound %d; want 11, 1, 1, 1", st.Held, st.NotAcked, st.BufferFull, u.m.overBound.Get())
	}
}

// TestResendAfterReconnect: messages in flight when the upstream dies are
// resent after it comes back, with DUP, before newer ones, and their
// tokens come back only then.
func TestResendAfterReconnect(t *testing.T) {
	m := startMochi(t, "127.0.0.1:0")
	p := startProxy(t, m.addr)
	c := upstreamCfg(p.addr())
	c.Forward, c.Pool = []string{"t/#"}, 1
	var s sink
	u := newTestUpstream(t, c, s.hooks())
	waitFor(t, 5*time.Second, "the link up", func() bool { return u.Stats().Up == 1 })
	p.stall()
	for i := 0; i < 20; i++ {
		u.Forward(msg("t/x", 1, seq("r", 40)[i]), i)
	}
	time.Sleep(100 * time.Millisecond)
	p.close() // the relay's connection dies with 20 messages sent, unacknowledged
	waitFor(t, 5*time.Second, "the link down", func() bool { return u.Stats().Up == 0 })
	for i := 20; i < 40; i++ {
		u.Forward(msg("t/x", 1, seq("r", 40)[i]), i)
	}
	startProxyAt(t, p.addr(), m.addr)
	waitFor(t, 10*time.Second, "every token back", func() bool { return s.doneCount() == 40 })
	// At least once: a message the proxy passed on just before it stalled
	// reaches Mochi twice (its PUBACK died with the connection), the second
	// time with DUP. First arrivals are in order; every repeat carries DUP;
	// each of the 20 in flight arrives once with DUP (resent).
	var first []string
	seen := map[string]bool{}
	dup := map[string]bool{}
	for _, r := range m.rec.all() {
		if r.topic != "t/x" {
			continue
		}
		if r.dup {
			dup[r.payload] = true
		}
		if seen[r.payload] {
			if !r.dup {
				t.Errorf("%s arrived again without DUP", r.payload)
			}
			continue
		}
		seen[r.payload] = true
		first = append(first, r.payload)
	}
	if !slices.Equal(first, seq("r", 40)) {
		t.Fatalf("upstream order (first arrivals) %v", first)
	}
	for _, p := range seq("r", 20) {
		if !dup[p] {
			t.Errorf("%s was in flight at the close but never resent with DUP", p)
		}
	}
	if st := u.Stats(); st.Resent != 20 {
		t.Errorf("resent %d, want 20", st.Resent)
	}
}

// startProxyAt is startProxy on a given address (a proxy restarted).
func startProxyAt(t testing.TB, addr, target string) *proxy {
	t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 100; i++ {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, resume: make(chan struct{})}
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// TestFailover: the first address refuses connections; the pool connects
// to the second, counting a failover, and forwards there.
func TestFailover(t *testing.T) {
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close() // connection refused from now on
	m := startMochi(t, "127.0.0.1:0")
	c := upstreamCfg(deadAddr, m.addr)
	c.Forward, c.Pool = []string{"t/#"}, 2
	var s sink
	u := newTestUpstream(t, c, s.hooks())
	waitFor(t, 5*time.Second, "both links up on the second address", func() bool { return u.Stats().Up == 2 })
	st := u.Stats()
	if st.Failovers < 2 || st.ConnectionErrors["dial"] < 2 {
		t.Fatalf("failovers %d, dial errors %d; want >= 2 each", st.Failovers, st.ConnectionErrors["dial"])
	}
	u.Forward(msg("t/x", 1, "v"), 1)
	waitFor(t, 5*time.Second, "the token", func() bool { return s.doneCount() == 1 })
}

// fakeUpstream accepts connections and runs serve on each (a broker that
// misbehaves on purpose). accepted records when each connection came.
type fakeUpstream struct {
	ln       net.Listener
	mu       sync.Mutex
	accepted []time.Time
}

func startFake(t testing.TB, serve func(c net.Conn)) *fakeUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeUpstream{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.mu.Lock()
			f.accepted = append(f.accepted, time.Now())
			f.mu.Unlock()
			go func() {
				defer c.Close()
				serve(c)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return f
}

func (f *fakeUpstream) times() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.accepted)
}

// pktReader reads MQTT packets from a connection (test servers only).
type pktReader struct {
	c   net.Conn
	buf []byte
}

func (r *pktReader) next() ([]byte, error) {
	tmp := make([]byte, 4096)
	for {
		if size, err := mqttcodec.PacketSize(r.buf, 0); err == nil && size <= len(r.buf) {
			pk := r.buf[:size:size]
			r.buf = r.buf[size:]
			return pk, nil
		}
		n, err := r.c.Read(tmp)
		r.buf = append(r.buf, tmp[:n]...)
		if err != nil {
			return nil, err
		}
	}
}

// TestBackoffReset: an upstream that accepts CONNECT but never answers a
// PINGREQ never makes a link healthy, so the waits between attempts keep
// growing; one that answers the first PINGREQ resets the backoff each time.
func TestBackoffReset(t *testing.T) {
	run := func(t *testing.T, pong bool) []time.Duration {
		f := startFake(t, func(c net.Conn) {
			r := &pktReader{c: c}
			if _, err := r.next(); err != nil { // CONNECT
				return
			}
			_, _ = c.Write([]byte{0x20, 2, 0, 0}) // CONNACK accepted (3.1.1)
			pk, err := r.next()                   // the first PINGREQ
			if err != nil || mqttcodec.TypeOf(pk) != mqttcodec.PINGREQ {
				return
			}
			if pong {
				_, _ = c.Write([]byte{0xd0, 0}) // PINGRESP
			}
			time.Sleep(30 * time.Millisecond)
		})
		c := upstreamCfg(f.ln.Addr().String())
		c.Protocol, c.Pool, c.Forward = 4, 1, []string{"t/#"}
		u, err := New(c, 0, Hooks{}, Options{BackoffMin: 20 * time.Millisecond, BackoffMax: 5 * time.Second, DialTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		u.links[0].bo.rnd = func() float64 { return 1 } // the jitter's upper bound: deterministic waits
		u.Start()
		defer u.Close()
		time.Sleep(1300 * time.Millisecond)
		ts := f.times()
		var gaps []time.Duration
		for i := 1; i < len(ts); i++ {
			gaps = append(gaps, ts[i].Sub(ts[i-1]))
		}
		return gaps
	}
	t.Run("no-pingresp-grows", func(t *testing.T) {
		gaps := run(t, false)
		// Waits 20, 40, 80, 160, 320, 640 ms (+30 ms of connection each).
		if len(gaps) < 4 || len(gaps) > 7 {
			t.Fatalf("%d reconnects in 1.3 s (gaps %v): want 4-7 with a growing backoff", len(gaps), gaps)
		}
		if gaps[len(gaps)-1] < 4*gaps[0] {
			t.Fatalf("gaps %v do not grow: the backoff was reset without a PINGRESP", gaps)
		}
	})
	t.Run("pingresp-resets", func(t *testing.T) {
		gaps := run(t, true)
		if len(gaps) < 10 {
			t.Fatalf("%d reconnects in 1.3 s (gaps %v): the backoff was not reset after CONNACK and PINGRESP", len(gaps), gaps)
		}
		for _, g := range gaps {
			if g > 200*time.Millisecond {
				t.Fatalf("gap %v in %v: the backoff grew although every connection was healthy", g, gaps)
			}
		}
	})
}

// TestBadUpstreams: an upstream that refuses CONNECT, sends garbage, never
// answers, or closes mid-stream: each failure is counted by reason and
// logged once per state change, the relay keeps trying, its buffer stays
// bounded and no token comes back (nothing is acknowledged).
func TestBadUpstreams(t *testing.T) {
	for _, tc := range []struct {
		name   string
		reason string
		serve  func(c net.Conn)
	}{
		{"refuses-connect", "refused", func(c net.Conn) {
			_, _ = (&pktReader{c: c}).next()
			_, _ = c.Write([]byte{0x20, 3, 0, 0x87, 0}) // v5 CONNACK Not authorized
		}},
		{"garbage", "protocol", func(c net.Conn) {
			_, _ = (&pktReader{c: c}).next()
			_, _ = c.Write(bytes.Repeat([]byte{0xff, 0x00, 0x13}, 100))
		}},
		{"never-answers", "timeout", func(c net.Conn) {
			_, _ = (&pktReader{c: c}).next()
			time.Sleep(2 * time.Second)
		}},
		{"closes-mid-stream", "closed", func(c net.Conn) {
			r := &pktReader{c: c}
			_, _ = r.next()
			_, _ = c.Write([]byte{0x20, 3, 0, 0, 0}) // v5 CONNACK accepted, no properties
			_, _ = r.next()                          // PINGREQ
			_, _ = c.Write([]byte{0xd0, 0})          // PINGRESP
			for i := 0; i < 3; i++ {                 // take a few packets, acknowledge none, close
				if _, err := r.next(); err != nil {
					return
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := startFake(t, tc.serve)
			c := upstreamCfg(f.ln.Addr().String())
			c.Forward, c.Pool, c.BufferMessages = []string{"t/#"}, 1, 50
			var logs lockedBuffer
			var s sink
			u, err := New(c, 0, s.hooks(), Options{
				Log:        slogTo(&logs),
				BackoffMin: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond, DialTimeout: 300 * time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			u.Start()
			defer u.Close()
			for i := 0; i < 60; i++ {
				u.Forward(msg("t/x", 1, "p"), i)
			}
			waitFor(t, 5*time.Second, "3 failures counted as "+tc.reason, func() bool { return u.Stats().ConnectionErrors[tc.reason] >= 3 })
			st := u.Stats()
			if st.Held != 50 || st.NotAcked != 10 {
				t.Fatalf("held %d, not acknowledged %d: want the bound (50) and the rest refused (10)", st.Held, st.NotAcked)
			}
			if s.doneCount() != 0 {
				t.Fatalf("%d tokens came back from a broken upstream", s.doneCount())
			}
			// One log line per state change: attempts alternate
			// connecting -> down (-> connected -> up for closes-mid-stream).
			lines := strings.Count(logs.String(), "relay connection")
			attempts := int(st.ConnectionErrors[tc.reason])
			if lines > 4*(attempts+1) {
				t.Fatalf("%d log lines for %d attempts: more than one per state change", lines, attempts)
			}
			if !strings.Contains(logs.String(), "reason="+tc.reason) {
				t.Fatalf("no log line names reason %s:\n%s", tc.reason, logs.String())
			}
		})
	}
}

// lockedBuffer is a bytes.Buffer safe for the relay's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
	n  atomic.Int64
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n.Add(1)
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
