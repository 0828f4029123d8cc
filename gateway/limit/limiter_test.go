package limit

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

var (
	ipA = netip.MustParseAddr("198.51.100.1")
	ipB = netip.MustParseAddr("198.51.100.2")
)

const sec = int64(time.Second)

// TestZeroConfig: with every limit off nothing is refused or tracked.
func TestZeroConfig(t *testing.T) {
	l := New(Config{})
	for i := 0; i < 1000; i++ {
		if r := l.Connect(0, ipA, []byte("c")); r != OK {
			t.Fatal(r)
		}
		if r := l.Auth(0, []byte("u")); r != OK {
			t.Fatal(r)
		}
		if _, r := l.Acquire(0, []byte("u")); r != OK {
			t.Fatal(r)
		}
	}
	if st := l.Stats(); st != (Stats{}) || len(l.Bans(nil, 0)) != 0 {
		t.Fatalf("%+v", st)
	}
}

// TestConnectRatePerIP: each source IP has its own bucket; the mapped form
// of an IPv4 address is the same key.
func TestConnectRatePerIP(t *testing.T) {
	l := New(Config{ConnectRatePerIP: 3})
	for i := 0; i < 3; i++ {
		if r := l.Connect(0, ipA, nil); r != OK {
			t.Fatalf("connect %d: %v", i, r)
		}
	}
	if r := l.Connect(0, netip.MustParseAddr("::ffff:198.51.100.1"), nil); r != ConnectRateIP {
		t.Fatalf("mapped form: %v", r)
	}
	if r := l.Connect(0, ipB, nil); r != OK {
		t.Fatalf("other IP: %v", r)
	}
	if r := l.Connect(sec/3, ipA, nil); r != ConnectRateIP {
		t.Fatalf("before a third of a second: %v", r)
	}
	if r := l.Connect(sec/3+1, ipA, nil); r != OK {
		t.Fatalf("after a third of a second: %v", r)
	}
}

// TestConnectRateGlobal: the global bucket spans IPs; a per-IP refusal
// does not spend a global token.
func TestConnectRateGlobal(t *testing.T) {
	l := New(Config{ConnectRate: 4, ConnectRatePerIP: 1})
	want := []Reason{OK, ConnectRateIP, ConnectRateIP, OK, OK, OK, ConnectRate}
	for i, w := range want {
		ip := netip.AddrFrom4([4]byte{10, 0, 0, byte(i)})
		if i < 3 {
			ip = ipA
		}
		if r := l.Connect(0, ip, nil); r != w {
			t.Fatalf("connect %d: %v, want %v", i, r, w)
		}
	}
	if r := l.Connect(sec/4, ipB, nil); r != OK {
		t.Fatalf("after refill: %v", r)
	}
}

// TestFlappingByClientID: more than 3 connects within 10s by one client ID,
// from changing IPs, ban it for 30s; the ban shows in Bans and expires on
// time; other clients are not affected.
func TestFlappingByClientID(t *testing.T) {
	l := New(Config{FlappingMaxConnects: 3, FlappingWindow: 10 * time.Second, FlappingBan: 30 * time.Second})
	id := []byte("sensor-1")
	for i := 0; i < 3; i++ {
		ip := netip.AddrFrom4([4]byte{10, 0, 0, byte(i)})
		if r := l.Connect(int64(i)*sec, ip, id); r != OK {
			t.Fatalf("connect %d: %v", i, r)
		}
	}
	if r := l.Connect(3*sec, ipB, id); r != Flapping {
		t.Fatalf("4th connect: %v, want Flapping", r)
	}
	bans := l.Bans(nil, 3*sec)
	if len(bans) != 1 || bans[0].ClientID != "sensor-1" || bans[0].IP != "" || bans[0].Until != 33*sec {
		t.Fatalf("bans %+v", bans)
	}
	id[0] = 'X' // the ban keeps its own copy of the borrowed ID
	if b := l.Bans(nil, 3*sec); b[0].ClientID != "sensor-1" {
		t.Fatalf("ban label aliases the caller's bytes: %q", b[0].ClientID)
	}
	id[0] = 's'
	for _, at := range []int64{3 * sec, 20 * sec, 33*sec - 1} {
		if r := l.Connect(at, ipA, id); r != Banned {
			t.Fatalf("at %ds: %v, want Banned", at/sec, r)
		}
	}
	long := make([]byte, 5000)
	for i := 0; i < 4; i++ {
		l.Connect(4*sec, netip.AddrFrom4([4]byte{10, 2, 0, byte(i)}), long)
	}
	if b := l.Bans(nil, 4*sec); len(b) != 2 || len(b[0].ClientID)+len(b[1].ClientID) != len("sensor-1")+MaxBanLabel {
		t.Fatalf("long client ID ban not cut to MaxBanLabel: %d bans", len(b))
	}
	if r := l.Connect(4*sec, ipA, []byte("sensor-2")); r != OK {
		t.Fatalf("other client: %v", r)
	}
	if r := l.Connect(33*sec, ipA, id); r != OK {
		t.Fatalf("after the ban: %v", r)
	}
	if bans := l.Bans(nil, 33*sec); len(bans) != 1 || bans[0].Until != 34*sec { // only the long ID's
		t.Fatalf("expired ban listed: %d bans", len(bans))
	}
}

// TestFlappingByIP: one IP cycling client IDs is banned by IP.
func TestFlappingByIP(t *testing.T) {
	l := New(Config{FlappingMaxConnects: 5, FlappingWindow: time.Minute, FlappingBan: time.Minute})
	var r Reason
	i := 0
	for ; i < 10 && r == OK; i++ {
		r = l.Connect(int64(i)*sec, ipA, []byte(fmt.Sprint("id-", i)))
	}
	if r != Flapping || i != 6 {
		t.Fatalf("connect %d: %v", i, r)
	}
	if r := l.Connect(7*sec, ipA, []byte("fresh")); r != Banned {
		t.Fatalf("banned IP, fresh ID: %v", r)
	}
	if r := l.Connect(7*sec, ipB, []byte("fresh")); r != OK {
		t.Fatalf("other IP: %v", r)
	}
	if b := l.Bans(nil, 7*sec); len(b) != 1 || b[0].IP != "198.51.100.1" {
		t.Fatalf("%+v", b)
	}
}

// TestFlappingSlidingWindow: connects spread at the window's pace are never
// banned; a burst straddling a window boundary still is (the previous
// window's count weighs in).
func TestFlappingSlidingWindow(t *testing.T) {
	l := New(Config{FlappingMaxConnects: 4, FlappingWindow: 10 * time.Second, FlappingBan: time.Second})
	id := []byte("slow")
	for i := 0; i < 50; i++ { // a little under 4 per 10 s
		if r := l.Connect(int64(i)*2600*ms, ipA, id); r != OK {
			t.Fatalf("slow connect %d: %v", i, r)
		}
	}
	l = New(Config{FlappingMaxConnects: 4, FlappingWindow: 10 * time.Second, FlappingBan: time.Second})
	id = []byte("burst")
	// 4 in the first window, 2 just after its end: a fixed window would
	// count 4 and 2 and ban nobody.
	at := []int64{8 * sec, 9 * sec, 9*sec + 500*ms, 9*sec + 900*ms, 10*sec + 100*ms, 10*sec + 200*ms}
	want := []Reason{OK, OK, OK, OK, OK, Flapping}
	for i := range at {
		if r := l.Connect(at[i], netip.AddrFrom4([4]byte{10, 1, 0, byte(i)}), id); r != want[i] {
			t.Fatalf("connect %d at %dms: %v, want %v", i, at[i]/ms, r, want[i])
		}
	}
}

// TestUserQuota: a user at max_connections_per_user is refused until one
// of its connections is released; anonymous is not counted.
func TestUserQuota(t *testing.T) {
	l := New(Config{MaxConnectionsPerUser: 2})
	u := []byte("alice")
	s1, r1 := l.Acquire(0, u)
	s2, r2 := l.Acquire(0, u)
	if r1 != OK || r2 != OK {
		t.Fatal(r1, r2)
	}
	if _, r := l.Acquire(0, u); r != UserQuota {
		t.Fatalf("third: %v", r)
	}
	if _, r := l.Acquire(0, []byte("bob")); r != OK {
		t.Fatalf("bob: %v", r)
	}
	l.Release(s1)
	s3, r := l.Acquire(0, u)
	if r != OK {
		t.Fatalf("after release: %v", r)
	}
	l.Release(s2)
	l.Release(s3)
	l.Release(UserSlot{}) // no-op
	for i := 0; i < 5; i++ {
		if s, r := l.Acquire(0, nil); r != OK || s != (UserSlot{}) {
			t.Fatal("anonymous counted")
		}
	}
}

// TestAuthRate: auth_rate_per_user refuses a flood before the verifier,
// per user.
func TestAuthRate(t *testing.T) {
	l := New(Config{AuthRatePerUser: 4})
	u := []byte("alice")
	for i := 0; i < 4; i++ {
		if r := l.Auth(0, u); r != OK {
			t.Fatal(i, r)
		}
	}
	if r := l.Auth(0, u); r != AuthRate {
		t.Fatalf("5th: %v", r)
	}
	if r := l.Auth(0, []byte("bob")); r != OK {
		t.Fatalf("bob: %v", r)
	}
	if r := l.Auth(sec/4, u); r != OK {
		t.Fatalf("after 250ms: %v", r)
	}
	if r := l.Auth(0, nil); r != OK {
		t.Fatal("anonymous")
	}
}

// TestTableBound: the per-IP table never holds more than its bound; idle
// entries are evicted first (nothing lost); a table full of active keys
// evicts and counts, and never lets the bound be passed.
func TestTableBound(t *testing.T) {
	l := New(Config{ConnectRatePerIP: 1, MaxTrackedIPs: 128}) // 2 per shard
	for i := 0; i < 10000; i++ {
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		if r := l.Connect(int64(i)*2*sec, ip, nil); r != OK { // each idle again 1s later
			t.Fatal(i, r)
		}
	}
	st := l.Stats()
	if st.IPs > 128 || st.EvictedActive != 0 {
		t.Fatalf("idle churn: %+v", st)
	}
	for i := 0; i < 10000; i++ { // all at once: every entry is active
		ip := netip.AddrFrom4([4]byte{11, byte(i >> 16), byte(i >> 8), byte(i)})
		l.Connect(30000*sec, ip, nil)
	}
	if st := l.Stats(); st.IPs > 128 || st.EvictedActive == 0 {
		t.Fatalf("active churn: %+v", st)
	}
}

// TestUserTableFullFailsOpen: users holding connections are never evicted;
// when a shard is full of them, a new user passes untracked (counted), and
// its zero slot releases nothing.
func TestUserTableFullFailsOpen(t *testing.T) {
	l := New(Config{MaxConnectionsPerUser: 1, MaxTrackedUsers: 64}) // 1 per shard
	var slots []UserSlot
	for i := 0; i < 2000; i++ {
		s, r := l.Acquire(0, []byte(fmt.Sprint("user-", i)))
		if r != OK {
			t.Fatal(i, r)
		}
		slots = append(slots, s)
	}
	st := l.Stats()
	if st.Users != 64 || st.Untracked != 2000-64 || st.EvictedActive != 0 {
		t.Fatalf("%+v", st)
	}
	for _, s := range slots {
		l.Release(s)
	}
	if _, r := l.Acquire(0, []byte("someone-new")); r != OK {
		t.Fatal(r)
	}
}

// TestAllocs: the per-connect checks allocate nothing (except a new ban's
// label, not exercised here).
func TestAllocs(t *testing.T) {
	l := New(Config{ConnectRate: 1e9, ConnectRatePerIP: 1e9, MaxConnectionsPerUser: 1 << 30, AuthRatePerUser: 1e9,
		FlappingMaxConnects: 1 << 30, FlappingWindow: time.Minute, FlappingBan: time.Minute})
	id, user := []byte("client-1"), []byte("alice")
	pr := Config{PublishRatePerClient: 1e9, PublishBytesPerClient: 1e9}.PublishRates()
	var p Publish
	now := int64(0)
	l.Connect(now, ipA, id) // create the entries
	a := testing.AllocsPerRun(1000, func() {
		now += 1000
		_ = l.Connect(now, ipA, id)
		_ = l.Auth(now, user)
		s, _ := l.Acquire(now, user)
		l.Release(s)
		_ = p.Allow(now, 100, pr)
	})
	if a != 0 {
		t.Fatalf("%.1f allocs per connect", a)
	}
}
