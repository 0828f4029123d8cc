package tlsrec

import (
	"crypto/tls"
	"strconv"
	"testing"
)

// benchSuites are the suites a fleet mostly negotiates: TLS 1.3 AES-128-GCM
// (clients with AES instructions), TLS 1.3 ChaCha20-Poly1305 (without), and
// TLS 1.2 AES-128-GCM.
var benchSuites = []uint16{tls.TLS_AES_128_GCM_SHA256, tls.TLS_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}

// BenchmarkRecordOpen decrypts one client record per Feed: a 64-byte MQTT
// PUBLISH, a 1 KiB one and a full 16 KiB record.
func BenchmarkRecordOpen(b *testing.B) {
	for _, id := range benchSuites {
		for _, size := range []int{64, 1024, maxPlaintext} {
			b.Run(tls.CipherSuiteName(id)+"/"+strconv.Itoa(size), func(b *testing.B) {
				c, m := synthConn(id)
				rec := m.record(typeAppData, pattern(size, 1))
				plain := make([]byte, 0, size+64)
				b.ReportAllocs()
				b.SetBytes(int64(size))
				for b.Loop() {
					c.in.seq = 0
					if n, _, _, err := c.Feed(rec, plain[:0], nil); err != nil || n != len(rec) {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
			})
		}
	}
}

// BenchmarkRecordSeal encrypts one record per AppendRecord, as the loop
// does for each batch of outgoing MQTT packets.
func BenchmarkRecordSeal(b *testing.B) {
	for _, id := range benchSuites {
		for _, size := range []int{64, 1024, maxPlaintext} {
			b.Run(tls.CipherSuiteName(id)+"/"+strconv.Itoa(size), func(b *testing.B) {
				c, _ := synthConn(id)
				p := pattern(size, 2)
				out := make([]byte, 0, size+MaxOverhead+64)
				b.ReportAllocs()
				b.SetBytes(int64(size))
				for b.Loop() {
					var err error
					if out, err = c.AppendRecord(out[:0], p); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
			})
		}
	}
}
