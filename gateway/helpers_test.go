package gateway

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// newTestGateway starts a gateway on 127.0.0.1:0 with 4 loops (so that
// clients land on different loops) and a fast tick.
func newTestGateway(t testing.TB, mutate func(*Config)) *Gateway {
	t.Helper()
	return newTestGatewayLog(t, mutate, slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})))
}

// newTestGatewayLog is newTestGateway with the gateway's logger.
func newTestGatewayLog(t testing.TB, mutate func(*Config), log *slog.Logger) *Gateway {
	t.Helper()
	cfg := Default()
	cfg.Listeners.TCP = "127.0.0.1:0"
	cfg.Listeners.WS = ""
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Engine.Loops = 4
	cfg.Engine.TickInterval = Duration(10 * time.Millisecond)
	if mutate != nil {
		mutate(&cfg)
	}
	g, err := New(cfg, log)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := g.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := g.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return g
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// v3Client connects a paho.mqtt.golang (MQTT 3.1.1) client.
func v3Client(t testing.TB, g *Gateway, id string, mutate func(*mqtt.ClientOptions)) mqtt.Client {
	t.Helper()
	o := mqtt.NewClientOptions().AddBroker("tcp://" + g.Addr("tcp")).SetClientID(id).
		SetAutoReconnect(false).SetConnectRetry(false).SetProtocolVersion(4).
		SetConnectTimeout(5 * time.Second).SetWriteTimeout(5 * time.Second)
	if mutate != nil {
		mutate(o)
	}
	c := mqtt.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("v3 connect %s: %v", id, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

func waitTok(t testing.TB, tok mqtt.Token, what string) {
	t.Helper()
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("%s: %v (timeout=%v)", what, tok.Error(), !tok.WaitTimeout(0))
	}
}

// v5Client connects a paho.golang (MQTT 5) client; received PUBLISH packets
// go to the returned channel.
type v5 struct {
	*paho.Client
	msgs   chan *paho.Publish
	discon chan *paho.Disconnect
	ack    *paho.Connack
}

func v5Client(t testing.TB, g *Gateway, cp *paho.Connect, mutate func(*paho.ClientConfig)) *v5 {
	t.Helper()
	nc, err := net.Dial("tcp", g.Addr("tcp"))
	if err != nil {
		t.Fatal(err)
	}
	c := &v5{msgs: make(chan *paho.Publish, 10000), discon: make(chan *paho.Disconnect, 1)}
	cfg := paho.ClientConfig{
		ClientID: cp.ClientID,
		Conn:     nc,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			c.msgs <- pr.Packet
			return true, nil
		}},
		OnServerDisconnect: func(d *paho.Disconnect) {
			select {
			case c.discon <- d:
			default:
			}
		},
		OnClientError: func(error) {},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	c.Client = paho.NewClient(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ack, err := c.Connect(ctx, cp)
	if err != nil {
		t.Fatalf("v5 connect %s: %v (%+v)", cp.ClientID, err, ack)
	}
	c.ack = ack
	t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	return c
}

func (c *v5) sub(t testing.TB, filter string, qos byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sa, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: qos}}})
	if err != nil || len(sa.Reasons) != 1 || sa.Reasons[0] != qos {
		t.Fatalf("subscribe %s: %v %+v", filter, err, sa)
	}
}

func (c *v5) pub(t testing.TB, topic string, qos byte, payload string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.Publish(ctx, &paho.Publish{Topic: topic, QoS: qos, Payload: []byte(payload)}); err != nil {
		t.Fatalf("publish %s: %v", topic, err)
	}
}

func (c *v5) expect(t testing.TB, topic, payload string) *paho.Publish {
	t.Helper()
	select {
	case p := <-c.msgs:
		if p.Topic != topic || string(p.Payload) != payload {
			t.Fatalf("got %s %q, want %s %q", p.Topic, p.Payload, topic, payload)
		}
		return p
	case <-time.After(5 * time.Second):
		t.Fatalf("no message on %s", topic)
	}
	return nil
}

// collector gathers v3 messages.
type collector struct {
	mu   sync.Mutex
	msgs []mqtt.Message
	n    atomic.Int64
	ch   chan mqtt.Message
}

func newCollector() *collector { return &collector{ch: make(chan mqtt.Message, 100000)} }

func (c *collector) handler(_ mqtt.Client, m mqtt.Message) {
	c.n.Add(1)
	c.ch <- m
}

func (c *collector) expect(t testing.TB, topic, payload string) mqtt.Message {
	t.Helper()
	select {
	case m := <-c.ch:
		if m.Topic() != topic || string(m.Payload()) != payload {
			t.Fatalf("got %s %q, want %s %q", m.Topic(), m.Payload(), topic, payload)
		}
		return m
	case <-time.After(5 * time.Second):
		t.Fatalf("no message on %s (want %q)", topic, payload)
	}
	return nil
}

func (c *collector) none(t testing.TB, d time.Duration) {
	t.Helper()
	select {
	case m := <-c.ch:
		t.Fatalf("unexpected message %s %q", m.Topic(), m.Payload())
	case <-time.After(d):
	}
}

// metric reads one sample from /metrics (0 when absent).
func metric(t testing.TB, g *Gateway, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + g.Addr("http") + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, name+" ") {
			v, _ := strconv.ParseFloat(strings.TrimSpace(line[len(name):]), 64)
			return v
		}
	}
	return 0
}

// eventually polls cond for up to 5 s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// rawConn is a hand-driven MQTT connection for bad-input tests.
type rawConn struct {
	net.Conn
	r *bufio.Reader
}

func dialRaw(t testing.TB, g *Gateway) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", g.Addr("tcp"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{Conn: nc, r: bufio.NewReader(nc)}
}

// readPacket reads one packet (type, body) or returns an error (EOF on close).
func (c *rawConn) readPacket(d time.Duration) (byte, []byte, error) {
	_ = c.SetReadDeadline(time.Now().Add(d))
	h, err := c.r.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	n, mul := 0, 1
	for {
		b, err := c.r.ReadByte()
		if err != nil {
			return 0, nil, err
		}
		n += int(b&127) * mul
		mul *= 128
		if b < 128 {
			break
		}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c.r, body); err != nil {
		return 0, nil, err
	}
	return h, body, nil
}

// expectClosed waits for the server to close the connection, skipping packets.
func (c *rawConn) expectClosed(t testing.TB) []byte {
	t.Helper()
	var last []byte
	for {
		h, body, err := c.readPacket(5 * time.Second)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("connection not closed")
			}
			return last
		}
		last = append([]byte{h}, body...)
	}
}

// connectPacket builds a CONNECT for version 4 or 5.
func connectPacket(version byte, id string, keepAlive uint16, clean bool) []byte {
	var body []byte
	name := "MQTT"
	body = append(body, 0, byte(len(name)))
	body = append(body, name...)
	body = append(body, version)
	flags := byte(0)
	if clean {
		flags |= 2
	}
	body = append(body, flags, byte(keepAlive>>8), byte(keepAlive))
	if version == 5 {
		body = append(body, 0) // no properties
	}
	body = append(body, byte(len(id)>>8), byte(len(id)))
	body = append(body, id...)
	return frame(0x10, body)
}

func frame(h byte, body []byte) []byte {
	out := []byte{h}
	n := len(body)
	for {
		b := byte(n & 127)
		n >>= 7
		if n > 0 {
			out = append(out, b|128)
			continue
		}
		out = append(out, b)
		break
	}
	return append(out, body...)
}

func uniq(prefix string) string { return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()%1e9) }
