package ws

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"unsafe"

	"github.com/gobwas/ws"
)

// parseCtrl reads the frames in ctrl with gobwas/ws (the reference decoder).
func parseCtrl(t *testing.T, ctrl []byte) []ws.Frame {
	t.Helper()
	var out []ws.Frame
	r := bytes.NewReader(ctrl)
	for r.Len() > 0 {
		f, err := ws.ReadFrame(r)
		if err != nil {
			t.Fatalf("ctrl is not a frame sequence: %v (% x)", err, ctrl)
		}
		if f.Header.Masked || !f.Header.Fin {
			t.Fatalf("server frame must be unmasked and final: %+v", f.Header)
		}
		out = append(out, f)
	}
	return out
}

// TestReaderStream checks a valid stream — frames of every length encoding,
// a fragmented message with pings between its fragments, pongs, empty
// frames — fed whole, byte by byte and in random chunks.
func TestReaderStream(t *testing.T) {
	var stream, want []byte
	add := func(f []byte, p []byte) {
		stream = append(stream, f...)
		want = append(want, p...)
	}
	for i, n := range []int{0, 1, 3, 125, 126, 300, 0xffff, 0x10000, 70001} {
		p := pattern(n, byte(i))
		add(clientFrame(ws.OpBinary, true, p), p)
	}
	// A fragmented message: binary(FIN=0), ping, continuation, pong, continuation(FIN=1).
	p1, p2, p3 := pattern(10, 1), pattern(129, 2), pattern(5, 3)
	add(clientFrame(ws.OpBinary, false, p1), p1)
	add(clientFrame(ws.OpPing, true, []byte("ping-1")), nil)
	add(clientFrame(ws.OpContinuation, false, p2), p2)
	add(clientFrame(ws.OpPong, true, []byte("unsolicited")), nil)
	add(clientFrame(ws.OpContinuation, true, p3), p3)
	add(clientFrame(ws.OpPing, true, nil), nil)
	add(clientFrame(ws.OpPing, true, pattern(125, 9)), nil)

	feeds := map[string]func() func() int{
		"whole":          whole,
		"byte-at-a-time": byteAtATime,
		"random-chunks":  func() func() int { return randomChunks(42) },
	}
	for name, next := range feeds {
		t.Run(name, func(t *testing.T) {
			var r Reader
			res := feedChunks(&r, stream, next())
			if res.err != nil || res.pending != 0 {
				t.Fatalf("err %v, %d bytes pending", res.err, res.pending)
			}
			if !bytes.Equal(res.mqtt, want) {
				t.Fatalf("mqtt stream differs: got %d bytes, want %d", len(res.mqtt), len(want))
			}
			frames := parseCtrl(t, res.ctrl)
			wantPongs := [][]byte{[]byte("ping-1"), {}, pattern(125, 9)}
			if len(frames) != len(wantPongs) {
				t.Fatalf("got %d control frames, want %d pongs", len(frames), len(wantPongs))
			}
			for i, f := range frames {
				if f.Header.OpCode != ws.OpPong || !bytes.Equal(f.Payload, wantPongs[i]) {
					t.Errorf("ctrl frame %d: op %v payload %q, want pong %q", i, f.Header.OpCode, f.Payload, wantPongs[i])
				}
			}
			if r.Done() {
				t.Error("Done after a stream without close")
			}
		})
	}
}

// TestReaderUnmaskAgainstNaive checks unmasking at every mask phase across
// chunk boundaries against a byte-by-byte XOR.
func TestReaderUnmaskAgainstNaive(t *testing.T) {
	mask := [4]byte{0xde, 0xad, 0xbe, 0xef}
	for n := 0; n < 80; n++ {
		p := pattern(n, byte(n))
		masked := naiveUnmask(p, mask) // XOR is its own inverse
		frame := AppendFrameHeader(nil, n)
		frame[1] |= maskBit
		frame = append(append(frame, mask[:]...), masked...)
		for split := 0; split <= len(frame); split++ {
			var r Reader
			var mqtt []byte
			n1, mqtt, _, err := r.Feed(frame[:split], mqtt, nil)
			if err != nil {
				t.Fatal(err)
			}
			n2, mqtt, _, err := r.Feed(frame[n1:], mqtt, nil)
			if err != nil || n1+n2 != len(frame) || !bytes.Equal(mqtt, p) {
				t.Fatalf("n=%d split=%d: consumed %d+%d of %d, err %v, payload ok %v", n, split, n1, n2, len(frame), err, bytes.Equal(mqtt, p))
			}
		}
	}
}

func TestReaderViolations(t *testing.T) {
	ok := clientFrame(ws.OpBinary, true, []byte("mqtt-bytes"))
	tests := []struct {
		name     string
		maxFrame int
		input    []byte
		wantErr  *CloseError
	}{
		{name: "MQTT-6.0.0-1 text frame", input: clientFrame(ws.OpText, true, []byte("hi")), wantErr: ErrTextFrame},
		{name: "RFC6455-5.1 unmasked client frame", input: rawFrame(0x82, false, []byte("x")), wantErr: ErrUnmasked},
		{name: "RFC6455-7.4.1 frame over MaxFrame", maxFrame: 100, input: clientFrame(ws.OpBinary, true, pattern(101, 0)), wantErr: ErrFrameTooBig},
		{name: "default MaxFrame", input: rawFrame(0x82, true, pattern(DefaultMaxFrame+1, 0)), wantErr: ErrFrameTooBig},
		{name: "RFC6455-5.2 RSV1 without extension", input: rawFrame(0xc2, true, []byte("x")), wantErr: ErrReservedBits},
		{name: "RFC6455-5.2 reserved data opcode", input: rawFrame(0x83, true, nil), wantErr: ErrReservedOpcode},
		{name: "RFC6455-5.2 reserved control opcode", input: rawFrame(0x8b, true, nil), wantErr: ErrReservedOpcode},
		{name: "RFC6455-5.5 control payload over 125", input: rawFrame(0x89, true, pattern(126, 0)), wantErr: ErrControlTooLong},
		{name: "RFC6455-5.5 fragmented ping", input: rawFrame(0x09, true, nil), wantErr: ErrControlFragment},
		{name: "RFC6455-5.4 continuation without message", input: clientFrame(ws.OpContinuation, true, []byte("x")), wantErr: ErrContinuation},
		{name: "RFC6455-5.4 binary inside fragmented message", input: append(clientFrame(ws.OpBinary, false, []byte("a")), ok...), wantErr: ErrUnfinished},
		{name: "RFC6455-5.2 64-bit length high bit", input: []byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4}, wantErr: ErrLength},
		{name: "RFC6455-5.5.1 close with 1-byte payload", input: rawFrame(0x88, true, []byte{3}), wantErr: ErrCloseLength},
		{name: "RFC6455-7.4 close code 1005 on the wire", input: rawFrame(0x88, true, []byte{0x03, 0xed}), wantErr: ErrCloseCode},
		{name: "RFC6455-7.4 close code 999", input: rawFrame(0x88, true, []byte{0x03, 0xe7}), wantErr: ErrCloseCode},
		{name: "RFC6455-5.5.1 close reason not UTF-8", input: rawFrame(0x88, true, []byte{0x03, 0xe8, 0xff}), wantErr: ErrCloseReasonUTF8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Valid data first: it must come through before the violation.
			input := append(bytes.Clone(ok), tt.input...)
			var results []feedResult
			for _, next := range []func() int{whole(), byteAtATime()} {
				r := Reader{MaxFrame: tt.maxFrame}
				res := feedChunks(&r, input, next)
				if !errors.Is(res.err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", res.err, tt.wantErr)
				}
				if !bytes.HasPrefix(res.mqtt, []byte("mqtt-bytes")) {
					t.Fatalf("data before the violation lost: %q", res.mqtt)
				}
				frames := parseCtrl(t, res.ctrl)
				last := frames[len(frames)-1]
				code, _ := ws.ParseCloseFrameData(last.Payload)
				if last.Header.OpCode != ws.OpClose || CloseCode(code) != tt.wantErr.Code {
					t.Fatalf("last ctrl frame %v code %d, want close %d", last.Header.OpCode, code, tt.wantErr.Code)
				}
				// The stream is over: nothing more is consumed or produced.
				n, mqtt, ctrl, err := r.Feed(ok, nil, nil)
				if n != 0 || len(mqtt) != 0 || len(ctrl) != 0 || err != tt.wantErr || !r.Done() {
					t.Fatalf("after the end: n=%d mqtt=%q ctrl=%q err=%v", n, mqtt, ctrl, err)
				}
				results = append(results, res)
			}
			if !bytes.Equal(results[0].mqtt, results[1].mqtt) || !bytes.Equal(results[0].ctrl, results[1].ctrl) {
				t.Fatal("whole and byte-at-a-time feeding differ")
			}
		})
	}
}

func TestReaderPeerClose(t *testing.T) {
	tests := []struct {
		name     string
		payload  []byte
		wantEcho []byte // close frame payload sent back
	}{
		{name: "code and reason", payload: append([]byte{0x03, 0xe8}, "bye"...), wantEcho: []byte{0x03, 0xe8}},
		{name: "application code", payload: []byte{0x0f, 0xa0}, wantEcho: []byte{0x0f, 0xa0}},
		{name: "no status", payload: nil, wantEcho: []byte{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Reader
			in := append(clientFrame(ws.OpBinary, true, []byte("last")), clientFrame(ws.OpClose, true, tt.payload)...)
			in = append(in, clientFrame(ws.OpBinary, true, []byte("after close"))...)
			n, mqtt, ctrl, err := r.Feed(in, nil, nil)
			if err != ErrPeerClosed {
				t.Fatalf("err = %v, want ErrPeerClosed", err)
			}
			if string(mqtt) != "last" || n != len(in)-len(clientFrame(ws.OpBinary, true, []byte("after close"))) {
				t.Fatalf("mqtt %q, consumed %d", mqtt, n)
			}
			frames := parseCtrl(t, ctrl)
			if len(frames) != 1 || frames[0].Header.OpCode != ws.OpClose || !bytes.Equal(frames[0].Payload, tt.wantEcho) {
				t.Fatalf("ctrl = % x, want close echo % x", ctrl, tt.wantEcho)
			}
		})
	}
}

// TestReaderLeavesPartialControlFrame checks that an incomplete header or
// control frame is left unconsumed, and a partial data payload is consumed.
func TestReaderLeavesPartialControlFrame(t *testing.T) {
	ping := clientFrame(ws.OpPing, true, []byte("hello"))
	data := clientFrame(ws.OpBinary, true, []byte("0123456789"))
	var r Reader
	in := append(bytes.Clone(data[:len(data)-4]), nil...)
	n, mqtt, _, err := r.Feed(in, nil, nil)
	if err != nil || n != len(in) || string(mqtt) != "012345" {
		t.Fatalf("partial data: n=%d mqtt=%q err=%v", n, mqtt, err)
	}
	in = append(bytes.Clone(data[len(data)-4:]), ping[:len(ping)-1]...)
	n, mqtt, ctrl, err := r.Feed(in, mqtt, nil)
	if err != nil || n != 4 || string(mqtt) != "0123456789" || len(ctrl) != 0 {
		t.Fatalf("partial ping: n=%d mqtt=%q ctrl=%q err=%v", n, mqtt, ctrl, err)
	}
	n, _, ctrl, err = r.Feed(ping, nil, nil)
	if err != nil || n != len(ping) || !bytes.Equal(ctrl, []byte("\x8a\x05hello")) {
		t.Fatalf("whole ping: n=%d ctrl=%q err=%v", n, ctrl, err)
	}
	for i := 1; i < MaxClientHeader; i++ {
		var r Reader
		big := clientFrame(ws.OpBinary, true, pattern(70000, 1))
		if n, _, _, err := r.Feed(big[:i], nil, nil); n != 0 || err != nil {
			t.Fatalf("header prefix of %d bytes: n=%d err=%v", i, n, err)
		}
	}
}

func TestReaderNoLimit(t *testing.T) {
	r := Reader{MaxFrame: -1}
	p := pattern(DefaultMaxFrame+10, 5)
	_, mqtt, _, err := r.Feed(clientFrame(ws.OpBinary, true, p), nil, nil)
	if err != nil || !bytes.Equal(mqtt, p) {
		t.Fatalf("err %v, payload equal %v", err, bytes.Equal(mqtt, p))
	}
}

// TestReaderAllocs checks the steady state: frames, pings and partial
// payloads unframed into buffers with room allocate nothing.
func TestReaderAllocs(t *testing.T) {
	var in []byte
	for i := range 8 {
		in = append(in, clientFrame(ws.OpBinary, true, pattern(256+i, byte(i)))...)
	}
	in = append(in, clientFrame(ws.OpPing, true, []byte("p"))...)
	in = append(in, clientFrame(ws.OpBinary, true, pattern(1000, 1))...)
	cut := len(in) - 300 // end in the middle of a payload
	mqtt := make([]byte, 0, 8<<10)
	ctrl := make([]byte, 0, 256)
	var r Reader
	allocs := testing.AllocsPerRun(200, func() {
		r = Reader{}
		n, m, c, err := r.Feed(in[:cut], mqtt[:0], ctrl[:0])
		if err != nil || n != cut || len(c) == 0 || len(m) == 0 {
			panic(fmt.Sprint("unexpected ", n, err))
		}
		n, _, _, err = r.Feed(in[cut:], m, c)
		if err != nil || n != len(in)-cut {
			panic(fmt.Sprint("unexpected ", n, err))
		}
	})
	if allocs != 0 {
		t.Fatalf("Reader.Feed: %v allocs/op, want 0", allocs)
	}
}

// TestReaderSize keeps the per-connection cost of a Reader in budget: it
// lives as long as the connection, two million times over.
func TestReaderSize(t *testing.T) {
	if size := unsafe.Sizeof(Reader{}); size > 40 {
		t.Fatalf("Reader is %d bytes, budget 40", size)
	}
}
