package ws

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

func TestAppendFrameHeaderMatchesGobwas(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 127, 300, 0xffff, 0x10000, 1 << 20, 1<<32 + 5} {
		var want bytes.Buffer
		if err := ws.WriteHeader(&want, ws.Header{Fin: true, OpCode: ws.OpBinary, Length: int64(n)}); err != nil {
			t.Fatal(err)
		}
		got := AppendFrameHeader([]byte("x"), n)
		if !bytes.Equal(got[1:], want.Bytes()) || got[0] != 'x' {
			t.Errorf("n=%d: got % x, want x + % x", n, got, want.Bytes())
		}
		if HeaderSize(n) != want.Len() {
			t.Errorf("HeaderSize(%d) = %d, want %d", n, HeaderSize(n), want.Len())
		}
	}
}

func TestAppendFrameReadByGobwas(t *testing.T) {
	payload := pattern(70000, 3)
	f, err := ws.ReadFrame(bytes.NewReader(AppendFrame(nil, payload)))
	if err != nil {
		t.Fatal(err)
	}
	if !f.Header.Fin || f.Header.OpCode != ws.OpBinary || f.Header.Masked || !bytes.Equal(f.Payload, payload) {
		t.Fatalf("got header %+v, payload equal %v", f.Header, bytes.Equal(f.Payload, payload))
	}
}

func TestAppendClose(t *testing.T) {
	long := strings.Repeat("é", 100) // 200 bytes, 2 per rune
	tests := []struct {
		name       string
		code       CloseCode
		reason     string
		wantLen    int
		wantCode   ws.StatusCode
		wantReason string
	}{
		{name: "no status", code: 0, reason: "ignored", wantLen: 0},
		{name: "code only", code: CloseNormal, wantLen: 2, wantCode: 1000},
		{name: "code and reason", code: CloseTooBig, reason: "too big", wantLen: 9, wantCode: 1009, wantReason: "too big"},
		{name: "long reason cut at rune boundary", code: CloseProtocolError, reason: long, wantLen: 2 + 122, wantCode: 1002, wantReason: long[:122]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ws.ReadFrame(bytes.NewReader(AppendClose(nil, tt.code, tt.reason)))
			if err != nil {
				t.Fatal(err)
			}
			if f.Header.OpCode != ws.OpClose || !f.Header.Fin || f.Header.Masked || len(f.Payload) != tt.wantLen {
				t.Fatalf("header %+v, payload %d bytes, want %d", f.Header, len(f.Payload), tt.wantLen)
			}
			if tt.wantLen == 0 {
				return
			}
			code, reason := ws.ParseCloseFrameData(f.Payload)
			if code != tt.wantCode || reason != tt.wantReason || !utf8.ValidString(reason) {
				t.Fatalf("got %d %q, want %d %q", code, reason, tt.wantCode, tt.wantReason)
			}
		})
	}
}

func TestAppendFrameHeaderAllocs(t *testing.T) {
	buf := make([]byte, 0, MaxServerHeader)
	allocs := testing.AllocsPerRun(100, func() {
		buf = AppendFrameHeader(buf[:0], 1<<20)
	})
	if allocs != 0 {
		t.Fatalf("AppendFrameHeader: %v allocs/op, want 0", allocs)
	}
}

func TestCloseCodeString(t *testing.T) {
	if got := CloseTooBig.String(); got != "message too big" {
		t.Errorf("CloseTooBig.String() = %q", got)
	}
	if got := CloseCode(4000).String(); got != "close code 4000" {
		t.Errorf("CloseCode(4000).String() = %q", got)
	}
}
