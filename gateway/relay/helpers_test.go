package relay

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"edgegw/gateway/config"
	"edgegw/mqttcodec"
	"edgegw/session"
)

// mochi is an in-process Mochi MQTT broker (an independent implementation)
// with a hook that records every PUBLISH it receives from a client, in
// order.
type mochi struct {
	s    *mqtt.Server
	addr string
	rec  *recorder
}

type received struct {
	client  string
	topic   string
	payload string
	qos     byte
	dup     bool
	retain  bool
}

type recorder struct {
	mqtt.HookBase
	mu   sync.Mutex
	msgs []received
}

func (h *recorder) ID() string { return "recorder" }
func (h *recorder) Provides(b byte) bool {
	return b == mqtt.OnPublished
}
func (h *recorder) OnPublished(cl *mqtt.Client, pk packets.Packet) {
	if cl.Net.Inline {
		return
	}
	h.mu.Lock()
	h.msgs = append(h.msgs, received{cl.ID, pk.TopicName, string(pk.Payload), pk.FixedHeader.Qos, pk.FixedHeader.Dup, pk.FixedHeader.Retain})
	h.mu.Unlock()
}

func (h *recorder) all() []received {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]received(nil), h.msgs...)
}

// startMochi runs Mochi on addr ("127.0.0.1:0" for a free port).
func startMochi(t testing.TB, addr string) *mochi {
	t.Helper()
	s := mqtt.New(&mqtt.Options{InlineClient: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := s.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatal(err)
	}
	r := &recorder{}
	if err := s.AddHook(r, nil); err != nil {
		t.Fatal(err)
	}
	l := listeners.NewTCP(listeners.Config{ID: "t", Address: addr})
	if err := s.AddListener(l); err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(); err != nil {
		t.Fatal(err)
	}
	m := &mochi{s: s, addr: l.Address(), rec: r}
	t.Cleanup(m.close)
	return m
}

// close stops Mochi (once). Mochi v2.7.9's Close can deadlock against a
// concurrent client removal (see bench/broker_test.go): bounded wait.
func (m *mochi) close() {
	if m.s == nil {
		return
	}
	s := m.s
	m.s = nil
	done := make(chan struct{})
	go func() { _ = s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
	}
}

// subscriptions returns the filters Mochi holds for clients other than
// its inline client, sorted, one per (client, filter).
func (m *mochi) subscriptions() []string {
	var out []string
	for _, cl := range m.s.Clients.GetAll() {
		if cl.Net.Inline {
			continue
		}
		for f := range cl.State.Subscriptions.GetAll() {
			out = append(out, f)
		}
	}
	return out
}

// waitFor polls cond every 5 ms until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// sink collects what an Upstream hands back through its Hooks.
type sink struct {
	mu      sync.Mutex
	done    []any
	imports []*session.Message
	conns   []int
}

func (s *sink) hooks() Hooks {
	return Hooks{
		Done: func(toks []any) {
			s.mu.Lock()
			s.done = append(s.done, toks...)
			s.mu.Unlock()
		},
		Import: func(conn int, msgs []*session.Message) {
			s.mu.Lock()
			s.imports = append(s.imports, msgs...)
			for range msgs {
				s.conns = append(s.conns, conn)
			}
			s.mu.Unlock()
		},
	}
}

func (s *sink) doneCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.done)
}

func (s *sink) importTopics() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, m := range s.imports {
		out = append(out, string(m.Topic)+"="+string(m.Payload))
	}
	return out
}

// upstreamCfg is a resolved upstream config for tests: one address, fast.
func upstreamCfg(addrs ...string) config.Upstream {
	return config.Upstream{Name: "t", Addresses: addrs, KeepAlive: config.Duration(5 * time.Second), ClientID: "relay-test-{n}"}
}

// testLog writes the upstream's state changes to the test log.
type testLog struct{ t testing.TB }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// newTestUpstream starts an upstream with fast reconnects; closed when the
// test ends.
func newTestUpstream(t testing.TB, c config.Upstream, h Hooks) *Upstream {
	t.Helper()
	u, err := New(c, 0, h, Options{
		Log:        slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelInfo})),
		BackoffMin: 20 * time.Millisecond, BackoffMax: 500 * time.Millisecond, DialTimeout: time.Second, Hostname: "h",
	})
	if err != nil {
		t.Fatal(err)
	}
	u.Start()
	t.Cleanup(u.Close)
	return u
}

// msg builds a message as the gateway would (NewMessage copies).
func msg(topic string, qos byte, payload string) *session.Message {
	return session.NewMessage(&mqttcodec.Publish{QoS: qos, Topic: []byte(topic), Payload: []byte(payload)}, []byte(topic), time.Now().UnixNano())
}

// proxy is a TCP proxy in front of an upstream whose client-to-upstream
// direction can be stalled: it stops reading from the relay, so the
// relay's bytes pile up in socket buffers and nothing reaches the broker.
type proxy struct {
	ln      net.Listener
	target  string
	stalled atomic.Bool
	resume  chan struct{}
	mu      sync.Mutex
	conns   []net.Conn
}

func startProxy(t testing.TB, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, resume: make(chan struct{})}
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go p.pipe(c, up, true)
		go p.pipe(up, c, false)
	}
}

// pipe copies src to dst; the client-to-upstream direction waits while
// stalled, without reading.
func (p *proxy) pipe(src, dst net.Conn, fromClient bool) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		for fromClient && p.stalled.Load() {
			// Bytes read as the stall began are held back too: nothing
			// the relay sent from here on reaches the broker.
			p.mu.Lock()
			ch := p.resume
			p.mu.Unlock()
			<-ch
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *proxy) stall() {
	p.mu.Lock()
	p.resume = make(chan struct{})
	p.mu.Unlock()
	p.stalled.Store(true)
}

func (p *proxy) unstall() {
	p.stalled.Store(false)
	p.mu.Lock()
	close(p.resume)
	p.mu.Unlock()
}

func (p *proxy) close() {
	p.ln.Close()
	if p.stalled.Load() {
		p.unstall()
	}
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
}

// payloads returns the payloads of msgs on topic, in order.
func payloads(msgs []received, topic string) []string {
	var out []string
	for _, m := range msgs {
		if m.topic == topic {
			out = append(out, m.payload)
		}
	}
	return out
}

func seq(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

// slogTo logs at info level into w.
func slogTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}
