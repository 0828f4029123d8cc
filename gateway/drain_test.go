package gateway

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// drainLog collects the gateway's log lines for the drain tests.
type drainLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (d *drainLog) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.b.Write(p)
}

func (d *drainLog) String() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.b.String()
}

// drainRig is an in-process gateway, drainPubs raw MQTT 3.1.1 publishers
// sending QoS 1 with a window of drainWindow unacknowledged PUBLISHes each,
// and one raw QoS 1 subscriber that reads slowly (or stops reading). It
// records what each side saw.
type drainRig struct {
	g   *Gateway
	log *drainLog

	began  atomic.Bool // Shutdown started (its draining flag is visible)
	cutoff atomic.Bool // a PUBLISH written from here on must never be acknowledged
	stop   chan struct{}

	mu       sync.Mutex
	acked    map[string]bool // payloads PUBACKed to their publisher
	got      map[string]bool // payloads the subscriber read
	gotAfter int             // read after Shutdown began
	late     []string        // PUBACKs of PUBLISHes written after cutoff
	dup      int             // payloads read twice

	subStopped chan struct{} // closed when the subscriber stopped reading (stopAt)
	pubs       sync.WaitGroup
	sub        sync.WaitGroup
}

const (
	drainPubs   = 50
	drainWindow = 8
	drainTopic  = "drain/t"
)

func newDrainRig(t *testing.T) *drainRig {
	t.Helper()
	r := &drainRig{log: &drainLog{}, stop: make(chan struct{}), acked: map[string]bool{}, got: map[string]bool{},
		subStopped: make(chan struct{})}
	cfg := Default()
	cfg.Listeners.TCP, cfg.Listeners.WS, cfg.HTTP.Addr = "127.0.0.1:0", "", ""
	cfg.Engine.Loops = 4
	cfg.Engine.TickInterval = Duration(10 * time.Millisecond)
	cfg.Limits.MaxOutboundBytes = 16 << 10 // a small budget: the subscriber falls behind soon
	g, err := New(cfg, slog.New(slog.NewTextHandler(r.log, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	r.g = g
	t.Cleanup(func() {
		close(r.stop)
		if !g.draining.Load() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = g.Shutdown(ctx)
		}
	})
	return r
}

// dialMQTT opens a raw MQTT 3.1.1 connection and reads its CONNACK.
func (r *drainRig) dialMQTT(t *testing.T, id string) *rawConn {
	t.Helper()
	return coDial(t, r.g.Addr("tcp"), id)
}

// subscriber subscribes to drainTopic at QoS 1 and reads in a goroutine,
// acknowledging each message at once; pause is called after each message
// (slowness). After stopAt messages (0 = never) it stops reading and
// acknowledging for good, leaving the socket open.
func (r *drainRig) subscriber(t *testing.T, pause func(n int), stopAt int) {
	t.Helper()
	rc := r.dialMQTT(t, "drain-sub")
	_, _ = rc.Write(frame(0x82, append([]byte{0, 1, 0, byte(len(drainTopic))}, append([]byte(drainTopic), 1)...)))
	if h, body, err := rc.readPacket(5 * time.Second); err != nil || h != 0x90 || body[len(body)-1] != 1 {
		t.Fatalf("SUBACK %x %x %v", h, body, err)
	}
	r.sub.Add(1)
	go func() {
		defer r.sub.Done()
		for n := 1; ; n++ {
			h, body, err := rc.readPacket(time.Minute)
			if err != nil {
				return // closed by the drain
			}
			if h>>4 != 3 {
				continue
			}
			tl := int(body[0])<<8 | int(body[1])
			id := body[2+tl : 4+tl]
			payload := string(body[4+tl:])
			r.mu.Lock()
			if r.got[payload] {
				r.dup++
			}
			r.got[payload] = true
			if r.began.Load() {
				r.gotAfter++
			}
			r.mu.Unlock()
			if _, err := rc.Write([]byte{0x40, 2, id[0], id[1]}); err != nil {
				return
			}
			if n == stopAt {
				close(r.subStopped)
				<-r.stop // stop reading: the socket stays open until the test ends
				return
			}
			pause(n)
		}
	}()
}

// publishers starts drainPubs publishers, each sending up to perPub QoS 1
// messages with at most drainWindow unacknowledged, until the gateway closes
// them or the test ends.
func (r *drainRig) publishers(t *testing.T, perPub int) {
	t.Helper()
	for p := 0; p < drainPubs; p++ {
		rc := r.dialMQTT(t, "drain-pub-"+strconv.Itoa(p))
		sem := make(chan struct{}, drainWindow)
		done := make(chan struct{})
		after := make([]atomic.Bool, perPub+1) // by packet ID: written after cutoff
		key := func(id int) string { return fmt.Sprintf("p%d-%d", p, id) }
		r.pubs.Add(2)
		go func() { // reader: PUBACKs until the gateway closes the connection
			defer r.pubs.Done()
			defer close(done)
			for {
				h, body, err := rc.readPacket(time.Minute)
				if err != nil {
					return
				}
				if h != 0x40 || len(body) != 2 {
					continue
				}
				id := int(body[0])<<8 | int(body[1])
				r.mu.Lock()
				r.acked[key(id)] = true
				if after[id].Load() {
					r.late = append(r.late, key(id))
				}
				r.mu.Unlock()
				select {
				case <-sem:
				default:
				}
			}
		}()
		go func() { // writer
			defer r.pubs.Done()
			for id := 1; id <= perPub; id++ {
				select {
				case sem <- struct{}{}:
				case <-done:
					return
				case <-r.stop:
					return
				}
				after[id].Store(r.cutoff.Load())
				payload := key(id)
				body := append([]byte{0, byte(len(drainTopic))}, drainTopic...)
				body = append(body, byte(id>>8), byte(id))
				body = append(body, payload...)
				if _, err := rc.Write(frame(0x32, body)); err != nil {
					return
				}
			}
		}()
	}
}

// startShutdown calls Shutdown with timeout in a goroutine, marks the
// cutoff once the gateway is draining, and returns Shutdown's result.
func (r *drainRig) startShutdown(t *testing.T, timeout time.Duration) <-chan error {
	t.Helper()
	res := make(chan error, 1)
	r.began.Store(true)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		res <- r.g.Shutdown(ctx)
	}()
	eventually(t, "draining", r.g.draining.Load)
	r.cutoff.Store(true)
	return res
}

// shutdownResult waits for Shutdown's result.
func shutdownResult(t *testing.T, res <-chan error, timeout time.Duration) error {
	t.Helper()
	select {
	case err := <-res:
		return err
	case <-time.After(timeout + 10*time.Second):
		t.Fatal("Shutdown did not return")
	}
	return nil
}

// waitBacklog waits until backpressure withheld acknowledgements: the
// subscriber is behind and the gateway holds messages for it.
func (r *drainRig) waitBacklog(t *testing.T) {
	t.Helper()
	eventually(t, "publisher acks withheld (subscriber behind)", func() bool { return r.g.m.parked.Get() > 0 })
}

// finish waits for every client goroutine to end (the gateway closed
// them) and returns the acknowledged payloads the subscriber never read.
func (r *drainRig) finish(t *testing.T) (lost []string) {
	t.Helper()
	waitGroup(t, &r.pubs, "publishers closed")
	r.mu.Lock()
	defer r.mu.Unlock()
	for k := range r.acked {
		if !r.got[k] {
			lost = append(lost, k)
		}
	}
	if len(r.late) > 0 {
		t.Errorf("%d PUBLISHes written after the drain began were acknowledged, e.g. %s", len(r.late), r.late[0])
	}
	return lost
}

func waitGroup(t *testing.T, wg *sync.WaitGroup, what string) {
	t.Helper()
	ch := make(chan struct{})
	go func() { wg.Wait(); close(ch) }()
	select {
	case <-ch:
	case <-time.After(20 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// holder is a client that stays connected through a drain, because it
// withholds the PUBACK of the one message it received until release is
// closed, and publishes: what it gets acknowledged shows whether the gateway
// acknowledged anything after Shutdown began.
type holder struct {
	rc      *rawConn
	mu      sync.Mutex
	acks    map[int]bool  // PUBACKs received, by packet ID
	held    chan struct{} // closed when the message to withhold arrived
	release chan struct{}
}

const holderTopic = "drain/x"

func (r *drainRig) newHolder(t *testing.T) *holder {
	t.Helper()
	h := &holder{rc: r.dialMQTT(t, "drain-holder"), acks: map[int]bool{}, held: make(chan struct{}), release: make(chan struct{})}
	_, _ = h.rc.Write(frame(0x82, append([]byte{0, 1, 0, byte(len(holderTopic))}, append([]byte(holderTopic), 1)...)))
	if typ, _, err := h.rc.readPacket(5 * time.Second); err != nil || typ != 0x90 {
		t.Fatalf("holder SUBACK %x %v", typ, err)
	}
	r.sub.Add(1)
	go func() {
		defer r.sub.Done()
		for {
			typ, body, err := h.rc.readPacket(time.Minute)
			if err != nil {
				return
			}
			switch typ >> 4 {
			case 4:
				h.mu.Lock()
				h.acks[int(body[0])<<8|int(body[1])] = true
				h.mu.Unlock()
			case 3:
				tl := int(body[0])<<8 | int(body[1])
				id := append([]byte(nil), body[2+tl:4+tl]...)
				close(h.held)
				go func() {
					select {
					case <-h.release:
						_, _ = h.rc.Write([]byte{0x40, 2, id[0], id[1]})
					case <-r.stop:
					}
				}()
			}
		}
	}()
	h.publish(1, holderTopic) // to itself: the message it withholds
	select {
	case <-h.held:
	case <-time.After(5 * time.Second):
		t.Fatal("holder: its own message did not come")
	}
	return h
}

func (h *holder) publish(id int, topic string) {
	body := append([]byte{0, byte(len(topic))}, topic...)
	body = append(body, byte(id>>8), byte(id), 'h')
	_, _ = h.rc.Write(frame(0x32, body))
}

func (h *holder) acked(id int) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.acks[id]
}

// TestDrainDeliversAcknowledged: with drain time to spare, Shutdown delivers
// everything it acknowledged to a subscriber that fell behind (session
// queue, inflight window, deliveries between loops, messages whose ack was
// withheld), acknowledges no PUBLISH after it began, and only then closes.
func TestDrainDeliversAcknowledged(t *testing.T) {
	r := newDrainRig(t)
	var paused atomic.Bool
	resume := make(chan struct{})
	r.subscriber(t, func(n int) {
		if paused.Load() {
			<-resume
		}
		if n%10 == 0 {
			time.Sleep(2 * time.Millisecond) // reads slowly
		}
	}, 0)
	h := r.newHolder(t)
	r.publishers(t, 400)
	r.waitBacklog(t)
	// The subscriber stops reading: it stays congested, so the holder's
	// PUBLISHes to its topic have their PUBACKs parked until it drains,
	// which it does only after Shutdown began.
	paused.Store(true)
	time.Sleep(100 * time.Millisecond)
	for id := 101; id <= 105; id++ {
		h.publish(id, drainTopic)
	}
	time.Sleep(300 * time.Millisecond)
	for id := 101; id <= 105; id++ {
		if h.acked(id) {
			t.Fatalf("holder's PUBLISH %d was acknowledged at once: the subscriber is not congested", id)
		}
	}
	res := r.startShutdown(t, 30*time.Second)
	close(resume)
	for id := 201; id <= 205; id++ {
		h.publish(id, "drain/none") // nobody subscribed: acknowledged at once, unless draining
	}
	waitGroup(t, &r.pubs, "publishers closed")
	eventually(t, "subscriber done", func() bool { return r.g.m.conns.Load() <= 1 }) // the holder is left
	close(h.release)
	if err := shutdownResult(t, res, 30*time.Second); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	for id := 101; id <= 205; id++ {
		if h.acked(id) {
			t.Errorf("holder's PUBLISH %d acknowledged after Shutdown began", id)
		}
	}
	lost := r.finish(t)
	waitGroup(t, &r.sub, "subscriber closed")
	r.mu.Lock()
	acked, got, after := len(r.acked), len(r.got), r.gotAfter
	r.mu.Unlock()
	t.Logf("acknowledged %d, received %d (%d after Shutdown began), lost %d", acked, got, after, len(lost))
	if len(lost) > 0 {
		t.Fatalf("%d acknowledged messages never reached the subscriber, e.g. %s", len(lost), lost[0])
	}
	if after == 0 {
		t.Fatal("nothing was delivered during the drain: the test held no backlog")
	}
	for i := range r.g.m.undelivered {
		if n := r.g.m.undelivered[i].Get(); n != 0 {
			t.Errorf("edgegw_drain_undelivered_total{reason=%q} = %d, want 0", drainLabels[i], n)
		}
	}
	if !bytes.Contains([]byte(r.log.String()), []byte("drain delivered every acknowledged message")) {
		t.Errorf("no drain summary in the log:\n%s", r.log.String())
	}
}

var undeliveredRE = regexp.MustCompile(`drain ended with acknowledged messages not delivered" undelivered=(\d+) queued=(\d+) inflight=(\d+) offline=(\d+)`)

// TestDrainTimeoutCountsUndelivered: when drain.timeout ends the drain
// (the subscriber stopped reading), the log and
// edgegw_drain_undelivered_total give exactly the number of messages
// acknowledged to their publishers that the subscriber never read.
func TestDrainTimeoutCountsUndelivered(t *testing.T) {
	r := newDrainRig(t)
	r.subscriber(t, func(int) {}, 300)
	r.publishers(t, 400)
	<-r.subStopped
	r.waitBacklog(t)
	time.Sleep(300 * time.Millisecond) // the subscriber's last acks are in; the publishers' windows are full
	err := shutdownResult(t, r.startShutdown(t, 500*time.Millisecond), 500*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v, want the deadline", err)
	}
	lost := r.finish(t)
	r.mu.Lock()
	acked, got := len(r.acked), len(r.got)
	r.mu.Unlock()
	m := undeliveredRE.FindStringSubmatch(r.log.String())
	if m == nil {
		t.Fatalf("no undelivered count in the log:\n%s", r.log.String())
	}
	t.Logf("acknowledged %d, received %d, acknowledged and not received %d; log: %s", acked, got, len(lost), m[0])
	if len(lost) == 0 {
		t.Fatal("the subscriber received everything: the test held no backlog")
	}
	if n, _ := strconv.Atoi(m[1]); n != len(lost) {
		t.Errorf("log says %d undelivered, %d acknowledged messages were not received", n, len(lost))
	}
	q, f := r.g.m.undelivered[undeliveredQueued].Get(), r.g.m.undelivered[undeliveredInflight].Get()
	if int(q+f) != len(lost) {
		t.Errorf("edgegw_drain_undelivered_total queued %d + inflight %d, want %d", q, f, len(lost))
	}
	if o := r.g.m.undelivered[undeliveredOffline].Get(); o != 0 {
		t.Errorf("offline %d, want 0 (no offline sessions)", o)
	}
}

// TestDrainCountsOfflineQueues: messages acknowledged for an offline
// persistent session are not the drain's to deliver, but nothing persists
// them past the exit: they are counted (reason "offline") and logged.
func TestDrainCountsOfflineQueues(t *testing.T) {
	r := newDrainRig(t)
	nc, err := net.Dial("tcp", r.g.Addr("tcp"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	rc := &rawConn{Conn: nc, r: bufio.NewReader(nc)}
	_, _ = rc.Write(connectPacket(4, "drain-offline", 0, false)) // a persistent session
	if h, _, err := rc.readPacket(5 * time.Second); err != nil || h != 0x20 {
		t.Fatalf("CONNACK %x %v", h, err)
	}
	_, _ = rc.Write(frame(0x82, append([]byte{0, 1, 0, 7}, append([]byte("drain/o"), 1)...)))
	if h, _, err := rc.readPacket(5 * time.Second); err != nil || h != 0x90 {
		t.Fatalf("SUBACK %x %v", h, err)
	}
	_, _ = rc.Write([]byte{0xE0, 0})
	rc.expectClosed(t)
	eventually(t, "subscriber offline", func() bool { return r.g.m.conns.Load() == 0 })
	pub := r.dialMQTT(t, "drain-offline-pub")
	const n = 7
	for id := 1; id <= n; id++ {
		_, _ = pub.Write(frame(0x32, append([]byte{0, 7, 'd', 'r', 'a', 'i', 'n', '/', 'o', 0, byte(id)}, 'm')))
		if h, _, err := pub.readPacket(5 * time.Second); err != nil || h != 0x40 {
			t.Fatalf("PUBACK %x %v", h, err)
		}
	}
	if err := shutdownResult(t, r.startShutdown(t, 5*time.Second), 5*time.Second); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if o := r.g.m.undelivered[undeliveredOffline].Get(); o != n {
		t.Errorf(`edgegw_drain_undelivered_total{reason="offline"} = %d, want %d`, o, n)
	}
	m := undeliveredRE.FindStringSubmatch(r.log.String())
	if m == nil || m[1] != "0" || m[4] != strconv.Itoa(n) || !bytes.Contains([]byte(r.log.String()), []byte("lost at exit")) {
		t.Errorf("drain log does not count %d offline messages lost at exit:\n%s", n, r.log.String())
	}
}
