package gateway_test

// Black-box interoperability suite: the gateway as a user runs it, driven by real
// third-party clients from outside the process (mosquitto_pub / mosquitto_sub) and
// by the Eclipse Paho Go clients for MQTT 3.1.1 and 5.0. The gateway owner's feature
// tests live beside the code; these only check that independent implementations
// agree with ours.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt "github.com/eclipse/paho.mqtt.golang"

	"edgegw/gateway"
)

// waitFor bounds every wait for the gateway or a client. Things take milliseconds;
// the margin is for a loaded CI machine running the whole suite with -race.
const waitFor = 10 * time.Second

// testGateway is a running gateway on loopback ports chosen by the kernel.
type testGateway struct {
	tcp  string // host:port of the MQTT TCP listener
	http string // host:port of /metrics and /healthz
}

func startGateway(t *testing.T) *testGateway {
	t.Helper()
	cfg := gateway.Default()
	cfg.Listeners.TCP = "127.0.0.1:0"
	cfg.Listeners.WS = ""
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Engine.Loops = 2
	cfg.Drain.Timeout = gateway.Duration(2 * time.Second)
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	g, err := gateway.New(cfg, log)
	if err != nil {
		t.Fatalf("gateway.New: %v", err)
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
	tg := &testGateway{tcp: g.Addr("tcp"), http: g.Addr("http")}
	if tg.tcp == "" || tg.http == "" {
		t.Fatalf("Addr: tcp %q, http %q", tg.tcp, tg.http)
	}
	return tg
}

// --- mosquitto_pub / mosquitto_sub ---

// needMosquitto skips without the mosquitto clients, except under CI, where their
// absence is a failure (CI installs them; a silent skip would hide the whole suite).
func needMosquitto(t *testing.T) {
	t.Helper()
	for _, bin := range []string{"mosquitto_sub", "mosquitto_pub"} {
		if _, err := exec.LookPath(bin); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s not found but CI is set: install mosquitto-clients", bin)
			}
			t.Skipf("%s not installed (apt-get install mosquitto-clients); set CI=true to make this a failure", bin)
		}
	}
}

var mqttVersions = []struct{ name, flag string }{
	{"v3.1", "mqttv31"},
	{"v3.1.1", "mqttv311"},
	{"v5", "mqttv5"},
}

// lineBuffered runs name with its stdout line-buffered (coreutils stdbuf), so that
// mosquitto_sub's -d lines reach us as they happen rather than at exit.
func lineBuffered(name string, args ...string) *exec.Cmd {
	if stdbuf, err := exec.LookPath("stdbuf"); err == nil {
		return exec.Command(stdbuf, append([]string{"-oL", name}, args...)...)
	}
	return exec.Command(name, args...)
}

// mosqSub is a running mosquitto_sub that prints each message as MSG|topic|qos|retain|payload.
type mosqSub struct {
	cmd   *exec.Cmd
	msgs  chan string
	mu    sync.Mutex
	trace []string // every output line, for failure messages
}

// startSub runs mosquitto_sub against gw and returns once the gateway acknowledged
// the subscription (mosquitto_sub -d prints "received SUBACK").
func startSub(t *testing.T, gw *testGateway, version string, args ...string) *mosqSub {
	t.Helper()
	host, port, _ := net.SplitHostPort(gw.tcp)
	all := append([]string{"-h", host, "-p", port, "-V", version, "-d", "-F", "MSG|%t|%q|%r|%p"}, args...)
	s := &mosqSub{cmd: lineBuffered("mosquitto_sub", all...), msgs: make(chan string, 64)}
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stderr = s.cmd.Stdout
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	subacked := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		once := sync.Once{}
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.trace = append(s.trace, line)
			s.mu.Unlock()
			switch {
			case strings.HasPrefix(line, "MSG|"):
				s.msgs <- line
			case strings.Contains(line, "received SUBACK"):
				once.Do(func() { close(subacked) })
			}
		}
		close(s.msgs)
	}()
	t.Cleanup(func() { s.kill() })
	select {
	case <-subacked:
	case <-time.After(waitFor):
		t.Fatalf("mosquitto_sub %v: no SUBACK within %v; output %q", args, waitFor, s.output())
	}
	return s
}

func (s *mosqSub) output() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.trace...)
}

func (s *mosqSub) kill() {
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}

// expect waits for the next message and compares it with want (MSG|topic|qos|retain|payload).
func (s *mosqSub) expect(t *testing.T, want string) {
	t.Helper()
	select {
	case got, ok := <-s.msgs:
		if !ok {
			t.Fatalf("mosquitto_sub exited before %q; output %q", want, s.output())
		}
		if got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	case <-time.After(waitFor):
		t.Fatalf("no %q within %v; output %q", want, waitFor, s.output())
	}
}

// mosqPub runs mosquitto_pub to completion (QoS 1/2 flows finish before it exits).
func mosqPub(t *testing.T, gw *testGateway, version string, args ...string) {
	t.Helper()
	host, port, _ := net.SplitHostPort(gw.tcp)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "mosquitto_pub", append([]string{"-h", host, "-p", port, "-V", version}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub %v: %v: %s", args, err, out)
	}
}

// TestMosquittoQoS: every publish QoS to subscribers at QoS 0 and 2; the delivered
// QoS is the minimum of the two [MQTT-3.8.4-8], order holds per publisher
// [MQTT-4.6.0-6] and a live delivery has retain 0 [MQTT-3.3.1-9].
func TestMosquittoQoS(t *testing.T) {
	t.Parallel()
	needMosquitto(t)
	gw := startGateway(t)
	for _, v := range mqttVersions {
		t.Run(v.name, func(t *testing.T) {
			topic := "interop/qos/" + v.flag
			sub0 := startSub(t, gw, v.flag, "-i", "qos-sub0-"+v.flag, "-t", topic, "-q", "0")
			sub2 := startSub(t, gw, v.flag, "-i", "qos-sub2-"+v.flag, "-t", topic, "-q", "2")
			for q := range 3 {
				mosqPub(t, gw, v.flag, "-i", "qos-pub-"+v.flag, "-t", topic, "-q", strconv.Itoa(q), "-m", fmt.Sprintf("payload-q%d", q))
			}
			for q := range 3 {
				sub0.expect(t, fmt.Sprintf("MSG|%s|0|0|payload-q%d", topic, q))
				sub2.expect(t, fmt.Sprintf("MSG|%s|%d|0|payload-q%d", topic, q, q))
			}
		})
	}
}

// TestMosquittoRetained: a retained message is delivered with retain 1 to a new
// subscriber [MQTT-3.3.1-6], with retain 0 to an existing one, and an empty retained
// message clears it [MQTT-3.3.1-10].
func TestMosquittoRetained(t *testing.T) {
	t.Parallel()
	needMosquitto(t)
	gw := startGateway(t)
	for _, v := range mqttVersions {
		t.Run(v.name, func(t *testing.T) {
			topic := "interop/retained/" + v.flag
			live := startSub(t, gw, v.flag, "-i", "ret-live-"+v.flag, "-t", topic, "-q", "1")
			mosqPub(t, gw, v.flag, "-t", topic, "-q", "1", "-r", "-m", "kept")
			live.expect(t, "MSG|"+topic+"|1|0|kept")

			late := startSub(t, gw, v.flag, "-i", "ret-late-"+v.flag, "-t", "interop/retained/+", "-q", "1")
			late.expect(t, "MSG|"+topic+"|1|1|kept")

			mosqPub(t, gw, v.flag, "-t", topic, "-q", "1", "-r", "-n") // clear
			live.expect(t, "MSG|"+topic+"|1|0|")
			late.expect(t, "MSG|"+topic+"|1|0|")

			cleared := startSub(t, gw, v.flag, "-i", "ret-cleared-"+v.flag, "-t", topic, "-q", "1")
			mosqPub(t, gw, v.flag, "-t", topic, "-q", "1", "-m", "marker")
			cleared.expect(t, "MSG|"+topic+"|1|0|marker") // the cleared message did not come first
		})
	}
}

// TestMosquittoWill: a client killed without DISCONNECT has its will published
// [MQTT-3.1.2-8]; one that disconnects normally has its will discarded [MQTT-3.1.2-10].
func TestMosquittoWill(t *testing.T) {
	t.Parallel()
	needMosquitto(t)
	gw := startGateway(t)
	for _, v := range mqttVersions {
		t.Run(v.name, func(t *testing.T) {
			willTopic := "interop/will/" + v.flag
			watch := startSub(t, gw, v.flag, "-i", "will-watch-"+v.flag, "-t", willTopic, "-q", "1")

			// Connects, subscribes, then disconnects politely (-E): no will.
			polite := startSub(t, gw, v.flag, "-i", "will-polite-"+v.flag, "-t", "interop/none", "-E",
				"--will-topic", willTopic, "--will-payload", "polite-will", "--will-qos", "1")
			if err := polite.cmd.Wait(); err != nil {
				t.Fatalf("mosquitto_sub -E: %v; output %q", err, polite.output())
			}

			victim := startSub(t, gw, v.flag, "-i", "will-victim-"+v.flag, "-t", "interop/none", "-k", "30",
				"--will-topic", willTopic, "--will-payload", "gone", "--will-qos", "1")
			victim.kill() // SIGKILL: the socket closes without DISCONNECT
			watch.expect(t, "MSG|"+willTopic+"|1|0|gone")
		})
	}
}

// TestMosquittoSharedSubscription: each message to a $share group goes to exactly
// one member (MQTT 5.0 section 4.8.2); a plain subscriber to the same filter gets them all.
func TestMosquittoSharedSubscription(t *testing.T) {
	t.Parallel()
	needMosquitto(t)
	gw := startGateway(t)
	for _, v := range mqttVersions[1:] { // $share is MQTT 5; brokers accept it from 3.1.1 clients too
		t.Run(v.name, func(t *testing.T) {
			topic := "interop/share/" + v.flag
			a := startSub(t, gw, v.flag, "-i", "share-a-"+v.flag, "-t", "$share/g/"+topic, "-q", "1")
			b := startSub(t, gw, v.flag, "-i", "share-b-"+v.flag, "-t", "$share/g/"+topic, "-q", "1")
			all := startSub(t, gw, v.flag, "-i", "share-all-"+v.flag, "-t", topic, "-q", "1")
			const n = 6
			for i := range n {
				mosqPub(t, gw, v.flag, "-t", topic, "-q", "1", "-m", strconv.Itoa(i))
			}
			for i := range n {
				all.expect(t, fmt.Sprintf("MSG|%s|1|0|%d", topic, i))
			}
			seen := map[string]int{}
			deadline := time.After(waitFor)
			for len(seen) < n {
				select {
				case m := <-a.msgs:
					seen[m]++
				case m := <-b.msgs:
					seen[m]++
				case <-deadline:
					t.Fatalf("the group got %d of %d messages: %v", len(seen), n, seen)
				}
			}
			select {
			case m := <-a.msgs:
				t.Fatalf("extra delivery to a group member: %q (seen %v)", m, seen)
			case m := <-b.msgs:
				t.Fatalf("extra delivery to a group member: %q (seen %v)", m, seen)
			case <-time.After(200 * time.Millisecond):
			}
			for m, c := range seen {
				if c != 1 {
					t.Errorf("%q delivered %d times to the group", m, c)
				}
			}
		})
	}
}

// --- Paho Go clients ---

// pahoV3 connects a Paho MQTT 3.1.1 client. Messages that match no subscription
// handler of this client instance (a resumed session) go to onMsg.
func pahoV3(t *testing.T, gw *testGateway, id string, clean bool, onMsg mqtt.MessageHandler) mqtt.Client {
	c, _ := pahoV3Session(t, gw, id, clean, onMsg)
	return c
}

// pahoV3Session is pahoV3 that also returns the CONNACK's Session Present flag.
func pahoV3Session(t *testing.T, gw *testGateway, id string, clean bool, onMsg mqtt.MessageHandler) (mqtt.Client, bool) {
	t.Helper()
	opts := mqtt.NewClientOptions().AddBroker("tcp://" + gw.tcp).SetClientID(id).
		SetProtocolVersion(4).SetCleanSession(clean).SetAutoReconnect(false).SetConnectRetry(false).
		SetOrderMatters(true).SetDefaultPublishHandler(onMsg)
	c := mqtt.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		t.Fatalf("paho v3 %s: connect: %v", id, tok.Error())
	}
	t.Cleanup(func() {
		if c.IsConnected() {
			c.Disconnect(0)
		}
	})
	return c, tok.(*mqtt.ConnectToken).SessionPresent()
}

func waitToken(t *testing.T, what string, tok mqtt.Token) {
	t.Helper()
	if !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		t.Fatalf("%s: %v (timed out: %v)", what, tok.Error(), tok.Error() == nil)
	}
}

// pahoV5 connects a Paho MQTT 5.0 client; every PUBLISH it receives goes to onMsg.
func pahoV5(t *testing.T, gw *testGateway, id string, clean bool, expiry uint32, onMsg func(*paho.Publish)) (*paho.Client, *paho.Connack) {
	t.Helper()
	conn, err := net.Dial("tcp", gw.tcp)
	if err != nil {
		t.Fatal(err)
	}
	c := paho.NewClient(paho.ClientConfig{
		Conn: conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){
			func(pr paho.PublishReceived) (bool, error) { onMsg(pr.Packet); return true, nil },
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	ca, err := c.Connect(ctx, &paho.Connect{
		ClientID: id, CleanStart: clean, KeepAlive: 30,
		Properties: &paho.ConnectProperties{SessionExpiryInterval: &expiry},
	})
	if err != nil {
		conn.Close()
		t.Fatalf("paho v5 %s: connect: %v", id, err)
	}
	t.Cleanup(func() {
		_ = c.Disconnect(&paho.Disconnect{})
		conn.Close()
	})
	return c, ca
}

type message struct {
	topic   string
	qos     byte
	payload string
}

func expectMessage(t *testing.T, ch <-chan message, want message) {
	t.Helper()
	select {
	case got := <-ch:
		if got != want {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	case <-time.After(waitFor):
		t.Fatalf("no message %+v within %v", want, waitFor)
	}
}

// TestPahoCrossVersion: a 3.1.1 publisher reaches a 5.0 subscriber and back.
func TestPahoCrossVersion(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	got5 := make(chan message, 8)
	c5, _ := pahoV5(t, gw, "cross-v5", true, 0, func(p *paho.Publish) {
		got5 <- message{p.Topic, p.QoS, string(p.Payload)}
	})
	if _, err := c5.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "interop/cross/to5/#", QoS: 1}}}); err != nil {
		t.Fatalf("v5 subscribe: %v", err)
	}
	got3 := make(chan message, 8)
	c3 := pahoV3(t, gw, "cross-v3", true, nil)
	waitToken(t, "v3 subscribe", c3.Subscribe("interop/cross/to3/+", 2, func(_ mqtt.Client, m mqtt.Message) {
		got3 <- message{m.Topic(), m.Qos(), string(m.Payload())}
	}))

	waitToken(t, "v3 publish", c3.Publish("interop/cross/to5/a", 1, false, "from v3"))
	expectMessage(t, got5, message{"interop/cross/to5/a", 1, "from v3"})

	if _, err := c5.Publish(ctx, &paho.Publish{Topic: "interop/cross/to3/b", QoS: 2, Payload: []byte("from v5")}); err != nil {
		t.Fatalf("v5 publish: %v", err)
	}
	expectMessage(t, got3, message{"interop/cross/to3/b", 2, "from v5"})

	// v5 properties do not leak into a 3.1.1 delivery and do not break it.
	ct := "text/plain"
	if _, err := c5.Publish(ctx, &paho.Publish{Topic: "interop/cross/to3/c", QoS: 0, Payload: []byte("with props"),
		Properties: &paho.PublishProperties{ContentType: ct, User: paho.UserProperties{{Key: "k", Value: "v"}}}}); err != nil {
		t.Fatalf("v5 publish with properties: %v", err)
	}
	expectMessage(t, got3, message{"interop/cross/to3/c", 0, "with props"})
}

// TestPahoV5Properties: the publication properties a 5.0 publisher sets reach a 5.0
// subscriber unchanged, user properties in order ([MQTT-3.3.2-4], [MQTT-3.3.2-15] to
// [MQTT-3.3.2-20]), with the subscription identifier of the matching subscription
// added (MQTT 5.0 section 3.3.4).
func TestPahoV5Properties(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got := make(chan *paho.Publish, 4)
	sub, _ := pahoV5(t, gw, "props-sub", true, 0, func(p *paho.Publish) { got <- p })
	subID := 42
	if _, err := sub.Subscribe(ctx, &paho.Subscribe{
		Properties:    &paho.SubscribeProperties{SubscriptionIdentifier: &subID},
		Subscriptions: []paho.SubscribeOptions{{Topic: "interop/props/#", QoS: 1}},
	}); err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	pub, _ := pahoV5(t, gw, "props-pub", true, 0, func(*paho.Publish) {})
	format := byte(1)
	expiry := uint32(3600)
	sent := &paho.PublishProperties{
		CorrelationData: []byte{0, 1, 2, 0xff},
		ContentType:     "application/json",
		ResponseTopic:   "interop/reply",
		PayloadFormat:   &format,
		MessageExpiry:   &expiry,
		User:            paho.UserProperties{{Key: "a", Value: "1"}, {Key: "b", Value: "2"}, {Key: "a", Value: "3"}},
	}
	if _, err := pub.Publish(ctx, &paho.Publish{Topic: "interop/props/x", QoS: 1, Payload: []byte(`{"ok":true}`), Properties: sent}); err != nil {
		t.Fatalf("publish: %v", err)
	}
	var p *paho.Publish
	select {
	case p = <-got:
	case <-time.After(waitFor):
		t.Fatalf("no message within %v", waitFor)
	}
	r := p.Properties
	if r == nil {
		t.Fatal("no properties delivered")
	}
	if string(r.CorrelationData) != string(sent.CorrelationData) || r.ContentType != sent.ContentType || r.ResponseTopic != sent.ResponseTopic {
		t.Errorf("correlation %x content type %q response topic %q; want %x %q %q",
			r.CorrelationData, r.ContentType, r.ResponseTopic, sent.CorrelationData, sent.ContentType, sent.ResponseTopic)
	}
	if r.PayloadFormat == nil || *r.PayloadFormat != 1 {
		t.Errorf("payload format %v, want 1", r.PayloadFormat)
	}
	// [MQTT-3.3.2-6]: the expiry is the remaining lifetime, never more than was sent.
	if r.MessageExpiry == nil || *r.MessageExpiry > expiry || *r.MessageExpiry < expiry-5 {
		t.Errorf("message expiry %v, want about %d", r.MessageExpiry, expiry)
	}
	if len(r.User) != 3 || r.User[0] != sent.User[0] || r.User[1] != sent.User[1] || r.User[2] != sent.User[2] {
		t.Errorf("user properties %v, want %v", r.User, sent.User)
	}
	if r.SubscriptionIdentifier == nil || *r.SubscriptionIdentifier != subID {
		t.Errorf("subscription identifier %v, want %d", r.SubscriptionIdentifier, subID)
	}
}

// TestPahoPersistentSession: QoS 1 messages published while a persistent client is
// away are delivered when it comes back, with Session Present set
// ([MQTT-3.1.2-4], [MQTT-3.2.2-2]); for 3.1.1 (clean session 0) and 5.0 (Clean
// Start 0, Session Expiry > 0).
func TestPahoPersistentSession(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	pub := pahoV3(t, gw, "persist-pub", true, nil)

	t.Run("v3.1.1", func(t *testing.T) {
		const topic = "interop/persist/v3"
		first, present := pahoV3Session(t, gw, "persist-v3", true, nil)
		if present {
			t.Error("Session Present = 1 on a clean session")
		}
		first.Disconnect(100)
		first = pahoV3(t, gw, "persist-v3", false, nil)
		waitToken(t, "subscribe", first.Subscribe(topic, 1, nil))
		first.Disconnect(100)

		for i := range 3 {
			waitToken(t, "publish", pub.Publish(topic, 1, false, fmt.Sprintf("offline-%d", i)))
		}
		got := make(chan message, 8)
		_, present = pahoV3Session(t, gw, "persist-v3", false, func(_ mqtt.Client, m mqtt.Message) {
			got <- message{m.Topic(), m.Qos(), string(m.Payload())}
		})
		if !present {
			t.Error("CONNACK Session Present = 0 on resume")
		}
		for i := range 3 {
			expectMessage(t, got, message{topic, 1, fmt.Sprintf("offline-%d", i)})
		}
	})

	t.Run("v5", func(t *testing.T) {
		const topic = "interop/persist/v5"
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		first, ca := pahoV5(t, gw, "persist-v5", true, 300, func(*paho.Publish) {})
		if ca.SessionPresent {
			t.Error("Session Present = 1 on a clean start")
		}
		if _, err := first.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: topic, QoS: 1}}}); err != nil {
			t.Fatal(err)
		}
		if err := first.Disconnect(&paho.Disconnect{}); err != nil {
			t.Fatal(err)
		}
		<-first.Done()

		for i := range 3 {
			waitToken(t, "publish", pub.Publish(topic, 1, false, fmt.Sprintf("offline-%d", i)))
		}
		got := make(chan message, 8)
		_, ca = pahoV5(t, gw, "persist-v5", false, 300, func(p *paho.Publish) {
			got <- message{p.Topic, p.QoS, string(p.Payload)}
		})
		if !ca.SessionPresent {
			t.Error("CONNACK Session Present = 0 on resume")
		}
		for i := range 3 {
			expectMessage(t, got, message{topic, 1, fmt.Sprintf("offline-%d", i)})
		}
	})
}

// TestMetricsMove: /healthz answers and the /metrics counters move with traffic.
func TestMetricsMove(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	resp, err := http.Get("http://" + gw.http + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %s", resp.Status)
	}

	counters := []string{
		"edgegw_connections_opened_total",
		"edgegw_messages_published_total",
		"edgegw_messages_delivered_total",
		`edgegw_packets_received_total{type="PUBLISH"}`,
		`edgegw_packets_sent_total{type="PUBLISH"}`,
		"edgegw_bytes_received_total",
	}
	before := scrape(t, gw)
	for _, name := range counters {
		if _, ok := before[name]; !ok {
			t.Fatalf("/metrics lacks %s", name)
		}
	}

	got := make(chan message, 8)
	sub := pahoV3(t, gw, "metrics-sub", true, nil)
	waitToken(t, "subscribe", sub.Subscribe("interop/metrics", 1, func(_ mqtt.Client, m mqtt.Message) {
		got <- message{m.Topic(), m.Qos(), string(m.Payload())}
	}))
	pub := pahoV3(t, gw, "metrics-pub", true, nil)
	waitToken(t, "publish", pub.Publish("interop/metrics", 1, false, "count me"))
	expectMessage(t, got, message{"interop/metrics", 1, "count me"})

	// Loops fold their counters into the metrics once per tick: poll briefly.
	deadline := time.Now().Add(3 * time.Second)
	for {
		after := scrape(t, gw)
		var still []string
		for _, name := range counters {
			if after[name] <= before[name] {
				still = append(still, fmt.Sprintf("%s %v -> %v", name, before[name], after[name]))
			}
		}
		if len(still) == 0 {
			if after["edgegw_connections"] < 2 {
				t.Errorf("edgegw_connections = %v with two clients connected", after["edgegw_connections"])
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("counters did not move: %v", still)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) ([0-9.eE+-]+|NaN|[+-]Inf)$`)

// scrape reads /metrics into name{labels} -> value.
func scrape(t *testing.T, gw *testGateway) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + gw.http + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(body), "\n") {
		if m := sampleLine.FindStringSubmatch(line); m != nil {
			v, err := strconv.ParseFloat(m[2], 64)
			if err == nil {
				out[m[1]] = v
			}
		}
	}
	if len(out) == 0 {
		t.Fatalf("/metrics has no samples:\n%s", body)
	}
	return out
}
