package listener

import "testing"

// BenchmarkParseProxy parses one header of each kind, as the loop does once
// per proxied connection.
func BenchmarkParseProxy(b *testing.B) {
	for _, i := range []int{0, 2, 6, 8} {
		g := goldenProxy[i]
		b.Run(g.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(g.in)))
			for b.Loop() {
				if _, _, err := ParseProxy(g.in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
