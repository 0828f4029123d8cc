package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"edgegw/gateway/config"
)

func TestEmbeddedConfigEqualsDefault(t *testing.T) {
	cfg, err := config.Parse(defaultConfig, "config.toml")
	if err != nil {
		t.Fatalf("embedded config.toml: %v", err)
	}
	if want := config.Default(); !reflect.DeepEqual(cfg, want) {
		t.Errorf("config.toml differs from config.Default():\n file    %+v\n Default %+v", cfg, want)
	}
	onDisk, err := os.ReadFile("config.toml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(onDisk, defaultConfig) {
		t.Error("config.toml on disk differs from the embedded copy")
	}
}

// TestConfigTomlDocumentsEveryKey checks that config.toml sets every key of
// config.Config (so that a key with a zero default cannot be forgotten) and that a
// comment sits right above each one.
func TestConfigTomlDocumentsEveryKey(t *testing.T) {
	set := map[string]bool{}
	table, commented := "", false
	for i, line := range strings.Split(string(defaultConfig), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "#"):
			commented = true
			continue
		case strings.HasPrefix(line, "["):
			table = strings.Trim(line, "[] ")
		case strings.Contains(line, "="):
			key := strings.TrimSpace(line[:strings.Index(line, "=")])
			if !commented {
				t.Errorf("config.toml:%d: %s.%s has no comment above it", i+1, table, key)
			}
			set[table+"."+key] = true
		}
		commented = false
	}
	for _, key := range configKeys(reflect.TypeFor[config.Config](), "") {
		if !set[key] {
			t.Errorf("config.toml does not document %s", key)
		}
	}
	if len(set) == 0 {
		t.Fatal("no keys found in config.toml")
	}
}

// configKeys lists the dotted TOML keys of the leaves of struct type t.
func configKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if prefix != "" {
			name = prefix + "." + name
		}
		if f.Type.Kind() == reflect.Struct {
			keys = append(keys, configKeys(f.Type, name)...)
		} else {
			keys = append(keys, name)
		}
	}
	return keys
}

func TestVersionString(t *testing.T) {
	old := version
	t.Cleanup(func() { version = old })
	version = "v9.9.9"
	var out, errOut bytes.Buffer
	if code := realMain([]string{"version"}, &out, &errOut, nil); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
	if !strings.HasPrefix(out.String(), "edgegw v9.9.9 go") {
		t.Errorf("version output %q", out.String())
	}
	version = ""
	if v := versionString(); v == "" {
		t.Error("versionString() is empty without -ldflags")
	}
}

// TestUsageErrors: flag, command and configuration errors exit 2 with one line per
// problem on stderr, before anything is started.
func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	writeFile(t, bad, "[engine]\nloops = 2\n[limits]\nmax_packet_size = 10\nconnect_timeout = 5\n")
	tests := []struct {
		name string
		args []string
		want string // regexp matching the whole of stderr
	}{
		{"unknown flag", []string{"run", "-nope"}, `^edgegw run: flag provided but not defined: -nope \(see edgegw help\)\n$`},
		{"flag without run", []string{"-nope"}, `^edgegw run: flag provided but not defined: -nope`},
		{"extra argument", []string{"run", "x"}, `^edgegw run: unexpected argument "x" \(see edgegw help\)\n$`},
		{"unknown command", []string{"tunez"}, `^edgegw: unknown command "tunez"`},
		{"version argument", []string{"version", "x"}, `^edgegw version: unexpected argument "x"\n$`},
		{"missing file", []string{"run", "-config", filepath.Join(dir, "none.toml")}, `^edgegw: cannot read config: open .*none.toml: no such file or directory\n$`},
		{"bad config", []string{"run", "-config", bad},
			`^` + regexp.QuoteMeta(bad+`:5: limits.connect_timeout: expected a duration string such as "10s", got 5`) + `\n$`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := realMain(tt.args, &out, &errOut, nil)
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if !regexp.MustCompile(tt.want).MatchString(errOut.String()) {
				t.Errorf("stderr %q does not match %s", errOut.String(), tt.want)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := realMain([]string{"help"}, &out, &errOut, nil); code != 0 || !strings.Contains(out.String(), "edgegw run [-config FILE]") {
		t.Errorf("help: exit %d, stdout %q", code, out.String())
	}
}

// --- end to end, through the built binary ---

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// binary builds edgegw once per test run, with -race when this test binary has it
// (so the build reuses the race-instrumented package cache of `go test -race`).
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "edgegw-e2e-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "edgegw")
		args := []string{"build", "-ldflags", "-X main.version=e2e-test", "-o", binPath}
		if raceEnabled() {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, ".")...)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func raceEnabled() bool {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range info.Settings {
		if s.Key == "-race" && s.Value == "true" {
			return true
		}
	}
	return false
}

func TestBinaryVersion(t *testing.T) {
	out, err := exec.Command(binary(t), "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(out), "edgegw e2e-test go") {
		t.Errorf("version output %q", out)
	}
}

// TestBinaryEndToEnd runs the binary on a temporary config with fixed free ports,
// waits for /healthz, passes a message between two real MQTT clients, runs a short
// `edgegw bench` against it, then sends SIGTERM with a client still connected and
// expects exit 0 within the drain timeout.
func TestBinaryEndToEnd(t *testing.T) {
	bin := binary(t)
	tcpPort, httpPort := freePort(t), freePort(t)
	const drain = 3 * time.Second
	cfgPath := filepath.Join(t.TempDir(), "e2e.toml")
	writeFile(t, cfgPath, fmt.Sprintf(`# end-to-end test configuration
[listeners]
tcp = "127.0.0.1:%d"
ws = ""

[http]
addr = "127.0.0.1:%d"

[engine]
loops = 2

[drain]
timeout = "%s"

[log]
level = "debug"

[tune]
apply = "off" # a test must not change this machine's sysctls
`, tcpPort, httpPort, drain))

	cmd, stderr, exited := startBinary(t, bin, cfgPath, httpPort)
	broker := fmt.Sprintf("127.0.0.1:%d", tcpPort)
	if _, err := exec.LookPath("mosquitto_sub"); err == nil {
		exchangeMosquitto(t, broker)
	} else {
		exchangePaho(t, broker)
	}

	// `edgegw bench` through this binary's dispatch, with worker processes that
	// re-execute the binary as `edgegw bench --x-worker ...`.
	benchOut, err := exec.Command(bin, "bench", "-broker", broker, "-scenario", "conn", "-clients", "20",
		"-duration", "1s", "-procs", "2").CombinedOutput()
	if err != nil || !strings.Contains(string(benchOut), "20 ok, 0 failed") {
		t.Errorf("edgegw bench: %v\n%s", err, benchOut)
	}

	// A client that stays connected while the gateway drains.
	idle := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + broker).SetClientID("e2e-idle").SetAutoReconnect(false))
	if tok := idle.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("idle client connect: %v", tok.Error())
	}
	defer idle.Disconnect(0)

	for _, want := range []string{"gomaxprocs=", "open files", "max_connections_about=", "listener=tcp addr=" + broker, fmt.Sprintf("listener=http addr=127.0.0.1:%d", httpPort)} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("start-up log lacks %q", want)
		}
	}

	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("after SIGTERM: %v (want exit status 0)", err)
		}
		t.Logf("drained and exited in %v", time.Since(start).Round(time.Millisecond))
	case <-time.After(drain + 2*time.Second):
		t.Fatalf("still running %v after SIGTERM (drain timeout %v)", time.Since(start), drain)
	}
	if !strings.Contains(stderr.String(), "drained") {
		t.Errorf("log lacks the drain message")
	}
}

func TestBinaryBadConfigExits2(t *testing.T) {
	bin := binary(t)
	cfgPath := filepath.Join(t.TempDir(), "bad.toml")
	writeFile(t, cfgPath, "[listeners]\ntcp = \"127.0.0.1:0\"\n\n[limits]\nmax_inflight = 0\nloopz = 1\n")
	code, stderr := runBinary(t, bin, "run", "-config", cfgPath)
	want := cfgPath + `:6: unknown key "limits.loopz"` + "\n"
	if code != 2 || stderr != want {
		t.Errorf("exit %d, stderr %q; want exit 2, stderr %q", code, stderr, want)
	}

	writeFile(t, cfgPath, "[listeners]\ntcp = \"127.0.0.1:0\"\n\n[limits]\nmax_inflight = 0\n")
	code, stderr = runBinary(t, bin, "-config", cfgPath)
	want = cfgPath + ":5: limits.max_inflight: must be between 1 and 65535, got 0\n"
	if code != 2 || stderr != want {
		t.Errorf("exit %d, stderr %q; want exit 2, stderr %q", code, stderr, want)
	}
}

func TestBinaryBindErrorExits1(t *testing.T) {
	bin := binary(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfgPath := filepath.Join(t.TempDir(), "busy.toml")
	writeFile(t, cfgPath, fmt.Sprintf("[listeners]\ntcp = %q\nws = \"\"\n[http]\naddr = \"127.0.0.1:0\"\n[engine]\nreuse_port = false\n[tune]\napply = \"off\"\n", busy.Addr().String()))
	code, stderr := runBinary(t, bin, "run", "-config", cfgPath)
	if code != 1 {
		t.Errorf("exit %d, want 1; stderr %q", code, stderr)
	}
	// slog lines come first; the error is the last line, alone.
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "edgegw: ") || !strings.Contains(last, busy.Addr().String()) {
		t.Errorf("last stderr line %q does not name the busy address %s", last, busy.Addr())
	}
}

// --- helpers ---

func runBinary(t *testing.T, bin string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, stderr.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), stderr.String()
	}
	t.Fatalf("run %v: %v", args, err)
	return -1, ""
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startBinary runs `bin run -config cfgPath` and waits until its /healthz on
// 127.0.0.1:httpPort answers. It returns the process, its stderr so far
// (logged when the test fails) and a channel with Wait's result; the
// process is killed when the test ends.
func startBinary(t *testing.T, bin, cfgPath string, httpPort int) (*exec.Cmd, *syncBuffer, <-chan error) {
	t.Helper()
	cmd := exec.Command(bin, "run", "-config", cfgPath)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("gateway stderr:\n%s", stderr.String())
		}
	})
	waitHealthy(t, fmt.Sprintf("http://127.0.0.1:%d/healthz", httpPort), exited)
	return cmd, stderr, exited
}

func waitHealthy(t *testing.T, url string, exited <-chan error) {
	t.Helper()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("gateway exited before it was healthy: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not healthy after 15s (last error %v)", url, err)
		}
	}
}

// exchangeMosquitto passes one QoS 1 message from mosquitto_pub to mosquitto_sub.
func exchangeMosquitto(t *testing.T, broker string) {
	host, port, _ := net.SplitHostPort(broker)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	name, pre := "mosquitto_sub", []string(nil)
	if stdbuf, err := exec.LookPath("stdbuf"); err == nil {
		// Line-buffered stdout, so that the -d "received SUBACK" line arrives before exit.
		name, pre = stdbuf, []string{"-oL", "mosquitto_sub"}
	}
	sub := exec.CommandContext(ctx, name, append(pre, "-h", host, "-p", port, "-i", "e2e-sub", "-t", "e2e/hello",
		"-q", "1", "-C", "1", "-W", "10", "-d", "-F", "MSG|%t|%p")...)
	out, err := sub.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	sub.Stderr = sub.Stdout
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	var got []string
	subscribed := false
	for !subscribed && lines.Scan() {
		got = append(got, lines.Text())
		subscribed = strings.Contains(lines.Text(), "SUBACK")
	}
	if !subscribed {
		t.Fatalf("mosquitto_sub never got its SUBACK: %q", got)
	}
	pub := exec.CommandContext(ctx, "mosquitto_pub", "-h", host, "-p", port, "-i", "e2e-pub", "-t", "e2e/hello", "-q", "1", "-m", "hello edgegw")
	if b, err := pub.CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub: %v: %s", err, b)
	}
	for lines.Scan() {
		got = append(got, lines.Text())
	}
	if err := sub.Wait(); err != nil {
		t.Fatalf("mosquitto_sub: %v: %q", err, got)
	}
	if !slices.Contains(got, "MSG|e2e/hello|hello edgegw") {
		t.Fatalf("mosquitto_sub output %q lacks the message", got)
	}
}

// exchangePaho passes one QoS 1 message between two Paho clients (when mosquitto
// clients are not installed).
func exchangePaho(t *testing.T, broker string) {
	t.Log("mosquitto_sub not installed: using Paho for the end-to-end exchange")
	received := make(chan string, 1)
	connect := func(id string) mqtt.Client {
		c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + broker).SetClientID(id).SetAutoReconnect(false))
		if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("%s connect: %v", id, tok.Error())
		}
		return c
	}
	sub := connect("e2e-sub")
	defer sub.Disconnect(0)
	tok := sub.Subscribe("e2e/hello", 1, func(_ mqtt.Client, m mqtt.Message) { received <- string(m.Payload()) })
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	pub := connect("e2e-pub")
	defer pub.Disconnect(0)
	if tok := pub.Publish("e2e/hello", 1, false, "hello edgegw"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	select {
	case got := <-received:
		if got != "hello edgegw" {
			t.Fatalf("received %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no message within 5s")
	}
}

// syncBuffer is a bytes.Buffer safe for the writer goroutine of exec.Cmd and the test.
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

// TestBoundAddr: the start-up log names the socket's address: an
// all-interfaces listener is not logged as 127.0.0.1 (where a local client
// dials it) but as what it is bound to.
func TestBoundAddr(t *testing.T) {
	for _, tc := range []struct{ addr, local, want string }{
		{":1883", "127.0.0.1:1883", "[::]:1883"}, // gnet: one dual-stack socket
		{"0.0.0.0:1883", "127.0.0.1:1883", "0.0.0.0:1883"},
		{"[::]:8883", "127.0.0.1:8883", "[::]:8883"},
		{"127.0.0.1:0", "127.0.0.1:40123", "127.0.0.1:40123"},
		{"10.0.0.5:1883", "10.0.0.5:1883", "10.0.0.5:1883"},
	} {
		if got := boundAddr(tc.addr, tc.local); got != tc.want {
			t.Errorf("boundAddr(%q, %q) = %q, want %q", tc.addr, tc.local, got, tc.want)
		}
	}
}

// TestCIRunsREADMETestCommand: .ci/run runs exactly the test command the
// README gives a newcomer (the indented line after "Run the tests:").
func TestCIRunsREADMETestCommand(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	ci, err := os.ReadFile(".ci/run")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "Run the tests:\n\n")
	if !ok {
		t.Fatal(`README.md has no "Run the tests:" paragraph`)
	}
	line, _, _ := strings.Cut(after, "\n")
	cmd := strings.TrimPrefix(line, "    ")
	if cmd == line || !strings.HasPrefix(cmd, "go test ") {
		t.Fatalf("README's test command %q is not an indented go test line", line)
	}
	var runs []string
	for _, l := range strings.Split(string(ci), "\n") {
		if strings.HasPrefix(l, "go test ") && !strings.Contains(l, "-fuzz") && !strings.Contains(l, "-list") {
			runs = append(runs, l)
		}
	}
	if len(runs) != 1 || runs[0] != cmd {
		t.Fatalf(".ci/run's test lines %q, want exactly the README's %q", runs, cmd)
	}
	if !strings.Contains(cmd, "-count=1") {
		t.Errorf("test command %q may report cached passes: want -count=1", cmd)
	}
}
