package limit

import (
	"net/netip"
	"testing"
	"time"
)

func benchLimiter() *Limiter {
	return New(Config{ConnectRate: 1e9, ConnectRatePerIP: 1e9, MaxConnectionsPerUser: 1 << 30, AuthRatePerUser: 1e9,
		FlappingMaxConnects: 1 << 30, FlappingWindow: time.Minute, FlappingBan: time.Minute})
}

// BenchmarkConnect is the per-CONNECT check with every limit on: bans,
// flapping by IP and client ID, per-IP and global rates.
func BenchmarkConnect(b *testing.B) {
	l := benchLimiter()
	id := []byte("client-0001")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		ip := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		_ = l.Connect(int64(i)*1000, ip, id)
	}
}

// BenchmarkConnectParallel is the same from GOMAXPROCS goroutines (loops).
func BenchmarkConnectParallel(b *testing.B) {
	l := benchLimiter()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		id := []byte("client-0001")
		i := 0
		for pb.Next() {
			i++
			ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
			_ = l.Connect(int64(i)*1000, ip, id)
		}
	})
}

// BenchmarkAuthAcquireRelease is the per-user work of one connection.
func BenchmarkAuthAcquireRelease(b *testing.B) {
	l := benchLimiter()
	u := []byte("alice")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = l.Auth(int64(i)*1000, u)
		s, _ := l.Acquire(int64(i)*1000, u)
		l.Release(s)
	}
}

// BenchmarkPublish is the per-PUBLISH check on the connection.
func BenchmarkPublish(b *testing.B) {
	r := Config{PublishRatePerClient: 1e9, PublishBytesPerClient: 1e9}.PublishRates()
	var p Publish
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = p.Allow(int64(i)*1000, 200, r)
	}
}
