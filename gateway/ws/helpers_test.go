package ws

import (
	"bytes"
	"math/rand/v2"

	"github.com/gobwas/ws"
)

// clientFrame builds a masked client frame with gobwas/ws, the reference
// encoder: opcode op, FIN fin, payload p.
func clientFrame(op ws.OpCode, fin bool, p []byte) []byte {
	f := ws.MaskFrameWith(ws.NewFrame(op, fin, bytes.Clone(p)), [4]byte{0x37, 0xfa, 0x21, 0x3d})
	return ws.MustCompileFrame(f)
}

// rawFrame builds a client frame byte by byte, for headers gobwas refuses to
// write: b0, the masked flag, a length field written as given, and a masked p.
func rawFrame(b0 byte, masked bool, p []byte) []byte {
	out := []byte{b0}
	b1 := byte(0)
	if masked {
		b1 = maskBit
	}
	switch {
	case len(p) <= 125:
		out = append(out, b1|byte(len(p)))
	case len(p) <= 0xffff:
		out = append(out, b1|126, byte(len(p)>>8), byte(len(p)))
	default:
		out = append(out, b1|127, 0, 0, 0, 0, byte(len(p)>>24), byte(len(p)>>16), byte(len(p)>>8), byte(len(p)))
	}
	if !masked {
		return append(out, p...)
	}
	mask := [4]byte{1, 2, 3, 4}
	out = append(out, mask[:]...)
	for i, c := range p {
		out = append(out, c^mask[i%4])
	}
	return out
}

// feedResult is everything a Reader produced over a stream.
type feedResult struct {
	mqtt, ctrl []byte
	err        error
	pending    int // bytes left unconsumed at the end
}

// feedChunks drives r the way gnet's OnTraffic does: bytes arrive in chunks
// of the sizes next returns, and what Feed did not consume stays in front.
// The pending buffer is a fresh copy each time, so a Reader that kept a
// reference to buf would be caught by the comparisons.
func feedChunks(r *Reader, data []byte, next func() int) feedResult {
	var res feedResult
	var pending []byte
	for off := 0; off < len(data); {
		k := min(max(next(), 1), len(data)-off)
		pending = append(bytes.Clone(pending), data[off:off+k]...)
		off += k
		before := bytes.Clone(pending)
		var n int
		n, res.mqtt, res.ctrl, res.err = r.Feed(pending, res.mqtt, res.ctrl)
		if !bytes.Equal(before, pending) {
			panic("Feed modified its input")
		}
		if n < 0 || n > len(pending) {
			panic("Feed consumed out of range")
		}
		pending = pending[n:]
		if res.err != nil {
			break
		}
	}
	res.pending = len(pending)
	return res
}

func whole() func() int       { return func() int { return 1 << 30 } }
func byteAtATime() func() int { return func() int { return 1 } }
func randomChunks(seed uint64) func() int {
	rng := rand.New(rand.NewPCG(seed, 1))
	return func() int { return 1 + rng.IntN(40) }
}

// naiveUnmask is the reference for ws.Cipher.
func naiveUnmask(p []byte, mask [4]byte) []byte {
	out := make([]byte, len(p))
	for i := range p {
		out[i] = p[i] ^ mask[i%4]
	}
	return out
}

// pattern returns n bytes that differ from position to position.
func pattern(n int, salt byte) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7) + salt
	}
	return p
}
