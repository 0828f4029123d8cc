package listener

import "testing"

// BenchmarkSocketMemory reports what the kernel charges per accepted client
// socket (server end only, from SO_MEMINFO: queued bytes plus forward
// allocation) with the kernel's default buffers and with 4 KiB ones, for an
// idle connection, one whose client stopped reading and one the server
// stopped reading (a publisher held back), and the same
// seen from /proc/net/sockstat (both ends, whole machine: noisy).
//
//	go test -run '^$' -bench SocketMemory -benchtime 5x ./gateway/listener/
func BenchmarkSocketMemory(b *testing.B) {
	for _, bc := range []struct {
		name string
		o    Options
		n    int
		load load
	}{
		{"default/idle", Options{}, 256, loadIdle},
		{"4KiB/idle", Options{RecvBuffer: 4096, SendBuffer: 4096}, 256, loadIdle},
		{"default/client-not-reading", Options{}, 8, loadStall},
		{"4KiB/client-not-reading", Options{RecvBuffer: 4096, SendBuffer: 4096}, 8, loadStall},
		{"default/server-not-reading", Options{}, 8, loadUnread},
		{"4KiB/server-not-reading", Options{RecvBuffer: 4096, SendBuffer: 4096}, 8, loadUnread},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			var charged, pages, conns int
			for range b.N {
				before := sockstatTCPPages(b)
				b.StartTimer()
				ms, release := holdSockets(b, bc.o, bc.n, bc.load)
				b.StopTimer()
				pages += sockstatTCPPages(b) - before
				release()
				for _, m := range ms {
					charged += m.charged()
				}
				conns += len(ms)
			}
			b.ReportMetric(float64(charged)/float64(conns), "kernel-B/conn")
			b.ReportMetric(float64(pages)*4096/float64(conns), "sockstat-B/conn")
		})
	}
}
