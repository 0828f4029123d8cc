package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestChaos (issue 18) runs, per slow_consumer_policy, a few seconds of
// randomized traffic through real sockets on a 4-loop gateway: v3.1.1 and
// v5 clients with clean and persistent sessions, over TCP, TLS and
// WebSocket by turns (takeovers across transports included), wills (some on the
// client's own subscription, some delayed, some expiring), takeovers of a
// live connection and clean-start takeovers while a will delay is pending,
// abrupt closes (FIN and RST), v5 DISCONNECT 0x00/0x04/error reasons,
// keep-alive timeouts, slow consumers, retained QoS 1 messages delivered to
// fresh subscribers, message and session expiry. It checks that
//   - the process survives (a panic on a loop kills the test binary) and
//     still serves a fresh client at the end;
//   - no QoS 1 message acknowledged to its publisher is missing at a
//     subscriber that was subscribed before it and stayed connected
//     (backpressure: none; drop and disconnect: no more than the drops
//     counted), and no PUBACK stays withheld once the subscribers drain;
//   - no client gets a PUBLISH that none of its subscriptions matches (one
//     connection's bytes written to another's socket);
//   - edgegw_connections, _sessions, _inflight, _queued_messages and
//     _subscriptions return to 0 once every client left and every session ended.
//
// The seed is printed; EDGEGW_CHAOS_SEED=<seed> replays the same choices
// (the interleaving still varies), EDGEGW_CHAOS_DURATION=<duration> sets
// the traffic time per policy (default 4s; 1s with -short). The actors are
// in chaosactors_test.go, the raw client in chaosclient_test.go.
func TestChaos(t *testing.T) {
	seed, dur := chaosParams(t, 4*time.Second)
	// On stderr too: a panic on a loop kills the binary before t.Log output is shown.
	fmt.Fprintf(os.Stderr, "TestChaos: seed %d (replay with EDGEGW_CHAOS_SEED=%d), %s per policy\n", seed, seed, dur)
	t.Logf("seed %d, %s per policy", seed, dur)
	transports := chaosTransports(t)
	for i, policy := range []string{"backpressure", "drop", "disconnect"} {
		t.Run(policy, func(t *testing.T) { runChaos(t, policy, seed, uint64(i), dur, transports) })
	}
}

// chaosParams reads the seed (EDGEGW_CHAOS_SEED, else the clock) and the
// run length per policy (EDGEGW_CHAOS_DURATION, else def; 1 s with -short).
func chaosParams(t *testing.T, def time.Duration) (seed uint64, dur time.Duration) {
	seed = uint64(time.Now().UnixNano())
	if s := os.Getenv("EDGEGW_CHAOS_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("EDGEGW_CHAOS_SEED: %v", err)
		}
		seed = v
	}
	dur = def
	if testing.Short() {
		dur = time.Second
	}
	if s := os.Getenv("EDGEGW_CHAOS_DURATION"); s != "" {
		v, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("EDGEGW_CHAOS_DURATION: %v", err)
		}
		dur = v
	}
	return seed, dur
}

// chaosWatch is a subscriber checked for loss: subscribed before any
// publish, connected for the whole run (unless the gateway closed it).
type chaosWatch struct {
	r       *chaosRun
	name    string
	filters []string
	c       *chaosClient
	mu      sync.Mutex
	got     map[int64]bool
}

func (w *chaosWatch) onMsg(m chaosMsg) {
	w.r.misroute(w.name, w.filters, m)
	if k, kind := chaosKind(m.payload); kind == 'T' {
		w.mu.Lock()
		w.got[k] = true
		w.mu.Unlock()
	}
}

// missing lists the tracked messages acknowledged to their publisher on a
// topic w subscribes to that w did not receive.
func (r *chaosRun) missing(w *chaosWatch) []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	var miss []int64
	for k := range r.acked {
		if w.got[k] {
			continue
		}
		for _, f := range w.filters {
			if topicMatch(f, r.sent[k]) {
				miss = append(miss, k)
				break
			}
		}
	}
	slices.Sort(miss)
	return miss
}

// chaosWatchSpecs are the watched subscribers: four fast ones, and two
// slow ones with a will on their own filter (under "disconnect" they are
// kicked, and their will fans out to the others).
func chaosWatchSpecs() []chaosWatchSpec {
	willOn := func(topic string) *chaosWill {
		return &chaosWill{topic: topic, payload: chaosPayload(0, 'W', 64), qos: 1}
	}
	return []chaosWatchSpec{
		{chaosConnect{version: 4, id: "obs-0", clean: true}, []string{"c/#"}, false},
		{chaosConnect{version: 5, id: "obs-1", expiry: 60}, []string{"c/+/s"}, false},
		{chaosConnect{version: 5, id: "obs-2", clean: true}, []string{"c/1/s", "c/5/s"}, false},
		{chaosConnect{version: 4, id: "obs-3"}, []string{"#"}, false},
		{chaosConnect{version: 4, id: "stay-0", clean: true, rcvBuf: 4096, will: willOn("c/3/s")}, []string{"c/#"}, true},
		{chaosConnect{version: 5, id: "stay-1", expiry: 60, recvMax: 2, rcvBuf: 4096, will: willOn("c/6/s")}, []string{"c/+/s"}, true},
	}
}

type chaosWatchSpec struct {
	p       chaosConnect
	filters []string
	slow    bool
}

// watch connects and subscribes the watched subscribers; their
// subscriptions exist before any publish.
func (r *chaosRun) watch(t *testing.T) []*chaosWatch {
	var watches []*chaosWatch
	for i, s := range chaosWatchSpecs() {
		w := &chaosWatch{r: r, name: s.p.id, filters: s.filters, got: map[int64]bool{}}
		h := chaosHooks{onMsg: w.onMsg}
		if s.slow {
			h.pace = r.slowPace(r.rng(1000 + uint64(i)))
		}
		c := r.connect(s.p, h, 8)
		if c == nil {
			t.Fatalf("watched subscriber %s: %v", s.p.id, r.notes)
		}
		if err := c.subscribe(1, s.filters...); err != nil {
			t.Fatalf("watched subscriber %s: subscribe: %v", s.p.id, err)
		}
		w.c = c
		watches = append(watches, w)
	}
	return watches
}

// act runs the actors for dur, then stops them and waits until they all
// returned (each of their operations is bounded in time).
func (r *chaosRun) act(t *testing.T, dur time.Duration) {
	var wg sync.WaitGroup
	stream := uint64(0)
	spawn := func(f func(rng *rand.Rand)) {
		stream++
		rng := r.rng(stream)
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(rng)
		}()
	}
	for i := range 4 {
		spawn(func(rng *rand.Rand) { r.publisher(i, rng) })
	}
	for range 5 {
		spawn(func(rng *rand.Rand) { r.churner(rng) })
	}
	for i := range 3 {
		pr := r.rng(2000 + uint64(i))
		spawn(func(rng *rand.Rand) { r.flapper(i, rng, pr) })
	}
	for i := range 2 {
		spawn(func(rng *rand.Rand) { r.retainer(i, rng) })
	}
	time.Sleep(dur)
	r.drain.Store(true)
	close(r.stop)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("actors did not stop within 20 s after the run: a client operation hung (%v)", r.notes)
	}
}

// checkLoss waits until the watched subscribers caught up (nothing moved
// for 500 ms, at most 5 s), reports what each one that stayed connected
// misses (an error under backpressure), and disconnects them. It returns
// the total missing and how many stayed.
func (r *chaosRun) checkLoss(t *testing.T, watches []*chaosWatch) (lost, stayed int) {
	var miss [][]int64
	last, lastChange := -1, time.Now()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		miss = miss[:0]
		total := 0
		for _, w := range watches {
			m := r.missing(w)
			miss = append(miss, m)
			if w.c.alive() {
				total += len(m)
			}
		}
		if total != last {
			last, lastChange = total, time.Now()
		}
		if total == 0 || time.Since(lastChange) > 500*time.Millisecond {
			break
		}
	}
	for i, w := range watches {
		if !w.c.alive() {
			why := "no DISCONNECT"
			if d := w.c.disc.Load(); d > 0 {
				why = fmt.Sprintf("DISCONNECT 0x%02x", d-1)
			}
			t.Logf("%s: closed by the gateway during the run (%s); not checked for loss", w.name, why)
			r.closed(w.c)
			continue
		}
		stayed++
		if m := miss[i]; len(m) > 0 {
			lost += len(m)
			r.mu.Lock()
			var ex []string
			for _, k := range m[:min(len(m), 5)] {
				ex = append(ex, fmt.Sprintf("%d@%s", k, r.sent[k]))
			}
			r.mu.Unlock()
			w.mu.Lock()
			got := len(w.got)
			w.mu.Unlock()
			msg := fmt.Sprintf("%s (%v, stayed connected, %d received, %d PUBLISH packets read): %d acknowledged QoS 1 messages never arrived, e.g. %s",
				w.name, w.filters, got, w.c.received.Load(), len(m), strings.Join(ex, " "))
			msg += "; gateway side: " + probeClient(r.g, w.name)
			if r.policy == "backpressure" {
				t.Errorf("%s", msg)
			} else {
				t.Logf("%s", msg)
			}
		}
		w.c.disconnect(0, -1)
	}
	return lost, stayed
}

// sweep ends every session: per client ID used, a clean start with expiry
// 0 and a normal DISCONNECT.
func (r *chaosRun) sweep(t *testing.T) {
	r.mu.Lock()
	ids := make([]string, 0, len(r.ids))
	for id := range r.ids {
		ids = append(ids, id)
	}
	r.mu.Unlock()
	slices.Sort(ids)
	for _, id := range ids {
		c, err := dialChaos(r.addr, chaosConnect{version: 5, id: id, clean: true}, chaosHooks{}, 1)
		if err != nil {
			t.Errorf("sweep: connect %s: %v", id, err)
			continue
		}
		c.disconnect(0, -1)
	}
}

// checkFresh: a new client subscribes, publishes QoS 1 to itself, gets the
// PUBACK and its message.
func checkFresh(t *testing.T, addr string) {
	got := make(chan chaosMsg, 1)
	acked := make(chan int64, 1)
	c, err := dialChaos(addr, chaosConnect{version: 5, id: "fresh", clean: true},
		chaosHooks{onMsg: func(m chaosMsg) { got <- m }, onAck: func(k int64) { acked <- k }}, 1)
	if err != nil {
		t.Fatalf("the gateway does not answer a fresh client after the run: %v", err)
	}
	defer c.disconnect(0, -1)
	if err := c.subscribe(1, "fresh/x"); err != nil {
		t.Fatalf("fresh client: subscribe: %v", err)
	}
	if err := c.publish("fresh/x", 1, false, 0, []byte("hello"), 1, nil); err != nil {
		t.Fatalf("fresh client: publish: %v", err)
	}
	select {
	case <-acked:
	case <-time.After(5 * time.Second):
		t.Fatal("fresh client: no PUBACK")
	}
	select {
	case m := <-got:
		if m.topic != "fresh/x" || string(m.payload) != "hello" {
			t.Fatalf("fresh client got %s %q", m.topic, m.payload)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("fresh client: its own message never arrived")
	}
}

// checkGauges waits up to 3 s for every gauge to read 0 and returns them.
func checkGauges(t *testing.T, m *metricSet) string {
	gauges := func() string {
		return fmt.Sprintf("edgegw_connections=%d edgegw_sessions=%d edgegw_inflight=%d edgegw_queued_messages=%d edgegw_subscriptions=%d",
			m.conns.Load(), m.sessions.Load(), m.inflight.Load(), m.queued.Load(), m.subscribers.Load())
	}
	deadline := time.Now().Add(3 * time.Second)
	for m.conns.Load() != 0 || m.sessions.Load() != 0 || m.inflight.Load() != 0 || m.queued.Load() != 0 || m.subscribers.Load() != 0 {
		if time.Now().After(deadline) {
			t.Errorf("gauges stuck after every client left and every session ended: %s", gauges())
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(30 * time.Millisecond) // counters are folded per tick
	return gauges()
}

// chaosTransports turns on the TLS and WebSocket listeners, which the
// actors' connections then use by turns with plain TCP (runChaos).
func chaosTransports(t *testing.T) func(*Config) {
	certFile, keyFile, _ := selfSigned(t)
	return func(c *Config) {
		c.Listeners.TLS, c.Listeners.TLSCert, c.Listeners.TLSKey = "127.0.0.1:0", certFile, keyFile
		c.Listeners.WS = "127.0.0.1:0"
	}
}

func runChaos(t *testing.T, policy string, seed, salt uint64, dur time.Duration, more ...func(*Config)) {
	quiet := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelError}))
	g := newTestGatewayLog(t, func(c *Config) {
		c.Engine.Loops = 4 // takeovers both on the same loop and across loops
		c.Limits.SlowConsumerPolicy = policy
		// Slow consumers pass it in every run (a 100 ms stall queues more);
		// fast ones do not, although one wake's fan-out counts against it.
		c.Limits.MaxOutboundBytes = 32 << 10
		c.Session.MaxSessionExpiry = Duration(3 * time.Second) // v3 persistent sessions expire within the run too
		c.Session.MaxOfflineMessages = 64
		for _, f := range more {
			f(c)
		}
	}, quiet)
	r := &chaosRun{g: g, addr: g.Addr("tcp"), seed: seed ^ salt<<56, policy: policy, stop: make(chan struct{}),
		sent: map[int64]string{}, acked: map[int64]bool{}, ids: map[string]bool{}}
	if a := g.Addr("tls"); a != "" {
		pem, err := os.ReadFile(g.cfg.Listeners.TLSCert)
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(pem)
		r.tlsAddr, r.tlsCfg = a, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}
	}
	r.wsAddr = g.Addr("ws")

	watches := r.watch(t)
	r.act(t, dur)
	tStop := time.Now()
	lost, stayed := r.checkLoss(t, watches)
	tCaught := time.Since(tStop)
	r.sweep(t)
	checkFresh(t, r.addr)
	gauges := checkGauges(t, g.m)

	cnt := g.m.counterValue
	droppedSlow := cnt(`edgegw_dropped_total{reason="slow_consumer"}`)
	droppedInbox := cnt(`edgegw_dropped_total{reason="inbox_full"}`)
	closedSlow := cnt(`edgegw_connections_closed_total{reason="slow_consumer"}`)
	withheld := cnt("edgegw_backpressure_acks_withheld_total")
	n := &r.n
	t.Logf("seed %d (stream salt %d) policy %s: %d connects (%d failed; %d over TLS, %d over WebSocket), %d published (%d tracked QoS 1, %d acknowledged), "+
		"%d wills (%d on a filter of the same client, %d delayed), %d takeovers (%d saw 0x8E), %d abrupt closes, "+
		"%d DISCONNECT 0x04, %d DISCONNECT with an error reason, %d with a session expiry, %d keep-alive expiries, "+
		"%d retained deliveries; gateway: dropped slow_consumer=%d inbox_full=%d, closed slow_consumer=%d (%d saw 0x97), "+
		"acks withheld=%d; %d watched subscribers stayed, %d messages missing, %d misrouted; %s",
		seed, salt, policy, n.connects.Load(), n.connectFails.Load(), n.overTLS.Load(), n.overWS.Load(), n.published.Load(), n.tracked.Load(), n.trackedAcked.Load(),
		n.wills.Load(), n.ownWills.Load(), n.delayedWills.Load(), n.takeovers.Load(), n.takenOver8E.Load(), n.abrupt.Load(),
		n.disc04.Load(), n.discErr.Load(), n.discExpiry.Load(), n.keepAliveWaits.Load(),
		n.retainedRecv.Load(), droppedSlow, droppedInbox, closedSlow, n.kicked97.Load(), withheld, stayed, lost, n.misrouted.Load(), gauges)
	t.Logf("after the run: subscribers caught up in %v, all checked in %v",
		tCaught.Round(time.Millisecond), time.Since(tStop).Round(time.Millisecond))
	for _, s := range r.notes {
		t.Logf("note: %s", s)
	}

	if g.cfg.Engine.FlushDelay > 0 && cnt(`edgegw_flushes_total{trigger="delay"}`) == 0 {
		t.Errorf("engine.flush_delay %v: no held delivery was ever flushed at its deadline", g.cfg.Engine.FlushDelay.D())
	}
	if n.stuckAcks.Load() > 0 {
		t.Errorf("%d PUBACKs never came on live publisher connections after the subscribers drained", n.stuckAcks.Load())
	}
	if n.misrouted.Load() > 0 {
		t.Errorf("%d PUBLISH packets reached a client that has no matching subscription (see the notes)", n.misrouted.Load())
	}
	if n.trackedAcked.Load() == 0 {
		t.Errorf("no tracked QoS 1 message was acknowledged: the run checked nothing")
	}
	if stayed == 0 {
		t.Errorf("no watched subscriber stayed connected: the loss check checked nothing")
	}
	counted := droppedSlow + droppedInbox
	if lost > 0 {
		// Which path lost them: every drop reason, and the closes.
		var why []string
		for _, l := range dropLabels {
			if v := cnt(`edgegw_dropped_total{reason="` + l + `"}`); v > 0 {
				why = append(why, fmt.Sprintf("%s=%d", l, v))
			}
		}
		t.Logf("loss diagnosis: dropped %s", strings.Join(why, " "))
	}
	switch policy {
	case "backpressure":
		if closedSlow != 0 || n.kicked97.Load() != 0 {
			t.Errorf("policy backpressure closed %d slow consumers (%d saw 0x97)", closedSlow, n.kicked97.Load())
		}
		if withheld == 0 {
			t.Errorf("no publisher ack was ever withheld: the slow consumers never went over the bound")
		}
	case "drop":
		if uint64(lost) > counted {
			t.Errorf("policy drop: %d acknowledged messages missing at connected subscribers, only %d drops counted", lost, counted)
		}
		if closedSlow != 0 {
			t.Errorf("policy drop closed %d slow consumers", closedSlow)
		}
		if droppedSlow == 0 {
			t.Errorf("policy drop dropped nothing: the slow consumers never went over the bound")
		}
	case "disconnect":
		if uint64(lost) > counted {
			t.Errorf("policy disconnect: %d acknowledged messages missing at connected subscribers, only %d drops counted", lost, counted)
		}
		if uint64(n.kicked97.Load()) > closedSlow {
			t.Errorf("%d clients saw DISCONNECT 0x97, only %d slow-consumer closes counted", n.kicked97.Load(), closedSlow)
		}
		if closedSlow == 0 {
			t.Errorf("policy disconnect closed no slow consumer: the slow consumers never went over the bound")
		}
	}
}
