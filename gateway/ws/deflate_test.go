package ws

import (
	"bytes"
	stdflate "compress/flate"
	"io"
	"strings"
	"testing"
)

// refCompress is the reference client compressor: the standard library's
// flate, flushed, with the 0x00 0x00 0xff 0xff tail removed (RFC 7692 7.2.1).
func refCompress(p []byte) []byte {
	var b bytes.Buffer
	w, _ := stdflate.NewWriter(&b, stdflate.BestCompression)
	_, _ = w.Write(p)
	_ = w.Flush()
	return bytes.TrimSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff})
}

// refInflate is the reference inflater for what Deflater writes.
func refInflate(z []byte) ([]byte, error) {
	r := stdflate.NewReader(io.MultiReader(bytes.NewReader(z), bytes.NewReader(deflateTail)))
	return io.ReadAll(r)
}

// zFrames splits the compressed form of p over frames of at most size bytes:
// RSV1 on the first only (RFC 7692 6.1).
func zFrames(p []byte, size int) []byte {
	z := refCompress(p)
	var out []byte
	for first := true; first || len(z) > 0; first = false {
		k := min(size, len(z))
		b0 := byte(opContinuation)
		if first {
			b0 = opBinary | rsv1
		}
		if k == len(z) {
			b0 |= finBit
		}
		out = append(out, rawFrame(b0, true, z[:k])...)
		z = z[k:]
	}
	return out
}

// TestNegotiateDeflate: RFC 7692 section 7 offers, one per row, and the
// Sec-WebSocket-Extensions answer (empty: the extension is not accepted).
func TestNegotiateDeflate(t *testing.T) {
	const both = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
	for _, tc := range []struct {
		name, offer, want string
		off               bool // Handshake.Deflate false
		maxMsg            int  // Compression's maxMessage
	}{
		{name: "RFC7692-7/plain", offer: "permessage-deflate", want: both},
		{name: "RFC7692-7/case", offer: "PerMessage-Deflate; Client_Max_Window_Bits", want: both},
		{name: "RFC7692-7/disabled", offer: "permessage-deflate", off: true},
		{name: "RFC7692-7/none offered", offer: "x-webkit-deflate-frame"},
		{name: "RFC7692-7.1.1/both takeovers", offer: "permessage-deflate; server_no_context_takeover; client_no_context_takeover", want: both},
		{name: "RFC7692-7.1.2.2/client bits, no value", offer: "permessage-deflate; client_max_window_bits", want: both},
		{name: "RFC7692-7.1.2.2/client bits 10", offer: "permessage-deflate; client_max_window_bits=10", want: both},
		{name: "RFC7692-7.1.2.2/client bits quoted", offer: `permessage-deflate; client_max_window_bits="9"`, want: both},
		{name: "RFC7692-7.1.2.2/client bits 16 declined", offer: "permessage-deflate; client_max_window_bits=16"},
		{name: "RFC7692-7.1.2.1/server bits 15", offer: "permessage-deflate; server_max_window_bits=15", want: both + "; server_max_window_bits=15"},
		{name: "RFC7692-7.1.2.1/server bits 10", offer: "permessage-deflate; server_max_window_bits=10", want: both + "; server_max_window_bits=10", maxMsg: 1024},
		{name: "RFC7692-7.1.2.1/server bits 8 quoted", offer: `permessage-deflate;server_max_window_bits="8"`, want: both + "; server_max_window_bits=8", maxMsg: 256},
		{name: "RFC7692-7.1.2.1/server bits no value", offer: "permessage-deflate; server_max_window_bits"},
		{name: "RFC7692-7.1.2.1/server bits 7", offer: "permessage-deflate; server_max_window_bits=7"},
		{name: "RFC7692-7.1.2.1/leading zero", offer: "permessage-deflate; server_max_window_bits=09"},
		{name: "RFC7692-7/unknown param", offer: "permessage-deflate; foo=1"},
		{name: "RFC7692-7/repeated param", offer: "permessage-deflate; client_no_context_takeover; client_no_context_takeover"},
		{name: "RFC7692-7.1.1.1/takeover with value", offer: "permessage-deflate; server_no_context_takeover=1"},
		{name: "RFC7692-5/second offer after declined", offer: "permessage-deflate; server_max_window_bits=7, permessage-deflate; server_max_window_bits=12", want: both + "; server_max_window_bits=12", maxMsg: 4096},
		{name: "RFC7692-5/first acceptable wins", offer: "foo; a=\"x,y\", permessage-deflate, permessage-deflate; server_max_window_bits=9", want: both},
		{name: "RFC7692-5/browser", offer: "permessage-deflate; client_max_window_bits", want: both},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := Handshake{Path: "/mqtt", Deflate: !tc.off}
			req := upgradeRequest(func(h map[string]string) string {
				h["Sec-WebSocket-Extensions"] = tc.offer
				return ""
			})
			_, resp, err := h.Feed([]byte(req), nil)
			if err != nil {
				t.Fatal(err)
			}
			r := readResponse(t, resp)
			if got := r.Header.Get("Sec-WebSocket-Extensions"); got != tc.want {
				t.Fatalf("Sec-WebSocket-Extensions = %q, want %q", got, tc.want)
			}
			on, maxMsg := h.Compression()
			if on != (tc.want != "") || maxMsg != tc.maxMsg {
				t.Fatalf("Compression() = %v, %d; want %v, %d", on, maxMsg, tc.want != "", tc.maxMsg)
			}
		})
	}
}

// TestNegotiateDeflateHeaderLines: offers may come on several header lines;
// the first acceptable one wins.
func TestNegotiateDeflateHeaderLines(t *testing.T) {
	req := "GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Extensions: permessage-deflate; bogus\r\n" +
		"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=11\r\n\r\n"
	h := Handshake{Deflate: true}
	_, resp, err := h.Feed([]byte(req), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := readResponse(t, resp).Header.Values("Sec-WebSocket-Extensions"); len(got) != 1 || !strings.HasSuffix(got[0], "server_max_window_bits=11") {
		t.Fatalf("answer %q", got)
	}
}

// TestInflateSplit: compressed messages, whole or fragmented, interleaved
// with a ping and an uncompressed message, fed whole, byte by byte, and split
// at every byte, give the same MQTT stream as the uncompressed input.
func TestInflateSplit(t *testing.T) {
	json := bytes.Repeat([]byte(`{"device":"pump-17","temp":21.5,"ok":true},`), 20)
	a, b, c := append([]byte{0x30, 0x7f}, json[:127]...), json, pattern(300, 3)
	stream := zFrames(a, 1<<20)
	stream = append(stream, clientFrame(0x9, true, []byte("hi"))...)
	stream = append(stream, zFrames(b, 17)...) // fragmented, a ping could not be between: control frames are
	stream = append(stream, clientFrame(0x2, true, c)...)
	stream = append(stream, zFrames(nil, 10)...) // empty compressed message
	want := append(append(append([]byte{}, a...), b...), c...)

	check := func(name string, res feedResult) {
		t.Helper()
		if res.err != nil || res.pending != 0 || !bytes.Equal(res.mqtt, want) {
			t.Fatalf("%s: err %v, pending %d, mqtt %d bytes equal=%v", name, res.err, res.pending, len(res.mqtt), bytes.Equal(res.mqtt, want))
		}
	}
	var f Inflater
	r := Reader{Inflate: &f}
	check("whole", feedChunks(&r, stream, whole()))
	r = Reader{Inflate: &f}
	check("byte at a time", feedChunks(&r, stream, byteAtATime()))
	for cut := 1; cut < len(stream); cut++ {
		r = Reader{Inflate: &f}
		first := true
		res := feedChunks(&r, stream, func() int {
			if first {
				first = false
				return cut
			}
			return 1 << 30
		})
		check("split", res)
		if len(f.open) != 0 {
			t.Fatal("a compression buffer is kept between messages")
		}
	}
	if f.Inflated == 0 {
		t.Fatal("Inflated not counted")
	}
}

// TestInflateRefused: what permessage-deflate forbids or cannot bound ends the
// stream with the RFC's close code, however the stream is split.
func TestInflateRefused(t *testing.T) {
	bomb := refCompress(make([]byte, 4<<20)) // 4 MiB of zeros in about 4 KiB
	for _, tc := range []struct {
		name   string
		data   []byte
		noExt  bool
		want   *CloseError
		before []byte // MQTT bytes delivered before the error
	}{
		{name: "RFC7692-8.2.3/bomb", data: rawFrame(0xc2, true, bomb), want: ErrInflateTooBig},
		{name: "RFC7692-8.2.3/bomb fragmented", data: append(rawFrame(0x42, true, bomb[:100]), rawFrame(0x80, true, bomb[100:])...), want: ErrInflateTooBig},
		{name: "RFC7692-8.2.3/compressed too long", data: rawFrame(0xc2, true, pattern(70000, 1)), want: ErrInflateTooBig},
		{name: "RFC7692-6.2/corrupt", data: rawFrame(0xc2, true, []byte{0xff, 0xff, 0xff, 0x00, 0x13}), want: ErrInflateCorrupt},
		{name: "RFC7692-6.2/corrupt after good", data: append(zFrames([]byte("ok"), 99), rawFrame(0xc2, true, []byte{0x07})...), want: ErrInflateCorrupt, before: []byte("ok")},
		{name: "RFC7692-6.1/RSV1 on ping", data: rawFrame(0xc9, true, nil), want: ErrRSV1},
		{name: "RFC7692-6/RSV1 on continuation", data: append(rawFrame(0x02, true, []byte{1}), rawFrame(0xc0, true, []byte{2})...), want: ErrRSV1, before: []byte{1}},
		{name: "RFC7692-6/RSV2", data: rawFrame(0xa2, true, nil), want: ErrReservedBits},
		{name: "RFC6455-5.2/RSV1 without extension", data: zFrames([]byte("x"), 9), noExt: true, want: ErrReservedBits},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, next := range []func() int{whole(), byteAtATime(), randomChunks(7)} {
				f := Inflater{Limit: 64 << 10}
				r := Reader{Inflate: &f}
				if tc.noExt {
					r.Inflate = nil
				}
				res := feedChunks(&r, tc.data, next)
				if res.err != tc.want || !bytes.Equal(res.mqtt, tc.before) {
					t.Fatalf("err %v mqtt %q, want %v %q", res.err, res.mqtt, tc.want, tc.before)
				}
				if !bytes.HasSuffix(res.ctrl, AppendClose(nil, tc.want.Code, tc.want.Msg)) {
					t.Fatalf("ctrl %x lacks the close frame %d", res.ctrl, tc.want.Code)
				}
			}
		})
	}
}

// TestDeflaterRoundTrip: what Deflater writes inflates, with the standard
// library, to the concatenated segments, and each message is independent
// (no context takeover: the second is readable alone).
func TestDeflaterRoundTrip(t *testing.T) {
	var d Deflater
	json := bytes.Repeat([]byte(`{"t":21.5,"h":40},`), 50)
	for i, segs := range [][][]byte{{json}, {[]byte{0x30, 0x10}, json[:100], json[100:]}, {pattern(5000, 1)}, {{}}} {
		z := d.AppendCompressed([]byte("prefix"), segs)
		if !bytes.HasPrefix(z, []byte("prefix")) {
			t.Fatal("dst not kept")
		}
		got, err := refInflate(z[6:])
		if want := bytes.Join(segs, nil); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("message %d: %v, %d bytes, want %d", i, err, len(got), len(want))
		}
	}
}

// TestDeflateAllocs: after the first message, inflating a compressed
// message into a buffer with room and compressing one into a buffer with room
// allocate nothing.
func TestDeflateAllocs(t *testing.T) {
	msg := bytes.Repeat([]byte(`{"device":"pump-17","temp":21.5}`), 8)
	frame := zFrames(msg, 1<<20)
	var f Inflater
	mqtt := make([]byte, 0, 4096)
	ctrl := make([]byte, 0, 256)
	r := Reader{Inflate: &f}
	if _, _, _, err := r.Feed(frame, mqtt, ctrl); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() {
		if _, _, _, err := r.Feed(frame, mqtt[:0], ctrl[:0]); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Reader.Feed of a compressed message: %v allocs, want 0", n)
	}
	var d Deflater
	dst := make([]byte, 0, 4096)
	segs := [][]byte{msg}
	d.AppendCompressed(dst, segs)
	if n := testing.AllocsPerRun(100, func() { d.AppendCompressed(dst[:0], segs) }); n != 0 {
		t.Errorf("Deflater.AppendCompressed: %v allocs, want 0", n)
	}
}

// TestDeflateSmall: a typical JSON telemetry PUBLISH of a few hundred
// bytes, and one of 192 (the default ws_deflate_min_bytes), come out smaller
// (klauspost's levels 1 to 3 store such inputs uncompressed).
func TestDeflateSmall(t *testing.T) {
	js := []byte(`0\xbd\x02\x00\x01b{"device":"pump-station-17/unit-4","ts":17334800002,"temperature_c":21.5,"humidity_pct":40.2,"pressure_hpa":1013.25,"vibration_rms":0.013,"status":"ok","firmware":"4.2.1-rc3","battery_pct":87,"rssi_dbm":-67,"uptime_s":86400,"alarms":[],"location":{"lat":52.5200,"lon":13.4050},"tags":["north","line-2","critical"]}`)
	var d Deflater
	for _, p := range [][]byte{js, js[:192]} {
		if z := d.AppendCompressed(nil, [][]byte{p[:6], p[6:]}); len(z) >= len(p) {
			t.Errorf("%d bytes compressed to %d", len(p), len(z))
		}
	}
}

// TestInflateBudget: one Feed inflates at most about Inflater.Limit bytes:
// eight small compressed messages that each inflate to 60% of the limit are
// not all inflated by one call (a read of small bombs under the limit would
// otherwise be multiplied), and calling again for the rest gives them all.
func TestInflateBudget(t *testing.T) {
	const limit = 64 << 10
	msg := make([]byte, limit*6/10)
	var stream []byte
	for range 8 {
		stream = append(stream, zFrames(msg, 1<<20)...)
	}
	f := Inflater{Limit: limit}
	r := Reader{Inflate: &f}
	n, mqtt, _, err := r.Feed(stream, nil, nil)
	if err != nil || n >= len(stream) || len(mqtt) > 2*limit {
		t.Fatalf("first Feed: consumed %d of %d, inflated %d (limit %d), %v", n, len(stream), len(mqtt), limit, err)
	}
	for rest := stream[n:]; len(rest) > 0; {
		k, out, _, err := r.Feed(rest, mqtt, nil)
		if err != nil || k == 0 {
			t.Fatalf("Feed: %d, %v", k, err)
		}
		mqtt, rest = out, rest[k:]
	}
	if len(mqtt) != 8*len(msg) {
		t.Fatalf("inflated %d bytes, want %d", len(mqtt), 8*len(msg))
	}
}
