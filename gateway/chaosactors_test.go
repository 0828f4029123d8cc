package gateway

import (
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

const (
	chaosTopics   = 8   // live topics c/0/s .. c/7/s
	chaosRetained = 150 // retained topics r/0 .. r/149 (more than the inflight window of 64)
	chaosIDs      = 6   // client IDs ch-0 .. ch-5 shared by the churners (takeovers)
)

// chaosRun is one policy's run. Actors never touch testing.T: they count
// into n and write notes, which the test reads after they all returned.
type chaosRun struct {
	g    *Gateway // for probes of the loops' side (chaosprobe_test.go)
	addr string
	// tlsAddr and wsAddr, when not "", are the TLS and WebSocket listeners
	// that the actors' connections are spread over, with plain TCP (tlsCfg
	// trusts the TLS certificate).
	tlsAddr string
	tlsCfg  *tls.Config
	wsAddr  string
	seed    uint64
	policy  string
	stop    chan struct{} // closed when the actors must wind down
	drain   atomic.Bool   // set at stop: slow consumers read at full speed
	keys    atomic.Int64

	mu    sync.Mutex
	sent  map[int64]string // tracked message key -> topic
	acked map[int64]bool   // tracked messages acknowledged (PUBACK) to their publisher
	ids   map[string]bool  // every client ID used: the sweep ends their sessions
	notes []string

	n chaosCounts
}

type chaosCounts struct {
	connects, connectFails, abrupt, disconnects, disc04, discErr, discExpiry,
	takeovers, kicked97, takenOver8E, wills, ownWills, delayedWills, published,
	tracked, trackedAcked, stuckAcks, retainedRecv, keepAliveWaits, misrouted atomic.Int64
	overTLS, overWS atomic.Int64 // connects over TLS, over WebSocket
}

// misroute records a PUBLISH that reached a client none of whose
// subscriptions matches its topic (reader goroutines).
func (r *chaosRun) misroute(id string, filters []string, m chaosMsg) {
	for _, f := range filters {
		if topicMatch(f, m.topic) {
			return
		}
	}
	r.n.misrouted.Add(1)
	k, kind := chaosKind(m.payload)
	r.note("%s (subscribed to %v) received a PUBLISH on %s (key %d kind %q)", id, filters, m.topic, k, kind)
}

func (r *chaosRun) note(format string, a ...any) {
	r.mu.Lock()
	if len(r.notes) < 20 {
		r.notes = append(r.notes, fmt.Sprintf(format, a...))
	}
	r.mu.Unlock()
}

func (r *chaosRun) stopped() bool {
	select {
	case <-r.stop:
		return true
	default:
		return false
	}
}

// sleep waits d or until stop; false when stopped.
func (r *chaosRun) sleep(d time.Duration) bool {
	select {
	case <-r.stop:
		return false
	case <-time.After(d):
		return true
	}
}

func (r *chaosRun) rng(stream uint64) *rand.Rand { return rand.New(rand.NewPCG(r.seed, stream)) }

// chaosPayload is key (8 bytes), kind ('T' tracked QoS 1, 'U' untracked,
// 'W' will), then padding up to size.
func chaosPayload(key int64, kind byte, size int) []byte {
	b := make([]byte, max(size, 9))
	binary.BigEndian.PutUint64(b, uint64(key))
	b[8] = kind
	return b
}

func chaosKind(p []byte) (int64, byte) {
	if len(p) < 9 {
		return 0, 0
	}
	return int64(binary.BigEndian.Uint64(p)), p[8]
}

func (r *chaosRun) connect(p chaosConnect, h chaosHooks, window int) *chaosClient {
	r.mu.Lock()
	r.ids[p.id] = true
	r.mu.Unlock()
	if p.will != nil {
		r.n.wills.Add(1)
		if p.will.delay > 0 {
			r.n.delayedWills.Add(1)
		}
	}
	// Transports by turns (takeovers across transports included).
	addr := r.addr
	switch (r.n.connects.Load() + int64(len(p.id))) % 3 {
	case 1:
		if r.tlsAddr != "" {
			addr, p.tls = r.tlsAddr, r.tlsCfg
		}
	case 2:
		if r.wsAddr != "" {
			addr, p.ws = r.wsAddr, true
		}
	}
	c, err := dialChaos(addr, p, h, window)
	if err != nil {
		r.n.connectFails.Add(1)
		r.note("connect %s v%d clean=%v tls=%v ws=%v: %v", p.id, p.version, p.clean, p.tls != nil, p.ws, err)
		return nil
	}
	r.n.connects.Add(1)
	switch {
	case p.tls != nil:
		r.n.overTLS.Add(1)
	case p.ws:
		r.n.overWS.Add(1)
	}
	return c
}

// ack records a PUBACK for a tracked message (reader goroutines).
func (r *chaosRun) ack(key int64) {
	if key <= 0 {
		return
	}
	r.n.trackedAcked.Add(1)
	r.mu.Lock()
	r.acked[key] = true
	r.mu.Unlock()
}

// closed counts how the server ended c (v5 DISCONNECT reason) and releases it.
func (r *chaosRun) closed(c *chaosClient) {
	switch c.disc.Load() - 1 {
	case 0x97:
		r.n.kicked97.Add(1)
	case 0x8E:
		r.n.takenOver8E.Add(1)
	}
	c.close()
}

// finish ends c the way rng picks: abrupt close (FIN or RST), DISCONNECT,
// v5 DISCONNECT 0x04 (will published), with an error reason (will
// published), or with a new Session Expiry Interval.
func (r *chaosRun) finish(rng *rand.Rand, c *chaosClient) {
	if !c.alive() {
		r.closed(c) // kicked or taken over meanwhile
		return
	}
	v5 := c.p.version == 5
	switch x := rng.IntN(100); {
	case x < 35:
		r.n.abrupt.Add(1)
		c.abort(rng.IntN(2) == 0)
	case x < 55 || !v5:
		r.n.disconnects.Add(1)
		c.disconnect(0, -1)
	case x < 70:
		r.n.disc04.Add(1)
		c.disconnect(0x04, -1)
	case x < 85:
		r.n.discErr.Add(1)
		errs := []byte{0x80, 0x81, 0x83, 0x90, 0x93, 0x99}
		c.disconnect(errs[rng.IntN(len(errs))], -1)
	default:
		// Session Expiry on DISCONNECT; from 0 to non-0 is a protocol error (0x82).
		r.n.discExpiry.Add(1)
		c.disconnect(0, int64(rng.IntN(3)))
	}
	r.closed(c)
}

func chaosVersion(rng *rand.Rand) byte {
	if rng.IntN(2) == 0 {
		return 4
	}
	return 5
}

// publishOne publishes a random message on c: mostly live topics at QoS 1
// (tracked unless they expire), some QoS 0 and 2, retained QoS 1 messages,
// message expiry, retained clears.
func (r *chaosRun) publishOne(rng *rand.Rand, c *chaosClient) bool {
	var topic string
	var qos byte = 1
	var retain bool
	var expiry uint32
	if rng.IntN(100) < 80 {
		topic = "c/" + strconv.Itoa(rng.IntN(chaosTopics)) + "/s"
		qos = []byte{0, 1, 1, 1, 1, 1, 1, 2}[rng.IntN(8)]
		retain = rng.IntN(30) == 0
	} else {
		topic = "r/" + strconv.Itoa(rng.IntN(chaosRetained))
		retain = true
		if rng.IntN(5) == 0 {
			qos = 0
		}
	}
	if c.p.version == 5 && rng.IntN(10) == 0 {
		expiry = uint32(1 + rng.IntN(2))
	}
	var key int64
	kind := byte('U')
	if qos == 1 && expiry == 0 {
		key, kind = r.keys.Add(1), 'T'
	}
	payload := chaosPayload(key, kind, 40+rng.IntN(400))
	if retain && rng.IntN(20) == 0 {
		payload, key = nil, 0 // clears the retained message
	}
	if key > 0 {
		r.n.tracked.Add(1)
		r.mu.Lock()
		r.sent[key] = topic
		r.mu.Unlock()
	}
	r.n.published.Add(1)
	return c.publish(topic, qos, retain, expiry, payload, key, r.stop) == nil
}

// publisher publishes bursts, waits for its PUBACKs (mostly), and
// reconnects, sometimes by taking over its own live connection.
func (r *chaosRun) publisher(i int, rng *rand.Rand) {
	id := fmt.Sprintf("pub-%d", i)
	var prev *chaosClient
	for !r.stopped() {
		p := chaosConnect{version: chaosVersion(rng), id: id, clean: rng.IntN(4) != 0}
		if p.version == 5 && !p.clean {
			p.expiry = uint32(1 + rng.IntN(3))
		}
		c := r.connect(p, chaosHooks{onAck: r.ack, onMsg: func(m chaosMsg) { r.misroute(id, nil, m) }}, 8)
		if prev != nil {
			r.closed(prev)
			prev = nil
		}
		if c == nil {
			r.sleep(10 * time.Millisecond)
			continue
		}
		for j := 20 + rng.IntN(150); j > 0 && !r.stopped() && c.alive(); j-- {
			if !r.publishOne(rng, c) {
				break
			}
			if rng.IntN(4) == 0 {
				time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond)
			}
		}
		if rng.IntN(10) < 7 || r.stopped() {
			r.waitAcks(c, id)
		}
		if !r.stopped() && rng.IntN(4) == 0 {
			r.n.takeovers.Add(1)
			prev = c // the next CONNECT with the same ID takes it over
			continue
		}
		r.finish(rng, c)
	}
	if prev != nil {
		r.closed(prev)
	}
}

// waitAcks waits for c's outstanding PUBACKs: once the subscribers drain, a
// withheld acknowledgement on a live connection must come.
func (r *chaosRun) waitAcks(c *chaosClient, id string) {
	if !c.waitAcked(4*time.Second) && c.alive() {
		n := c.unacked()
		r.n.stuckAcks.Add(int64(n))
		r.note("%s: %d PUBACK/PUBCOMP not received within 4 s on a live connection", id, n)
	}
}

// churner connects under one of a few shared client IDs with a random
// will (often on the topic it subscribes to itself), subscribes, publishes
// a little, and ends in a random way: abrupt close, DISCONNECT with a
// reason, keep-alive timeout, takeover by its next connection, or an
// abrupt close followed by a clean-start takeover while the will delay is
// pending.
func (r *chaosRun) churner(rng *rand.Rand) {
	var prev *chaosClient // left open: the next connection takes it over
	forceID, forceClean := "", false
	for !r.stopped() {
		id := fmt.Sprintf("ch-%d", rng.IntN(chaosIDs))
		if forceID != "" {
			id = forceID
		}
		p := chaosConnect{version: chaosVersion(rng), id: id, clean: rng.IntN(2) == 0 || forceClean}
		forceID, forceClean = "", false
		if p.version == 5 {
			p.expiry = []uint32{0, 0, 1, 2, 3}[rng.IntN(5)]
		}
		if rng.IntN(6) == 0 {
			p.keepAlive = 1
		}
		own := "c/" + strconv.Itoa(rng.IntN(chaosTopics)) + "/s"
		filter := []string{own, own, "c/+/s", "c/#", "c/" + strconv.Itoa(rng.IntN(chaosTopics)) + "/s"}[rng.IntN(5)]
		if rng.IntN(10) < 7 {
			w := &chaosWill{topic: own, payload: chaosPayload(0, 'W', 20+rng.IntN(100)), qos: byte(rng.IntN(3))}
			if rng.IntN(8) == 0 {
				w.topic, w.retain = "r/"+strconv.Itoa(rng.IntN(chaosRetained)), true
			}
			if p.version == 5 {
				w.delay = []uint32{0, 0, 1, 2}[rng.IntN(4)]
				if rng.IntN(5) == 0 {
					w.expiry = 1
				}
			}
			if topicMatch(filter, w.topic) {
				r.n.ownWills.Add(1)
			}
			p.will = w
		}
		c := r.connect(p, chaosHooks{}, 8)
		if prev != nil {
			r.closed(prev)
			prev = nil
		}
		if c == nil {
			r.sleep(10 * time.Millisecond)
			continue
		}
		if err := c.subscribe(byte(rng.IntN(3)), filter); err != nil {
			r.finish(rng, c)
			continue
		}
		c.noAck.Store(rng.IntN(4) == 0)
		for k := rng.IntN(5); k > 0; k-- {
			r.publishOne(rng, c)
		}
		hold := time.Duration(rng.IntN(300)) * time.Millisecond
		if p.keepAlive > 0 && rng.IntN(3) == 0 {
			r.n.keepAliveWaits.Add(1)
			hold = 1700 * time.Millisecond // silent past 1.5 x keep alive: the gateway closes it, will published
		}
		r.sleep(hold)
		switch x := rng.IntN(100); {
		case x < 20 && !r.stopped():
			r.n.takeovers.Add(1)
			prev, forceID = c, id
		case x < 35 && !r.stopped():
			// Vanish, then come back at once with clean start: the old
			// session's (possibly delayed) will is due [MQTT-3.1.3-9].
			r.n.abrupt.Add(1)
			c.abort(rng.IntN(2) == 0)
			r.closed(c)
			forceID, forceClean = id, true
		default:
			r.finish(rng, c)
		}
	}
	if prev != nil {
		r.closed(prev)
	}
}

// slowPace is a slow consumer's reader pace: about 1 ms per packet and, now
// and then, a stall of 100-400 ms; full speed once the run drains. pr is
// used only by the reader goroutine of one connection at a time.
func (r *chaosRun) slowPace(pr *rand.Rand) func() {
	var until time.Time
	return func() {
		for !r.drain.Load() {
			now := time.Now()
			if now.Before(until) {
				time.Sleep(min(until.Sub(now), 20*time.Millisecond))
				continue
			}
			if pr.IntN(300) == 0 {
				until = now.Add(time.Duration(100+pr.IntN(300)) * time.Millisecond)
				continue
			}
			time.Sleep(time.Duration(pr.IntN(2000)) * time.Microsecond)
			return
		}
	}
}

// flapper is a slow consumer (small socket buffer, small v5 Receive
// Maximum) whose will matches the other subscribers' filters and its own;
// under "disconnect" it is kicked while a publish fans out. It reconnects,
// resuming its session or not.
func (r *chaosRun) flapper(i int, rng, pr *rand.Rand) {
	id := fmt.Sprintf("sl-%d", i)
	for !r.stopped() {
		p := chaosConnect{version: chaosVersion(rng), id: id, clean: rng.IntN(3) == 0, rcvBuf: 4096,
			will: &chaosWill{topic: "c/" + strconv.Itoa(rng.IntN(chaosTopics)) + "/s", payload: chaosPayload(0, 'W', 64), qos: 1}}
		if p.version == 5 {
			p.expiry, p.recvMax = 2, uint16(1+rng.IntN(4))
		}
		r.n.ownWills.Add(1)
		c := r.connect(p, chaosHooks{pace: r.slowPace(pr)}, 8)
		if c == nil {
			r.sleep(10 * time.Millisecond)
			continue
		}
		if err := c.subscribe(1, []string{"c/#", "c/+/s"}[rng.IntN(2)]); err != nil {
			r.finish(rng, c)
			continue
		}
		select {
		case <-c.done:
		case <-r.stop:
		case <-time.After(time.Duration(300+rng.IntN(900)) * time.Millisecond):
		}
		r.finish(rng, c)
	}
}

// retainer subscribes fresh (or resumed) sessions to r/# at QoS 1 mostly,
// receives the retained messages (sometimes without acknowledging them)
// and leaves.
func (r *chaosRun) retainer(i int, rng *rand.Rand) {
	id := fmt.Sprintf("rt-%d", i)
	for !r.stopped() {
		p := chaosConnect{version: chaosVersion(rng), id: id, clean: rng.IntN(3) != 0}
		if p.version == 5 {
			if !p.clean {
				p.expiry = uint32(1 + rng.IntN(2))
			}
			if rng.IntN(3) == 0 {
				p.recvMax = uint16(1 + rng.IntN(8))
			}
		}
		c := r.connect(p, chaosHooks{onMsg: func(m chaosMsg) {
			r.misroute(id, []string{"r/#"}, m)
			if m.retain {
				r.n.retainedRecv.Add(1)
			}
		}}, 8)
		if c == nil {
			r.sleep(10 * time.Millisecond)
			continue
		}
		c.noAck.Store(rng.IntN(3) == 0)
		qos := byte(1)
		if rng.IntN(5) == 0 {
			qos = 0
		}
		if err := c.subscribe(qos, "r/#"); err != nil {
			r.finish(rng, c)
			continue
		}
		r.sleep(time.Duration(50+rng.IntN(250)) * time.Millisecond)
		r.finish(rng, c)
	}
}
