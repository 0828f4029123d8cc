package gateway

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"

	"edgegw/gateway/config"
	"edgegw/mqttcodec"
)

// freePort returns a loopback port nothing listens on (for a broker that
// must come back on the same port).
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// mosquittoProc is a Debian mosquitto broker run by the test on a fixed
// loopback port, which it can kill (SIGKILL) and start again.
type mosquittoProc struct {
	t    testing.TB
	bin  string
	conf string
	addr string
	mu   sync.Mutex
	cmd  *exec.Cmd
	out  *syncBuffer
}

// mosquittoBin returns the mosquitto broker binary (Debian installs it in
// /usr/sbin, which is not on every PATH), for tests and benchmarks alike.
// Without it the test is skipped, except under CI, where its absence is a
// failure (CI installs the Debian package; a silent skip would hide it).
func mosquittoBin(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/mosquitto"); err == nil {
		return "/usr/sbin/mosquitto"
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("mosquitto broker not found but CI is set: install the mosquitto package")
	}
	t.Skip("mosquitto broker not installed (apt-get install mosquitto); set CI=true to make this a failure")
	return ""
}

// startMosquitto runs mosquitto on port with extra configuration lines.
func startMosquitto(t testing.TB, port int, extra string) *mosquittoProc {
	t.Helper()
	bin := mosquittoBin(t)
	conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\nlog_type error\nlog_type warning\n%s\n", port, extra)
	path := filepath.Join(t.TempDir(), "mosquitto.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	m := &mosquittoProc{t: t, bin: bin, conf: path, addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), out: &syncBuffer{}}
	m.start()
	t.Cleanup(func() {
		m.kill()
		if t.Failed() {
			t.Logf("mosquitto %s log:\n%s", m.addr, m.out.String())
		}
	})
	return m
}

// start runs the broker and waits until it accepts connections.
func (m *mosquittoProc) start() {
	m.t.Helper()
	cmd := exec.Command(m.bin, "-c", m.conf)
	cmd.Stdout, cmd.Stderr = m.out, m.out
	if err := cmd.Start(); err != nil {
		m.t.Fatalf("cannot start %s: %v", m.bin, err)
	}
	m.mu.Lock()
	m.cmd = cmd
	m.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", m.addr)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("mosquitto not listening on %s: %v\n%s", m.addr, err, m.out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// startMosquittoB is startMosquitto on a free port.
func startMosquittoB(t testing.TB, extra string) *mosquittoProc {
	t.Helper()
	return startMosquitto(t, freePort(t), extra)
}

// pid returns the running broker's process ID.
func (m *mosquittoProc) pid() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cmd.Process.Pid
}

// kill SIGKILLs the broker (nothing it held survives: persistence false).
func (m *mosquittoProc) kill() {
	m.mu.Lock()
	cmd := m.cmd
	m.cmd = nil
	m.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
}

// startMochiUpstream runs Mochi MQTT in process on 127.0.0.1:0.
func startMochiUpstream(t testing.TB) (*mochi.Server, string) {
	t.Helper()
	s := mochi.New(&mochi.Options{InlineClient: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := s.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatal(err)
	}
	l := listeners.NewTCP(listeners.Config{ID: "t", Address: "127.0.0.1:0"})
	if err := s.AddListener(l); err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		done := make(chan struct{})
		go func() { _ = s.Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * time.Second): // Mochi v2.7.9 can deadlock in Close (bench/broker_test.go)
		}
	})
	return s, l.Address()
}

// mochiSubscriptions returns the filters Mochi holds for its network
// clients, one per (client, filter).
func mochiSubscriptions(s *mochi.Server) []string {
	var out []string
	for _, cl := range s.Clients.GetAll() {
		if cl.Net.Inline {
			continue
		}
		for f := range cl.State.Subscriptions.GetAll() {
			out = append(out, f)
		}
	}
	return out
}

// upstream returns a [[relay.upstream]] for tests: fast keep alive, pool 2.
func upstream(name string, addrs ...string) config.Upstream {
	return config.Upstream{Name: name, Addresses: addrs, KeepAlive: Duration(5 * time.Second), Pool: 2, ClientID: "edge-" + name + "-{n}"}
}

// wireProxy sits between a relay (or a mosquitto bridge) and its upstream
// broker: it forwards bytes both ways, can stall the client-to-upstream
// direction (it stops reading: the sender's bytes pile up in socket
// buffers), and decodes both directions to record what reached the
// upstream: every PUBLISH (QoS 1) and which of them the upstream
// acknowledged with PUBACK. It follows its target across broker restarts
// (each accepted connection dials the target anew).
type wireProxy struct {
	ln      net.Listener
	target  string
	stalled atomic.Bool
	refuse  atomic.Bool // close every connection as it is accepted (the upstream looks down)
	// drop, when set, is asked for every packet from the upstream: true
	// keeps it from the client (set before the first connection).
	drop func(frame []byte) bool

	mu     sync.Mutex
	resume chan struct{}
	conns  []net.Conn
	pubs   []wirePub      // every PUBLISH towards the upstream, in arrival order
	rels   []uint16       // the packet identifier of every PUBREL towards the upstream
	acked  map[string]int // payload -> PUBACKs from the upstream
	counts map[string]int // payload -> PUBLISH packets towards the upstream
}

type wirePub struct {
	topic, payload string
	dup            bool
	id             uint16
}

func startWireProxy(t testing.TB, target string) *wireProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &wireProxy{ln: ln, target: target, resume: make(chan struct{}), acked: map[string]int{}, counts: map[string]int{}}
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *wireProxy) addr() string { return p.ln.Addr().String() }

func (p *wireProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.refuse.Load() {
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close() // the upstream is down: the client sees a close
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		s := &wireSession{p: p, ids: map[uint16]string{}}
		go p.pipe(c, up, s, true)
		go p.pipe(up, c, s, false)
	}
}

// wireSession is one proxied connection's decoding state.
type wireSession struct {
	p       *wireProxy
	version atomic.Uint32
	mu      sync.Mutex
	ids     map[uint16]string // PUBLISH packet identifier -> payload
}

func (p *wireProxy) pipe(src, dst net.Conn, s *wireSession, fromClient bool) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	var pending []byte
	for {
		n, err := src.Read(buf)
		for fromClient && p.stalled.Load() {
			p.mu.Lock()
			ch := p.resume
			p.mu.Unlock()
			<-ch
		}
		if n > 0 && !fromClient && p.drop != nil {
			// Packet by packet, without those drop wants gone.
			pending = append(pending, buf[:n]...)
			for {
				size, err := mqttcodec.PacketSize(pending, 0)
				if err != nil || size > len(pending) {
					break
				}
				f := pending[:size]
				s.decode(f, false)
				if !p.drop(f) {
					if _, werr := dst.Write(f); werr != nil {
						return
					}
				}
				pending = pending[size:]
			}
		} else if n > 0 {
			pending = append(pending, buf[:n]...)
			pending = s.decode(pending, fromClient)
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// decode records the whole packets at the head of b and returns the rest.
func (s *wireSession) decode(b []byte, fromClient bool) []byte {
	for {
		size, err := mqttcodec.PacketSize(b, 0)
		if err != nil || size > len(b) {
			return b
		}
		f := b[:size]
		v := mqttcodec.Version(s.version.Load())
		switch mqttcodec.TypeOf(f) {
		case mqttcodec.CONNECT:
			var c mqttcodec.Connect
			if mqttcodec.DecodeConnect(f, &c) == nil {
				s.version.Store(uint32(c.Version))
			}
		case mqttcodec.PUBLISH:
			var pk mqttcodec.Publish
			if fromClient && mqttcodec.DecodePublish(f, v, &pk) == nil {
				s.p.mu.Lock()
				s.p.pubs = append(s.p.pubs, wirePub{string(pk.Topic), string(pk.Payload), pk.Dup, pk.PacketID})
				s.p.counts[string(pk.Payload)]++
				s.p.mu.Unlock()
				s.mu.Lock()
				s.ids[pk.PacketID] = string(pk.Payload)
				s.mu.Unlock()
			}
		case mqttcodec.PUBREL:
			var a mqttcodec.Ack
			if fromClient && mqttcodec.DecodeAck(f, v, &a) == nil {
				s.p.mu.Lock()
				s.p.rels = append(s.p.rels, a.PacketID)
				s.p.mu.Unlock()
			}
		case mqttcodec.PUBACK:
			var a mqttcodec.Ack
			if !fromClient && mqttcodec.DecodeAck(f, v, &a) == nil {
				s.mu.Lock()
				payload, ok := s.ids[a.PacketID]
				delete(s.ids, a.PacketID)
				s.mu.Unlock()
				if ok {
					s.p.mu.Lock()
					s.p.acked[payload]++
					s.p.mu.Unlock()
				}
			}
		}
		b = b[size:]
	}
}

func (p *wireProxy) stall() {
	p.mu.Lock()
	p.resume = make(chan struct{})
	p.mu.Unlock()
	p.stalled.Store(true)
}

func (p *wireProxy) unstall() {
	if !p.stalled.Swap(false) {
		return
	}
	p.mu.Lock()
	close(p.resume)
	p.mu.Unlock()
}

// cut closes the proxied connections and keeps listening: the client
// reconnects (to what refuse lets through).
func (p *wireProxy) cut() {
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
}

// wire returns what reached the upstream: PUBLISH packets and PUBREL
// identifiers, in arrival order.
func (p *wireProxy) wire() ([]wirePub, []uint16) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.pubs), slices.Clone(p.rels)
}

func (p *wireProxy) close() {
	p.ln.Close()
	p.unstall()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
}

// atUpstream returns the payloads the upstream acknowledged, how many
// PUBLISH packets reached it, and the order of first arrivals per topic.
func (p *wireProxy) snapshot() (acked map[string]bool, packets int, firsts map[string][]string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	acked = map[string]bool{}
	for k, n := range p.acked {
		if n > 0 {
			acked[k] = true
		}
	}
	firsts = map[string][]string{}
	seen := map[string]bool{}
	for _, w := range p.pubs {
		if !seen[w.payload] {
			seen[w.payload] = true
			firsts[w.topic] = append(firsts[w.topic], w.payload)
		}
	}
	return acked, len(p.pubs), firsts
}
