package limit

import (
	"net/netip"
	"testing"
	"time"
)

// TestSetConfig: a reload keeps bans in force (even with flapping turned
// off), connection counts and bucket states, and applies new values from
// the next check.
func TestSetConfig(t *testing.T) {
	l := New(Config{})
	id := []byte("c1")
	for i := 0; i < 10; i++ {
		if r := l.Connect(0, ipA, id); r != OK {
			t.Fatal("limits off:", r)
		}
	}
	l.SetConfig(Config{FlappingMaxConnects: 2, FlappingWindow: time.Minute, FlappingBan: time.Minute, MaxConnectionsPerUser: 1, ConnectRatePerIP: 100})
	if l.Config().FlappingMaxConnects != 2 {
		t.Fatal("Config")
	}
	want := []Reason{OK, OK, Flapping, Banned}
	for i, w := range want {
		ip := netip.AddrFrom4([4]byte{10, 9, 9, byte(i)}) // the client ID crosses, no IP does
		if r := l.Connect(sec, ip, id); r != w {
			t.Fatalf("connect %d after reload: %v, want %v", i, r, w)
		}
	}
	slot, r := l.Acquire(sec, []byte("alice"))
	if r != OK {
		t.Fatal(r)
	}
	l.SetConfig(Config{MaxConnectionsPerUser: 1}) // flapping off, per-IP rate off
	if r := l.Connect(2*sec, ipA, id); r != Banned {
		t.Fatalf("ban lost on reload: %v", r)
	}
	if b := l.Bans(nil, 2*sec); len(b) != 1 || b[0].ClientID != "c1" || b[0].Until != 61*sec {
		t.Fatalf("bans %+v", b)
	}
	if _, r := l.Acquire(2*sec, []byte("alice")); r != UserQuota {
		t.Fatalf("count lost on reload: %v", r)
	}
	l.Release(slot)
	if _, r := l.Acquire(2*sec, []byte("alice")); r != OK {
		t.Fatalf("after release: %v", r)
	}
	if r := l.Connect(61*sec, ipA, id); r != OK {
		t.Fatalf("after the ban expired: %v", r)
	}
}
