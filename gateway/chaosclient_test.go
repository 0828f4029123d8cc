package gateway

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// chaosConnect is what a chaosClient puts in its CONNECT.
type chaosConnect struct {
	version   byte // 4 (3.1.1) or 5
	id        string
	clean     bool
	expiry    uint32 // v5 Session Expiry Interval, seconds; 0 = absent
	keepAlive uint16 // seconds
	recvMax   uint16 // v5 Receive Maximum; 0 = absent
	will      *chaosWill
	rcvBuf    int         // the client socket's SO_RCVBUF; 0 = the system's
	tls       *tls.Config // dial the TLS listener with this configuration; nil = plain TCP
	ws        bool        // MQTT over WebSocket (the ws listener)
}

// chaosWill is a CONNECT's will.
type chaosWill struct {
	topic   string
	payload []byte
	qos     byte
	retain  bool
	delay   uint32 // v5 Will Delay Interval, seconds
	expiry  uint32 // v5 Message Expiry Interval of the will, seconds
}

func appendVarint(b []byte, n int) []byte {
	for {
		c := byte(n & 127)
		n >>= 7
		if n == 0 {
			return append(b, c)
		}
		b = append(b, c|128)
	}
}

func appendStr(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

func appendProp32(b []byte, id byte, v uint32) []byte {
	return binary.BigEndian.AppendUint32(append(b, id), v)
}

// packet encodes the CONNECT.
func (p *chaosConnect) packet() []byte {
	body := []byte{0, 4, 'M', 'Q', 'T', 'T', p.version}
	flags := byte(0)
	if p.clean {
		flags |= 0x02
	}
	if w := p.will; w != nil {
		flags |= 0x04 | w.qos<<3
		if w.retain {
			flags |= 0x20
		}
	}
	body = append(body, flags, byte(p.keepAlive>>8), byte(p.keepAlive))
	if p.version == 5 {
		var props []byte
		if p.expiry > 0 {
			props = appendProp32(props, 0x11, p.expiry)
		}
		if p.recvMax > 0 {
			props = append(props, 0x21, byte(p.recvMax>>8), byte(p.recvMax))
		}
		body = append(appendVarint(body, len(props)), props...)
	}
	body = appendStr(body, p.id)
	if w := p.will; w != nil {
		if p.version == 5 {
			var props []byte
			if w.delay > 0 {
				props = appendProp32(props, 0x18, w.delay)
			}
			if w.expiry > 0 {
				props = appendProp32(props, 0x02, w.expiry)
			}
			body = append(appendVarint(body, len(props)), props...)
		}
		body = appendStr(body, w.topic)
		body = appendStr(body, string(w.payload))
	}
	return frame(0x10, body)
}

// chaosMsg is one PUBLISH received by a chaosClient. Payload is owned.
type chaosMsg struct {
	topic   string
	payload []byte
	qos     byte
	retain  bool
	dup     bool
}

// chaosHooks are a chaosClient's callbacks; each runs on its reader
// goroutine and may be nil.
type chaosHooks struct {
	onMsg func(chaosMsg)  // every PUBLISH, before it is acknowledged
	onAck func(key int64) // PUBACK/PUBCOMP for one of our PUBLISHes carrying key (0 = untracked)
	pace  func()          // before each read: slow consumers sleep here
}

// chaosClient is a hand-driven MQTT 3.1.1/5.0 client on a raw socket for
// TestChaos: it sends what it is told (including abrupt closes and v5
// DISCONNECT reason codes) and answers the gateway's QoS flows from one
// reader goroutine. Safe for concurrent use by its actor and its reader.
type chaosClient struct {
	*rawConn
	p       chaosConnect
	hooks   chaosHooks
	present bool // CONNACK session present

	wmu sync.Mutex // one writer at a time

	mu      sync.Mutex
	nextID  uint16
	pending map[uint16]int64 // our unacknowledged QoS 1/2 PUBLISH (key) and SUBSCRIBE (-1)
	window  chan struct{}    // one token per unacknowledged QoS 1/2 PUBLISH

	subacks  chan []byte   // SUBACK bodies
	done     chan struct{} // closed when the reader goroutine returned
	noAck    atomic.Bool   // withhold PUBACK/PUBREC for received messages
	disc     atomic.Int32  // the server's v5 DISCONNECT reason + 1; 0 = none
	received atomic.Int64
}

var (
	errChaosRefused = errors.New("CONNACK refused")
	errChaosClosed  = errors.New("connection closed")
	errChaosTimeout = errors.New("timed out")
)

// dialChaos connects, sends p's CONNECT and waits for CONNACK.
func dialChaos(addr string, p chaosConnect, hooks chaosHooks, window int) (*chaosClient, error) {
	nc, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		return nil, err
	}
	if p.rcvBuf > 0 {
		_ = nc.(*net.TCPConn).SetReadBuffer(p.rcvBuf)
	}
	if p.ws {
		ws, err := upgradeWSChaos(nc, addr)
		if err != nil {
			nc.Close()
			return nil, err
		}
		nc = ws
	}
	if p.tls != nil {
		tc := tls.Client(nc, p.tls)
		_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
		if err := tc.Handshake(); err != nil {
			nc.Close()
			return nil, err
		}
		_ = tc.SetDeadline(time.Time{})
		nc = tc
	}
	c := &chaosClient{rawConn: &rawConn{Conn: nc, r: bufio.NewReader(nc)}, p: p, hooks: hooks,
		pending: map[uint16]int64{}, window: make(chan struct{}, window),
		subacks: make(chan []byte, 4), done: make(chan struct{})}
	if err := c.write(p.packet()); err != nil {
		nc.Close()
		return nil, err
	}
	h, body, err := c.readPacket(5 * time.Second)
	if err != nil {
		nc.Close()
		return nil, err
	}
	if h != 0x20 || len(body) < 2 || body[1] != 0 {
		nc.Close()
		return nil, fmt.Errorf("%w: first packet %#x % x", errChaosRefused, h, body[:min(len(body), 8)])
	}
	c.present = body[0]&1 == 1
	_ = nc.SetReadDeadline(time.Time{})
	go c.readLoop()
	return c, nil
}

// write sends b whole, or fails after 2 s (a paused publisher's socket fills).
func (c *chaosClient) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.SetWriteDeadline(time.Now().Add(2 * time.Second))
	_, err := c.Conn.Write(b)
	return err
}

func (c *chaosClient) alive() bool {
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// readLoop answers the gateway until the socket fails or closes.
func (c *chaosClient) readLoop() {
	defer close(c.done)
	for {
		if c.hooks.pace != nil {
			c.hooks.pace()
		}
		h, body, err := c.readPacket(time.Hour)
		if err != nil {
			return
		}
		var ack []byte
		switch h >> 4 {
		case 3: // PUBLISH
			m, id, ok := c.parsePublish(h, body)
			if !ok {
				return
			}
			c.received.Add(1)
			if c.hooks.onMsg != nil {
				c.hooks.onMsg(m)
			}
			if m.qos == 1 && !c.noAck.Load() {
				ack = []byte{0x40, 2, byte(id >> 8), byte(id)}
			} else if m.qos == 2 && !c.noAck.Load() {
				ack = []byte{0x50, 2, byte(id >> 8), byte(id)}
			}
		case 4, 7: // PUBACK, PUBCOMP for our PUBLISH
			if len(body) < 2 {
				return
			}
			id := binary.BigEndian.Uint16(body)
			c.mu.Lock()
			key, ok := c.pending[id]
			delete(c.pending, id)
			c.mu.Unlock()
			if ok {
				<-c.window
				// v5: a reason code >= 0x80 is a refusal, not an acknowledgement.
				if c.hooks.onAck != nil && (len(body) < 3 || body[2] < 0x80) {
					c.hooks.onAck(key)
				}
			}
		case 5: // PUBREC for our QoS 2 PUBLISH
			ack = []byte{0x62, 2, body[0], body[1]}
		case 6: // PUBREL for a QoS 2 PUBLISH we received
			ack = []byte{0x70, 2, body[0], body[1]}
		case 9: // SUBACK
			if len(body) >= 2 {
				c.mu.Lock()
				delete(c.pending, binary.BigEndian.Uint16(body))
				c.mu.Unlock()
			}
			select {
			case c.subacks <- body:
			default:
			}
		case 14: // DISCONNECT (v5)
			rc := byte(0)
			if len(body) > 0 {
				rc = body[0]
			}
			c.disc.CompareAndSwap(0, int32(rc)+1)
		}
		if ack != nil && c.write(ack) != nil {
			return
		}
	}
}

// parsePublish decodes a PUBLISH; the payload is copied.
func (c *chaosClient) parsePublish(h byte, body []byte) (m chaosMsg, id uint16, ok bool) {
	m.qos, m.retain, m.dup = h>>1&3, h&1 == 1, h&8 != 0
	if len(body) < 2 {
		return m, 0, false
	}
	tl := int(binary.BigEndian.Uint16(body))
	if len(body) < 2+tl {
		return m, 0, false
	}
	m.topic = string(body[2 : 2+tl])
	rest := body[2+tl:]
	if m.qos > 0 {
		if len(rest) < 2 {
			return m, 0, false
		}
		id = binary.BigEndian.Uint16(rest)
		rest = rest[2:]
	}
	if c.p.version == 5 {
		n, mul, i := 0, 1, 0
		for ; i < len(rest) && i < 4; i++ {
			n += int(rest[i]&127) * mul
			mul *= 128
			if rest[i] < 128 {
				break
			}
		}
		if i+1+n > len(rest) {
			return m, 0, false
		}
		rest = rest[i+1+n:]
	}
	m.payload = append([]byte(nil), rest...)
	return m, id, true
}

// allocID returns a packet identifier not in use and records it as key.
func (c *chaosClient) allocID(key int64) uint16 {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		c.nextID++
		if c.nextID == 0 {
			c.nextID = 1
		}
		if _, used := c.pending[c.nextID]; !used {
			c.pending[c.nextID] = key
			return c.nextID
		}
	}
}

// publish sends a PUBLISH. QoS 1/2 take a window token first (waiting at
// most 3 s, or until stop); key comes back through onAck when the gateway
// acknowledges it. expiry is the v5 Message Expiry Interval (0 = none).
func (c *chaosClient) publish(topic string, qos byte, retain bool, expiry uint32, payload []byte, key int64, stop <-chan struct{}) error {
	var id uint16
	if qos > 0 {
		select {
		case c.window <- struct{}{}:
		case <-c.done:
			return errChaosClosed
		case <-stop:
			return errChaosClosed
		case <-time.After(3 * time.Second):
			return errChaosTimeout
		}
		id = c.allocID(key)
	}
	h := 0x30 | qos<<1
	if retain {
		h |= 1
	}
	body := appendStr(nil, topic)
	if qos > 0 {
		body = binary.BigEndian.AppendUint16(body, id)
	}
	if c.p.version == 5 {
		var props []byte
		if expiry > 0 {
			props = appendProp32(props, 0x02, expiry)
		}
		body = append(appendVarint(body, len(props)), props...)
	}
	return c.write(frame(h, append(body, payload...)))
}

// subscribe subscribes to filters at qos and waits for the SUBACK.
func (c *chaosClient) subscribe(qos byte, filters ...string) error {
	id := c.allocID(-1)
	body := binary.BigEndian.AppendUint16(nil, id)
	if c.p.version == 5 {
		body = append(body, 0)
	}
	for _, f := range filters {
		body = append(appendStr(body, f), qos)
	}
	if err := c.write(frame(0x82, body)); err != nil {
		return err
	}
	select {
	case b := <-c.subacks:
		for _, rc := range b[2:] {
			if rc >= 0x80 {
				return errChaosRefused
			}
		}
		return nil
	case <-c.done:
		return errChaosClosed
	case <-time.After(5 * time.Second):
		return errChaosTimeout
	}
}

// unacked is the number of our QoS 1/2 PUBLISHes not yet acknowledged.
func (c *chaosClient) unacked() int { return len(c.window) }

// waitAcked waits up to d for every QoS 1/2 PUBLISH to be acknowledged.
func (c *chaosClient) waitAcked(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for c.unacked() > 0 && c.alive() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}
	return c.unacked() == 0
}

// disconnect sends DISCONNECT (v5: with reason and, when expiry >= 0, a
// Session Expiry Interval) and closes the socket.
func (c *chaosClient) disconnect(reason byte, expiry int64) {
	b := []byte{0xE0, 0}
	if c.p.version == 5 {
		body := []byte{reason}
		if expiry >= 0 {
			props := appendProp32(nil, 0x11, uint32(expiry))
			body = append(appendVarint(body, len(props)), props...)
		}
		b = frame(0xE0, body)
	}
	_ = c.write(b)
	c.close()
}

// abort closes the socket without DISCONNECT; rst sends a TCP RST.
func (c *chaosClient) abort(rst bool) {
	if rst {
		nc := c.Conn
		switch x := nc.(type) {
		case *tls.Conn:
			nc = x.NetConn() // an RST under the TLS session: no close_notify
		case *wsStream:
			nc = x.Conn // an RST under the WebSocket: no close frame
		}
		_ = nc.(*net.TCPConn).SetLinger(0)
	}
	c.close()
}

// close closes the socket and waits for the reader goroutine.
func (c *chaosClient) close() {
	_ = c.Conn.Close()
	<-c.done
}

// topicMatch is a naive MQTT filter match (no $-topics, no $share).
func topicMatch(filter, topic string) bool {
	f, t := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, p := range f {
		if p == "#" {
			return true
		}
		if i >= len(t) || p != "+" && p != t[i] {
			return false
		}
	}
	return len(f) == len(t)
}

// wsStream is a chaos client's MQTT byte stream over WebSocket (gobwas/ws,
// client side): each Write is one masked binary frame; Read returns the
// payloads of the server's binary frames in order, control frames answered
// by wsutil under the same write lock. Deadlines and Close go to the TCP
// connection (a close is abrupt: no close frame).
type wsStream struct {
	net.Conn           // the TCP connection
	src      io.Reader // the handshake's buffered reader, then the connection
	wmu      sync.Mutex
	rest     []byte
}

// upgradeWSChaos runs the WebSocket handshake for /mqtt on nc.
func upgradeWSChaos(nc net.Conn, addr string) (*wsStream, error) {
	u, err := url.Parse("ws://" + addr + "/mqtt")
	if err != nil {
		return nil, err
	}
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	br, _, err := ws.Dialer{Protocols: []string{"mqtt"}}.Upgrade(nc, u)
	if err != nil {
		return nil, err
	}
	_ = nc.SetDeadline(time.Time{})
	s := &wsStream{Conn: nc, src: nc}
	if br != nil {
		s.src = br
	}
	return s, nil
}

func (s *wsStream) Write(b []byte) (int, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := wsutil.WriteClientBinary(s.Conn, b); err != nil {
		return 0, err
	}
	return len(b), nil
}

func (s *wsStream) Read(p []byte) (int, error) {
	for len(s.rest) == 0 {
		data, op, err := wsutil.ReadServerData(wsLocked{s})
		if err != nil {
			return 0, err
		}
		if op == ws.OpBinary {
			s.rest = data
		}
	}
	n := copy(p, s.rest)
	s.rest = s.rest[n:]
	return n, nil
}

// wsLocked is what wsutil reads from and answers control frames on.
type wsLocked struct{ s *wsStream }

func (w wsLocked) Read(p []byte) (int, error) { return w.s.src.Read(p) }
func (w wsLocked) Write(p []byte) (int, error) {
	w.s.wmu.Lock()
	defer w.s.wmu.Unlock()
	return w.s.Conn.Write(p)
}
