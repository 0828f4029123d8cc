package gateway

import (
	"errors"

	"edgegw/mqttcodec"
)

// byteSource is the inbound MQTT byte stream of one connection, whatever
// carries it: gnet's inbound buffer for TCP (tcpSource), the unmasked
// WebSocket payload for ws (wsConn), the TLS plaintext (tlsConn). Loop-only.
type byteSource interface {
	// buffered is the number of bytes available.
	buffered() int
	// peek returns the first n (<= buffered) bytes, borrowed until the next
	// discard or the end of the callback.
	peek(n int) []byte
	// discard drops the first n (1 <= n <= buffered) bytes.
	discard(n int)
}

// frameStop says why frames returned.
type frameStop uint8

const (
	stopNeedMore frameStop = iota // no whole packet is buffered
	stopBudget                    // engine.max_packets_per_wake handled and another whole packet waits: Wake
	stopHeld                      // closing, closed, waiting for a session, paused or stalled: resumed elsewhere
)

// frames is the one framing loop: it frames MQTT packets in place from src
// and applies them (c.handle), at most engine.max_packets_per_wake per
// call, stopping as soon as c may not go on (closing, waiting for its
// session, paused by backpressure, or its replies unread: repliesOver).
// The fixed header decides before the body is buffered: the first byte must
// be CONNECT [MQTT-3.1.0-1] and the size within limits.max_packet_size
// (0x95). Loop-only.
func (c *conn) frames(src byteSource) frameStop {
	l := c.l
	maxPacket := l.g.cfg.Limits.MaxPacketSize
	for i := 0; ; i++ {
		if c.closed || c.state == stClosing || c.state == stWaiting || c.paused {
			return stopHeld // resumed by attach, sendAck or resumeStalled (Wake)
		}
		n := src.buffered()
		if n == 0 {
			return stopNeedMore
		}
		head := src.peek(min(n, mqttcodec.MaxFixedHeader))
		if c.state == stConnecting && head[0] != byte(mqttcodec.CONNECT)<<4 {
			c.kick(0, closeProtocol, errNotConnect) // decided on the first byte
			return stopHeld
		}
		size, err := mqttcodec.PacketSize(head, maxPacket)
		if errors.Is(err, mqttcodec.ErrNeedMore) || err == nil && n < size {
			return stopNeedMore // wait for the rest
		}
		if err != nil {
			c.violation(err) // e.g. 0x95, decided before buffering the body
			return stopHeld
		}
		if i == l.g.cfg.Engine.MaxPacketsPerWake {
			return stopBudget
		}
		if c.repliesOver() {
			c.stall() // its requests wait until it reads its replies (replybound.go)
			return stopHeld
		}
		c.handle(src.peek(size)) // borrowed until discard; handle copies only what it keeps
		if c.closed {
			return stopHeld // a failed write closed the socket under us; its buffers are gone
		}
		src.discard(size)
	}
}

// tcpSource is a connection's gnet inbound buffer as a byteSource.
type tcpSource conn

func (s *tcpSource) buffered() int { return s.gc.InboundBuffered() }

func (s *tcpSource) peek(n int) []byte {
	b, _ := s.gc.Peek(n)
	return b
}

func (s *tcpSource) discard(n int) {
	_, _ = s.gc.Discard(n) // n >= 2: never gnet's Discard(<= 0), which drops everything
	s.l.st.bytesIn += uint64(n)
}

// gnetSource is a WebSocket connection's gnet inbound buffer as the raw
// stream readWS unframes: tcpSource without the byte count (feedWS counts).
type gnetSource conn

func (s *gnetSource) buffered() int { return s.gc.InboundBuffered() }

func (s *gnetSource) peek(n int) []byte {
	b, _ := s.gc.Peek(n)
	return b
}

func (s *gnetSource) discard(n int) { _, _ = s.gc.Discard(n) } // n >= 1
