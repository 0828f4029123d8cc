package bench

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"edgegw/gateway"
	"edgegw/gateway/config"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// idHook records the client identifier of every CONNECT Mochi accepts.
type idHook struct {
	mqtt.HookBase
	mu  sync.Mutex
	ids []string
}

func (h *idHook) ID() string           { return "ids" }
func (h *idHook) Provides(b byte) bool { return b == mqtt.OnConnect }
func (h *idHook) OnConnect(cl *mqtt.Client, _ packets.Packet) error {
	h.mu.Lock()
	h.ids = append(h.ids, cl.ID)
	h.mu.Unlock()
	return nil
}

// TestSubscriberBrokerThroughRelay: --subscriber-broker measures through a
// relay. Publishers (QoS 1) connect to edgegw, which forwards bench/# to
// an upstream Mochi; the subscribers connect to Mochi. Every message
// arrives exactly once, and Mochi saw the subscribers (not only the
// relay's pooled connection).
func TestSubscriberBrokerThroughRelay(t *testing.T) {
	s := mqtt.New(&mqtt.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	_ = s.AddHook(new(auth.AllowHook), nil)
	h := &idHook{}
	if err := s.AddHook(h, nil); err != nil {
		t.Fatal(err)
	}
	l := listeners.NewTCP(listeners.Config{ID: "up", Address: "127.0.0.1:0"})
	_ = s.AddListener(l)
	if err := s.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeMochi(s) })

	cfg := gateway.Default()
	cfg.Listeners.TCP, cfg.Listeners.WS, cfg.HTTP.Addr = "127.0.0.1:0", "", "127.0.0.1:0"
	cfg.Log.Level = "error"
	cfg.Relay.Upstream = []config.Upstream{{Name: "up", Addresses: []string{l.Address()}, Pool: 1,
		ClientID: "relay-{n}", Forward: []string{"bench/#"}}}
	g, err := gateway.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = g.Shutdown(ctx)
	})

	c := small(g.Addr("tcp"), ScenarioFanIn)
	c.QoS = 1
	c.SubscriberBroker = l.Address()
	r := run(t, c)
	checkExact(t, &c, r)
	if r.SubBroker != l.Address() {
		t.Errorf("result subscriber_broker %q, want %q", r.SubBroker, l.Address())
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	subs := 0
	for _, id := range h.ids {
		if !strings.HasPrefix(id, "relay-") {
			subs++
		}
	}
	if subs != c.Subscribers {
		t.Errorf("Mochi saw %d bench clients (%v), want the %d subscribers", subs, h.ids, c.Subscribers)
	}
}

// TestSubscriberBrokerValidation: the flag is for scenarios with
// subscribers of their own, and wants host:port.
func TestSubscriberBrokerValidation(t *testing.T) {
	c := small("127.0.0.1:1883", ScenarioP2P)
	c.SubscriberBroker = "127.0.0.1:1884"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "--subscriber-broker: only fanin, fanout and shared") {
		t.Errorf("p2p: %v", err)
	}
	c = small("127.0.0.1:1883", ScenarioFanOut)
	c.SubscriberBroker = "upstream"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "--subscriber-broker: want host:port") {
		t.Errorf("no port: %v", err)
	}
}
