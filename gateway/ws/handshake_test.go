package ws

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
)

// upgradeRequest is a valid request for /mqtt; edit builds variants of it.
func upgradeRequest(edit func(h map[string]string) (line string)) string {
	h := map[string]string{
		"Host":                   "gw.example:8083",
		"Upgrade":                "websocket",
		"Connection":             "Upgrade",
		"Sec-WebSocket-Key":      "dGhlIHNhbXBsZSBub25jZQ==",
		"Sec-WebSocket-Version":  "13",
		"Sec-WebSocket-Protocol": "mqtt",
	}
	line := "GET /mqtt HTTP/1.1"
	if edit != nil {
		if l := edit(h); l != "" {
			line = l
		}
	}
	var b strings.Builder
	b.WriteString(line + "\r\n")
	for _, k := range []string{"Host", "Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Protocol", "Sec-WebSocket-Extensions", "Origin", "Content-Length", "Transfer-Encoding"} {
		if v, ok := h[k]; ok {
			b.WriteString(k + ": " + v + "\r\n")
		}
	}
	b.WriteString("\r\n")
	return b.String()
}

func readResponse(t *testing.T, resp []byte) *http.Response {
	t.Helper()
	r, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(resp)), nil)
	if err != nil {
		t.Fatalf("response does not parse: %v\n%s", err, resp)
	}
	return r
}

// TestHandshakeAccept uses the example of RFC 6455 section 1.3.
func TestHandshakeAccept(t *testing.T) {
	h := Handshake{Path: "/mqtt"}
	req := upgradeRequest(func(h map[string]string) string {
		h["Sec-WebSocket-Protocol"] = "chat, mqtt"
		h["Sec-WebSocket-Extensions"] = "permessage-deflate; client_max_window_bits"
		h["Connection"] = "keep-alive, Upgrade"
		h["Upgrade"] = "WebSocket"
		return "GET /mqtt?client=1 HTTP/1.1"
	})
	in := append([]byte(req), 0x82, 0x80) // a frame header pipelined after the request
	n, resp, err := h.Feed(in, nil)
	if err != nil || n != len(req) {
		t.Fatalf("n=%d err=%v, want %d nil", n, err, len(req))
	}
	r := readResponse(t, resp)
	if r.StatusCode != 101 ||
		r.Header.Get("Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" ||
		r.Header.Get("Sec-WebSocket-Protocol") != "mqtt" ||
		!strings.EqualFold(r.Header.Get("Upgrade"), "websocket") ||
		!strings.EqualFold(r.Header.Get("Connection"), "upgrade") {
		t.Fatalf("bad 101:\n%s", resp)
	}
	if _, ok := r.Header["Sec-Websocket-Extensions"]; ok {
		t.Fatalf("permessage-deflate must not be negotiated:\n%s", resp)
	}
	if !h.Done() || h.Protocol() != "mqtt" {
		t.Fatalf("Done=%v Protocol=%q", h.Done(), h.Protocol())
	}
	if n, _, err := h.Feed(in, nil); n != 0 || err != ErrHandshakeDone {
		t.Fatalf("second Feed: n=%d err=%v", n, err)
	}
}

func TestHandshakeProtocols(t *testing.T) {
	tests := []struct {
		name    string
		offer   string // "" = no header
		require bool
		want    string
		wantErr error
	}{
		{name: "MQTT-6.0.0-4 mqtt selected", offer: "mqtt", want: "mqtt"},
		{name: "mqtt preferred over mqttv3.1", offer: "mqttv3.1, mqtt", want: "mqtt"},
		{name: "MQTT 3.1 client", offer: "mqttv3.1", want: "mqttv3.1"},
		{name: "no offer, lenient", offer: "", want: ""},
		{name: "other offer, lenient", offer: "chat", want: ""},
		{name: "names are case-sensitive", offer: "MQTT", want: ""},
		{name: "MQTT-6.0.0-3 required, not offered", offer: "chat", require: true, wantErr: ErrNoMQTTProtocol},
		{name: "required, no header", offer: "", require: true, wantErr: ErrNoMQTTProtocol},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := Handshake{Path: "/mqtt", RequireProtocol: tt.require}
			req := upgradeRequest(func(h map[string]string) string {
				if tt.offer == "" {
					delete(h, "Sec-WebSocket-Protocol")
				} else {
					h["Sec-WebSocket-Protocol"] = tt.offer
				}
				return ""
			})
			_, resp, err := h.Feed([]byte(req), nil)
			if err != tt.wantErr {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			r := readResponse(t, resp)
			if tt.wantErr != nil {
				if r.StatusCode != 400 {
					t.Fatalf("status %d, want 400", r.StatusCode)
				}
				return
			}
			_, has := r.Header["Sec-Websocket-Protocol"]
			if got := r.Header.Get("Sec-WebSocket-Protocol"); got != tt.want || has != (tt.want != "") || h.Protocol() != tt.want {
				t.Fatalf("protocol header %q (present %v), Protocol() %q, want %q", got, has, h.Protocol(), tt.want)
			}
		})
	}
}

func TestHandshakeRefusals(t *testing.T) {
	tests := []struct {
		name       string
		path       string
		edit       func(h map[string]string) string
		wantErr    *HandshakeError
		wantHeader [2]string // a header the response must carry
	}{
		{name: "wrong path", edit: func(h map[string]string) string { return "GET /other HTTP/1.1" }, wantErr: ErrNotFound},
		{name: "path prefix is not the path", edit: func(h map[string]string) string { return "GET /mqtt/x HTTP/1.1" }, wantErr: ErrNotFound},
		{name: "absolute-form wrong path", edit: func(h map[string]string) string { return "GET http://gw/x HTTP/1.1" }, wantErr: ErrNotFound},
		{name: "RFC6455-4.2.1 not GET", edit: func(h map[string]string) string { return "POST /mqtt HTTP/1.1" }, wantErr: ErrMethod, wantHeader: [2]string{"Allow", "GET"}},
		{name: "RFC6455-4.2.1 HTTP/1.0", edit: func(h map[string]string) string { return "GET /mqtt HTTP/1.0" }, wantErr: ErrHTTPVersion},
		{name: "garbage request line", edit: func(h map[string]string) string { return "\x16\x03\x01 hello" }, wantErr: ErrMalformedRequest},
		{name: "RFC6455-4.2.1 missing Upgrade", edit: func(h map[string]string) string { delete(h, "Upgrade"); return "" }, wantErr: ErrNotUpgrade, wantHeader: [2]string{"Sec-WebSocket-Version", "13"}},
		{name: "plain HTTP GET", edit: func(h map[string]string) string {
			for _, k := range []string{"Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Version", "Sec-WebSocket-Protocol"} {
				delete(h, k)
			}
			return ""
		}, wantErr: ErrNotUpgrade, wantHeader: [2]string{"Upgrade", "websocket"}},
		{name: "Upgrade is not websocket", edit: func(h map[string]string) string { h["Upgrade"] = "h2c"; return "" }, wantErr: ErrNotUpgrade},
		{name: "RFC6455-4.2.1 Connection without upgrade", edit: func(h map[string]string) string { h["Connection"] = "keep-alive"; return "" }, wantErr: ErrConnectionUpgrade},
		{name: "RFC6455-4.2.2 version 8", edit: func(h map[string]string) string { h["Sec-WebSocket-Version"] = "8"; return "" }, wantErr: ErrVersion, wantHeader: [2]string{"Sec-WebSocket-Version", "13"}},
		{name: "RFC6455-4.2.2 missing version", edit: func(h map[string]string) string { delete(h, "Sec-WebSocket-Version"); return "" }, wantErr: ErrVersion, wantHeader: [2]string{"Sec-WebSocket-Version", "13"}},
		{name: "RFC6455-4.2.1 missing key", edit: func(h map[string]string) string { delete(h, "Sec-WebSocket-Key"); return "" }, wantErr: ErrKey},
		{name: "RFC6455-4.2.1 key of 15 bytes", edit: func(h map[string]string) string { h["Sec-WebSocket-Key"] = "AAAAAAAAAAAAAAAAAAAA"; return "" }, wantErr: ErrKey},
		{name: "key not base64", edit: func(h map[string]string) string { h["Sec-WebSocket-Key"] = "!!!!!!!!!!!!!!!!!!!!!!=="; return "" }, wantErr: ErrKey},
		{name: "RFC7230-5.4 missing Host", edit: func(h map[string]string) string { delete(h, "Host"); return "" }, wantErr: ErrNoHost},
		{name: "request with a body", edit: func(h map[string]string) string { h["Content-Length"] = "5"; return "" }, wantErr: ErrRequestBody},
		{name: "chunked request", edit: func(h map[string]string) string { h["Transfer-Encoding"] = "chunked"; return "" }, wantErr: ErrRequestBody},
		{name: "RFC7230-3.2.4 space before colon", edit: func(h map[string]string) string { h["Origin"] = "x\r\nBad : y"; return "" }, wantErr: ErrMalformedRequest},
		{name: "RFC7230-3.2.4 obs-fold", edit: func(h map[string]string) string { h["Origin"] = "x\r\n folded"; return "" }, wantErr: ErrMalformedRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := []byte(upgradeRequest(tt.edit))
			h := Handshake{Path: "/mqtt"}
			n, resp, err := h.Feed(req, nil)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if n != len(req) {
				t.Errorf("n = %d, want the request's %d bytes", n, len(req))
			}
			r := readResponse(t, resp)
			if r.StatusCode != tt.wantErr.Status || !r.Close {
				t.Fatalf("status %d, close %v; want %d, Connection: close", r.StatusCode, r.Close, tt.wantErr.Status)
			}
			if k := tt.wantHeader[0]; k != "" && r.Header.Get(k) != tt.wantHeader[1] {
				t.Fatalf("header %s = %q, want %q\n%s", k, r.Header.Get(k), tt.wantHeader[1], resp)
			}
			if !h.Done() {
				t.Fatal("a refusal must end the handshake")
			}
		})
	}
}

func TestHandshakeAnyPath(t *testing.T) {
	var h Handshake
	req := upgradeRequest(func(map[string]string) string { return "GET /anything HTTP/1.1" })
	if _, _, err := h.Feed([]byte(req), nil); err != nil {
		t.Fatalf("zero Handshake refused %q: %v", "/anything", err)
	}
}

func TestHandshakeTooLarge(t *testing.T) {
	big := upgradeRequest(func(h map[string]string) string { h["Origin"] = strings.Repeat("o", 9000); return "" })
	t.Run("complete but over 8 KiB", func(t *testing.T) {
		h := Handshake{Path: "/mqtt"}
		_, resp, err := h.Feed([]byte(big), nil)
		if err != ErrRequestTooLarge || readResponse(t, resp).StatusCode != 431 {
			t.Fatalf("err %v\n%s", err, resp)
		}
	})
	t.Run("8 KiB without an end", func(t *testing.T) {
		h := Handshake{Path: "/mqtt"}
		if _, _, err := h.Feed([]byte(big[:DefaultMaxRequest-1]), nil); err != ErrNeedMore {
			t.Fatalf("under the limit: %v, want ErrNeedMore", err)
		}
		if _, _, err := h.Feed([]byte(big[:DefaultMaxRequest]), nil); err != ErrRequestTooLarge {
			t.Fatalf("at the limit: %v, want ErrRequestTooLarge", err)
		}
	})
	t.Run("MaxRequest", func(t *testing.T) {
		req := upgradeRequest(nil)
		h := Handshake{Path: "/mqtt", MaxRequest: len(req)}
		if _, _, err := h.Feed([]byte(req), nil); err != nil {
			t.Fatalf("request of exactly MaxRequest bytes: %v", err)
		}
		h = Handshake{Path: "/mqtt", MaxRequest: len(req) - 1}
		if _, _, err := h.Feed([]byte(req), nil); err != ErrRequestTooLarge {
			t.Fatalf("one byte over MaxRequest: %v", err)
		}
	})
}

// TestHandshakeByteAtATime feeds requests the way gnet delivers them, one more
// byte per wake, and expects the same result as feeding them whole.
func TestHandshakeByteAtATime(t *testing.T) {
	reqs := []string{
		upgradeRequest(nil),
		upgradeRequest(func(map[string]string) string { return "GET /x HTTP/1.1" }),
		upgradeRequest(func(h map[string]string) string { h["Sec-WebSocket-Version"] = "7"; return "" }),
	}
	for _, req := range reqs {
		var whole Handshake
		wn, wresp, werr := whole.Feed([]byte(req), nil)
		var h Handshake
		for i := 1; i <= len(req); i++ {
			n, resp, err := h.Feed([]byte(req[:i]), nil)
			if i < len(req) {
				if n != 0 || err != ErrNeedMore || len(resp) != 0 {
					t.Fatalf("prefix %d: n=%d err=%v", i, n, err)
				}
				continue
			}
			if n != wn || err != werr || !bytes.Equal(resp, wresp) {
				t.Fatalf("byte at a time: n=%d err=%v, whole: n=%d err=%v", n, err, wn, werr)
			}
		}
	}
}

func TestHandshakeAllocs(t *testing.T) {
	req := []byte(upgradeRequest(nil))
	dst := make([]byte, 0, 512)
	allocs := testing.AllocsPerRun(100, func() {
		h := Handshake{Path: "/mqtt"}
		if _, _, err := h.Feed(req, dst[:0]); err != nil {
			panic(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Handshake.Feed: %v allocs/op, want 0", allocs)
	}
}
