package gateway_test

// MQTT.js, the JavaScript client, in a real headless Chromium, over the
// gateway's WebSocket listener: protocol versions 4 and 5, QoS 0/1/2 to
// itself and to and from a Paho Go client on TCP, a retained message, and v5
// publish properties. The page (testdata/browser/test.js) only reports what
// it saw; this test decides.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"edgegw/gateway"
)

const (
	chromiumPath = "/usr/bin/chromium"
	browserDir   = "testdata/browser"
	mqttJSBundle = "testdata/browser/node_modules/mqtt/dist/mqtt.min.js"
	bigPayloadN  = 70000 // over 65535: a 64-bit WebSocket length both ways
)

// needBrowser skips without Chromium or the MQTT.js bundle, except under CI,
// where their absence is a failure (.ci/run installs both).
func needBrowser(t *testing.T) {
	t.Helper()
	for _, p := range []string{chromiumPath, mqttJSBundle} {
		if _, err := os.Stat(p); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("CI=%s but %s is missing (.ci/run installs chromium and runs npm ci in %s): %v",
					os.Getenv("CI"), p, browserDir, err)
			}
			t.Skipf("%s missing (apt-get install chromium; cd gateway/%s && npm ci): %v", p, browserDir, err)
		}
	}
}

// bigPayload is the deterministic text test.js builds for its large message.
func bigPayload(n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		b.WriteByte(byte('0' + i%10))
	}
	return b.String()[:n]
}

// Result is what test.js POSTs to /result.
type browserResult struct {
	Fatal     string       `json:"fatal"`
	UserAgent string       `json:"userAgent"`
	Runs      []browserRun `json:"runs"`
	Persist   []struct {
		Version        int          `json:"version"`
		SessionPresent *bool        `json:"sessionPresent"`
		Received       []browserMsg `json:"received"`
		Errors         []string     `json:"errors"`
	} `json:"persist"`
	Keepalive []struct {
		Version       int      `json:"version"`
		PingResp      int      `json:"pingresp"`
		ClosedAfterMs *int     `json:"closedAfterMs"` // nil: stayed connected
		Disconnect    *int     `json:"disconnect"`    // v5 DISCONNECT reason from the server
		Errors        []string `json:"errors"`
	} `json:"keepalive"`
	Raw []struct {
		Name     string   `json:"name"`
		Protocol string   `json:"protocol"`
		After    []string `json:"after"` // hex of the binary messages after the CONNACK
		Code     int      `json:"code"`
		Reason   string   `json:"reason"`
		WasClean bool     `json:"wasClean"`
		Errors   []string `json:"errors"`

		// Extensions is WebSocket.extensions: the negotiated
		// Sec-WebSocket-Extensions (Chromium offers permessage-deflate).
		Extensions string `json:"extensions"`
	} `json:"raw"`
}

type browserRun struct {
	Version int `json:"version"`
	Connack *struct {
		SessionPresent bool `json:"sessionPresent"`
		Code           int  `json:"code"`
	} `json:"connack"`
	Granted []int `json:"granted"`
	Acks    []struct {
		Topic      string `json:"topic"`
		Cmd        string `json:"cmd"`
		ReasonCode *int   `json:"reasonCode"`
	} `json:"acks"`
	Received  []browserMsg `json:"received"`
	AliasSent []struct {
		Topic string `json:"topic"`
		Alias int    `json:"alias"`
	} `json:"aliasSent"` // v5 PUBLISH packets MQTT.js sent with a Topic Alias
	Errors []string `json:"errors"`
	End    string   `json:"end"`
}

type browserMsg struct {
	Topic          string            `json:"topic"`
	Payload        string            `json:"payload"`
	QoS            int               `json:"qos"`
	Retain         bool              `json:"retain"`
	Dup            bool              `json:"dup"`
	ContentType    string            `json:"contentType"`
	UserProperties map[string]string `json:"userProperties"`
	Expiry         *int              `json:"expiry"` // v5 Message Expiry Interval, seconds
	SubID          any               `json:"subId"`  // v5 Subscription Identifier(s)
}

func TestBrowserMQTTJS(t *testing.T) { runBrowserMQTTJS(t, nil) }

// runBrowserMQTTJS runs the page against the ws listener, or against the
// wss listener with the certificate wss when it is not nil (browser_wss_test.go).
func runBrowserMQTTJS(t *testing.T, wss *browserCert) {
	needBrowser(t)
	start := time.Now()

	cfg := gateway.Default()
	cfg.Listeners.TCP, cfg.Listeners.WS, cfg.HTTP.Addr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	if wss != nil {
		cfg.Listeners.WS, cfg.Listeners.WSS = "", "127.0.0.1:0"
		cfg.Listeners.TLSCert, cfg.Listeners.TLSKey = wss.certFile, wss.keyFile
	}
	cfg.Engine.Loops = 2
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
	prefix := fmt.Sprintf("edgegw-browser-%d", time.Now().UnixNano()%1e9)

	// The Paho Go client (MQTT 3.1.1 over TCP): the browser's peer.
	fromBrowser := make(chan mqtt.Message, 64)
	goc := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + g.Addr("tcp")).
		SetClientID(prefix + "-go").SetAutoReconnect(false).SetConnectRetry(false).
		SetProtocolVersion(4).SetConnectTimeout(waitFor).SetOrderMatters(false))
	browserTok(t, goc.Connect(), "paho connect")
	t.Cleanup(func() { goc.Disconnect(0) })
	browserTok(t, goc.Subscribe(prefix+"/+/togo/#", 2, func(_ mqtt.Client, m mqtt.Message) { fromBrowser <- m }), "paho subscribe togo")
	// On the browser's hello, publish QoS 0/1/2 to it. Not in the handler
	// itself: a paho callback must not wait on a token.
	var pubMu sync.Mutex
	var pubErrs []string
	browserTok(t, goc.Subscribe(prefix+"/+/hello", 1, func(c mqtt.Client, m mqtt.Message) {
		base := strings.TrimSuffix(m.Topic(), "/hello")
		go func() {
			for q := byte(0); q <= 2; q++ {
				tok := c.Publish(fmt.Sprintf("%s/fromgo/q%d", base, q), q, false, fmt.Sprintf("go-q%d-%s", q, string(m.Payload())))
				if !tok.WaitTimeout(waitFor) || tok.Error() != nil {
					pubMu.Lock()
					pubErrs = append(pubErrs, fmt.Sprintf("publish to %s: %v", base, tok.Error()))
					pubMu.Unlock()
				}
			}
		}()
	}), "paho subscribe hello")
	for _, v := range []int{4, 5} {
		browserTok(t, goc.Publish(fmt.Sprintf("%s/v%d/retained", prefix, v), 1, true, fmt.Sprintf("kept-v%d", v)), "retained publish")
	}

	// The test page, MQTT.js's bundle and the result sink, on loopback.
	results := make(chan []byte, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			http.ServeFile(w, r, filepath.Join(browserDir, "index.html"))
		case "/test.js":
			http.ServeFile(w, r, filepath.Join(browserDir, "test.js"))
		case "/mqtt.min.js":
			http.ServeFile(w, r, mqttJSBundle)
		default:
			http.NotFound(w, r) // favicon.ico
		}
	})
	mux.HandleFunc("POST /result", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
		if err == nil {
			select {
			case results <- b:
			default:
			}
		}
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	q := url.Values{"ws": {"ws://" + g.Addr("ws") + "/mqtt"}, "prefix": {prefix}, "big": {fmt.Sprint(bigPayloadN)}}
	var trust []string // chromium flags
	if wss != nil {
		q.Set("ws", "wss://"+g.Addr("wss")+"/mqtt")
		trust = wss.chromiumFlags()
	}
	page := srv.URL + "/?" + q.Encode()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, chromiumPath,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--enable-logging=stderr", "--v=0", // the page's console, for the log on failure
		"--user-data-dir="+t.TempDir())
	cmd.Args = append(append(cmd.Args, trust...), page)
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	// Chromium's own group, so that killing it takes its renderer and
	// helper processes too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}
	var raw []byte
	select {
	case raw = <-results:
		stop()
	case err := <-exited:
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // helpers it may have left
		t.Fatalf("chromium exited before the page reported: %v\n%s", err, browserTail(stderr.String(), 4000))
	case <-ctx.Done():
		stop()
		t.Fatalf("no result from the page within 30 s\n%s", browserTail(stderr.String(), 4000))
	}
	t.Logf("browser run took %v", time.Since(start))

	var res browserResult
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatalf("result %q: %v", raw, err)
	}
	if res.Fatal != "" {
		t.Fatalf("page: %s\n%s", res.Fatal, browserTail(stderr.String(), 4000))
	}
	t.Logf("browser: %s", res.UserAgent)
	if len(res.Runs) != 2 {
		t.Fatalf("%d runs, want 2 (v4, v5): %s", len(res.Runs), raw)
	}
	for _, run := range res.Runs {
		t.Run(fmt.Sprintf("v%d", run.Version), func(t *testing.T) {
			checkBrowserRun(t, prefix, run)
		})
	}
	if len(res.Persist) != 2 || len(res.Keepalive) != 2 || len(res.Raw) != 3 {
		t.Fatalf("incomplete report: %s", raw)
	}
	// [MQTT-3.1.2-5] [MQTT-3.2.2-2]: a session with clean false kept its
	// subscription and the QoS 1 message published while it was offline.
	for _, p := range res.Persist {
		t.Run(fmt.Sprintf("MQTT-3.1.2-5/persistent-session-v%d", p.Version), func(t *testing.T) {
			topic, payload := fmt.Sprintf("%s/v%d/offline", prefix, p.Version), fmt.Sprintf("queued-v%d", p.Version)
			ok := len(p.Errors) == 0 && p.SessionPresent != nil && *p.SessionPresent && len(p.Received) == 1
			if ok {
				m := p.Received[0]
				ok = m.Topic == topic && m.Payload == payload && m.QoS == 1 && !m.Retain && !m.Dup
			}
			if !ok {
				t.Errorf("session present %v, received %+v, errors %q; want present and %s %q QoS 1", ptrBool(p.SessionPresent), p.Received, p.Errors, topic, payload)
			}
		})
	}
	// [MQTT-3.1.2-22] [MQTT-3.12.4-1]: MQTT.js's PINGREQ keeps a 2 s keep
	// alive connection open for 4.5 s.
	for _, k := range res.Keepalive {
		t.Run(fmt.Sprintf("MQTT-3.12.4-1/keepalive-v%d", k.Version), func(t *testing.T) {
			if len(k.Errors) > 0 || k.ClosedAfterMs != nil || k.PingResp < 1 {
				t.Errorf("PINGRESP %d, closed after %v ms (DISCONNECT %v), errors %q", k.PingResp, ptrInt(k.ClosedAfterMs), ptrInt(k.Disconnect), k.Errors)
			}
		})
	}
	// The browser's own WebSocket sees every server close as a clean close
	// (a close frame, RFC 6455 7.1.5) with the code that says why, after
	// the v5 DISCONNECT.
	wantRaw := map[string]struct {
		code  int
		after string
	}{
		"malformed-v4": {1002, "[]"},
		"malformed-v5": {1002, "[e00181]"},
		"takeover-v5":  {1000, "[e0018e]"},
	}
	for _, r := range res.Raw {
		t.Run("ws-close/"+r.Name, func(t *testing.T) {
			w, ok := wantRaw[r.Name]
			if !ok {
				t.Fatalf("unknown check %q", r.Name)
			}
			// RFC 7692: the gateway's answer, as the browser's WebSocket saw it.
			if r.Extensions != "permessage-deflate; server_no_context_takeover; client_no_context_takeover" {
				t.Errorf("WebSocket.extensions %q, want permessage-deflate without context takeover", r.Extensions)
			}
			if len(r.Errors) > 0 || r.Protocol != "mqtt" || r.Code != w.code || !r.WasClean || fmt.Sprint(r.After) != w.after {
				t.Errorf("protocol %q, after CONNACK %v, close code %d %q clean %v, errors %q; want MQTT %s then clean close %d",
					r.Protocol, r.After, r.Code, r.Reason, r.WasClean, r.Errors, w.after, w.code)
			}
		})
	}

	// What the browsers sent to the Go client: QoS 0/1/2 from each version.
	want := map[string]browserMsg{}
	for _, v := range []int{4, 5} {
		for q := 0; q <= 2; q++ {
			want[fmt.Sprintf("%s/v%d/togo/q%d", prefix, v, q)] = browserMsg{Payload: fmt.Sprintf("browser-q%d-v%d", q, v), QoS: q}
		}
	}
	deadline := time.After(waitFor)
	for len(want) > 0 {
		select {
		case m := <-fromBrowser:
			w, ok := want[m.Topic()]
			if !ok {
				t.Errorf("Go client: unexpected or duplicate %s %q", m.Topic(), m.Payload())
				continue
			}
			delete(want, m.Topic())
			if string(m.Payload()) != w.Payload || int(m.Qos()) != w.QoS || m.Retained() {
				t.Errorf("Go client got %s %q QoS %d retain %v, want %q QoS %d", m.Topic(), m.Payload(), m.Qos(), m.Retained(), w.Payload, w.QoS)
			}
		case <-deadline:
			t.Fatalf("Go client is missing %v", want)
		}
	}
	pubMu.Lock()
	defer pubMu.Unlock()
	for _, e := range pubErrs {
		t.Error(e)
	}
	// RFC 7692: MQTT.js in Chromium negotiated permessage-deflate, and
	// compressed messages (RSV1) flowed both ways: the 70,000-byte payload
	// at least, each way.
	for _, dir := range []string{"in", "out"} {
		if n := browserMetric(t, g.Addr("http"), `edgegw_ws_deflate_messages_total{dir="`+dir+`"}`); n < 1 {
			t.Errorf("compressed WebSocket messages %s: %v, want some", dir, n)
		}
	}
	t.Logf("total %v", time.Since(start))
}

// checkBrowserRun checks one MQTT.js client's report: connected, granted
// what it asked, every publish acknowledged, and exactly the expected
// messages received.
func checkBrowserRun(t *testing.T, prefix string, run browserRun) {
	v := run.Version
	base := fmt.Sprintf("%s/v%d", prefix, v)
	if len(run.Errors) > 0 || run.End != "complete" {
		t.Errorf("end %q, errors %q", run.End, run.Errors)
	}
	if run.Connack == nil || run.Connack.Code != 0 || run.Connack.SessionPresent {
		t.Fatalf("CONNACK %+v", run.Connack)
	}
	wantGranted := "[2 1 1 2 1]" // self/#, retained, will, fromgo/#, unsub
	if v == 5 {
		wantGranted = "[2 1 1 2 1 1]" // and nl (no local)
	}
	if fmt.Sprint(run.Granted) != wantGranted {
		t.Errorf("granted %v, want %s", run.Granted, wantGranted)
	}
	for _, a := range run.Acks {
		if a.ReasonCode != nil && *a.ReasonCode != 0 {
			t.Errorf("publish %s acknowledged with reason 0x%02X", a.Topic, *a.ReasonCode)
		}
	}
	want := []browserMsg{
		{Topic: base + "/self/q0", Payload: fmt.Sprintf("self-q0-v%d", v), QoS: 0},
		{Topic: base + "/self/q1", Payload: bigPayload(bigPayloadN), QoS: 1},
		{Topic: base + "/self/q2", Payload: fmt.Sprintf("self-q2-v%d \u00fc\u20ac\u2713", v), QoS: 2},
		{Topic: base + "/fromgo/q0", Payload: fmt.Sprintf("go-q0-v%d", v), QoS: 0},
		{Topic: base + "/fromgo/q1", Payload: fmt.Sprintf("go-q1-v%d", v), QoS: 1},
		{Topic: base + "/fromgo/q2", Payload: fmt.Sprintf("go-q2-v%d", v), QoS: 2},
		{Topic: base + "/retained", Payload: fmt.Sprintf("kept-v%d", v), QoS: 1, Retain: true}, // [MQTT-3.3.1-8]
		{Topic: base + "/will", Payload: fmt.Sprintf("will-v%d", v), QoS: 1},                   // [MQTT-3.1.2-8]
	}
	if v == 5 {
		want = append(want,
			browserMsg{Topic: base + "/self/props", Payload: "self-props", QoS: 1, ContentType: "text/plain", UserProperties: map[string]string{"k": "v"}}, // [MQTT-3.3.2-17] [MQTT-3.3.2-20]
			// MQTT.js autoAssignTopicAlias: the second PUBLISH has an empty
			// topic and the alias [MQTT-3.3.2-12]; subscribers get the name.
			browserMsg{Topic: base + "/self/alias", Payload: "alias-1", QoS: 1},
			browserMsg{Topic: base + "/self/alias", Payload: "alias-2", QoS: 1},
		)
	}
	if v == 5 {
		// The alias check below means something only if MQTT.js really sent
		// an alias-only PUBLISH (it does when the CONNACK allows aliases).
		aliasOf, aliasOnly := map[string]int{}, 0
		for _, a := range run.AliasSent {
			if a.Topic != "" {
				aliasOf[a.Topic] = a.Alias
			} else if a.Alias == aliasOf[base+"/self/alias"] {
				aliasOnly++
			}
		}
		if aliasOnly != 1 {
			t.Errorf("PUBLISH packets sent with a topic alias: %v, want one with the alias of %s/self/alias alone", run.AliasSent, base)
		}
	}
	if self := len(want) - 5; len(run.Acks) != self {
		t.Errorf("%d publishes to itself acknowledged, want %d", len(run.Acks), self)
	}
	key := func(m browserMsg) string { return m.Topic + "\x00" + m.Payload }
	pending := map[string]browserMsg{}
	for _, w := range want {
		pending[key(w)] = w
	}
	for _, m := range run.Received {
		w, ok := pending[key(m)]
		if !ok {
			t.Errorf("unexpected or duplicate message %s %q (%d bytes)", m.Topic, browserHead(m.Payload), len(m.Payload))
			continue
		}
		delete(pending, key(m))
		if m.QoS != w.QoS || m.Retain != w.Retain || m.Dup {
			t.Errorf("%s %q: QoS %d retain %v dup %v, want QoS %d retain %v dup false", m.Topic, browserHead(m.Payload), m.QoS, m.Retain, m.Dup, w.QoS, w.Retain)
		}
		if m.ContentType != w.ContentType || fmt.Sprint(m.UserProperties) != fmt.Sprint(w.UserProperties) {
			t.Errorf("%s: content type %q user properties %v, want %q %v", m.Topic, m.ContentType, m.UserProperties, w.ContentType, w.UserProperties)
		}
		// [MQTT-3.3.2-6]: the expiry is forwarded, less the time held.
		if wantExpiry := w.ContentType != ""; (m.Expiry != nil) != wantExpiry || wantExpiry && (*m.Expiry < 1 || *m.Expiry > 60) {
			t.Errorf("%s: message expiry %v, want %v (1..60 s)", m.Topic, ptrInt(m.Expiry), wantExpiry)
		}
		// [MQTT-3.3.4-3]: the subscription identifier of the matching
		// subscription (fromgo/# was subscribed with 7 in v5).
		wantSubID := "<nil>"
		if v == 5 && strings.HasPrefix(m.Topic, base+"/fromgo/") {
			wantSubID = "7"
		}
		if got := fmt.Sprint(m.SubID); got != wantSubID {
			t.Errorf("%s: subscription identifier %s, want %s", m.Topic, got, wantSubID)
		}
	}
	for _, w := range pending {
		t.Errorf("missing message %s %q (%d bytes)", w.Topic, browserHead(w.Payload), len(w.Payload))
	}
}

func ptrInt(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

func ptrBool(b *bool) any {
	if b == nil {
		return nil
	}
	return *b
}

// browserMetric reads one sample from the gateway's /metrics (0 if absent).
func browserMetric(t *testing.T, addr, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var f float64
			_, _ = fmt.Sscan(v, &f)
			return f
		}
	}
	return 0
}

func browserTok(t *testing.T, tok mqtt.Token, what string) {
	t.Helper()
	if !tok.WaitTimeout(waitFor) || tok.Error() != nil {
		t.Fatalf("%s: %v", what, tok.Error())
	}
}

func browserHead(s string) string { return s[:min(len(s), 40)] }

func browserTail(s string, n int) string { return s[max(0, len(s)-n):] }
