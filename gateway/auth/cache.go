package auth

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"time"
)

// cacheKey identifies a Request by a SHA-256 of all its fields, the password
// included, so a cached allow never admits a different password and the
// cache holds no secret.
type cacheKey [sha256.Size]byte

func keyOf(r *Request) cacheKey {
	h := sha256.New()
	var n [8]byte
	field := func(b []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	flags := byte(0)
	if r.HasUsername {
		flags |= 1
	}
	if r.HasPassword {
		flags |= 2
	}
	field([]byte{flags})
	field([]byte(r.ClientID))
	field([]byte(r.Username))
	field(r.Password)
	ip, _ := r.RemoteIP.MarshalBinary()
	field(ip)
	field([]byte(r.Listener))
	field([]byte(r.TLSCommonName))
	for _, s := range r.TLSSANs {
		field([]byte(s))
	}
	var k cacheKey
	h.Sum(k[:0])
	return k
}

// cache is a bounded TTL map of Results. Eviction is first-in first-out
// over a ring of max slots: each key holds exactly one slot, so the map
// never exceeds max entries whatever the miss pattern (a flood of wrong
// passwords just recycles the ring). Expired entries go lazily, at get.
// Safe for concurrent use (one mutex; the callers are pool workers).
type cache struct {
	mu   sync.Mutex
	ttl  time.Duration
	m    map[cacheKey]cacheEntry
	ring []cacheKey
	next int
	full bool
}

type cacheEntry struct {
	res  Result
	exp  time.Time
	slot int
}

// newCache returns nil (a cache that stores nothing) when ttl <= 0 or max <= 0.
func newCache(ttl time.Duration, max int) *cache {
	if ttl <= 0 || max <= 0 {
		return nil
	}
	return &cache{ttl: ttl, m: make(map[cacheKey]cacheEntry), ring: make([]cacheKey, max)}
}

func (c *cache) get(k cacheKey, now time.Time) (Result, bool) {
	if c == nil {
		return Result{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok {
		return Result{}, false
	}
	if !now.Before(e.exp) {
		delete(c.m, k)
		return Result{}, false
	}
	return e.res, true
}

func (c *cache) put(k cacheKey, r Result, now time.Time) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[k]; ok {
		e.res, e.exp = r, now.Add(c.ttl)
		c.m[k] = e
		return
	}
	if c.full {
		victim := c.ring[c.next]
		if e, ok := c.m[victim]; ok && e.slot == c.next {
			delete(c.m, victim)
		}
	}
	c.ring[c.next] = k
	c.m[k] = cacheEntry{res: r, exp: now.Add(c.ttl), slot: c.next}
	c.next++
	if c.next == len(c.ring) {
		c.next, c.full = 0, true
	}
}

// clear drops every entry.
func (c *cache) clear() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.m)
	c.next, c.full = 0, false
}

// len is the number of entries, expired ones not yet collected included.
func (c *cache) len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
