package tlsrec

import (
	"bytes"
	"crypto/tls"
	"testing"
)

// feedResult is everything a Conn produced over a stream.
type feedResult struct {
	plain, out []byte
	err        error
	pending    int
}

// feedChunks feeds data to c in pieces of the sizes next returns, keeping
// what Feed did not consume in front, as gnet does.
func feedChunks(t *testing.T, c *Conn, data []byte, next func() int) feedResult {
	var res feedResult
	var pending []byte
	for off := 0; off < len(data); {
		k := min(max(next(), 1), len(data)-off)
		pending = append(bytes.Clone(pending), data[off:off+k]...)
		off += k
		before := bytes.Clone(pending)
		var n int
		n, res.plain, res.out, res.err = c.Feed(pending, res.plain, res.out)
		if !bytes.Equal(before, pending) {
			t.Fatal("Feed modified its input")
		}
		if n < 0 || n > len(pending) {
			t.Fatalf("Feed consumed %d of %d", n, len(pending))
		}
		pending = pending[n:]
		if res.err != nil {
			break
		}
	}
	res.pending = len(pending)
	return res
}

// FuzzFeed feeds arbitrary bytes to established Conns (TLS 1.2 and 1.3)
// whole, byte by byte and in fuzzed pieces: Feed must never panic, never
// modify or over-consume its input, never return more plaintext than it
// was given, and reach the same plaintext, output and error however the
// stream was split. Whatever it sends must be records the client's side
// reads without a record-layer error.
func FuzzFeed(f *testing.F) {
	var conns []*Conn
	for _, vers := range versions {
		c, _, _ := establish(f, newServer(f, Config{}), listen(f), clientConfig(f, vers))
		conns = append(conns, c)
		m := mirror(cloneConn(c))
		f.Add(m.record(typeAppData, []byte("hello")), uint8(3), vers == tls.VersionTLS13)
		f.Add(append(m.record(typeAppData, pattern(600, 1)), m.record(typeAlert, []byte{1, 0})...), uint8(100), vers == tls.VersionTLS13)
		f.Add(m.record(typeHandshake, []byte{hsKeyUpdate, 0, 0, 1, 1}), uint8(1), vers == tls.VersionTLS13)
		f.Add(m.record(typeAlert, []byte{2, 40}), uint8(2), vers == tls.VersionTLS13)
	}
	f.Add([]byte{typeAppData, 3, 3, 0xff, 0xff}, uint8(4), false)
	f.Add([]byte{typeCCS, 3, 3, 0, 1, 1, typeAppData, 3, 3, 0, 0}, uint8(6), true)
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8, tls13 bool) {
		c0 := conns[0]
		if tls13 {
			c0 = conns[1]
		}
		var results [3]feedResult
		for i, next := range []func() int{func() int { return 1 << 30 }, byteAtATime(), func() int { return int(chunk) }} {
			results[i] = feedChunks(t, cloneConn(c0), data, next)
		}
		for i := 1; i < len(results); i++ {
			a, b := results[0], results[i]
			if !bytes.Equal(a.plain, b.plain) || !bytes.Equal(a.out, b.out) || a.err != b.err || (a.err == nil && a.pending != b.pending) {
				t.Fatalf("split %d differs from whole: plain %d/%d, out %d/%d, err %v/%v, pending %d/%d",
					i, len(a.plain), len(b.plain), len(a.out), len(b.out), a.err, b.err, a.pending, b.pending)
			}
		}
		if len(results[0].plain) > len(data) {
			t.Fatalf("%d bytes of plaintext from %d of input", len(results[0].plain), len(data))
		}
		if out := results[0].out; len(out) > 0 {
			m := mirror(cloneConn(c0))
			n, _, _, err := m.Feed(out, nil, nil)
			if n != len(out) || err != nil && err != ErrPeerAlert && err != ErrPeerClosed {
				t.Fatalf("client side read %d of %d: %v", n, len(out), err)
			}
		}
	})
}

// FuzzFirstRecord feeds arbitrary first bytes to a new Conn: the loop side
// must never panic, refuse what is not a handshake record and, for a whole
// record, start a handshake that Close abandons.
func FuzzFirstRecord(f *testing.F) {
	srv := newServer(f, Config{MaxHandshakes: 64})
	f.Add(clientHello(f, clientConfig(f, 0)))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Add([]byte{0x16, 3, 1, 0, 4, 1, 0, 0, 0})
	f.Add([]byte{0x16, 3, 1, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		c := srv.NewConn(func() {})
		n, plain, _, err := c.Feed(data, nil, nil)
		switch {
		case n > len(data) || len(plain) != 0:
			t.Fatalf("n %d plain %d", n, len(plain))
		case err != nil && err != ErrNotTLS && err != ErrBusy:
			t.Fatalf("err %v", err)
		case err == nil && n > 0 && !c.Handshaking():
			t.Fatal("consumed without a handshake")
		}
		c.Close()
	})
}
