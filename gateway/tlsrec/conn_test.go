package tlsrec

import (
	"crypto/tls"
	"math/rand/v2"
	"testing"
)

// TestConnEcho: real crypto/tls clients over TCP complete the handshake with
// a test loop and exchange data both ways, with TLS 1.2 and 1.3, the bytes
// fed as read, one at a time, and in random pieces.
func TestConnEcho(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	splits := []struct {
		name string
		f    func() int
	}{
		{"as-read", nil},
		{"byte-at-a-time", byteAtATime()},
		{"random-pieces", func() int { return 1 + rng.IntN(700) }},
	}
	for _, vers := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		for _, sp := range splits {
			t.Run(tls.VersionName(vers)+"/"+sp.name, func(t *testing.T) {
				srv := newServer(t, Config{})
				ln := listen(t)
				results := serve(t, srv, ln, loopOpts{split: sp.f, echo: true})
				tc := dial(t, ln, clientConfig(t, vers))
				for _, n := range []int{1, 100, 16384, 16385, 70000} {
					exchange(t, tc, pattern(n, byte(n)))
				}
				tc.Close()
				res := <-results
				if res.err != ErrPeerClosed {
					t.Fatalf("end: %v (cause %v), want ErrPeerClosed", res.err, res.cause)
				}
				if res.vers != vers || res.peer != nil {
					t.Fatalf("version %x peer %v", res.vers, res.peer)
				}
				if got := len(res.plain); got != 1+100+16384+16385+70000 {
					t.Fatalf("server received %d bytes", got)
				}
				if st := srv.Stats(); st.Completed != 1 || st.InProgress != 0 {
					t.Fatalf("stats %+v", st)
				}
			})
		}
	}
}
