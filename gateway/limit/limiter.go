package limit

import (
	"hash/maphash"
	"net/netip"
	"sync/atomic"
)

// Limiter holds the gateway-wide storm shaping state: the global connect
// bucket and the per-IP, per-client-ID and per-user tables. Safe for
// concurrent use by every loop; no method blocks beyond one shard lock held
// for O(1) work, and none allocates except when it bans (the ban's label)
// and when a shard's table is first used.
type Limiter struct {
	seed   maphash.Seed
	p      atomic.Pointer[params]
	banned atomic.Bool // a ban was ever made: Connect looks bans up

	global  SharedBucket
	ips     *table // per-IP rate, IP flapping and bans
	clients *table // client ID flapping and bans
	users   *table // auth rate and connection counts
}

// params is one configuration's derived values, swapped whole by SetConfig.
type params struct {
	cfg                  Config
	connect, perIP, auth Rate
	window, ban          int64
}

func newParams(c Config) *params {
	return &params{
		cfg:     c,
		connect: perSecond(c.ConnectRate),
		perIP:   perSecond(c.ConnectRatePerIP),
		auth:    perSecond(c.AuthRatePerUser),
		window:  int64(c.FlappingWindow),
		ban:     int64(c.FlappingBan),
	}
}

// New returns a Limiter for c, which must have passed Validate. The tables
// take no memory until a limit that uses them is on and a key arrives.
func New(c Config) *Limiter {
	l := &Limiter{
		seed:    maphash.MakeSeed(),
		ips:     newTable(orDefault(c.MaxTrackedIPs, DefaultMaxTrackedIPs)),
		clients: newTable(orDefault(c.MaxTrackedClients, DefaultMaxTrackedClients)),
		users:   newTable(orDefault(c.MaxTrackedUsers, DefaultMaxTrackedUsers)),
	}
	l.SetConfig(c)
	return l
}

// SetConfig switches to c (validated) at once for every caller: the SIGHUP
// reload. Bans in force, connection counts and bucket states are kept, so a
// reload neither unbans anyone nor lets a user past its cap; a new rate
// applies from the next check. The table bounds (MaxTracked*) are fixed at
// New and ignored here.
func (l *Limiter) SetConfig(c Config) {
	p := newParams(c)
	for _, t := range []*table{l.ips, l.clients, l.users} {
		t.window.Store(p.window)
	}
	l.p.Store(p)
}

func orDefault(v, d int) int {
	if v > 0 {
		return v
	}
	return d
}

// Config returns the configuration in force.
func (l *Limiter) Config() Config { return l.p.Load().cfg }

// ipKey is the table key of a source address; an IPv4-mapped IPv6 address
// is the IPv4 one.
func (l *Limiter) ipKey(ip netip.Addr) uint64 {
	a := ip.As16() // As16 maps IPv4, so both forms of one address are one key
	return maphash.Bytes(l.seed, a[:])
}

// Connect decides a CONNECT from ip (the PROXY header's source when there
// is one) with clientID (borrowed, not kept unless it is banned now), at
// now. In order: a ban in force on the IP or the client ID (Banned); the
// connect counted for flapping, which may ban both now (Flapping: log it,
// with the client ID and IP); the per-IP rate (ConnectRateIP); the global
// rate (ConnectRate). Refused connects never reach authentication. An empty
// clientID (a v5 client asking for one to be assigned) is checked by IP
// only.
func (l *Limiter) Connect(now int64, ip netip.Addr, clientID []byte) Reason {
	p := l.p.Load()
	flap, bans := p.cfg.FlappingMaxConnects > 0, l.banned.Load()
	var ipk, cidk uint64
	if flap || bans || !p.perIP.Off() {
		ipk = l.ipKey(ip)
	}
	if (flap || bans) && len(clientID) > 0 {
		cidk = hashBytes(l.seed, clientID)
	}
	if bans && l.checkBans(now, ipk, cidk) {
		return Banned
	}
	if flap {
		if l.flap(p, l.ips, ipk, now, ip, nil) || (len(clientID) > 0 && l.flap(p, l.clients, cidk, now, netip.Addr{}, clientID)) {
			return Flapping
		}
	}
	if !p.perIP.Off() {
		s := l.ips.lock(ipk)
		ok := true
		if e := l.ips.get(s, ipk, now); e != nil {
			e.tat, ok = p.perIP.next(e.tat, now, 1)
		}
		s.mu.Unlock()
		if !ok {
			return ConnectRateIP
		}
	}
	if !l.global.Allow(now, p.connect) {
		return ConnectRate
	}
	return OK
}

// checkBans reports whether the IP or the client ID (0: none) is banned at
// now.
func (l *Limiter) checkBans(now int64, ipk, cidk uint64) bool {
	for _, k := range [2]struct {
		t   *table
		key uint64
	}{{l.ips, ipk}, {l.clients, cidk}} {
		if k.key == 0 && k.t == l.clients {
			continue
		}
		s := k.t.lock(k.key)
		e := s.find(k.key)
		banned := e != nil && now < e.banUntil
		s.mu.Unlock()
		if banned {
			return true
		}
	}
	return false
}

// flap counts a connect for key in t and reports whether it crossed
// flapping_max_connects, in which case the key is banned from now for
// flapping_ban, labelled with ip or clientID. The count is a sliding
// window: the previous window's connects weigh in proportion to how much of
// it the window ending now still covers.
func (l *Limiter) flap(p *params, t *table, key uint64, now int64, ip netip.Addr, clientID []byte) bool {
	s := t.lock(key)
	defer s.mu.Unlock()
	e := t.get(s, key, now)
	if e == nil {
		return false
	}
	switch el := now - e.winStart; {
	case el >= 2*p.window || el < 0:
		e.winStart, e.prev, e.cur = now, 0, 0
	case el >= p.window:
		e.winStart, e.prev, e.cur = e.winStart+p.window, e.cur, 0
	}
	est := uint64(e.cur) + 1
	if e.prev > 0 {
		est += uint64(e.prev) * uint64(p.window-(now-e.winStart)) / uint64(p.window)
	}
	if est <= uint64(p.cfg.FlappingMaxConnects) {
		e.cur++
		return false
	}
	e.banUntil = now + p.ban
	l.banned.Store(true)
	e.winStart, e.prev, e.cur = now, 0, 0
	if clientID != nil {
		e.label = string(clientID[:min(len(clientID), MaxBanLabel)])
	} else {
		e.label = ip.Unmap().String()
	}
	return true
}

// Auth decides an authentication attempt by user (borrowed) at now, before
// the verifier is called: AuthRate when the user is over auth_rate_per_user.
// An empty user (anonymous) passes.
func (l *Limiter) Auth(now int64, user []byte) Reason {
	p := l.p.Load()
	if p.auth.Off() || len(user) == 0 {
		return OK
	}
	k := hashBytes(l.seed, user)
	s := l.users.lock(k)
	ok := true
	if e := l.users.get(s, k, now); e != nil {
		e.tat, ok = p.auth.next(e.tat, now, 1)
	}
	s.mu.Unlock()
	if !ok {
		return AuthRate
	}
	return OK
}

// UserSlot is one connection's hold on its user's connection count, kept
// on the connection and handed back to Release when it closes. The zero
// UserSlot holds nothing.
type UserSlot struct {
	key     uint64
	tracked bool
}

// Acquire counts a connection for user (borrowed) after it authenticated:
// UserQuota when the user already holds max_connections_per_user. On OK
// the caller keeps the slot and calls Release once when the connection
// ends. An empty user (anonymous) is not counted.
func (l *Limiter) Acquire(now int64, user []byte) (UserSlot, Reason) {
	quota := l.p.Load().cfg.MaxConnectionsPerUser
	if quota <= 0 || len(user) == 0 {
		return UserSlot{}, OK
	}
	k := hashBytes(l.seed, user)
	s := l.users.lock(k)
	defer s.mu.Unlock()
	e := l.users.get(s, k, now)
	if e == nil {
		return UserSlot{}, OK // table full of connected users: fail open (Stats.Untracked)
	}
	if int(e.conns) >= quota {
		return UserSlot{}, UserQuota
	}
	e.conns++
	return UserSlot{key: k, tracked: true}, OK
}

// Release gives back a slot from Acquire; the zero slot is a no-op.
func (l *Limiter) Release(slot UserSlot) {
	if !slot.tracked {
		return
	}
	s := l.users.lock(slot.key)
	if e := s.find(slot.key); e != nil && e.conns > 0 {
		e.conns--
	}
	s.mu.Unlock()
}

// MaxBanLabel bounds the client ID a ban keeps (bytes; a longer one is
// cut), so that 65,536 banned IDs of 65,535 bytes cannot hold 4 GiB.
const MaxBanLabel = 128

// Ban is one ban in force: the banned client ID or IP and when it ends (on
// the caller's clock).
type Ban struct {
	ClientID string // set for a client ID ban
	IP       string // set for an IP ban
	Until    int64  // ban ends at this now
}

// Bans appends the bans in force at now to dst, for logs and metrics. It
// locks each shard in turn, briefly; call it from a goroutine of its own
// (metrics, admin), not on a loop.
func (l *Limiter) Bans(dst []Ban, now int64) []Ban {
	if !l.banned.Load() {
		return dst
	}
	for _, t := range []*table{l.ips, l.clients} {
		for i := range t.shards {
			s := &t.shards[i]
			s.mu.Lock()
			for j := range s.ents {
				if e := &s.ents[j]; now < e.banUntil {
					b := Ban{Until: e.banUntil}
					if t == l.ips {
						b.IP = e.label
					} else {
						b.ClientID = e.label
					}
					dst = append(dst, b)
				}
			}
			s.mu.Unlock()
		}
	}
	return dst
}

// Stats are the tables' sizes and eviction counters.
type Stats struct {
	IPs, Clients, Users int    // entries held
	EvictedActive       uint64 // entries evicted while not idle (their rate state restarted)
	Untracked           uint64 // requests let through because a shard was full of active keys
}

// Stats returns the current sizes and counters; like Bans, not for a loop.
func (l *Limiter) Stats() Stats {
	var st Stats
	for _, x := range []struct {
		t *table
		n *int
	}{{l.ips, &st.IPs}, {l.clients, &st.Clients}, {l.users, &st.Users}} {
		*x.n = x.t.len()
		st.EvictedActive += x.t.evictedActive.Load()
		st.Untracked += x.t.untracked.Load()
	}
	return st
}
