package listener

import "testing"

// FuzzParseProxy feeds arbitrary bytes: ParseProxy must never panic, never
// claim more than it was given, and agree with itself however the stream is
// split: a header found at n is ErrProxyNeedMore at every shorter prefix
// and the same header when exactly n bytes are given (it never reads past
// the header); an error at some prefix stays an error when more arrives.
func FuzzParseProxy(f *testing.F) {
	for _, g := range goldenProxy {
		f.Add(append(append([]byte(nil), g.in...), mqttConnect...))
	}
	f.Add([]byte("PROXY TCP4 1.2.3.04 1.2.3.5 1 2\r\n"))
	f.Add([]byte("PROXY UNKNOWN\n"))
	f.Add(proxyV2(0x21, 0x11, []byte{1, 2, 3}))
	f.Add(proxyV2(0x21, 0x11, v2Inet(ap4a, ap4b), []byte{1, 0, 5, 'a'}))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, hdr, err := ParseProxy(data)
		if n < 0 || n > len(data) || (err != nil && (n != 0 || hdr != ProxyHeader{})) {
			t.Fatalf("n=%d of %d, err %v", n, len(data), err)
		}
		if err == nil {
			if n == 0 || (hdr.Version != 1 && hdr.Version != 2) {
				t.Fatalf("n=%d hdr %+v", n, hdr)
			}
			if hdr.Command == ProxyForward && (!hdr.Src.IsValid() || !hdr.Dst.IsValid()) {
				t.Fatalf("forward without addresses: %+v", hdr)
			}
			if n2, hdr2, err2 := ParseProxy(data[:n]); n2 != n || hdr2 != hdr || err2 != nil {
				t.Fatalf("exact prefix differs: %d %+v %v", n2, hdr2, err2)
			}
		}
		limit := len(data)
		if err == nil {
			limit = n
		}
		failed := false
		for i := 0; i < limit; i++ {
			_, _, e := ParseProxy(data[:i])
			if failed && e == ErrProxyNeedMore {
				t.Fatalf("prefix %d needs more after an earlier prefix failed", i)
			}
			if e != ErrProxyNeedMore {
				if err == nil {
					t.Fatalf("prefix %d of a %d-byte header: %v", i, n, e)
				}
				failed = true
			}
		}
		if failed && err == nil {
			t.Fatal("error at a prefix, success later")
		}
	})
}
