package tune

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// fakeRings is a RingIO over a map; setErr makes SetRings fail.
type fakeRings struct {
	p      map[string]Ringparam
	setErr error
	sets   int
}

func (f *fakeRings) GetRings(n string) (Ringparam, error) {
	p, ok := f.p[n]
	if !ok {
		return p, unix.EOPNOTSUPP
	}
	return p, nil
}

func (f *fakeRings) SetRings(n string, p Ringparam) error {
	f.sets++
	if f.setErr != nil {
		return f.setErr
	}
	q := f.p[n]
	q.Rx, q.Tx = min(p.Rx, q.RxMax), min(p.Tx, q.TxMax)
	f.p[n] = q
	return nil
}

// TestRings: a NIC below its maximum is raised to it; one at it is left;
// loopback (EOPNOTSUPP) is a report line, not an error; a refused change
// is "cannot" with the reason.
func TestRings(t *testing.T) {
	f := &fakeRings{p: map[string]Ringparam{
		"eth0": {RxMax: 4096, TxMax: 4096, Rx: 1024, Tx: 1024},
		"eth1": {RxMax: 2048, TxMax: 2048, Rx: 2048, Tx: 2048},
	}}
	rings := ReadRings(f, []string{"eth0", "eth1", "lo"})
	want := []Ring{
		{Interface: "eth0", Rx: 1024, RxMax: 4096, Tx: 1024, TxMax: 4096, Status: RingLow, Command: "ethtool -G eth0 rx 4096 tx 4096"},
		{Interface: "eth1", Rx: 2048, RxMax: 2048, Tx: 2048, TxMax: 2048, Status: RingMax},
		{Interface: "lo", Status: RingUnsupported, Err: "the driver reports no ring sizes (EOPNOTSUPP)"},
	}
	for i := range want {
		if rings[i] != want[i] {
			t.Errorf("ReadRings[%d] = %+v, want %+v", i, rings[i], want[i])
		}
	}
	after := ApplyRings(f, rings)
	if a := after[0]; a.Status != RingRaised || a.Rx != 4096 || a.Tx != 4096 || a.Command != "" {
		t.Errorf("eth0 after apply: %+v", a)
	}
	if f.sets != 1 {
		t.Errorf("%d SetRings calls, want 1 (only eth0 was low)", f.sets)
	}
	if rings[0].Status != RingLow {
		t.Error("ApplyRings changed its input")
	}
	f.p["eth0"] = Ringparam{RxMax: 4096, TxMax: 4096, Rx: 1024, Tx: 1024}
	f.setErr = unix.EPERM
	if a := ApplyRings(f, ReadRings(f, []string{"eth0"}))[0]; a.Status != RingCannot || !strings.Contains(a.Err, "operation not permitted") {
		t.Errorf("refused change: %+v", a)
	}
	f.setErr = unix.EOPNOTSUPP
	if a := ApplyRings(f, ReadRings(f, []string{"eth0"}))[0]; a.Status != RingUnsupported {
		t.Errorf("set EOPNOTSUPP: %+v", a)
	}
	if r := ReadRings(errRings{}, []string{"eth2"})[0]; r.Status != RingUnreadable || !strings.Contains(r.Err, "no such device") {
		t.Errorf("ENODEV: %+v", r)
	}
}

type errRings struct{}

func (errRings) GetRings(string) (Ringparam, error) { return Ringparam{}, unix.ENODEV }
func (errRings) SetRings(string, Ringparam) error   { return unix.ENODEV }

func TestListenerInterfaces(t *testing.T) {
	got, err := ListenerInterfaces([]string{"127.0.0.1:1883", "127.0.0.1:0", ""})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "lo" {
		t.Errorf("ListenerInterfaces(127.0.0.1) = %v, want [lo]", got)
	}
	all, err := ListenerInterfaces([]string{":1883"})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range all {
		if n == "lo" {
			t.Errorf("an all-interfaces listener lists loopback: %v", all)
		}
	}
}
