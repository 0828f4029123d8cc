package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestHistBuckets(t *testing.T) {
	for _, v := range []int64{0, 1, 31, 32, 33, 63, 64, 65, 1000, 123456789, histMaxValue} {
		i := bucketOf(v)
		lo, hi := bucketRange(i)
		if v < lo || v > hi {
			t.Errorf("value %d in bucket %d [%d,%d]", v, i, lo, hi)
		}
		if i > 0 {
			_, phi := bucketRange(i - 1)
			if phi+1 != lo {
				t.Errorf("bucket %d starts at %d, previous ends at %d", i, lo, phi)
			}
		}
		if v >= histSub && float64(hi-lo)/float64(lo) > 1.0/histSub+1e-9 {
			t.Errorf("bucket %d too wide: [%d,%d]", i, lo, hi)
		}
	}
	if bucketOf(histMaxValue*4) != histBuckets-1 || bucketOf(-5) != 0 {
		t.Error("out-of-range values not clamped")
	}
}

// TestHistQuantileAgainstSort compares quantiles with a sorted reference.
func TestHistQuantileAgainstSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h Hist
	var vals []int64
	for i := 0; i < 20000; i++ {
		v := int64(rng.ExpFloat64() * 2e6)
		vals = append(vals, v)
		h.Record(v)
	}
	sort.Slice(vals, func(i, j int) bool { return vals[i] < vals[j] })
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		want := vals[int(q*float64(len(vals)))-1]
		got := int64(h.Quantile(q))
		if d := float64(got-want) / float64(want); d < -0.01 || d > 0.04 {
			t.Errorf("q%.3f = %d, sorted reference %d", q, got, want)
		}
	}
	if h.Max != vals[len(vals)-1] || int64(h.Quantile(1)) != h.Max {
		t.Errorf("max %d / q1 %d, want %d", h.Max, h.Quantile(1), vals[len(vals)-1])
	}
}

// TestHistMergeExact: merging per-part histograms equals recording all.
func TestHistMergeExact(t *testing.T) {
	var all, a, b Hist
	for i := int64(0); i < 5000; i++ {
		v := i * i * 37
		all.Record(v)
		if i%3 == 0 {
			a.Record(v)
		} else {
			b.Record(v)
		}
	}
	// Through JSON, as worker processes do.
	js, err := json.Marshal(&b)
	if err != nil {
		t.Fatal(err)
	}
	var b2 Hist
	if err := json.Unmarshal(js, &b2); err != nil {
		t.Fatal(err)
	}
	a.Add(&b2)
	if a != all {
		t.Fatal("merged histogram differs from the whole")
	}
}

func TestResultMerge(t *testing.T) {
	mk := func(sent, recv uint64, lat int64, tl []int) *Result {
		r := &Result{Sent: sent, Received: recv, Expected: sent, ConnOK: 2, Failures: map[string]uint64{"x": 1}}
		r.Latency.Record(lat)
		for _, s := range tl {
			sec := Second{T: s, Sent: sent}
			sec.Latency.Record(lat)
			r.Timeline = append(r.Timeline, sec)
		}
		return r
	}
	a := mk(10, 10, 1000, []int{0, 1})
	a.merge(mk(5, 4, 9000, []int{1, 2}))
	a.finish()
	if a.Sent != 15 || a.Received != 14 || a.ConnOK != 4 || a.Failures["x"] != 2 || a.Latency.Count != 2 || a.Latency.Max != 9000 {
		t.Fatalf("merged %+v", a)
	}
	if len(a.Timeline) != 3 || a.Timeline[1].Sent != 15 || a.Timeline[1].Latency.Count != 2 || a.Timeline[2].T != 2 {
		t.Fatalf("timeline %+v", a.Timeline)
	}
	if a.DeliveryRatio != 14.0/15 {
		t.Fatalf("ratio %v", a.DeliveryRatio)
	}
}

// TestBytesPerConnWhileHeld: broker bytes per connection come from the RSS
// while every connection is held, not from a higher teardown sample.
func TestBytesPerConnWhileHeld(t *testing.T) {
	r := &Result{Scenario: ScenarioConn, PeakConns: 1000, BrokerRSSStart: 1 << 20, BrokerRSSPeak: 4 << 20}
	r.Timeline = []Second{
		{T: 0, Connected: 600, BrokerRSS: 1<<20 + 300_000},
		{T: 1, Connected: 1000, BrokerRSS: 1<<20 + 700_000},
		{T: 2, Connected: 1000, BrokerRSS: 1<<20 + 710_000},
		{T: 3, Connected: 0, BrokerRSS: 4 << 20}, // teardown: the broker logs every close
	}
	r.finish()
	if r.BrokerBytesConn != 710 {
		t.Fatalf("B/conn %v, want 710 (held), not the teardown peak", r.BrokerBytesConn)
	}
}

func TestSeqTrack(t *testing.T) {
	var tr seqTrack
	steps := []struct {
		seq  uint32
		want int
	}{{0, 0}, {1, 0}, {1, 1}, {3, 0}, {2, 2}, {2, 1}, {0, 1}, {200, 0}, {100, 2}, {201, 0}, {201, 1}}
	for i, s := range steps {
		if got := tr.observe(s.seq); got != s.want {
			t.Fatalf("step %d: seq %d -> %d, want %d", i, s.seq, got, s.want)
		}
	}
}

func TestCodecGolden(t *testing.T) {
	got := appendConnect(nil, &connectOpts{version: 4, clientID: []byte("ab"), keepAlive: 60, clean: true})
	want := []byte{0x10, 14, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, 2, 'a', 'b'}
	if !bytes.Equal(got, want) {
		t.Errorf("v4 CONNECT % x\nwant        % x", got, want)
	}
	got = appendConnect(nil, &connectOpts{version: 5, clientID: []byte("a"), keepAlive: 10, sessionExpiry: 300})
	want = []byte{0x10, 19, 0, 4, 'M', 'Q', 'T', 'T', 5, 0, 0, 10, 5, 0x11, 0, 0, 1, 0x2c, 0, 1, 'a'}
	if !bytes.Equal(got, want) {
		t.Errorf("v5 CONNECT % x\nwant        % x", got, want)
	}
	for _, v := range []byte{4, 5} {
		pkt := appendPublishHeader(nil, v, 1, false, 7, []byte("a/b"), 3)
		pkt = append(pkt, "xyz"...)
		size, err := packetSize(pkt)
		if err != nil || size != len(pkt) {
			t.Fatalf("v%d size %d err %v, len %d", v, size, err, len(pkt))
		}
		var p publishView
		if err := parsePublish(pkt, v, &p); err != nil || p.QoS != 1 || p.PID != 7 || string(p.Topic) != "a/b" || string(p.Payload) != "xyz" {
			t.Fatalf("v%d publish %+v err %v", v, p, err)
		}
		sub := appendSubscribe(nil, v, 9, []byte("$share/g/a/+"), 2)
		if size, err := packetSize(sub); err != nil || size != len(sub) || sub[0] != 0x82 {
			t.Fatalf("v%d subscribe % x", v, sub)
		}
	}
	if _, err := packetSize([]byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01}); err != errVarint {
		t.Errorf("5-byte varint: %v", err)
	}
	if _, err := packetSize([]byte{0x30, 0x80}); err != errNeedMore {
		t.Errorf("short varint: %v", err)
	}
	if pid, code, err := parseSuback([]byte{0x90, 4, 0, 9, 0, 0x80}, 5); err != nil || pid != 9 || code != 0x80 {
		t.Errorf("v5 suback: %d %x %v", pid, code, err)
	}
	if connackName(4, 5) != "not_authorized" || connackName(5, 0x89) != "server_busy" || connackName(5, 0xee) != "code_ee" {
		t.Error("connack names")
	}
}

func TestSourceIPs(t *testing.T) {
	ips, err := parseSourceIPs("127.0.0.2-127.0.0.4, 127.0.0.9,::1")
	if err != nil || len(ips) != 5 || ips[2].String() != "127.0.0.4" || ips[4].String() != "::1" {
		t.Fatalf("%v %v", ips, err)
	}
	for _, bad := range []string{"8.8.8.8", "127.0.0.5-127.0.0.2", "nope", "127.0.0.1-::1", "127.0.0.1-127.0.255.255"} {
		if _, err := parseSourceIPs(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestReadProc(t *testing.T) {
	s, err := readProc("testdata/proc", 4242)
	if err != nil {
		t.Fatal(err)
	}
	if s.CPU != 3.0 || s.RSS != 8192*1024 {
		t.Fatalf("%+v, want cpu 3.0s (250+50 ticks) rss 8 MiB", s)
	}
	if _, err := readProc("testdata/proc", 1); err == nil {
		t.Fatal("missing process accepted")
	}
}

// TestBadInput: each bad invocation exits non-zero with one line naming the problem.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	unknown := filepath.Join(dir, "s.toml")
	os.WriteFile(unknown, []byte("scenario = \"fanin\"\nqos = 1\n\n[capacity]\nfactr = 2\n"), 0o644)
	badType := filepath.Join(dir, "t.toml")
	os.WriteFile(badType, []byte("qos = \"high\"\n"), 0o644)
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--qos", "3"}, 2, "--qos"},
		{[]string{"--nonsense"}, 2, "nonsense"},
		{[]string{"--scenario", "flood"}, 2, "unknown scenario"},
		{[]string{"--scenario", "fanin", "--total-rate", "1e9"}, 2, "impossible"},
		{[]string{"--payload", "8"}, 2, "--payload"},
		{[]string{"--scenario", "fanout", "--publishers", "1", "--subscribers", "5", "--rate", "500000"}, 2, "per publisher"},
		{[]string{"--transport", "quic"}, 2, "--transport"},
		{[]string{"--clients", "500000"}, 2, "--max-clients"},
		{[]string{"--source-ips", "10.99.99.99"}, 2, "neither loopback"},
		{[]string{"--scenario-file", unknown}, 2, `s.toml:5: unknown key "capacity.factr"`},
		{[]string{"--scenario-file", badType}, 2, "t.toml:1"},
		{[]string{"--broker", "127.0.0.1:1", "--duration", "1s"}, 1, "cannot reach broker 127.0.0.1:1"},
		{[]string{"--ratio", "nope"}, 1, "--ratio"},
	}
	for _, tc := range cases {
		var out, errb bytes.Buffer
		start := time.Now()
		code := Main(tc.args, &out, &errb)
		msg := errb.String()
		if code != tc.code || !strings.Contains(msg, tc.want) {
			t.Errorf("%v: code %d, stderr %q; want code %d containing %q", tc.args, code, msg, tc.code, tc.want)
		}
		if lines := strings.Count(strings.TrimSpace(msg), "\n"); tc.code != 2 || !strings.Contains(msg, "Usage") {
			if lines > 0 && !strings.Contains(msg, "Usage") {
				t.Errorf("%v: %d lines on stderr: %q", tc.args, lines+1, msg)
			}
		}
		if time.Since(start) > 5*time.Second {
			t.Errorf("%v took %s", tc.args, time.Since(start))
		}
	}
}

func TestScenarioFileAndFlags(t *testing.T) {
	f := filepath.Join(t.TempDir(), "s.toml")
	os.WriteFile(f, []byte("scenario = \"fanout\"\nsubscribers = 50\nqos = 2\nduration = \"3s\"\n[capacity]\nenabled = true\nfactor = 1.5\n"), 0o644)
	c, _, _, err := parseArgs([]string{"--scenario-file", f, "--qos", "1"}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	if c.Scenario != ScenarioFanOut || c.Subscribers != 50 || c.QoS != 1 || c.Duration.D() != 3*time.Second ||
		!c.Capacity.Enabled || c.Capacity.Factor != 1.5 || c.Rate != Defaults().Rate {
		t.Fatalf("%+v", c)
	}
}

// TestCapacitySearch drives the search with a fake step: loads up to 700 pass.
func TestCapacitySearch(t *testing.T) {
	old, oldPause := runStep, stepPause
	defer func() { runStep, stepPause = old, oldPause }()
	stepPause = 0
	var tried []float64
	runStep = func(_ context.Context, c *Config) (*Result, error) {
		load := float64(c.Clients)
		tried = append(tried, load)
		r := &Result{ConnOK: uint64(load), PeakConns: int64(load)}
		if load > 700 {
			r.ConnFail = uint64(load) // error ratio 0.5
		}
		r.ConnectLatency.Record(int64(time.Millisecond))
		r.finish()
		return r, nil
	}
	c := Defaults()
	c.Scenario = ScenarioConn
	c.Capacity.Enabled = true
	c.Capacity.Start = 100
	c.Capacity.StepDuration = Duration(time.Second)
	c.JSON = filepath.Join(t.TempDir(), "cap.json")
	var out bytes.Buffer
	steps, best, err := runCapacity(context.Background(), &c, &out)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{100, 200, 400, 800, 600, 700, 750}
	if len(tried) != len(want) {
		t.Fatalf("tried %v, want %v", tried, want)
	}
	for i := range want {
		if tried[i] != want[i] {
			t.Fatalf("tried %v, want %v", tried, want)
		}
	}
	if best != 700 || len(steps) != 7 {
		t.Fatalf("best %v steps %d", best, len(steps))
	}
	if err := writeCapacityOutputs(&c, steps, best); err != nil {
		t.Fatal(err)
	}
	checkSVG(t, svgPath(c.JSON))
	js, _ := os.ReadFile(c.JSON)
	if n := strings.Count(string(js), `"type":"step"`); n != 7 {
		t.Fatalf("%d step lines", n)
	}
}

func checkSVG(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(bytes.NewReader(b))
	lines := 0
	for {
		tok, err := d.Token()
		if err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("SVG does not parse: %v", err)
			}
			break
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "polyline" {
			lines++
		}
	}
	if lines == 0 {
		t.Fatal("SVG has no series")
	}
}

func TestRunOutputs(t *testing.T) {
	r := &Result{Scenario: ScenarioFanIn, Sent: 10, Received: 10, Expected: 10, MeasureSeconds: 2}
	for i := 0; i < 3; i++ {
		s := Second{Type: "second", T: i, Received: uint64(i * 3)}
		s.Latency.Record(int64(i+1) * 1e6)
		r.Timeline = append(r.Timeline, s)
	}
	r.finish()
	c := Defaults()
	c.JSON = filepath.Join(t.TempDir(), "run.json")
	if err := writeRunOutputs(&c, r); err != nil {
		t.Fatal(err)
	}
	checkSVG(t, svgPath(c.JSON))
	sum, err := readSummary(c.JSON)
	if err != nil || sum.Received != 10 || sum.Throughput != 5 {
		t.Fatalf("%+v %v", sum, err)
	}
	var out bytes.Buffer
	if err := printRatio(&out, c.JSON+","+c.JSON); err != nil || !strings.Contains(out.String(), "1.000") {
		t.Fatalf("%v %s", err, out.String())
	}
	out.Reset()
	printTable(&out, r)
	if !strings.Contains(out.String(), "delivery") {
		t.Fatal(out.String())
	}
}

// TestScenarioFiles: the example scenario files parse strictly and validate.
func TestScenarioFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/scenarios/*.toml")
	if len(files) < 3 {
		t.Fatalf("example scenario files missing: %v", files)
	}
	for _, f := range files {
		c, _, _, err := parseArgs([]string{"--scenario-file", f}, os.Stderr)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// TestSilentBroker: a broker that accepts TCP and never answers ends the
// run at the connect timeout with a one-line error naming the cause.
func TestSilentBroker(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var held []net.Conn
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, h := range held {
					h.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	var out, errb bytes.Buffer
	start := time.Now()
	code := Main([]string{"--broker", ln.Addr().String(), "--scenario", "fanin", "--publishers", "3", "--subscribers", "1",
		"--connect-timeout", "300ms", "--duration", "1s"}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "connack_timeout=4") || strings.Count(errb.String(), "\n") != 1 {
		t.Fatalf("code %d stderr %q", code, errb.String())
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Fatalf("took %s", d)
	}
}
