package mqttcodec

import (
	"testing"
)

// streamDecode is the event-loop shape: accumulate bytes, frame with
// PacketSize, decode whole frames. It returns the normalized packets.
func streamDecode(t *testing.T, chunks [][]byte, v Version) []string {
	t.Helper()
	var out []string
	var pending []byte
	for _, c := range chunks {
		pending = append(pending, c...)
		for {
			size, err := PacketSize(pending, 0)
			if err == ErrNeedMore || (err == nil && len(pending) < size) {
				break
			}
			if err != nil {
				t.Fatalf("PacketSize: %v", err)
			}
			p, err := decodeFrame(pending[:size:size], v)
			if err != nil {
				t.Fatalf("decode % x: %v", pending[:size], err)
			}
			out = append(out, normalize(p))
			pending = pending[size:]
		}
	}
	if len(pending) != 0 {
		t.Fatalf("%d bytes left over", len(pending))
	}
	return out
}

func TestSplitEveryBoundary(t *testing.T) {
	for _, v := range []Version{V31, V311, V5} {
		var stream []byte
		var want []string
		for _, g := range allGoldens() {
			if g.v == v {
				stream = append(stream, g.frame...)
				want = append(want, normalize(g.want))
			}
		}
		check := func(name string, got []string) {
			t.Helper()
			if len(got) != len(want) {
				t.Fatalf("%s %v: %d packets, want %d", name, v, len(got), len(want))
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("%s %v packet %d:\n got %s\nwant %s", name, v, i, got[i], want[i])
				}
			}
		}
		for k := 0; k <= len(stream); k++ {
			a := append([]byte(nil), stream[:k]...)
			b := append([]byte(nil), stream[k:]...)
			check("split", streamDecode(t, [][]byte{a, b}, v))
		}
		var bytewise [][]byte
		for i := range stream {
			bytewise = append(bytewise, []byte{stream[i]})
		}
		check("byte-at-a-time", streamDecode(t, bytewise, v))
	}
}

// TestEveryPrefixRejected feeds every strict prefix of every golden frame
// straight to the decoder (as if a caller ignored PacketSize): each must be
// an error, never a panic or a success, and PacketSize must say "need more"
// or give the full size.
func TestEveryPrefixRejected(t *testing.T) {
	for _, g := range allGoldens() {
		for k := 0; k < len(g.frame); k++ {
			prefix := append([]byte(nil), g.frame[:k]...)
			if _, err := decodeFrame(prefix, g.v); err == nil {
				t.Errorf("%v/%s: prefix %d decoded without error", g.v, g.name, k)
			}
			n, err := PacketSize(prefix, 0)
			if err != ErrNeedMore && !(err == nil && n == len(g.frame)) {
				t.Errorf("%v/%s: PacketSize(prefix %d) = %d, %v", g.v, g.name, k, n, err)
			}
		}
	}
}
