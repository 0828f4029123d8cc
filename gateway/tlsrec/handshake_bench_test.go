package tlsrec

import (
	"crypto/tls"
	"io"
	"net"
	"syscall"
	"testing"
)

// BenchmarkHandshake runs one full handshake and a 4-byte exchange per
// iteration over loopback TCP, client in the same process, with this
// package driven by a test loop and, for comparison, with a crypto/tls
// server on a goroutine per connection. cpu-us/handshake is the process's
// CPU time (both ends) per handshake; the difference between the two is
// what the pool, the adapter and the key hand-over cost. The "resumed"
// cases reuse a TLS 1.3 session ticket.
func BenchmarkHandshake(b *testing.B) {
	for _, tc := range []struct {
		name    string
		vers    uint16
		resumed bool
	}{
		{"TLS1.2", tls.VersionTLS12, false},
		{"TLS1.3", tls.VersionTLS13, false},
		{"TLS1.3-resumed", tls.VersionTLS13, true},
	} {
		for _, impl := range []string{"tlsrec", "crypto-tls"} {
			b.Run(impl+"/"+tc.name, func(b *testing.B) {
				ln := listen(b)
				if impl == "tlsrec" {
					serve(b, newServer(b, Config{}), ln, loopOpts{echo: true, closeAfter: 4})
				} else {
					go serveCryptoTLS(ln, &tls.Config{Certificates: []tls.Certificate{getPKI(b).server}, CipherSuites: tls12Suites})
				}
				ccfg := clientConfig(b, tc.vers)
				if tc.resumed {
					ccfg.ClientSessionCache = tls.NewLRUClientSessionCache(1)
					handshakeOnce(b, ln, ccfg, false)
				}
				b.ReportAllocs()
				cpu0 := cpuMicros()
				for b.Loop() {
					handshakeOnce(b, ln, ccfg, tc.resumed)
				}
				b.ReportMetric(float64(cpuMicros()-cpu0)/float64(b.N), "cpu-us/handshake")
			})
		}
	}
}

// handshakeOnce connects, sends "ping", reads it back and closes.
func handshakeOnce(b *testing.B, ln net.Listener, ccfg *tls.Config, resume bool) {
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	tc := tls.Client(nc, ccfg)
	if _, err := tc.Write([]byte("ping")); err != nil {
		b.Fatal(err)
	}
	if _, err := io.ReadFull(tc, make([]byte, 4)); err != nil {
		b.Fatal(err)
	}
	if tc.ConnectionState().DidResume != resume {
		b.Fatal("resumption not as asked")
	}
	nc.Close()
}

// serveCryptoTLS echoes 4 bytes on each connection with a crypto/tls server.
func serveCryptoTLS(ln net.Listener, cfg *tls.Config) {
	for {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer nc.Close()
			sc := tls.Server(nc, cfg)
			buf := make([]byte, 4)
			if _, err := io.ReadFull(sc, buf); err == nil {
				sc.Write(buf)
				sc.Close()
			}
		}()
	}
}

// cpuMicros is the process's user and system CPU time so far.
func cpuMicros() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Sec*1e6 + ru.Utime.Usec + ru.Stime.Sec*1e6 + ru.Stime.Usec
}
