package gateway

// End-to-end tests for the defects of issue 18 (and issue 11 item 2), one
// test per defect, through real sockets on 127.0.0.1. They use only wire
// behaviour, /metrics and the configuration, so that they also build against
// the code before the fixes (where each of them fails).
//
// The clients are hand-driven (dxClient in defects_client_test.go, on
// mqttcodec): they acknowledge nothing unless told to, close without
// DISCONNECT when told to, and set the CONNECT properties each repro needs.

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"edgegw/gateway/config"
	"edgegw/mqttcodec"
)

// TestDefect01WillMatchesOwnSubscription: a client subscribed to
// dev/+/status with a will on dev/1/status vanishes (or is taken over): the
// gateway must survive and publish the will to the other subscribers
// [MQTT-3.1.2-8]. Before the fix the will was delivered to the client's own
// session, still marked connected but without a connection: nil dereference,
// the process died.
func TestDefect01WillMatchesOwnSubscription(t *testing.T) {
	for _, tc := range []struct {
		name     string
		v        mqttcodec.Version
		willQoS  byte
		takeover bool
	}{
		{name: "MQTT-3.1.2-8/closed/v3.1.1", v: mqttcodec.V311, willQoS: 1},
		{name: "MQTT-3.1.2-8/closed/v3.1.1/will-qos0", v: mqttcodec.V311, willQoS: 0},
		{name: "MQTT-3.1.2-8/closed/v5", v: mqttcodec.V5, willQoS: 1},
		{name: "MQTT-3.1.2-8/takeover/v3.1.1", v: mqttcodec.V311, willQoS: 1, takeover: true},
		{name: "MQTT-3.1.2-8/takeover/v5", v: mqttcodec.V5, willQoS: 1, takeover: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newTestGateway(t, nil)
			watch, _ := dxConnect(t, g, dxOpts{v: mqttcodec.V311, id: "watch", clean: true})
			watch.sub("dev/+/status", 1)
			o := dxOpts{v: tc.v, id: "dev1", clean: true, will: &dxWill{topic: "dev/1/status", payload: "offline", qos: tc.willQoS}}
			dev, _ := dxConnect(t, g, o)
			dev.sub("dev/+/status", 1)
			if tc.takeover {
				o.will = nil
				dxConnect(t, g, o) // same client ID: the first connection is closed
			} else {
				dev.kill()
			}
			p := watch.expect("dev/1/status", "offline", 5*time.Second)
			if p.QoS != tc.willQoS {
				t.Fatalf("will QoS %d, want %d", p.QoS, tc.willQoS)
			}
			dxAlive(t, g)
		})
	}
}

// TestDefect02SlowConsumerDisconnectDuringFanOut: with slow_consumer_policy
// "disconnect", slow subscribers are kicked in the middle of a fan-out and
// their wills match the readers' filter and another slow subscriber's.
// Before the fix the will was published from inside the fan-out and
// overwrote its match list (index out of range: the process died; or
// PUBACKed messages missing for subscribers that stayed). The slow
// subscribers' wills do not match their own filters, so this is not
// defect 1. Every QoS 1 message PUBACKed to the publisher must reach every
// reader that stayed connected, and every kicked subscriber's will too.
func TestDefect02SlowConsumerDisconnectDuringFanOut(t *testing.T) {
	const (
		nSlow    = 6
		nReaders = 3
		nMsgs    = 2000
		size     = 256
	)
	g := newTestGateway(t, func(c *Config) {
		c.Engine.Loops = 1 // kicks happen inside the publisher's own fan-out
		c.Limits.SlowConsumerPolicy = "disconnect"
		c.Limits.MaxOutboundBytes = 64 << 10
	})

	type reader struct {
		c     *dxClient
		mu    sync.Mutex
		got   map[int]int
		wills map[string]bool
		err   error
	}
	var wg sync.WaitGroup
	readers := make([]*reader, nReaders)
	for i := range readers {
		c, _ := dxConnect(t, g, dxOpts{v: mqttcodec.V311, id: fmt.Sprintf("reader%d", i), clean: true})
		c.sub("fan/#", 1)
		r := &reader{c: c, got: map[int]int{}, wills: map[string]bool{}}
		readers[i] = r
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				f, err := c.readFrame(30 * time.Second)
				if err == nil && mqttcodec.TypeOf(f) != mqttcodec.PUBLISH {
					continue
				}
				var p mqttcodec.Publish
				if err == nil {
					err = mqttcodec.DecodePublish(f, c.v, &p)
				}
				if err != nil {
					r.mu.Lock()
					r.err = err
					r.mu.Unlock()
					return
				}
				if p.QoS == 1 {
					_ = c.write(mqttcodec.AppendAck(nil, c.v, &mqttcodec.Ack{Type: mqttcodec.PUBACK, PacketID: p.PacketID}))
				}
				r.mu.Lock()
				if string(p.Topic) == "fan/data" {
					var seq int
					fmt.Sscanf(string(p.Payload[:8]), "%08d", &seq)
					r.got[seq]++
				} else {
					r.wills[string(p.Topic)] = true
				}
				r.mu.Unlock()
			}
		}()
	}
	for i := 0; i < nSlow; i++ {
		c, _ := dxConnect(t, g, dxOpts{v: mqttcodec.V311, id: fmt.Sprintf("slow%d", i), clean: true, rcvBuf: 4096,
			will: &dxWill{topic: fmt.Sprintf("fan/will/%d", i), payload: "gone", qos: 1}})
		// The next slow subscriber's will, never its own; then it never reads.
		if rc := c.subscribe(1, "fan/data", fmt.Sprintf("fan/will/%d", (i+1)%nSlow)); string(rc) != "\x01\x01" {
			t.Fatalf("SUBACK %x", rc)
		}
	}

	pub, _ := dxConnect(t, g, dxOpts{v: mqttcodec.V311, id: "pub", clean: true})
	acked := make(chan uint16, nMsgs)
	window := make(chan struct{}, 16)
	go func() {
		defer close(acked)
		for {
			f, err := pub.readFrame(30 * time.Second)
			if err != nil {
				return
			}
			var a mqttcodec.Ack
			if mqttcodec.TypeOf(f) == mqttcodec.PUBACK && mqttcodec.DecodeAck(f, pub.v, &a) == nil {
				acked <- a.PacketID
				<-window
			}
		}
	}()
	seqOf := map[uint16]int{}
	payload := make([]byte, size)
	for i := 0; i < nMsgs; i++ {
		copy(payload, fmt.Sprintf("%08d", i))
		b, id := pub.publishPacket("fan/data", payload, 1, false, 0)
		seqOf[id] = i
		select {
		case window <- struct{}{}:
		case <-time.After(10 * time.Second):
			t.Fatalf("no PUBACK for 10 s after %d messages", i)
		}
		if err := pub.write(b); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	var ackedSeqs []int
	timeout := time.After(20 * time.Second)
	for len(ackedSeqs) < nMsgs {
		select {
		case id, ok := <-acked:
			if !ok {
				t.Fatalf("publisher's connection ended after %d PUBACKs", len(ackedSeqs))
			}
			ackedSeqs = append(ackedSeqs, seqOf[id])
		case <-timeout:
			t.Fatalf("%d of %d PUBACKs", len(ackedSeqs), nMsgs)
		}
	}
	kicked := metric(t, g, `edgegw_dropped_total{reason="slow_consumer"}`)
	deadline := time.Now().Add(10 * time.Second)
	stayed := 0
	for i, r := range readers {
		for {
			r.mu.Lock()
			missing := 0
			for _, s := range ackedSeqs {
				if r.got[s] == 0 {
					missing++
				}
			}
			nw, err := len(r.wills), r.err
			r.mu.Unlock()
			if err != nil {
				t.Logf("reader %d was disconnected (%v): not counted", i, err)
				break
			}
			if missing == 0 && nw == nSlow {
				stayed++
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("reader %d: %d of %d PUBACKed messages missing, %d of %d wills", i, missing, nMsgs, nw, nSlow)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	t.Logf("%d slow subscribers kicked (slow_consumer drops %v), %d of %d readers stayed and got all %d PUBACKed messages",
		nSlow, kicked, stayed, nReaders, nMsgs)
	if stayed == 0 {
		t.Fatalf("every reader was disconnected: nothing proven")
	}
	dxAlive(t, g)
	for _, r := range readers {
		r.c.kill()
	}
	wg.Wait()
}

// TestDefect03RetainedSubscribeBounded: one SUBSCRIBE with ten "#" filters
// over a large retained store, from a subscriber that never reads, must
// neither stall the loop (ping RTT of another client on the same loop) nor
// buffer the store (heap growth), and a subscriber that reads gets each
// retained message once. Before the fix every filter delivered the whole
// store synchronously, past limits.max_outbound_bytes.
func TestDefect03RetainedSubscribeBounded(t *testing.T) {
	const (
		n         = 10000
		size      = 512
		maxRTT    = 250 * time.Millisecond // ~20 ms under -race on 2 shared cores, up to ~100 ms with the machine loaded (the SUBSCRIBE still walks the matching store once); 700+ ms before the fix
		maxGrowth = 16 << 20
	)
	g := newTestGateway(t, func(c *Config) {
		c.Engine.Loops = 1
		c.Limits.MaxOutboundBytes = 1 << 20
	})
	pub, _ := dxConnect(t, g, dxOpts{v: mqttcodec.V311, id: "pub", clean: true})
	payload := make([]byte, size)
	var batch []byte
	for i := 0; i < n-1; i++ {
		b, _ := pub.publishPacket(fmt.Sprintf("r/%05d", i), payload, 0, true, 0)
		batch = append(batch, b...)
		if len(batch) > 256<<10 {
			pub.mustWrite(batch)
			batch = batch[:0]
		}
	}
	pub.mustWrite(batch)
	pub.pub(fmt.Sprintf("r/%05d", n-1), string(payload), true, 0) // in order: all stored once acked
	pub.kill()

	pinger, _ := dxConnect(t, g, dxOpts{v: mqttcodec.V311, id: "pinger", clean: true})
	mute, _ := dxConnect(t, g, dxOpts{v: mqttcodec.V311, id: "mute", clean: true})
	ten := make([]string, 10)
	for i := range ten {
		ten[i] = "#"
	}
	s := mqttcodec.Subscribe{PacketID: 1}
	for _, f := range ten {
		s.Filters = append(s.Filters, mqttcodec.Subscription{Filter: []byte(f)})
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse

	// pings measures the largest ping RTT over d.
	pings := func(d time.Duration) (worst time.Duration, err error) {
		for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(2 * time.Millisecond) {
			rtt, err := pinger.ping(10 * time.Second)
			if err != nil {
				return worst, err
			}
			worst = max(worst, rtt)
		}
		return worst, nil
	}
	idle, err := pings(300 * time.Millisecond)
	if err != nil {
		t.Fatalf("ping: %v", err)
	}
	var maxSeen time.Duration
	var perr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		maxSeen, perr = pings(1500 * time.Millisecond)
	}()
	time.Sleep(50 * time.Millisecond)
	mute.mustWrite(mqttcodec.AppendSubscribe(nil, mute.v, &s)) // and never reads
	<-done
	if perr != nil {
		t.Fatalf("ping: %v", perr)
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	growth := int64(ms.HeapInuse) - int64(base)
	t.Logf("%d retained x %d B, ten '#' from a client that never reads: max ping RTT %v (idle %v), heap in use %+.1f MiB",
		n, size, maxSeen, idle, float64(growth)/(1<<20))
	if maxSeen > maxRTT {
		t.Errorf("ping RTT on the subscriber's loop reached %v (limit %v)", maxSeen, maxRTT)
	}
	if growth > maxGrowth {
		t.Errorf("heap in use grew %.1f MiB (limit %d MiB)", float64(growth)/(1<<20), maxGrowth>>20)
	}

	rd, _ := dxConnect(t, g, dxOpts{v: mqttcodec.V311, id: "reader", clean: true})
	if rc := rd.subscribe(0, ten...); len(rc) != 10 {
		t.Fatalf("SUBACK %x", rc)
	}
	seen := make(map[string]bool, n)
	for len(seen) < n {
		p, err := rd.next(5 * time.Second)
		if err != nil {
			t.Fatalf("reader got %d of %d retained messages: %v", len(seen), n, err)
		}
		if seen[string(p.Topic)] {
			t.Fatalf("retained %s delivered twice (after %d distinct)", p.Topic, len(seen))
		}
		seen[string(p.Topic)] = true
	}
	rd.none("each retained message must come once, yet it came again", 300*time.Millisecond)
}

// TestDefect05WillExpiryFromPublication: a will's Message Expiry Interval
// counts from its publication (MQTT 5.0 section 3.1.3.2.4), not from
// CONNECT: a will with 2 s expiry from a client that stayed 3 s is
// published, with what is left of its expiry.
func TestDefect05WillExpiryFromPublication(t *testing.T) {
	t.Parallel()
	g := newTestGateway(t, nil)
	watch, _ := dxConnect(t, g, dxOpts{v: mqttcodec.V5, id: "watch", clean: true})
	watch.sub("w5/#", 1)
	dev, _ := dxConnect(t, g, dxOpts{v: mqttcodec.V5, id: "dev", clean: true,
		will: &dxWill{topic: "w5/dev", payload: "offline", qos: 1, expiry: 2}})
	time.Sleep(3 * time.Second)
	dev.kill()
	p := watch.expect("w5/dev", "offline", 2*time.Second)
	if !p.Props.Has(mqttcodec.PropMessageExpiry) || p.Props.MessageExpiry < 1 || p.Props.MessageExpiry > 2 {
		t.Fatalf("will Message Expiry Interval %d (present %v), want 1..2",
			p.Props.MessageExpiry, p.Props.Has(mqttcodec.PropMessageExpiry))
	}
}

// TestDefect06ResendExpiryNeverWraps: a QoS 1 message inflight to a
// persistent v5 session expires while the client is away; on resume its
// resend carries a Message Expiry Interval of 1, never a wrapped value
// [MQTT-3.3.2-6] (its delivery had started: it is resent, not dropped).
func TestDefect06ResendExpiryNeverWraps(t *testing.T) {
	t.Parallel()
	g := newTestGateway(t, nil)
	o := dxOpts{v: mqttcodec.V5, id: "s6", clean: true, expiry: 60}
	sub, _ := dxConnect(t, g, o)
	sub.sub("t6", 1)
	pub, _ := dxConnect(t, g, dxOpts{v: mqttcodec.V5, id: "p6", clean: true})
	pub.pub("t6", "soon stale", false, 1)
	p := sub.expect("t6", "soon stale", 5*time.Second) // not acknowledged
	if p.QoS != 1 || p.Props.MessageExpiry != 1 {
		t.Fatalf("first delivery: QoS %d, expiry %d", p.QoS, p.Props.MessageExpiry)
	}
	sub.kill()
	time.Sleep(3200 * time.Millisecond) // past the expiry by more than 2 s
	o.clean = false
	sub2, ca := dxConnect(t, g, o)
	if !ca.SessionPresent {
		t.Fatalf("session not present on resume")
	}
	p = sub2.expect("t6", "soon stale", 5*time.Second)
	if !p.Dup || !p.Props.Has(mqttcodec.PropMessageExpiry) || p.Props.MessageExpiry != 1 {
		t.Fatalf("MQTT-3.3.2-6: resent PUBLISH dup %v, Message Expiry Interval %d (present %v), want 1",
			p.Dup, p.Props.MessageExpiry, p.Props.Has(mqttcodec.PropMessageExpiry))
	}
}

// TestDefect07ExpiredRetainedPurged: expired retained messages leave the
// store [MQTT-3.3.2-5], so they stop counting against
// router.retained_max_messages: with a cap of 3, three retained messages
// that expired no longer refuse a new one.
func TestDefect07ExpiredRetainedPurged(t *testing.T) {
	t.Parallel()
	g := newTestGateway(t, func(c *Config) { c.Router.RetainedMaxMessages = 3 })
	pub, _ := dxConnect(t, g, dxOpts{v: mqttcodec.V5, id: "p7", clean: true})
	for _, tp := range []string{"r7/a", "r7/b", "r7/c"} {
		pub.pub(tp, "short-lived", true, 1)
	}
	time.Sleep(2500 * time.Millisecond)
	const refused = `edgegw_dropped_total{reason="retained_refused"}`
	before := metric(t, g, refused)
	pub.pub("r7/new", "kept", true, 0)
	sub, _ := dxConnect(t, g, dxOpts{v: mqttcodec.V5, id: "s7", clean: true})
	sub.sub("r7/#", 1)
	p, err := sub.next(2 * time.Second)
	if err != nil {
		t.Fatalf("MQTT-3.3.2-5: the new retained message was not stored (%v); %s went %v -> %v",
			err, refused, before, metric(t, g, refused))
	}
	if string(p.Topic) != "r7/new" || string(p.Payload) != "kept" || !p.Retain {
		t.Fatalf("got %s %q retain %v, want the new retained message", p.Topic, p.Payload, p.Retain)
	}
	sub.none("expired retained messages", 200*time.Millisecond)
	time.Sleep(30 * time.Millisecond) // a tick folds the counters
	if after := metric(t, g, refused); after != before {
		t.Fatalf("%s went %v -> %v", refused, before, after)
	}
}

// TestDefect08TakeoverOfSessionThatEnds: a connection with Clean Start 0
// taking over a v3.1.1 clean session [MQTT-3.1.2-6] or a v5 session with
// Session Expiry 0 (MQTT 5.0 section 3.1.2.11.2) gets no session: CONNACK
// Session Present 0 [MQTT-3.2.2-3], and the old subscription is gone.
func TestDefect08TakeoverOfSessionThatEnds(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    mqttcodec.Version
	}{
		{name: "MQTT-3.1.2-6/v3.1.1-clean-session", v: mqttcodec.V311},
		{name: "v5-3.1.2.11.2/session-expiry-0", v: mqttcodec.V5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newTestGateway(t, nil)
			old, _ := dxConnect(t, g, dxOpts{v: tc.v, id: "c8", clean: true})
			old.sub("t8", 1)
			o := dxOpts{v: tc.v, id: "c8", clean: false}
			if tc.v == mqttcodec.V5 {
				o.expiry = 60
			}
			nu, ca := dxConnect(t, g, o)
			if ca.SessionPresent {
				t.Errorf("CONNACK session present 1 for a session that ended")
			}
			pub, _ := dxConnect(t, g, dxOpts{v: mqttcodec.V311, id: "p8", clean: true})
			pub.pub("t8", "to nobody", false, 0)
			nu.none("the old session's subscription", 300*time.Millisecond)
		})
	}
}

// TestDefect09ResumeHonoursReceiveMaximum: a v5 session holding 5
// unacknowledged QoS 1 messages is resumed by a connection with Receive
// Maximum 1: it gets one PUBLISH, the next only after acknowledging it
// [MQTT-3.3.4-9].
func TestDefect09ResumeHonoursReceiveMaximum(t *testing.T) {
	g := newTestGateway(t, nil)
	o := dxOpts{v: mqttcodec.V5, id: "s9", clean: true, expiry: 60, recvMax: 5}
	sub, _ := dxConnect(t, g, o)
	sub.sub("t9", 1)
	pub, _ := dxConnect(t, g, dxOpts{v: mqttcodec.V5, id: "p9", clean: true})
	for i := 0; i < 5; i++ {
		pub.pub("t9", fmt.Sprint(i), false, 0)
	}
	for i := 0; i < 5; i++ {
		sub.expect("t9", fmt.Sprint(i), 5*time.Second) // none acknowledged
	}
	sub.kill()
	eventually(t, "the first connection closed", func() bool { return metric(t, g, "edgegw_connections") == 1 })
	o.clean, o.recvMax = false, 1
	sub2, ca := dxConnect(t, g, o)
	if !ca.SessionPresent {
		t.Fatalf("session not present on resume")
	}
	for i := 0; i < 5; i++ {
		p := sub2.expect("t9", fmt.Sprint(i), 5*time.Second)
		if !p.Dup {
			t.Fatalf("message %d resent without DUP", i)
		}
		sub2.none(fmt.Sprintf("MQTT-3.3.4-9: Receive Maximum 1, message %d unacknowledged", i), 300*time.Millisecond)
		sub2.ack(p.PacketID)
	}
}

// TestDefect10DisconnectReasonWill: a v5 DISCONNECT with any reason code
// but 0x00 publishes the will [MQTT-3.1.2-8]; only 0x00 discards it
// [MQTT-3.14.4-3].
func TestDefect10DisconnectReasonWill(t *testing.T) {
	g := newTestGateway(t, nil)
	watch, _ := dxConnect(t, g, dxOpts{v: mqttcodec.V5, id: "watch", clean: true})
	watch.sub("w10/#", 1)
	for _, tc := range []struct {
		name string
		rc   mqttcodec.ReasonCode
		will bool
	}{
		{name: "MQTT-3.1.2-8/0x80-unspecified-error", rc: 0x80, will: true},
		{name: "MQTT-3.1.2-8/0x83-implementation-specific", rc: 0x83, will: true},
		{name: "MQTT-3.1.2-8/0x04-with-will", rc: 0x04, will: true},
		{name: "MQTT-3.14.4-3/0x00-normal", rc: 0x00, will: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			watch.use(t)
			topic := fmt.Sprintf("w10/%02x", byte(tc.rc))
			dev, _ := dxConnect(t, g, dxOpts{v: mqttcodec.V5, id: "dev" + topic[4:], clean: true,
				will: &dxWill{topic: topic, payload: "gone", qos: 1}})
			dev.disconnect(tc.rc)
			if tc.will {
				watch.expect(topic, "gone", 2*time.Second)
			} else {
				watch.none("will after DISCONNECT 0x00", 500*time.Millisecond)
			}
		})
	}
}

// TestDefect11TakeoverPublishesDelayedWill: a v5 session (expiry 60 s) with
// a will delayed 10 s. A new connection with Clean Start ends the session,
// so the will is due at once (MQTT 5.0 section 3.1.3.2.2), whether the old
// connection is still open or already gone; one with Clean Start 0 resumes
// the session and cancels the will [MQTT-3.1.3-9].
func TestDefect11TakeoverPublishesDelayedWill(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		closeOld  bool // the old connection vanished before the takeover
		cleanNew  bool
		published bool
	}{
		{name: "v5-3.1.3.2.2/clean-start-takeover", cleanNew: true, published: true},
		{name: "v5-3.1.3.2.2/clean-start-after-close", closeOld: true, cleanNew: true, published: true},
		{name: "MQTT-3.1.3-9/resume-cancels", cleanNew: false, published: false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newTestGateway(t, nil)
			watch, _ := dxConnect(t, g, dxOpts{v: mqttcodec.V5, id: "watch", clean: true})
			watch.sub("w11/#", 1)
			o := dxOpts{v: mqttcodec.V5, id: "c11", clean: true, expiry: 60,
				will: &dxWill{topic: "w11/c11", payload: "gone", qos: 1, delay: 10}}
			old, _ := dxConnect(t, g, o)
			if tc.closeOld {
				old.kill()
				eventually(t, "the old connection closed", func() bool { return metric(t, g, "edgegw_connections") == 1 })
			}
			o.clean, o.will = tc.cleanNew, nil
			dxConnect(t, g, o)
			if tc.published {
				watch.expect("w11/c11", "gone", 2*time.Second)
			} else {
				watch.none("a cancelled will", time.Second)
			}
		})
	}
}

// TestDefect12MaxSubscriptions: limits.max_subscriptions caps the filters
// of one session: new filters past it get SUBACK 0x97 (v5, Quota exceeded)
// or 0x80 (v3.1.1, Failure), replacing an existing filter is still granted,
// and refusals are counted in edgegw_subscribe_refused_total.
func TestDefect12MaxSubscriptions(t *testing.T) {
	g := newTestGateway(t, func(c *Config) {
		parsed, err := config.Parse([]byte("[limits]\nmax_subscriptions = 3\n"), "defects.toml")
		if err != nil {
			t.Errorf("limits.max_subscriptions: %v", err) // the wire checks below still run
			return
		}
		c.Limits = parsed.Limits
	})
	for _, tc := range []struct {
		name    string
		v       mqttcodec.Version
		refused byte
	}{
		{name: "v5-quota-exceeded-0x97", v: mqttcodec.V5, refused: 0x97},
		{name: "v3.1.1-failure-0x80", v: mqttcodec.V311, refused: 0x80},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := dxConnect(t, g, dxOpts{v: tc.v, id: "c12-" + tc.name, clean: true})
			want := []byte{1, 1, 1, tc.refused, tc.refused}
			if rc := c.subscribe(1, "a/1", "a/2", "a/3", "a/4", "a/5"); string(rc) != string(want) {
				t.Fatalf("SUBACK %x, want %x", rc, want)
			}
			if rc := c.subscribe(0, "a/1"); string(rc) != "\x00" {
				t.Fatalf("replacing a/1: SUBACK %x, want 00", rc)
			}
			if rc := c.subscribe(0, "a/6"); string(rc) != string([]byte{tc.refused}) {
				t.Fatalf("a/6 past the cap: SUBACK %x, want %x", rc, tc.refused)
			}
			pub, _ := dxConnect(t, g, dxOpts{v: mqttcodec.V311, id: "p12-" + tc.name, clean: true})
			pub.pub("a/4", "refused filter", false, 0)
			pub.pub("a/1", "granted filter", false, 0)
			p := c.expect("a/1", "granted filter", 5*time.Second)
			if p.QoS != 0 {
				t.Fatalf("a/1 delivered at QoS %d after its replacement at QoS 0", p.QoS)
			}
		})
	}
	eventually(t, "edgegw_subscribe_refused_total = 6", func() bool {
		return metric(t, g, "edgegw_subscribe_refused_total") == 6
	})
}

// TestDefectIssue11RetainedQoS1Gauges (issue 11 item 2): 1,000 retained QoS
// 1 messages delivered to a fresh QoS 1 subscriber, all acknowledged, then
// the subscriber leaves: edgegw_inflight and edgegw_queued_messages return
// to 0 (they stayed at 64 and 936).
func TestDefectIssue11RetainedQoS1Gauges(t *testing.T) {
	const n = 1000
	g := newTestGateway(t, nil)
	pub, _ := dxConnect(t, g, dxOpts{v: mqttcodec.V311, id: "pub", clean: true})
	var ids []uint16
	var batch []byte
	for i := 0; i < n; i++ {
		b, id := pub.publishPacket(fmt.Sprintf("g/%04d", i), []byte("retained"), 1, true, 0)
		batch = append(batch, b...)
		ids = append(ids, id)
	}
	pub.mustWrite(batch)
	for _, id := range ids {
		pub.waitAck(id)
	}
	sub, _ := dxConnect(t, g, dxOpts{v: mqttcodec.V311, id: "sub", clean: true})
	sub.subscribe(1, "#")
	seen := map[string]bool{}
	for len(seen) < n {
		p, err := sub.next(5 * time.Second)
		if err != nil {
			t.Fatalf("got %d of %d retained messages: %v", len(seen), n, err)
		}
		seen[string(p.Topic)] = true
		sub.ack(p.PacketID)
	}
	sub.disconnect(0)
	pub.disconnect(0)
	var inf, q float64
	deadline := time.Now().Add(5 * time.Second)
	for {
		inf, q = metric(t, g, "edgegw_inflight"), metric(t, g, "edgegw_queued_messages")
		if inf == 0 && q == 0 && metric(t, g, "edgegw_connections") == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after all %d acknowledged and the subscriber gone: edgegw_inflight %v, edgegw_queued_messages %v, connections %v",
				n, inf, q, metric(t, g, "edgegw_connections"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
