package gateway

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"edgegw/gateway/config"
)

// relayChild runs a gateway whose relay forwards telemetry/# to an
// upstream (this test binary re-executed, see TestMain,
// TestRelayFaultGatewayKilled and BenchmarkRelayForward), prints its MQTT
// address and runs until it is killed or stdin closes. spec is
// "upstream-address,pool".
func relayChild(spec string) int {
	upstreamAddr, p, _ := strings.Cut(spec, ",")
	pool, _ := strconv.Atoi(p)
	cfg := Default()
	cfg.Listeners.TCP, cfg.Listeners.WS, cfg.HTTP.Addr = "127.0.0.1:0", "", ""
	u := config.Upstream{Name: "core", Addresses: []string{upstreamAddr}, KeepAlive: Duration(5 * time.Second), Pool: pool,
		ClientID: "edge-child-{n}", Forward: []string{"telemetry/#"}}
	if upstreamAddr != "" { // "": no relay, the device side alone (BenchmarkRelayForward/edgegw-no-relay)
		cfg.Relay.Upstream = []config.Upstream{u}
	}
	g, err := New(cfg, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := g.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for len(g.relays) > 0 && int(g.relays[0].Stats().Up) != pool {
		time.Sleep(5 * time.Millisecond)
	}
	if f := os.Getenv("EDGEGW_RELAY_CPUPROFILE"); f != "" {
		// Profile the child's run: go test -bench BenchmarkRelayForward
		// with EDGEGW_RELAY_CPUPROFILE=/tmp/relay.pprof.
		out, err := os.Create(f)
		if err == nil && pprof.StartCPUProfile(out) == nil {
			go func() {
				time.Sleep(5 * time.Second)
				pprof.StopCPUProfile()
				out.Close()
			}()
		}
	}
	fmt.Println(g.Addr("tcp"))
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// startRelayChildB starts relayChild in a child process and returns its
// MQTT address and the process (SIGKILLed at the end of the test at the
// latest).
func startRelayChildB(t testing.TB, upstreamAddr string, pool int) (string, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), "EDGEGW_RELAY_CHILD="+upstreamAddr+","+strconv.Itoa(pool))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("gateway child: %q %v", line, err)
	}
	return strings.TrimSpace(line), cmd
}

// killFigures are what a gateway-kill run found.
type killFigures struct {
	acknowledged, lost, stalledSent int
}

// publishThenKill connects devices to addr; each publishes before QoS 1
// messages with the upstream flowing (they must all be acknowledged), then
// px stalls and each publishes during more; then kill runs (SIGKILL), px
// resumes, and what the devices saw acknowledged is compared with what the
// upstream acknowledged on the wire.
func publishThenKill(t *testing.T, addr string, px *wireProxy, devices, before, during int, kill func()) killFigures {
	t.Helper()
	type pub struct {
		tok     mqtt.Token
		payload string
	}
	var pubs []pub
	clients := make([]mqtt.Client, devices)
	for i := range clients {
		clients[i] = mqttAt(t, addr, fmt.Sprintf("kill-dev-%d", i), nil)
	}
	for j := 0; j < before; j++ {
		for i, c := range clients {
			p := fmt.Sprintf("k%03d-%05d", i, j)
			pubs = append(pubs, pub{c.Publish(fmt.Sprintf("telemetry/d%03d", i), 1, false, p), p})
		}
	}
	for _, p := range pubs {
		p.tok.WaitTimeout(5 * time.Second)
	}
	px.stall()
	for j := before; j < before+during; j++ {
		for i, c := range clients {
			p := fmt.Sprintf("k%03d-%05d", i, j)
			pubs = append(pubs, pub{c.Publish(fmt.Sprintf("telemetry/d%03d", i), 1, false, p), p})
		}
	}
	time.Sleep(500 * time.Millisecond) // let the edge acknowledge what it would
	kill()
	px.unstall()
	time.Sleep(500 * time.Millisecond) // what the proxy held reaches the upstream
	acked, _, _ := px.snapshot()
	var f killFigures
	for k, p := range pubs {
		if tokenAcked(p.tok) {
			f.acknowledged++
			if !acked[p.payload] {
				f.lost++
			}
		}
		if k >= devices*before && acked[p.payload] {
			f.stalledSent++
		}
	}
	return f
}

// TestRelayFaultGatewayKilled is fault (c): the gateway (a child process)
// is SIGKILLed while its upstream is stalled. No device saw a PUBACK for a
// message the upstream does not have: what was published before the stall
// is acknowledged and upstream, what was published during it is not
// acknowledged. The same run against a mosquitto bridge (edge mosquitto
// SIGKILLed while its upstream is stalled) is logged for comparison.
func TestRelayFaultGatewayKilled(t *testing.T) {
	const devices, before, during = 20, 10, 10
	up := startMosquitto(t, freePort(t), "")
	px := startWireProxy(t, up.addr)
	addr, child := startRelayChildB(t, px.addr(), 2)
	relay := publishThenKill(t, addr, px, devices, before, during, func() { _ = child.Process.Kill(); _ = child.Wait() })
	t.Logf("edgegw relay:     acknowledged %d (of %d before the stall), acknowledged but lost %d", relay.acknowledged, devices*before, relay.lost)

	up2 := startMosquitto(t, freePort(t), "")
	px2 := startWireProxy(t, up2.addr)
	edge := startMosquitto(t, freePort(t), "connection up\naddress "+px2.addr()+"\ntopic telemetry/# out 1\nrestart_timeout 1\n")
	probe := mqttAt(t, edge.addr, "bridge-probe", nil)
	eventually(t, "the mosquitto bridge up", func() bool {
		waitTok(t, probe.Publish("telemetry/probe", 1, false, "probe"), "probe")
		acked, _, _ := px2.snapshot()
		return acked["probe"]
	})
	bridge := publishThenKill(t, edge.addr, px2, devices, before, during, edge.kill)
	t.Logf("mosquitto bridge: acknowledged %d (of %d before the stall), acknowledged but lost %d", bridge.acknowledged, devices*before, bridge.lost)

	if relay.lost != 0 {
		t.Errorf("edgegw relay: %d messages acknowledged to devices that the upstream does not have", relay.lost)
	}
	if relay.acknowledged != devices*before {
		t.Errorf("edgegw relay: %d acknowledged, want exactly the %d published before the stall", relay.acknowledged, devices*before)
	}
}
