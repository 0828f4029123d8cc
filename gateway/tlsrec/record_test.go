package tlsrec

import (
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

var versions = []uint16{tls.VersionTLS12, tls.VersionTLS13}

// TestRecordSplit: the records a crypto/tls client sends, fed to copies of
// the same Conn split at every byte boundary (header split included), one
// byte at a time and whole, all give the client's bytes, and the bytes
// after n are always a partial record.
func TestRecordSplit(t *testing.T) {
	for _, vers := range versions {
		t.Run(tls.VersionName(vers), func(t *testing.T) {
			srv := newServer(t, Config{})
			ln := listen(t)
			c, tc, nc := establish(t, srv, ln, clientConfig(t, vers))
			var want []byte
			for _, n := range []int{1, 300, 1000, 0, 17000} {
				p := pattern(n, byte(n))
				if n == 0 {
					p = []byte("x")
				}
				tc.Write(p)
				want = append(want, p...)
			}
			stream := readRecords(t, nc, 6) // 17000 bytes are two records
			small := 3 * recordHeaderLen
			for _, n := range []int{1, 300, 1000} {
				small += n + tagLen + map[uint16]int{tls.VersionTLS12: explicitNonce, tls.VersionTLS13: 1}[vers]
			}
			for cut := 0; cut <= len(stream); cut++ {
				if cut > small+64 && cut < len(stream)-64 && cut%997 != 0 {
					continue // every cut through the small records, some through the big ones
				}
				d := cloneConn(c)
				n1, plain, _, err := d.Feed(stream[:cut], nil, nil)
				if err != nil || cut-n1 >= MaxRecord {
					t.Fatalf("cut %d: n %d err %v", cut, n1, err)
				}
				n2, plain, _, err := d.Feed(stream[n1:], plain, nil)
				if err != nil || n1+n2 != len(stream) || !bytes.Equal(plain, want) {
					t.Fatalf("cut %d: n %d+%d of %d, %d bytes, err %v", cut, n1, n2, len(stream), len(plain), err)
				}
			}
			d := cloneConn(c)
			var pending, plain []byte
			for _, b := range stream {
				pending = append(pending, b)
				n, p, _, err := d.Feed(pending, plain, nil)
				if err != nil {
					t.Fatal(err)
				}
				plain, pending = p, pending[n:]
			}
			if len(pending) != 0 || !bytes.Equal(plain, want) {
				t.Fatalf("byte at a time: %d pending, %d bytes", len(pending), len(plain))
			}
		})
	}
}

// TestRecordWrite: AppendRecordv writes the concatenation of its buffers in
// records of at most 16 KiB, without touching the caller's slice, and a
// crypto/tls client reads it; AppendRecord before the handshake fails.
func TestRecordWrite(t *testing.T) {
	if _, err := newServer(t, Config{}).NewConn(func() {}).AppendRecord(nil, []byte("x")); err != ErrNotEstablished {
		t.Fatalf("before the handshake: %v", err)
	}
	for _, vers := range versions {
		t.Run(tls.VersionName(vers), func(t *testing.T) {
			c, tc, nc := establish(t, newServer(t, Config{}), listen(t), clientConfig(t, vers))
			bufs := [][]byte{[]byte("hdr"), nil, pattern(20000, 1), pattern(13000, 2), []byte("end")}
			keep := append([][]byte(nil), bufs...)
			out, err := c.AppendRecordv(nil, bufs)
			if err != nil {
				t.Fatal(err)
			}
			for i := range bufs {
				if len(bufs[i]) != len(keep[i]) {
					t.Fatal("AppendRecordv changed the caller's slice")
				}
			}
			want := bytes.Join(keep, nil)
			if records := countRecords(out); records != 3 || len(out) > len(want)+3*MaxOverhead {
				t.Fatalf("%d records, %d bytes for %d", records, len(out), len(want))
			}
			nc.Write(out)
			got := make([]byte, len(want))
			if _, err := io.ReadFull(tc, got); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("client read: %v", err)
			}
		})
	}
}

func countRecords(b []byte) int {
	n := 0
	for len(b) >= recordHeaderLen {
		b = b[recordHeaderLen+int(binary.BigEndian.Uint16(b[3:])):]
		n++
	}
	return n
}

// TestRecordKeyUpdate: a client's KeyUpdate with update_requested is
// answered with ours, both sides move to the next keys and data flows both
// ways (RFC 8446 4.6.3); and the server sends its own KeyUpdate after
// keyUpdateAfter records, which a crypto/tls client follows.
func TestRecordKeyUpdate(t *testing.T) {
	t.Run("client-requested", func(t *testing.T) {
		c, _, _ := establish(t, newServer(t, Config{}), listen(t), clientConfig(t, tls.VersionTLS13))
		m := mirror(c)
		in := m.record(typeHandshake, []byte{hsKeyUpdate, 0, 0, 1, 1})
		if err := m.out.update(m.suite); err != nil {
			t.Fatal(err)
		}
		in = append(in, m.record(typeAppData, []byte("after"))...)
		n, plain, out, err := c.Feed(in, nil, nil)
		if err != nil || n != len(in) || string(plain) != "after" || countRecords(out) != 1 {
			t.Fatalf("n %d plain %q out %d records err %v", n, plain, countRecords(out), err)
		}
		out, _ = c.AppendRecord(out, []byte("reply"))
		if _, got, _, err := m.Feed(out, nil, nil); err != nil || string(got) != "reply" {
			t.Fatalf("mirror read %q: %v", got, err)
		}
	})
	t.Run("server-initiated", func(t *testing.T) {
		defer func(v uint64) { keyUpdateAfter = v }(keyUpdateAfter)
		keyUpdateAfter = 3
		c, tc, nc := establish(t, newServer(t, Config{}), listen(t), clientConfig(t, tls.VersionTLS13))
		var out, want []byte
		for i := range 10 {
			p := pattern(100+i, byte(i))
			out, _ = c.AppendRecord(out, p)
			want = append(want, p...)
		}
		if records := countRecords(out); records < 12 {
			t.Fatalf("%d records: no KeyUpdate", records)
		}
		nc.Write(out)
		got := make([]byte, len(want))
		if _, err := io.ReadFull(tc, got); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("client read: %v", err)
		}
	})
}

// TestRecordViolations: each record a client must not send ends the Conn
// with its error, the alert in out (readable by the client's side), the
// data of earlier records in plain, and the same error on every later Feed.
func TestRecordViolations(t *testing.T) {
	type input func(m *Conn) []byte
	data := func(m *Conn) []byte { return m.record(typeAppData, []byte("data")) }
	repeat := func(k int, f input) input {
		return func(m *Conn) []byte {
			var b []byte
			for range k {
				b = append(b, f(m)...)
			}
			return b
		}
	}
	cases := []struct {
		name  string
		vers  uint16 // 0: both
		in    input
		want  *Error
		plain string
	}{
		{"bad-mac", 0, func(m *Conn) []byte { r := data(m); r[len(r)-1] ^= 1; return r }, ErrBadRecordMAC, ""},
		{"data-then-bad-mac", 0, func(m *Conn) []byte { r := data(m); r2 := data(m); r2[7] ^= 1; return append(r, r2...) }, ErrBadRecordMAC, "data"},
		{"short-record", 0, func(m *Conn) []byte { return []byte{typeAppData, 3, 3, 0, 3, 1, 2, 3} }, ErrBadRecordMAC, ""},
		{"version", 0, func(m *Conn) []byte { r := data(m); r[2] = 1; return r }, ErrProtocolVersion, ""},
		{"oversized", 0, func(m *Conn) []byte { return []byte{typeAppData, 3, 3, 0x48, 0x01} }, ErrRecordOverflow, ""},
		{"oversized-1.3", tls.VersionTLS13, func(m *Conn) []byte { return []byte{typeAppData, 3, 3, 0x41, 0x01} }, ErrRecordOverflow, ""},
		{"unknown-type", 0, func(m *Conn) []byte { r := data(m); r[0] = 25; return r }, ErrUnexpectedMessage, ""},
		{"renegotiation", tls.VersionTLS12, func(m *Conn) []byte { return m.record(typeHandshake, []byte{hsClientHello, 0, 0, 0}) }, ErrRenegotiation, ""},
		{"ccs-1.2", tls.VersionTLS12, func(m *Conn) []byte { return []byte{typeCCS, 3, 3, 0, 1, 1} }, ErrUnexpectedMessage, ""},
		{"ccs-1.3-bad", tls.VersionTLS13, func(m *Conn) []byte { return []byte{typeCCS, 3, 3, 0, 1, 2} }, ErrUnexpectedMessage, ""},
		{"new-session-ticket", tls.VersionTLS13, func(m *Conn) []byte { return m.record(typeHandshake, []byte{4, 0, 0, 0}) }, ErrUnexpectedMessage, ""},
		{"empty-handshake", tls.VersionTLS13, func(m *Conn) []byte { return m.record(typeHandshake, nil) }, ErrUnexpectedMessage, ""},
		{"key-update-not-last", tls.VersionTLS13, func(m *Conn) []byte {
			return m.record(typeHandshake, []byte{hsKeyUpdate, 0, 0, 1, 0, hsKeyUpdate, 0, 0, 1, 0})
		}, ErrUnexpectedMessage, ""},
		{"key-update-fragment", tls.VersionTLS13, func(m *Conn) []byte { return m.record(typeHandshake, []byte{hsKeyUpdate, 0, 0}) }, ErrDecode, ""},
		{"key-update-bad-value", tls.VersionTLS13, func(m *Conn) []byte { return m.record(typeHandshake, []byte{hsKeyUpdate, 0, 0, 1, 2}) }, ErrDecode, ""},
		{"no-content-type", tls.VersionTLS13, func(m *Conn) []byte { return m.raw13(make([]byte, 5)) }, ErrUnexpectedMessage, ""},
		{"alert-length", 0, func(m *Conn) []byte { return m.record(typeAlert, []byte{2, 10, 0}) }, ErrDecode, ""},
		{"fatal-alert", 0, func(m *Conn) []byte {
			return append(data(m), m.record(typeAlert, []byte{2, byte(AlertBadCertificate)})...)
		}, ErrPeerAlert, "data"},
		{"close-notify", 0, func(m *Conn) []byte { return append(data(m), m.record(typeAlert, []byte{1, 0})...) }, ErrPeerClosed, "data"},
		{"empty-records", 0, repeat(maxIgnored+1, func(m *Conn) []byte { return m.record(typeAppData, nil) }), ErrTooManyIgnored, ""},
		{"warning-alerts", tls.VersionTLS12, repeat(maxIgnored+1, func(m *Conn) []byte { return m.record(typeAlert, []byte{1, 90}) }), ErrTooManyIgnored, ""},
		{"user-canceled", tls.VersionTLS13, repeat(maxIgnored+1, func(m *Conn) []byte { return m.record(typeAlert, []byte{1, 90}) }), ErrTooManyIgnored, ""},
		{"compat-ccs", tls.VersionTLS13, repeat(maxIgnored+1, func(m *Conn) []byte { return []byte{typeCCS, 3, 3, 0, 1, 1} }), ErrTooManyIgnored, ""},
	}
	for _, vers := range versions {
		c0, _, _ := establish(t, newServer(t, Config{}), listen(t), clientConfig(t, vers))
		for _, tc := range cases {
			if tc.vers != 0 && tc.vers != vers {
				continue
			}
			t.Run(tls.VersionName(vers)+"/"+tc.name, func(t *testing.T) {
				c := cloneConn(c0)
				m := mirror(c)
				in := tc.in(m)
				n, plain, out, err := c.Feed(in, nil, nil)
				if err != tc.want || string(plain) != tc.plain || n > len(in) {
					t.Fatalf("err %v plain %q n %d, want %v %q", err, plain, n, tc.want, tc.plain)
				}
				if tc.want.Sent != (len(out) > 0) {
					t.Fatalf("%d bytes out, alert sent %v", len(out), tc.want.Sent)
				}
				if len(out) > 0 {
					_, _, _, merr := m.Feed(out, nil, nil)
					var wantPeer error = ErrPeerAlert
					switch tc.want.Alert {
					case AlertCloseNotify:
						wantPeer = ErrPeerClosed
					case AlertNoRenegotiation:
						wantPeer = nil // always a warning (RFC 5246 7.2.2): ignored, then the server closes
					}
					if merr != wantPeer || (wantPeer == ErrPeerAlert && m.Cause().Error() != "tls: remote error: "+tc.want.Alert.String()) {
						t.Fatalf("client side read %v (%v), want alert %v", merr, m.Cause(), tc.want.Alert)
					}
				}
				if n2, _, out2, err2 := c.Feed(in[n:], nil, nil); n2 != 0 || len(out2) != 0 || err2 != err {
					t.Fatalf("after the end: n %d out %d err %v", n2, len(out2), err2)
				}
				if err == ErrPeerAlert && !strings.Contains(c.Cause().Error(), "bad_certificate") {
					t.Fatalf("cause %v", c.Cause())
				}
			})
		}
		t.Run(tls.VersionName(vers)+"/ignored-then-data-resets", func(t *testing.T) {
			c := cloneConn(c0)
			m := mirror(c)
			var in []byte
			for range 3 {
				for range maxIgnored {
					in = append(in, m.record(typeAppData, nil)...)
				}
				in = append(in, data(m)...)
			}
			if _, plain, _, err := c.Feed(in, nil, nil); err != nil || string(plain) != "datadatadata" {
				t.Fatalf("%q %v", plain, err)
			}
		})
	}
}

// TestRecordPadding: TLS 1.3 padding after the content type is removed
// (RFC 8446 5.4).
func TestRecordPadding(t *testing.T) {
	c, _, _ := establish(t, newServer(t, Config{}), listen(t), clientConfig(t, tls.VersionTLS13))
	m := mirror(c)
	in := m.raw13(append([]byte("padded\x17"), make([]byte, 300)...))
	if _, plain, _, err := c.Feed(in, nil, nil); err != nil || string(plain) != "padded" {
		t.Fatalf("%q %v", plain, err)
	}
}

// raw13 seals inner, a TLS 1.3 inner plaintext (content, type, padding),
// as written, on m's write side.
func (m *Conn) raw13(inner []byte) []byte {
	h := &m.out
	rec := []byte{typeAppData, 3, 3, 0, 0}
	binary.BigEndian.PutUint16(rec[3:], uint16(len(inner)+tagLen))
	h.xorNonce()
	h.seq++
	return h.aead.Seal(rec, h.nonce[:], inner, rec[:recordHeaderLen])
}

// TestRecordAllocs: after warm-up, decrypting a record with Feed and
// encrypting one with AppendRecord allocate nothing when the caller's
// buffers have room, for every suite.
func TestRecordAllocs(t *testing.T) {
	for _, s := range suites {
		c, m := synthConn(s.id)
		msg := pattern(1000, 5)
		rec := m.record(typeAppData, msg)
		plain := make([]byte, 0, 2048)
		out := make([]byte, 0, 2048)
		allocs := testing.AllocsPerRun(100, func() {
			c.in.seq = 0 // the same record again
			n, p, _, err := c.Feed(rec, plain[:0], out[:0])
			if err != nil || n != len(rec) || len(p) != len(msg) {
				panic(err)
			}
			if _, err := c.AppendRecord(out[:0], msg); err != nil {
				panic(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %.1f allocations per record", tls.CipherSuiteName(s.id), allocs)
		}
	}
}

// TestRecordOpenSSL: OpenSSL's s_client, a second client stack, sends
// KeyUpdate messages ("K": update requested, "k": not) between lines of
// data over TLS 1.3, which the Conn follows and answers, the echo still
// reaching the client; over TLS 1.2 its renegotiation ("R") is refused.
func TestRecordOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("openssl not installed (.ci/run installs it)")
		}
		t.Skip("openssl not installed")
	}
	for _, tc := range []struct {
		name, flag string
		lines      []string // data lines are echoed; a command letter alone is not
		want       string
		end        error
		closeAfter int
	}{
		{"key-update", "-tls1_3", []string{"hello\n", "K\n", "world\n", "k\n", "again\n"}, "hello\nworld\nagain\n", errServerDone, 18},
		{"renegotiation", "-tls1_2", []string{"hello\n", "R\n"}, "hello\n", ErrRenegotiation, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln := listen(t)
			results := serve(t, newServer(t, Config{}), ln, loopOpts{echo: true, closeAfter: tc.closeAfter})
			// Command letters work only without -ign_eof (which -quiet
			// implies), and only at the start of what s_client reads from
			// stdin: each data line is written once the previous one came
			// back, each command followed by a pause.
			cmd := exec.Command("openssl", "s_client", "-connect", ln.Addr().String(), tc.flag, "-quiet", "-no_ign_eof")
			stdin, _ := cmd.StdinPipe()
			stdout, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			echoed := make(chan string, 16)
			go func() {
				buf := make([]byte, 256)
				for {
					n, err := stdout.Read(buf)
					if n > 0 {
						echoed <- string(buf[:n])
					}
					if err != nil {
						close(echoed)
						return
					}
				}
			}()
			var got string
			for _, line := range tc.lines {
				stdin.Write([]byte(line))
				if len(line) == 2 { // a command letter
					time.Sleep(300 * time.Millisecond)
					continue
				}
				for !strings.HasSuffix(got, line) {
					select {
					case s, ok := <-echoed:
						if !ok {
							t.Fatalf("s_client ended; it read back %q", got)
						}
						got += s
					case <-time.After(10 * time.Second):
						t.Fatalf("no echo of %q; read back %q", line, got)
					}
				}
			}
			var res loopResult
			select {
			case res = <-results:
			case <-time.After(10 * time.Second):
				t.Fatal("no result from the loop")
			}
			if string(res.plain) != tc.want || res.err != tc.end {
				t.Fatalf("server received %q, end %v (cause %v)", res.plain, res.err, res.cause)
			}
			if got != tc.want {
				t.Fatalf("openssl read back %q", got)
			}
		})
	}
}
