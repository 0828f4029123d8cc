package gateway

// dxClient: the hand-driven MQTT client of the defect tests (defects_test.go).

import (
	"bufio"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"edgegw/mqttcodec"
)

// dxClient is a hand-driven MQTT 3.1.1/5.0 client on a real socket. The
// t-taking methods run on the test goroutine; readFrame may run on one other
// goroutine and write on any (writes are serialised).
type dxClient struct {
	t     testing.TB
	nc    net.Conn
	r     *bufio.Reader
	v     mqttcodec.Version
	wmu   sync.Mutex
	id    uint16
	stash []*mqttcodec.Publish // PUBLISH read while waiting for something else
}

// dxOpts is one CONNECT.
type dxOpts struct {
	v       mqttcodec.Version
	id      string
	clean   bool
	expiry  uint32 // v5 Session Expiry Interval, seconds (0 = absent)
	recvMax uint16 // v5 Receive Maximum (0 = absent)
	rcvBuf  int    // SO_RCVBUF set before connect (0 = the kernel's)
	will    *dxWill
}

// dxWill is a will; delay and expiry are v5 properties (0 = absent).
type dxWill struct {
	topic, payload string
	qos            byte
	delay, expiry  uint32
}

// dxConnect dials g, sends the CONNECT of o and returns the client and its
// CONNACK, which must accept.
func dxConnect(t testing.TB, g *Gateway, o dxOpts) (*dxClient, mqttcodec.Connack) {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if o.rcvBuf > 0 {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			if err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, o.rcvBuf)
			}); err != nil {
				return err
			}
			return serr
		}
	}
	nc, err := d.Dial("tcp", g.Addr("tcp"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &dxClient{t: t, nc: nc, r: bufio.NewReaderSize(nc, 64<<10), v: o.v}
	p := mqttcodec.Connect{Version: o.v, CleanStart: o.clean, ClientID: []byte(o.id)}
	if o.v == mqttcodec.V5 {
		if o.expiry > 0 {
			p.Props.SessionExpiry = o.expiry
			p.Props.Set(mqttcodec.PropSessionExpiry)
		}
		if o.recvMax > 0 {
			p.Props.ReceiveMaximum = o.recvMax
			p.Props.Set(mqttcodec.PropReceiveMaximum)
		}
	}
	if w := o.will; w != nil {
		p.WillFlag, p.WillQoS, p.WillTopic, p.WillPayload = true, w.qos, []byte(w.topic), []byte(w.payload)
		if w.delay > 0 {
			p.WillProps.WillDelay = w.delay
			p.WillProps.Set(mqttcodec.PropWillDelay)
		}
		if w.expiry > 0 {
			p.WillProps.MessageExpiry = w.expiry
			p.WillProps.Set(mqttcodec.PropMessageExpiry)
		}
	}
	c.mustWrite(mqttcodec.AppendConnect(nil, &p))
	f := c.mustRead(5 * time.Second)
	var ca mqttcodec.Connack
	if mqttcodec.TypeOf(f) != mqttcodec.CONNACK {
		t.Fatalf("%s: got %v, want CONNACK", o.id, mqttcodec.TypeOf(f))
	}
	if err := mqttcodec.DecodeConnack(f, o.v, &ca); err != nil || ca.Reason != 0 {
		t.Fatalf("%s: CONNACK %+v, %v", o.id, ca, err)
	}
	return c, ca
}

// use makes c report to t (a subtest using a client of its parent).
func (c *dxClient) use(t testing.TB) { c.t = t }

func (c *dxClient) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err := c.nc.Write(b)
	return err
}

func (c *dxClient) mustWrite(b []byte) {
	c.t.Helper()
	if err := c.write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// readFrame reads one whole packet (fixed header included).
func (c *dxClient) readFrame(d time.Duration) ([]byte, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(d))
	hdr := make([]byte, 1, 5)
	var err error
	if hdr[0], err = c.r.ReadByte(); err != nil {
		return nil, err
	}
	n, mul := 0, 1
	for i := 0; i < 4; i++ {
		b, err := c.r.ReadByte()
		if err != nil {
			return nil, err
		}
		hdr = append(hdr, b)
		n += int(b&127) * mul
		mul *= 128
		if b < 128 {
			break
		}
	}
	f := make([]byte, len(hdr)+n)
	copy(f, hdr)
	if _, err := io.ReadFull(c.r, f[len(hdr):]); err != nil {
		return nil, err
	}
	return f, nil
}

func (c *dxClient) mustRead(d time.Duration) []byte {
	c.t.Helper()
	f, err := c.readFrame(d)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return f
}

func (c *dxClient) decode(f []byte) *mqttcodec.Publish {
	c.t.Helper()
	p := new(mqttcodec.Publish)
	if err := mqttcodec.DecodePublish(f, c.v, p); err != nil {
		c.t.Fatalf("decode PUBLISH: %v", err)
	}
	return p
}

// next returns the next PUBLISH (other packets are skipped), or the read
// error (a timeout when none came within d).
func (c *dxClient) next(d time.Duration) (*mqttcodec.Publish, error) {
	c.t.Helper()
	if len(c.stash) > 0 {
		p := c.stash[0]
		c.stash = c.stash[1:]
		return p, nil
	}
	deadline := time.Now().Add(d)
	for {
		f, err := c.readFrame(time.Until(deadline))
		if err != nil {
			return nil, err
		}
		if mqttcodec.TypeOf(f) == mqttcodec.PUBLISH {
			return c.decode(f), nil
		}
	}
}

// expect returns the next PUBLISH, which must be on topic with payload.
func (c *dxClient) expect(topic, payload string, d time.Duration) *mqttcodec.Publish {
	c.t.Helper()
	p, err := c.next(d)
	if err != nil {
		c.t.Fatalf("no PUBLISH %s %q: %v", topic, payload, err)
	}
	if string(p.Topic) != topic || string(p.Payload) != payload {
		c.t.Fatalf("got PUBLISH %s %q, want %s %q", p.Topic, p.Payload, topic, payload)
	}
	return p
}

// none checks that no PUBLISH arrives within d (and that c stays open).
func (c *dxClient) none(what string, d time.Duration) {
	c.t.Helper()
	p, err := c.next(d)
	switch {
	case err == nil:
		c.t.Fatalf("%s: unexpected PUBLISH %s %q (%d B, dup %v, id %d)", what, p.Topic, p.Payload[:min(len(p.Payload), 24)],
			len(p.Payload), p.Dup, p.PacketID)
	case !dxTimeout(err):
		c.t.Fatalf("%s: connection ended: %v", what, err)
	}
}

func dxTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func (c *dxClient) nextID() uint16 {
	c.id++
	if c.id == 0 {
		c.id = 1
	}
	return c.id
}

// subscribe sends one SUBSCRIBE with filters at qos and returns the SUBACK's
// reason codes.
func (c *dxClient) subscribe(qos byte, filters ...string) []byte {
	c.t.Helper()
	s := mqttcodec.Subscribe{PacketID: c.nextID()}
	for _, f := range filters {
		s.Filters = append(s.Filters, mqttcodec.Subscription{Filter: []byte(f), QoS: qos})
	}
	c.mustWrite(mqttcodec.AppendSubscribe(nil, c.v, &s))
	for {
		f := c.mustRead(5 * time.Second)
		switch mqttcodec.TypeOf(f) {
		case mqttcodec.PUBLISH:
			c.stash = append(c.stash, c.decode(f))
		case mqttcodec.SUBACK:
			var sa mqttcodec.Suback
			if err := mqttcodec.DecodeSuback(f, c.v, &sa); err != nil {
				c.t.Fatalf("SUBACK: %v", err)
			}
			return append([]byte(nil), sa.Reasons...)
		}
	}
}

// sub subscribes to one filter and requires it granted at qos.
func (c *dxClient) sub(filter string, qos byte) {
	c.t.Helper()
	if rc := c.subscribe(qos, filter); len(rc) != 1 || rc[0] != qos {
		c.t.Fatalf("SUBACK for %s: %x, want [%x]", filter, rc, qos)
	}
}

// publishPacket encodes a PUBLISH; expiry is the v5 Message Expiry Interval
// (0 = absent). It returns the packet and its identifier.
func (c *dxClient) publishPacket(topic string, payload []byte, qos byte, retain bool, expiry uint32) ([]byte, uint16) {
	p := mqttcodec.Publish{QoS: qos, Retain: retain, Topic: []byte(topic), Payload: payload}
	if qos > 0 {
		p.PacketID = c.nextID()
	}
	if expiry > 0 {
		p.Props.MessageExpiry = expiry
		p.Props.Set(mqttcodec.PropMessageExpiry)
	}
	return mqttcodec.AppendPublish(nil, c.v, &p), p.PacketID
}

// pub publishes at QoS 1 and waits for its PUBACK (PUBLISH packets that
// arrive meanwhile are kept for next).
func (c *dxClient) pub(topic, payload string, retain bool, expiry uint32) {
	c.t.Helper()
	b, id := c.publishPacket(topic, []byte(payload), 1, retain, expiry)
	c.mustWrite(b)
	c.waitAck(id)
}

func (c *dxClient) waitAck(id uint16) {
	c.t.Helper()
	for {
		f := c.mustRead(5 * time.Second)
		switch mqttcodec.TypeOf(f) {
		case mqttcodec.PUBLISH:
			c.stash = append(c.stash, c.decode(f))
		case mqttcodec.PUBACK:
			var a mqttcodec.Ack
			if err := mqttcodec.DecodeAck(f, c.v, &a); err != nil {
				c.t.Fatalf("PUBACK: %v", err)
			}
			if a.PacketID == id {
				if a.Reason >= 0x80 {
					c.t.Fatalf("PUBACK %d: reason %#x", id, a.Reason)
				}
				return
			}
		}
	}
}

func (c *dxClient) ack(id uint16) {
	c.t.Helper()
	c.mustWrite(mqttcodec.AppendAck(nil, c.v, &mqttcodec.Ack{Type: mqttcodec.PUBACK, PacketID: id}))
}

// disconnect sends DISCONNECT with reason rc (v5) and closes the socket.
func (c *dxClient) disconnect(rc mqttcodec.ReasonCode) {
	c.t.Helper()
	c.mustWrite(mqttcodec.AppendDisconnect(nil, c.v, &mqttcodec.Disconnect{Reason: rc}))
	c.nc.Close()
}

// kill closes the socket without DISCONNECT (a vanished client).
func (c *dxClient) kill() { c.nc.Close() }

// ping sends PINGREQ and returns the time to its PINGRESP.
func (c *dxClient) ping(d time.Duration) (time.Duration, error) {
	start := time.Now()
	if err := c.write(mqttcodec.AppendPingreq(nil)); err != nil {
		return 0, err
	}
	for {
		f, err := c.readFrame(d)
		if err != nil {
			return 0, err
		}
		if mqttcodec.TypeOf(f) == mqttcodec.PINGRESP {
			return time.Since(start), nil
		}
	}
}

// dxAlive checks that g still serves: a new client gets a PINGRESP.
func dxAlive(t *testing.T, g *Gateway) {
	t.Helper()
	c, _ := dxConnect(t, g, dxOpts{v: mqttcodec.V311, id: uniq("alive"), clean: true})
	if _, err := c.ping(5 * time.Second); err != nil {
		t.Fatalf("gateway no longer answers: %v", err)
	}
}
