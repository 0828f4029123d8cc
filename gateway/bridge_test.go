package gateway

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// A real mosquitto broker bridged to the gateway with mosquitto's defaults:
// bridge_protocol_version mqttv311 with try_private true, so its CONNECT
// carries protocol level 0x84 (mqttcodec.BridgeBit | 4).

// syncBuffer is a bytes.Buffer safe for a child process's output and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startMosquittoBridge runs mosquitto on a free loopback port with one
// bridge connection to gwAddr (`topic # both 1`, extra config lines, and
// everything else at mosquitto's defaults) and returns its listener address
// once it accepts connections. mosquitto is killed when the test ends; its
// log is printed if the test failed.
func startMosquittoBridge(t *testing.T, bin, gwAddr, extra string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	conf := fmt.Sprintf(`listener %d 127.0.0.1
allow_anonymous true
persistence false
log_dest stderr
log_type error
log_type warning
log_type notice
connection edgegw
address %s
topic # both 1
restart_timeout 1
%s`, port, gwAddr, extra)
	path := filepath.Join(t.TempDir(), "mosquitto.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", path)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot start %s: %v", bin, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("mosquitto log:\n%s", out.String())
		}
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto not listening on %s: %v\n%s", addr, err, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tally counts messages per topic and payload; a handler for paho.
type tally struct {
	mu sync.Mutex
	n  map[string]int
}

func newTally() *tally { return &tally{n: map[string]int{}} }

func (c *tally) handler(_ mqtt.Client, m mqtt.Message) {
	c.mu.Lock()
	c.n[m.Topic()+" "+string(m.Payload())]++
	c.mu.Unlock()
}

func (c *tally) count(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[key]
}

func (c *tally) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprint(c.n)
}

// mqttAt connects a paho 3.1.1 client to any broker address.
func mqttAt(t *testing.T, addr, id string, h mqtt.MessageHandler) mqtt.Client {
	t.Helper()
	o := mqtt.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).SetProtocolVersion(4).
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(5 * time.Second).SetDefaultPublishHandler(h)
	c := mqtt.NewClient(o)
	waitTok(t, c.Connect(), "connect "+id+" to "+addr)
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

// TestMosquittoBridge: mosquitto 2.0's default bridge (protocol level 0x84)
// and its 3.1 bridge (0x83) connect, and messages cross them in both
// directions exactly once: the gateway gives the bridge no-local
// subscriptions, so nothing the bridge published comes back to it (which
// mosquitto would hand its subscribers a second time), and
// retain-as-published, so a retained message published on the gateway is
// retained on mosquitto too.
func TestMosquittoBridge(t *testing.T) {
	bin := mosquittoBin(t)
	for _, c := range []struct{ name, extra string }{
		{"default mqttv311 level 0x84", ""},
		// A 3.1 client ID has at most 23 characters; the default is the host name + ".edgegw".
		{"mqttv31 level 0x83", "bridge_protocol_version mqttv31\nremote_clientid edgegw-bridge31\n"},
	} {
		t.Run(c.name, func(t *testing.T) { testMosquittoBridge(t, bin, c.extra) })
	}
}

func testMosquittoBridge(t *testing.T, bin, extra string) {
	g := newTestGateway(t, nil)
	maddr := startMosquittoBridge(t, bin, g.Addr("tcp"), extra)

	onEdge, onMosq := newTally(), newTally()
	edge := mqttAt(t, g.Addr("tcp"), uniq("edge-sub"), onEdge.handler)
	mosq := mqttAt(t, maddr, uniq("mosq-sub"), onMosq.handler)
	waitTok(t, edge.Subscribe("ready/#", 0, nil), "edge subscribe ready/#")
	waitTok(t, edge.Subscribe("bridge/#", 1, nil), "edge subscribe bridge/#")
	waitTok(t, mosq.Subscribe("ready/#", 0, nil), "mosquitto subscribe ready/#")
	waitTok(t, mosq.Subscribe("bridge/#", 1, nil), "mosquitto subscribe bridge/#")

	// The bridge is up both ways once a probe from each side reached the other.
	deadline := time.Now().Add(10 * time.Second)
	for onMosq.count("ready/edge p") == 0 || onEdge.count("ready/mosq p") == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("bridge not up in both directions within 10 s (gateway saw %v, mosquitto saw %v)", onEdge, onMosq)
		}
		edge.Publish("ready/edge", 0, false, "p")
		mosq.Publish("ready/mosq", 0, false, "p")
		time.Sleep(100 * time.Millisecond)
	}

	waitTok(t, edge.Publish("bridge/from-edge", 1, false, "e1"), "publish on the gateway")
	waitTok(t, mosq.Publish("bridge/from-mosq", 1, false, "m1"), "publish on mosquitto")
	waitTok(t, edge.Publish("bridge/retained", 1, true, "r1"), "publish retained on the gateway")
	want := []string{"bridge/from-edge e1", "bridge/from-mosq m1", "bridge/retained r1"}
	arrived := func() bool {
		for _, k := range want {
			if onEdge.count(k) == 0 || onMosq.count(k) == 0 {
				return false
			}
		}
		return true
	}
	for deadline = time.Now().Add(10 * time.Second); !arrived(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not delivered on both sides within 10 s: gateway %v, mosquitto %v", onEdge, onMosq)
		}
	}
	// An echo goes round the bridge in milliseconds; give it a second.
	time.Sleep(time.Second)
	for _, k := range want {
		if n, m := onEdge.count(k), onMosq.count(k); n != 1 || m != 1 {
			t.Errorf("%q: %d on the gateway, %d on mosquitto; want 1 and 1 (no echo, no loop)", k, n, m)
		}
	}

	// Retain as published: mosquitto stored the gateway's retained message.
	late := make(chan mqtt.Message, 4)
	lc := mqttAt(t, maddr, uniq("mosq-late"), func(_ mqtt.Client, m mqtt.Message) { late <- m })
	waitTok(t, lc.Subscribe("bridge/retained", 1, nil), "late subscribe on mosquitto")
	select {
	case m := <-late:
		if string(m.Payload()) != "r1" || !m.Retained() {
			t.Fatalf("late subscriber on mosquitto got %q retained=%v, want r1 retained", m.Payload(), m.Retained())
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("mosquitto did not retain the gateway's retained message (retain-as-published)")
	}
}
