package tlsrec

import (
	"crypto/tls"
	"io"
	"net"
	"runtime"
	"strconv"
	"testing"
)

// idleLimit is the most heap one idle established Conn may hold: what it
// holds now (2.1 to 2.5 KB: two AEAD states, sequence numbers, TLS 1.3
// secrets) with headroom. Keeping the handshake's state (its pipe and
// output buffers) after it ends would hold about 8 KB. The budget
// for the whole connection is 9 KB, half of mosquitto's 18.1 KB RSS per idle
// TLS client, which leaves the socket and the MQTT session their share.
const idleLimit = 4096

// TestIdleBytes holds 200 established connections (TLS 1.3, after one
// exchange of a full 16 KiB record each way) and checks the heap each holds
// against idleLimit: no buffer outlives the call that used it, and the
// handshake's state is gone.
func TestIdleBytes(t *testing.T) {
	per := idleBytes(t, 200, tls.VersionTLS13, maxPlaintext, false)
	t.Logf("%.0f bytes per idle TLS 1.3 connection", per)
	if per > idleLimit {
		t.Fatalf("%.0f bytes per idle connection, limit %d", per, idleLimit)
	}
}

// BenchmarkIdleConn holds 2,000 established connections after a handshake
// and one exchange of msg bytes each way, and reports the heap each holds
// (bytes/conn): this package's Conn, and for comparison a crypto/tls server
// Conn on the same socket, which keeps its read buffers (rawInput grows to
// the largest record read and stays).
func BenchmarkIdleConn(b *testing.B) {
	for _, tc := range []struct {
		impl string
		vers uint16
		msg  int
	}{
		{"tlsrec", tls.VersionTLS13, 100},
		{"tlsrec", tls.VersionTLS13, maxPlaintext},
		{"tlsrec", tls.VersionTLS12, 100},
		{"crypto-tls", tls.VersionTLS13, 100},
		{"crypto-tls", tls.VersionTLS13, maxPlaintext},
		{"crypto-tls", tls.VersionTLS12, 100},
	} {
		b.Run(tc.impl+"/"+tls.VersionName(tc.vers)+"/msg="+strconv.Itoa(tc.msg), func(b *testing.B) {
			b.ReportAllocs()
			var per float64
			for range b.N {
				per = idleBytes(b, 2000, tc.vers, tc.msg, tc.impl == "crypto-tls")
			}
			b.ReportMetric(per, "bytes/conn")
		})
	}
}

// idleBytes establishes n connections, exchanges msg bytes each way on
// each, closes the clients and the sockets, and returns the heap in use per
// server-side connection state still held.
func idleBytes(t testing.TB, n int, vers uint16, msg int, cryptoTLS bool) float64 {
	srv := newServer(t, Config{})
	ln := listen(t)
	ccfg := clientConfig(t, vers)
	payload := pattern(msg, 3)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&before)
	held := make([]any, 0, n)
	for range n {
		if cryptoTLS {
			held = append(held, idleCryptoTLS(t, ln, ccfg, payload))
			continue
		}
		c, tc, nc := establishRaw(t, srv, ln, ccfg)
		tc.Write(payload)
		in := readRecords(t, nc, (msg+maxPlaintext-1)/maxPlaintext)
		k, plain, _, err := c.Feed(in, nil, nil)
		if err != nil || k != len(in) || len(plain) != msg {
			t.Fatalf("server read %d of %d: %v", len(plain), msg, err)
		}
		out, _ := c.AppendRecord(nil, plain)
		nc.Write(out)
		if _, err := io.ReadFull(tc, make([]byte, msg)); err != nil {
			t.Fatal(err)
		}
		tc.Close()
		nc.Close()
		held = append(held, c)
	}
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(held)
	return float64(int64(after.HeapInuse)-int64(before.HeapInuse)) / float64(n)
}

// idleCryptoTLS is the crypto/tls alternative: a server tls.Conn that did the
// same, kept with its (closed) socket.
func idleCryptoTLS(t testing.TB, ln net.Listener, ccfg *tls.Config, payload []byte) *tls.Conn {
	done := make(chan *tls.Conn, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			done <- nil
			return
		}
		sc := tls.Server(nc, &tls.Config{Certificates: []tls.Certificate{getPKI(t).server}, CipherSuites: tls12Suites})
		buf := make([]byte, len(payload))
		if _, err := io.ReadFull(sc, buf); err != nil {
			done <- nil
			return
		}
		sc.Write(buf)
		done <- sc
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	tc := tls.Client(nc, ccfg)
	tc.Write(payload)
	if _, err := io.ReadFull(tc, make([]byte, len(payload))); err != nil {
		t.Fatal(err)
	}
	sc := <-done
	if sc == nil {
		t.Fatal("crypto/tls server failed")
	}
	tc.Close()
	sc.NetConn().Close()
	return sc
}
