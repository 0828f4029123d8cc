package gateway

import (
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"
)

// keepWriting writes chunk after chunk until stop is closed or
// a write fails, at most max bytes: a client that goes on sending after the
// server told it why it is closed.
func keepWriting(c net.Conn, chunk []byte, max int) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 0; n+len(chunk) <= max; n += len(chunk) {
			select {
			case <-done:
				return
			default:
			}
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// expectFIN reads the packet the server ended with (type h, first body
// byte code), then requires io.EOF (the server's FIN), not ECONNRESET.
func expectFIN(t *testing.T, rc *rawConn, h, code byte) {
	t.Helper()
	var last []byte
	for {
		ph, body, err := rc.readPacket(5 * time.Second)
		if err == nil {
			last = append([]byte{ph}, body...)
			continue
		}
		if errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("read: %v after %x: RST instead of FIN", err, last)
		}
		if err != io.EOF {
			t.Fatalf("read: %v after %x, want io.EOF", err, last)
		}
		break
	}
	if !hasCode(last, h, code) {
		t.Fatalf("last packet before FIN %x, want %#x with code %#x", last, h, code)
	}
}

// hasCode reports whether packet p (type byte + body) is of type h with
// reason code code: DISCONNECT carries it first, CONNACK second.
func hasCode(p []byte, h, code byte) bool {
	switch h {
	case 0xE0:
		return len(p) >= 2 && p[1] == code
	case 0x20:
		return len(p) >= 3 && p[2] == code
	}
	return false
}

// TestLingerDisconnect: a client that keeps writing after the server's
// DISCONNECT 0x93 (receive maximum exceeded [MQTT-3.3.4-7]) still reads the
// DISCONNECT and then FIN (io.EOF), not RST; its own close ends the linger
// (outcome eof).
func TestLingerDisconnect(t *testing.T) {
	// A 4 KiB read buffer leaves most of the client's burst in the
	// kernel when the server decides to close: a plain close sends RST.
	g := newTestGateway(t, func(c *Config) { c.Engine.ReadBufferSize = 4096 })
	rc := rawV5(t, g, uniq("greedy"))
	var b []byte
	for i := 1; i <= 65; i++ { // QoS 2 without PUBREL keeps the quota taken
		b = append(b, publishV5(2, uint16(i), "rm", []byte("x"))...)
	}
	extra := publishV5(0, 0, "more/after/the/limit", make([]byte, 4000))
	for len(b) < 16<<10 { // unread input when the server closes
		b = append(b, extra...)
	}
	if _, err := rc.Write(b); err != nil {
		t.Fatal(err)
	}
	stop := keepWriting(rc.Conn, extra, 32<<10)
	time.Sleep(200 * time.Millisecond) // busy writing: it reads late
	expectFIN(t, rc, 0xE0, 0x93)
	stop()
	rc.Close()
	eventually(t, "linger ended by the client's close", func() bool {
		return metric(t, g, `edgegw_linger_closes_total{outcome="eof"}`) == 1 &&
			metric(t, g, `edgegw_connections_closed_total{reason="receive_maximum_exceeded"}`) == 1
	})
}

// TestLingerRefusal: a refused CONNECT (CONNACK 0x01, unsupported protocol
// level [MQTT-3.1.2-2]) followed by more input: the client reads the
// CONNACK, then FIN, not RST.
func TestLingerRefusal(t *testing.T) {
	g := newTestGateway(t, func(c *Config) { c.Engine.ReadBufferSize = 4096 }) // see TestLingerDisconnect
	rc := dialRaw(t, g)
	b := connectPacket(7, "unsupported", 0, true)
	junk := frame(0x30, make([]byte, 2000))
	for len(b) < 16<<10 {
		b = append(b, junk...)
	}
	if _, err := rc.Write(b); err != nil {
		t.Fatal(err)
	}
	stop := keepWriting(rc.Conn, junk, 32<<10)
	time.Sleep(200 * time.Millisecond) // busy writing: it reads late
	expectFIN(t, rc, 0x20, 0x01)
	stop()
	rc.Close()
	eventually(t, "refusal lingered", func() bool {
		return metric(t, g, `edgegw_linger_closes_total{outcome="eof"}`) == 1 &&
			metric(t, g, `edgegw_connections_closed_total{reason="connect_refused"}`) == 1
	})
}

// TestLingerBounds: lingering ends without the client's help. A client that
// stops reading and never closes is closed after lingerTimeout (timeout); one
// that sends more than lingerMaxBytes is closed at once (bytes); past
// maxLingering on a loop a told close does not linger at all (full). Each
// outcome is counted, and the gateway's connection gauge returns to 0.
func TestLingerBounds(t *testing.T) {
	old := maxLingering
	maxLingering = 1
	t.Cleanup(func() { maxLingering = old }) // after the gateway stops (cleanups run last in, first out)
	g := newTestGateway(t, func(c *Config) { c.Engine.Loops = 1 })

	silent := dialRaw(t, g) // refused, then neither reads nor closes
	if _, err := silent.Write(connectPacket(7, "silent", 0, true)); err != nil {
		t.Fatal(err)
	}
	if h, _, err := silent.readPacket(5 * time.Second); err != nil || h != 0x20 {
		t.Fatalf("CONNACK: %x %v", h, err)
	}

	second := dialRaw(t, g) // the loop's one linger slot is taken
	if _, err := second.Write(connectPacket(7, "second", 0, true)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "second refusal closed at once", func() bool {
		return metric(t, g, `edgegw_linger_closes_total{outcome="full"}`) == 1 &&
			metric(t, g, `edgegw_connections_closed_total{reason="connect_refused"}`) == 1
	})
	if n := metric(t, g, `edgegw_linger_closes_total{outcome="timeout"}`); n != 0 {
		t.Fatalf("silent client's linger ended early (%v)", n)
	}

	start := time.Now()
	eventually(t, "silent client closed by the time bound", func() bool {
		return metric(t, g, `edgegw_linger_closes_total{outcome="timeout"}`) == 1 &&
			metric(t, g, `edgegw_connections_closed_total{reason="connect_refused"}`) == 2
	})
	if d := time.Since(start); d > time.Duration(lingerTimeout)+time.Second {
		t.Fatalf("closed after %v, bound %v", d, time.Duration(lingerTimeout))
	}

	flood := dialRaw(t, g) // refused, then sends past lingerMaxBytes
	b := connectPacket(7, "flood", 0, true)
	if _, err := flood.Write(b); err != nil {
		t.Fatal(err)
	}
	if h, _, err := flood.readPacket(5 * time.Second); err != nil || h != 0x20 {
		t.Fatalf("CONNACK: %x %v", h, err)
	}
	junk := make([]byte, 8<<10)
	for n := 0; n < 4*lingerMaxBytes; n += len(junk) {
		_ = flood.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := flood.Write(junk); err != nil {
			break // closed by the byte bound
		}
	}
	eventually(t, "flood closed by the byte bound", func() bool {
		return metric(t, g, `edgegw_linger_closes_total{outcome="bytes"}`) == 1
	})
	eventually(t, "no connection left", func() bool { return metric(t, g, "edgegw_connections") == 0 })
}
