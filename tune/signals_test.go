package tune

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestReadSignals(t *testing.T) {
	s, probs := ReadSignals("testdata/signals_a")
	if len(probs) != 0 {
		t.Errorf("problems: %q", probs)
	}
	page := int64(os.Getpagesize())
	want := Signals{TCPOutSegs: 100000, TCPRetransSegs: 1000, TCPTimeouts: 7, ListenOverflows: 5, ListenDrops: 5,
		Conntrack: true, ConntrackCount: 1000, ConntrackMax: 65536,
		TCPInUse: 250, TCPOrphan: 2, TCPTimeWait: 40, TCPMemoryBytes: 12 * page}
	got := s
	got.Interfaces = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("\n got %+v\nwant %+v", got, want)
	}
	if len(s.Interfaces) != 2 || s.Interfaces[1] != (IfStats{Name: "eth0", RxDrops: 3, TxErrors: 1, TxDrops: 2}) || s.Interfaces[0].Name != "lo" {
		t.Errorf("interfaces %+v", s.Interfaces)
	}

	s, probs = ReadSignals("testdata/signals_bad")
	wantProbs := []string{
		`cannot parse /proc/net/snmp: Tcp RetransSegs = "x"`,
		`cannot parse /proc/net/netstat: TcpExt has 2 names and 1 values`,
		`conntrack: no /proc/sys/net/netfilter/nf_conntrack_count`,
		`cannot parse /proc/net/sockstat: TCP inuse = "x"`,
		`cannot parse /proc/net/dev: "eth0: 1 2 3"`,
	}
	if len(probs) != len(wantProbs) {
		t.Fatalf("problems %q", probs)
	}
	for i := range wantProbs {
		if !strings.Contains(probs[i], wantProbs[i]) {
			t.Errorf("problem %d = %q, want %q", i, probs[i], wantProbs[i])
		}
	}
	if _, probs := ReadSignals("testdata/missing"); len(probs) != 5 {
		t.Errorf("missing tree: %q", probs)
	}
}

// TestWatch: between signals_a and signals_b conntrack passes 80%,
// retransmits are 4% of the segments sent, the listen queue overflowed and
// eth0 dropped received packets: one warning each, and none again within
// the minute; a window with few segments is not judged.
func TestWatch(t *testing.T) {
	a, _ := ReadSignals("testdata/signals_a")
	b, _ := ReadSignals("testdata/signals_b")
	var w Watch
	t0 := time.Unix(1000, 0)
	if ws := w.Observe(a, t0); len(ws) != 0 {
		t.Fatalf("first sample: %v", ws)
	}
	ws := w.Observe(b, t0.Add(5*time.Second))
	kinds := map[string]string{}
	for _, x := range ws {
		kinds[x.Kind] = x.Msg
	}
	for kind, frag := range map[string]string{
		"conntrack":        "conntrack table 91% full (60000 of 65536 entries)",
		"retransmits":      "TCP retransmits at 4.0% of segments sent (400 of 10000",
		"listen_overflows": "listen queue overflowed 4 times (6 SYNs dropped)",
		"rx_drops":         "eth0 dropped 7 received packets",
	} {
		if !strings.Contains(kinds[kind], frag) {
			t.Errorf("%s warning %q, want it to contain %q", kind, kinds[kind], frag)
		}
	}
	if len(ws) != 4 {
		t.Errorf("%d warnings: %v", len(ws), ws)
	}
	// Same growth again within the minute: only counted, not logged.
	c := b
	c.TCPOutSegs, c.TCPRetransSegs, c.ListenOverflows = b.TCPOutSegs+10000, b.TCPRetransSegs+400, b.ListenOverflows+1
	if ws := w.Observe(c, t0.Add(10*time.Second)); len(ws) != 0 {
		t.Errorf("within the minute: %v", ws)
	}
	d := c
	d.TCPOutSegs, d.TCPRetransSegs = c.TCPOutSegs+100, c.TCPRetransSegs+50 // 50%, but only 100 segments
	d.ConntrackCount = 100
	if ws := w.Observe(d, t0.Add(2*time.Minute)); len(ws) != 0 {
		t.Errorf("small window, conntrack low: %v", ws)
	}
}
