package ws

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/gorilla/websocket"
)

// echoServer listens on 127.0.0.1 and drives Handshake then Reader the way
// the gateway's OnTraffic does (a goroutine per connection is fine in a test):
// inbound bytes accumulate in a buffer, Feed consumes a prefix, the rest stays
// in front. Every batch of unframed MQTT bytes is echoed back as one binary
// frame written with Writev [header, payload]; control answers are written
// first. ended receives the error that ended each stream.
type echoServer struct {
	addr   string
	ended  chan error
	wg     sync.WaitGroup
	ln     net.Listener
	config Handshake
}

func startEchoServer(t *testing.T, hs Handshake) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &echoServer{addr: ln.Addr().String(), ended: make(chan error, 16), ln: ln, config: hs}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.ended <- s.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return s
}

func (s *echoServer) serve(c net.Conn) error {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	hs := s.config
	var r Reader
	var in, mqtt, ctrl, hdr []byte
	upgraded := false
	chunk := make([]byte, 1500)
	for {
		k, rerr := c.Read(chunk)
		in = append(in, chunk[:k]...)
		if !upgraded {
			n, resp, err := hs.Feed(in, nil)
			if err == ErrNeedMore {
				if rerr != nil {
					return rerr
				}
				continue
			}
			if _, werr := c.Write(resp); werr != nil {
				return werr
			}
			if err != nil {
				return err
			}
			upgraded = true
			in = in[n:]
		}
		n, m, ct, err := r.Feed(in, mqtt, ctrl[:0])
		in = in[n:]
		mqtt, ctrl = m, ct
		if len(ctrl) > 0 {
			if _, werr := c.Write(ctrl); werr != nil {
				return werr
			}
		}
		if err != nil {
			return err // ctrl held the close frame: the server closes TCP first
		}
		if len(mqtt) > 0 {
			hdr = AppendFrameHeader(hdr[:0], len(mqtt))
			bufs := net.Buffers{hdr, mqtt}
			if _, werr := bufs.WriteTo(c); werr != nil {
				return werr
			}
			mqtt = mqtt[:0]
		}
		if rerr != nil {
			return rerr
		}
	}
}

func TestGobwasClient(t *testing.T) {
	s := startEchoServer(t, Handshake{Path: "/mqtt"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, br, hs, err := ws.Dialer{Protocols: []string{"mqtt"}}.Dial(ctx, "ws://"+s.addr+"/mqtt")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if hs.Protocol != "mqtt" || br != nil {
		t.Fatalf("negotiated %q (buffered reader %v), want mqtt", hs.Protocol, br != nil)
	}
	// Whole messages of each length encoding, then a fragmented message with a
	// ping between its fragments.
	var sent []byte
	for _, n := range []int{1, 125, 126, 4000, 70000} {
		p := pattern(n, byte(n))
		if err := wsutil.WriteClientBinary(conn, p); err != nil {
			t.Fatal(err)
		}
		sent = append(sent, p...)
	}
	frag1, frag2 := pattern(300, 1), pattern(77, 2)
	for _, f := range []ws.Frame{
		ws.NewFrame(ws.OpBinary, false, frag1),
		ws.NewPingFrame([]byte("are you there")),
		ws.NewFrame(ws.OpContinuation, true, frag2),
	} {
		if err := ws.WriteFrame(conn, ws.MaskFrame(f)); err != nil {
			t.Fatal(err)
		}
	}
	sent = append(append(sent, frag1...), frag2...)

	var got []byte
	pong := false
	for len(got) < len(sent) || !pong {
		f, err := ws.ReadFrame(conn)
		if err != nil {
			t.Fatalf("after %d of %d bytes: %v", len(got), len(sent), err)
		}
		if f.Header.Masked {
			t.Fatal("server frames must not be masked (RFC 6455 5.1)")
		}
		switch f.Header.OpCode {
		case ws.OpBinary:
			got = append(got, f.Payload...)
		case ws.OpPong:
			pong = string(f.Payload) == "are you there"
		default:
			t.Fatalf("unexpected frame %v", f.Header.OpCode)
		}
	}
	if !bytes.Equal(got, sent) {
		t.Fatal("echoed MQTT stream differs from the sent one")
	}

	// Close: the server echoes the code and ends the stream cleanly.
	if err := ws.WriteFrame(conn, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, "bye")))); err != nil {
		t.Fatal(err)
	}
	f, err := ws.ReadFrame(conn)
	if err != nil || f.Header.OpCode != ws.OpClose {
		t.Fatalf("want close echo, got %v %v", f.Header.OpCode, err)
	}
	if code, _ := ws.ParseCloseFrameData(f.Payload); code != ws.StatusNormalClosure {
		t.Fatalf("close echo code %d", code)
	}
	if err := <-s.ended; err != ErrPeerClosed {
		t.Fatalf("server ended with %v, want ErrPeerClosed", err)
	}
	if _, err := conn.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("server must close TCP after the close frame, read: %v", err)
	}
}

func TestGorillaClient(t *testing.T) {
	s := startEchoServer(t, Handshake{Path: "/mqtt"})
	d := websocket.Dialer{Subprotocols: []string{"mqtt"}, HandshakeTimeout: 5 * time.Second}
	conn, resp, err := d.Dial("ws://"+s.addr+"/mqtt", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if conn.Subprotocol() != "mqtt" || resp.StatusCode != 101 {
		t.Fatalf("subprotocol %q status %d", conn.Subprotocol(), resp.StatusCode)
	}
	pongs := make(chan string, 1)
	conn.SetPongHandler(func(data string) error { pongs <- data; return nil })
	if err := conn.WriteControl(websocket.PingMessage, []byte("ka"), time.Now().Add(5*time.Second)); err != nil {
		t.Fatal(err)
	}
	// A real MQTT 3.1.1 CONNECT and PINGREQ, as a browser client sends them.
	connect := []byte{0x10, 0x12, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3c, 0x00, 0x06, 'c', 'l', 'i', 'e', 'n', 't'}
	connect[1] = byte(len(connect) - 2)
	pingreq := []byte{0xc0, 0x00}
	var got []byte
	for _, p := range [][]byte{connect, pingreq} {
		if err := conn.WriteMessage(websocket.BinaryMessage, p); err != nil {
			t.Fatal(err)
		}
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(got) < len(connect)+len(pingreq) {
		typ, p, err := conn.ReadMessage() // also runs the pong handler
		if err != nil || typ != websocket.BinaryMessage {
			t.Fatalf("read: type %d err %v", typ, err)
		}
		got = append(got, p...)
	}
	if !bytes.Equal(got, append(bytes.Clone(connect), pingreq...)) {
		t.Fatalf("echo % x", got)
	}
	select {
	case data := <-pongs:
		if data != "ka" {
			t.Fatalf("pong %q", data)
		}
	default:
		t.Fatal("no pong for the ping")
	}

	// [MQTT-6.0.0-1] a text frame closes the connection with 1003.
	if err := conn.WriteMessage(websocket.TextMessage, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	_, _, err = conn.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseUnsupportedData {
		t.Fatalf("after a text frame: %v, want close 1003", err)
	}
	if err := <-s.ended; err != ErrTextFrame {
		t.Fatalf("server ended with %v", err)
	}
}

func TestGorillaClientClose(t *testing.T) {
	s := startEchoServer(t, Handshake{Path: "/mqtt"})
	conn, _, err := websocket.DefaultDialer.Dial("ws://"+s.addr+"/mqtt", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "leaving")); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err = conn.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
		t.Fatalf("want close echo 1001, got %v", err)
	}
	if err := <-s.ended; err != ErrPeerClosed {
		t.Fatalf("server ended with %v", err)
	}
}

func TestRefusalsOverTCP(t *testing.T) {
	s := startEchoServer(t, Handshake{Path: "/mqtt"})
	t.Run("wrong path with gorilla", func(t *testing.T) {
		_, resp, err := websocket.DefaultDialer.Dial("ws://"+s.addr+"/other", nil)
		if !errors.Is(err, websocket.ErrBadHandshake) || resp == nil || resp.StatusCode != 404 {
			t.Fatalf("err %v resp %v, want 404", err, resp)
		}
		if err := <-s.ended; err != ErrNotFound {
			t.Fatalf("server: %v", err)
		}
	})
	t.Run("wrong path with gobwas", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _, _, err := ws.Dial(ctx, "ws://"+s.addr+"/nope")
		var se ws.StatusError
		if !errors.As(err, &se) || int(se) != 404 {
			t.Fatalf("err %v, want status 404", err)
		}
		<-s.ended
	})
	raw := []struct {
		name, req  string
		wantStatus int
		wantHeader [2]string
	}{
		{name: "version 8", req: strings.Replace(upgradeRequest(nil), "Version: 13", "Version: 8", 1), wantStatus: 426, wantHeader: [2]string{"Sec-WebSocket-Version", "13"}},
		{name: "plain GET", req: "GET /mqtt HTTP/1.1\r\nHost: x\r\n\r\n", wantStatus: 426, wantHeader: [2]string{"Upgrade", "websocket"}},
	}
	for _, tt := range raw {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", s.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := io.WriteString(c, tt.req); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.wantStatus || resp.Header.Get(tt.wantHeader[0]) != tt.wantHeader[1] {
				t.Fatalf("status %d, %s=%q", resp.StatusCode, tt.wantHeader[0], resp.Header.Get(tt.wantHeader[0]))
			}
			<-s.ended
		})
	}
}
