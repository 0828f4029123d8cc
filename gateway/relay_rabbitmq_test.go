package gateway

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"edgegw/gateway/config"
)

// rabbitServer is where Debian's rabbitmq-server package installs the
// broker's own start script (/usr/sbin/rabbitmq-server insists on
// switching to the rabbitmq user).
const rabbitServer = "/usr/lib/rabbitmq/bin/rabbitmq-server"

// startRabbitMQ runs RabbitMQ with the rabbitmq_mqtt plugin (MQTT 3.1.1
// only) on free loopback ports, with its own node name, data, logs,
// plugins file and Erlang port mapper (epmd) in a temporary directory, and
// returns the MQTT address once it accepts connections. Both are stopped
// when the test ends. Without the package the test is skipped, except
// under CI, where that is a failure.
func startRabbitMQ(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(rabbitServer); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("RabbitMQ not found at %s but CI is set: install the rabbitmq-server package", rabbitServer)
		}
		t.Skip("RabbitMQ not installed (apt-get install rabbitmq-server); set CI=true to make this a failure")
	}
	epmdBin, err := exec.LookPath("epmd")
	if err != nil {
		t.Skip("epmd (Erlang) not found next to RabbitMQ")
	}
	dir := t.TempDir()
	mqttPort, amqpPort, distPort, epmdPort := freePort(t), freePort(t), freePort(t), freePort(t)
	conf := fmt.Sprintf(`listeners.tcp.default = 127.0.0.1:%d
mqtt.listeners.tcp.default = 127.0.0.1:%d
mqtt.allow_anonymous = true
loopback_users = none
log.console = true
log.console.level = warning
log.file = false
`, amqpPort, mqttPort)
	if err := os.WriteFile(filepath.Join(dir, "rabbitmq.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "enabled_plugins"), []byte("[rabbitmq_mqtt].\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	epmd := exec.Command(epmdBin, "-port", strconv.Itoa(epmdPort))
	epmd.Stdout, epmd.Stderr = out, out
	if err := epmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = epmd.Process.Kill(); _ = epmd.Wait() })
	cmd := exec.Command(rabbitServer)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"HOME="+dir,
		"RABBITMQ_NODENAME=edgegw"+strconv.Itoa(mqttPort)+"@localhost",
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		"RABBITMQ_DIST_PORT="+strconv.Itoa(distPort),
		"ERL_EPMD_PORT="+strconv.Itoa(epmdPort),
		"RABBITMQ_MNESIA_BASE="+filepath.Join(dir, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(dir, "log"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(dir, "enabled_plugins"),
		"RABBITMQ_CONFIG_FILE="+filepath.Join(dir, "rabbitmq"),
		"RABBITMQ_PLUGINS_EXPAND_DIR="+filepath.Join(dir, "plugins-expand"),
		"RABBITMQ_PID_FILE="+filepath.Join(dir, "pid"),
	)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its Erlang children stop with it
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot start %s: %v", rabbitServer, err)
	}
	t.Cleanup(func() {
		pg := -cmd.Process.Pid
		_ = syscall.Kill(pg, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(pg, syscall.SIGKILL)
			<-done
		}
		_ = syscall.Kill(pg, syscall.SIGKILL) // what outlived the shell script
		if t.Failed() {
			t.Logf("RabbitMQ output:\n%s", out.String())
		}
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(mqttPort))
	deadline := time.Now().Add(90 * time.Second) // about 12 s on an idle 2-core machine
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("RabbitMQ MQTT not listening on %s after 90 s: %v\n%s", addr, err, out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestRelayRabbitMQ: RabbitMQ with rabbitmq_mqtt (3.1.1 only, no QoS 2) as
// the upstream, as real MQTT gateways in the field front it: a device's
// QoS 1 messages under a forward rule reach a RabbitMQ MQTT subscriber in
// order, acknowledged end to end; RabbitMQ messages under an import rule
// reach the device's aggregated subscription; with session_expiry, a
// message RabbitMQ takes while the relay's link is down (clean session 0:
// its queue stays) reaches the device when the link is back.
func TestRelayRabbitMQ(t *testing.T) {
	addr := startRabbitMQ(t)
	px := startWireProxy(t, addr)
	g := newTestGateway(t, func(c *Config) {
		u := upstream("rabbit", px.addr())
		q := 1
		u.Protocol, u.MaxQoS, u.SessionExpiry = 4, &q, Duration(time.Hour)
		u.Forward, u.Import, u.RemotePrefix = []string{"telemetry/#"}, []string{"commands/#"}, "site1/"
		c.Relay.Upstream = []config.Upstream{u}
	})
	relayUp(t, g, 0)
	seen := newCollector()
	obs := mqttAt(t, addr, "rabbit-observer", seen.handler)
	waitTok(t, obs.Subscribe("site1/telemetry/#", 1, nil), "observer subscribe")

	cmds := newCollector()
	dev := v3Client(t, g, "rabbit-dev", func(o *mqtt.ClientOptions) { o.SetDefaultPublishHandler(cmds.handler) })
	waitTok(t, dev.Subscribe("commands/rabbit-dev/#", 1, nil), "device subscribe")
	for i := 0; i < 20; i++ {
		waitTok(t, dev.Publish("telemetry/rabbit-dev", 1, false, fmt.Sprintf("r%02d", i)), "device publish")
	}
	for i := 0; i < 20; i++ {
		seen.expect(t, "site1/telemetry/rabbit-dev", fmt.Sprintf("r%02d", i))
	}
	deadline := time.Now().Add(10 * time.Second)
	for cmds.n.Load() == 0 && time.Now().Before(deadline) {
		waitTok(t, obs.Publish("site1/commands/rabbit-dev/reboot", 1, false, "now"), "RabbitMQ publish")
		time.Sleep(100 * time.Millisecond)
	}
	cmds.expect(t, "commands/rabbit-dev/reboot", "now")
	if st := g.relays[0].Stats(); st.Forwarded != 20 || st.UpstreamSubs != 1 {
		t.Fatalf("forwarded %d, upstream subscriptions %d; want 20 and 1", st.Forwarded, st.UpstreamSubs)
	}

	relayDownWhile(t, g, px, cmds, func() {
		waitTok(t, obs.Publish("site1/commands/rabbit-dev/reboot", 1, false, "while-down"), "RabbitMQ publish while the link is down")
	})
	cmds.expect(t, "commands/rabbit-dev/reboot", "while-down")
	if st := g.relays[0].Stats(); st.Resumed == 0 {
		t.Fatal("RabbitMQ did not resume the relay's session")
	}
}
