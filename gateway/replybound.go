package gateway

// The reply bound. Every byte the gateway writes on a client's behalf —
// pongs, PINGRESP, PUBACK/PUBREC/PUBREL/PUBCOMP, SUBACK, UNSUBACK,
// deliveries — waits in this wake's writes or in gnet's outbound buffer
// until the client reads it. A client that keeps asking and never reads the
// answers must not make that buffer grow without bound, so while its write
// backlog is past limits.max_outbound_bytes its input is not decoded: the
// requests stay in gnet's inbound buffer (gnet keeps reading the socket),
// and past inboundBound the client is closed (closeInboundOverflow, counted
// and logged with its client ID). The bound applies on every listener,
// before CONNECT (WebSocket pings) and after.
//
// gnet has no writable callback. A stalled client resumes when its own next
// read event finds the backlog drained (read checks held), or at the
// loop's next tick (resumeStalled wakes it); nothing polls it in between, so
// a stalled client costs nothing while it stays stalled and never waits
// longer than engine.tick_interval after it drained.

// writeBacklog is the bytes written toward c's socket and not yet taken by
// the kernel: this wake's pending writes and gnet's outbound buffer. Unlike
// outbound it leaves out the session's queue: that queue drains only as c's
// acknowledgements are read, so stopping reading for it would never end.
// Loop-only.
func (c *conn) writeBacklog() int {
	n := c.pending()
	if !c.closed {
		n += c.gc.OutboundBuffered()
	}
	return n
}

// repliesOver reports whether c's write backlog is past
// limits.max_outbound_bytes. Loop-only.
func (c *conn) repliesOver() bool {
	return c.writeBacklog() > c.l.g.cfg.Limits.MaxOutboundBytes
}

// stall stops decoding c's input until its write backlog is back under
// limits.max_outbound_bytes; the caller returns from OnTraffic without
// Wake. c joins loop.stalled once, however often it stalls before the next
// tick, and each listing is counted (edgegw_reads_stalled_total). Loop-only.
func (c *conn) stall() {
	if c.stalled {
		return
	}
	c.stalled = true
	c.l.stalled = append(c.l.stalled, c)
	c.l.st.stalled++
}

// held reports whether c's decoding stays stopped: stalled, and its backlog
// still over the bound. Once it drained, reading goes on at once; c.stalled
// stays set until the tick takes c off the list. Loop-only.
func (c *conn) held() bool { return c.stalled && c.repliesOver() }

// resumeStalled runs on each tick: it wakes the stalled connections whose
// backlog drained (their read goes on where it stopped) and forgets the
// closed ones. Cost: one check per stalled connection per tick. Loop-only.
func (l *loop) resumeStalled() {
	for i := 0; i < len(l.stalled); i++ {
		c := l.stalled[i]
		if !c.closed && c.repliesOver() {
			continue
		}
		c.stalled = false
		if !c.closed {
			_ = c.gc.Wake(nil)
		}
		last := len(l.stalled) - 1
		l.stalled[i] = l.stalled[last]
		l.stalled[last] = nil
		l.stalled = l.stalled[:last]
		i--
	}
}

// inboundBound is how many bytes a client may have buffered and not yet
// decoded while its reading is held (paused publisher, stalled replies,
// session on its way): 4 x limits.max_packet_size + engine.read_buffer_size.
// Past it the client is closed (closeInboundOverflow).
func (l *loop) inboundBound() int {
	return 4*l.g.cfg.Limits.MaxPacketSize + l.g.cfg.Engine.ReadBufferSize
}
