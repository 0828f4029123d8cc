package ws

import (
	"bufio"
	"bytes"
	"net/http"
	"testing"

	"github.com/gobwas/ws"
)

// FuzzReader feeds arbitrary client streams whole, byte by byte and in
// chunks of a fuzzed size: Feed must never panic, never modify or over-consume
// its input, and reach the same MQTT bytes, control frames and error however
// the stream was split. Server frames in ctrl must parse with gobwas/ws.
func FuzzReader(f *testing.F) {
	f.Add(clientFrame(ws.OpBinary, true, []byte{0x30, 0x05, 0x00, 0x01, 't', 'h', 'i'}), uint8(3), int16(0))
	f.Add(append(clientFrame(ws.OpBinary, false, pattern(130, 1)), clientFrame(ws.OpContinuation, true, pattern(4, 2))...), uint8(7), int16(200))
	f.Add(append(clientFrame(ws.OpPing, true, []byte("p")), clientFrame(ws.OpClose, true, []byte{3, 232, 'o', 'k'})...), uint8(1), int16(0))
	f.Add(clientFrame(ws.OpText, true, []byte("t")), uint8(2), int16(0))
	f.Add(rawFrame(0x82, false, []byte("unmasked")), uint8(5), int16(0))
	f.Add([]byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4}, uint8(1), int16(-1))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8, maxFrame int16) {
		var results [3]feedResult
		for i, next := range []func() int{whole(), byteAtATime(), func() int { return int(chunk) }} {
			r := Reader{MaxFrame: int(maxFrame)}
			results[i] = feedChunks(&r, data, next)
		}
		for i := 1; i < len(results); i++ {
			a, b := results[0], results[i]
			if !bytes.Equal(a.mqtt, b.mqtt) || !bytes.Equal(a.ctrl, b.ctrl) || a.err != b.err || (a.err == nil && a.pending != b.pending) {
				t.Fatalf("split %d differs from whole: mqtt %d/%d bytes, ctrl %d/%d, err %v/%v, pending %d/%d",
					i, len(a.mqtt), len(b.mqtt), len(a.ctrl), len(b.ctrl), a.err, b.err, a.pending, b.pending)
			}
		}
		rd := bytes.NewReader(results[0].ctrl)
		for rd.Len() > 0 {
			fr, err := ws.ReadFrame(rd)
			if err != nil || fr.Header.Masked || !fr.Header.OpCode.IsControl() {
				t.Fatalf("bad server control frame: %v %+v", err, fr.Header)
			}
		}
		if len(results[0].mqtt) > len(data) {
			t.Fatalf("more MQTT bytes (%d) than input (%d)", len(results[0].mqtt), len(data))
		}
	})
}

// FuzzHandshake feeds arbitrary requests whole and byte by byte: Feed must
// never panic, both ways must agree, and every response must be valid HTTP.
func FuzzHandshake(f *testing.F) {
	f.Add([]byte(upgradeRequest(nil)))
	f.Add([]byte(upgradeRequest(func(h map[string]string) string { return "GET /x HTTP/1.1" })))
	f.Add([]byte(upgradeRequest(func(h map[string]string) string { h["Sec-WebSocket-Version"] = "8"; return "" })))
	f.Add([]byte("GET /mqtt HTTP/1.1\r\nHost: a\r\n\r\n"))
	f.Add([]byte("\r\n\r\n"))
	f.Add([]byte("GET http://h HTTP/1.1\r\n:\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var whole Handshake
		whole.Path = "/mqtt"
		wn, wresp, werr := whole.Feed(data, nil)
		if wn < 0 || wn > len(data) {
			t.Fatalf("n=%d out of range", wn)
		}
		h := Handshake{Path: "/mqtt"}
		var n int
		var resp []byte
		var err error
		for i := 1; i <= len(data); i++ {
			n, resp, err = h.Feed(data[:i], nil)
			if err != ErrNeedMore {
				break
			}
		}
		if len(data) > 0 && (n != wn || err != werr || !bytes.Equal(resp, wresp)) {
			t.Fatalf("byte at a time: n=%d err=%v; whole: n=%d err=%v", n, err, wn, werr)
		}
		if werr == ErrNeedMore {
			return
		}
		r, perr := http.ReadResponse(bufio.NewReader(bytes.NewReader(wresp)), nil)
		if perr != nil {
			t.Fatalf("response does not parse: %v\n%q", perr, wresp)
		}
		if (werr == nil) != (r.StatusCode == 101) {
			t.Fatalf("err %v with status %d", werr, r.StatusCode)
		}
	})
}

// FuzzInflate feeds arbitrary permessage-deflate payloads, in one RSV1 frame
// and split over a first frame and a continuation, whole and byte by byte:
// Feed must never panic, never produce more than Inflater.Limit bytes for a
// message, end only with ErrInflateTooBig or ErrInflateCorrupt, agree with
// the standard library's inflater on what is valid, and leave no buffer
// with the Inflater after the message.
func FuzzInflate(f *testing.F) {
	f.Add(refCompress([]byte(`{"temp":21.5,"temp":21.5,"temp":21.5}`)), uint8(5))
	f.Add(refCompress(make([]byte, 5000)), uint8(1))
	f.Add([]byte{0xff, 0xff, 0xff, 0x00}, uint8(2))
	f.Add([]byte{0x01, 0x00, 0x00, 0xff, 0xff, 0x01}, uint8(3)) // a final block, then junk
	f.Add([]byte{}, uint8(0))
	const limit = 4096
	f.Fuzz(func(t *testing.T, z []byte, cut uint8) {
		k := min(int(cut), len(z))
		streams := [][]byte{
			rawFrame(0xc2, true, z),
			append(rawFrame(0x42, true, z[:k]), rawFrame(0x80, true, z[k:])...),
		}
		ref, refErr := refInflate(z)
		for _, s := range streams {
			for _, next := range []func() int{whole(), byteAtATime()} {
				fl := Inflater{Limit: limit}
				r := Reader{Inflate: &fl}
				res := feedChunks(&r, s, next)
				if len(fl.open) != 0 {
					t.Fatal("buffer kept after the message")
				}
				if len(res.mqtt) > limit {
					t.Fatalf("inflated %d bytes past the limit %d", len(res.mqtt), limit)
				}
				switch res.err {
				case nil:
					if refErr != nil || !bytes.Equal(res.mqtt, ref) {
						t.Fatalf("accepted what the reference refuses (%v) or differs: %d/%d bytes", refErr, len(res.mqtt), len(ref))
					}
				case ErrInflateTooBig:
					if refErr == nil && len(ref) <= limit {
						t.Fatalf("refused %d bytes as too big", len(ref))
					}
				case ErrInflateCorrupt:
					if refErr == nil && len(ref) <= limit {
						t.Fatal("refused as corrupt what the reference inflates")
					}
				default:
					t.Fatalf("unexpected end %v", res.err)
				}
			}
		}
	})
}
