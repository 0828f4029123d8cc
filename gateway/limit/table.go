package limit

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

const (
	numShards   = 64 // a power of two
	evictSample = 8  // entries a full shard looks at to find a victim
)

// entry is one key's state. Each table uses the fields it needs: the IP
// table the rate and flapping ones, the client table flapping only, the
// user table the rate (authentication) and conns.
type entry struct {
	key      uint64
	tat      int64 // rate bucket (GCRA)
	last     int64 // last use, for eviction
	winStart int64 // flapping: start of the current window
	banUntil int64 // ban in force while now < banUntil
	cur      uint32
	prev     uint32 // flapping: connects in the current and previous window
	conns    int32  // connections held (user table)
	label    string // the banned client ID or IP; set only with a ban
}

// shard is one lock's worth of a table: a map from key to slot in ents.
type shard struct {
	mu   sync.Mutex
	idx  map[uint64]int32
	ents []entry
	hand int
	_    [64]byte // keep neighbouring shards' locks off one cache line
}

// table is a bounded map from key hash to entry, in numShards shards.
// Safe for concurrent use; every method holds one shard lock for O(1) work
// (O(evictSample) when it evicts).
type table struct {
	shards   [numShards]shard
	perShard int
	window   atomic.Int64 // flapping window, for idleness (SetConfig)

	evictedActive atomic.Uint64
	untracked     atomic.Uint64
}

// newTable returns a table of at most max entries (rounded up to a multiple
// of numShards).
func newTable(max int) *table {
	return &table{perShard: (max + numShards - 1) / numShards}
}

// lock returns key's shard, locked.
func (t *table) lock(key uint64) *shard {
	s := &t.shards[key>>58] // the top bits: maphash spreads them as well as the low ones
	s.mu.Lock()
	return s
}

// find returns key's entry or nil. The caller holds s.mu.
func (s *shard) find(key uint64) *entry {
	if i, ok := s.idx[key]; ok {
		return &s.ents[i]
	}
	return nil
}

// get returns key's entry, creating it if there is room or a victim to
// evict, else nil (untracked: the caller lets the request pass). The
// caller holds s.mu; the pointer is valid until it unlocks.
func (t *table) get(s *shard, key uint64, now int64) *entry {
	if e := s.find(key); e != nil {
		e.last = now
		return e
	}
	if len(s.ents) < t.perShard {
		if s.ents == nil {
			// Sized for the bound on first use: later inserts do not
			// grow the slab or the map.
			s.ents = make([]entry, 0, t.perShard)
			s.idx = make(map[uint64]int32, t.perShard)
		}
		s.ents = append(s.ents, entry{key: key, last: now})
		s.idx[key] = int32(len(s.ents) - 1)
		return &s.ents[len(s.ents)-1]
	}
	v := t.victim(s, now)
	if v < 0 {
		t.untracked.Add(1)
		return nil
	}
	delete(s.idx, s.ents[v].key)
	s.ents[v] = entry{key: key, last: now}
	s.idx[key] = int32(v)
	return &s.ents[v]
}

// victim returns the slot to evict from a full shard, or -1: the first idle
// entry among the evictSample after the hand, else the least recently used
// among them that holds no connection and no ban.
func (t *table) victim(s *shard, now int64) int {
	best := -1
	n := len(s.ents)
	for i := 0; i < evictSample && i < n; i++ {
		j := (s.hand + i) % n
		e := &s.ents[j]
		if t.idle(e, now) {
			s.hand = (j + 1) % n
			return j
		}
		if e.conns == 0 && e.banUntil <= now && (best < 0 || e.last < s.ents[best].last) {
			best = j
		}
	}
	s.hand = (s.hand + evictSample) % n
	if best >= 0 {
		t.evictedActive.Add(1)
	}
	return best
}

// idle reports whether e holds nothing worth keeping: a full bucket, no
// connection, no ban, and a flapping window long over.
func (t *table) idle(e *entry, now int64) bool {
	return e.tat <= now && e.conns == 0 && e.banUntil <= now && (e.cur|e.prev == 0 || now-e.winStart >= 2*t.window.Load())
}

// len returns the number of entries (for tests and metrics).
func (t *table) len() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		n += len(s.ents)
		s.mu.Unlock()
	}
	return n
}

// hashBytes is the table key of a client ID or username.
func hashBytes(seed maphash.Seed, b []byte) uint64 { return maphash.Bytes(seed, b) }
