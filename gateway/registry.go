package gateway

import (
	"hash/maphash"
	"sync"
	"sync/atomic"

	"edgegw/router"
	"edgegw/session"
)

// sessionRec is one session known to the gateway. Its identity fields and
// atomics may be read from any goroutine; everything marked loop-only is
// touched only on the loop that owner names.
//
// It exists for every session, so it is kept at 64 bytes (a malloc size
// class; BenchmarkIdleConnections): the owner is a loop index, booleans are
// flag bits, and offline timers live in x.
type sessionRec struct {
	id     string
	handle router.Subscriber // slot<<32 | generation: the router's subscriber

	// loop-only (owner)
	st   *session.State // nil while the state is on its way to owner (takeover)
	conn *conn          // attached connection; nil when offline
	x    *recExtra      // rarely needed state, allocated on first use (idle memory)
	subs *subList       // the session's filters, to remove them from the router when it ends; nil = none

	own   atomic.Uint32 // index (loop.idx) of the loop that holds st; see owner
	flags atomic.Uint32 // rec* bits, readable by any loop
}

// sessionRec.flags bits.
const (
	recCongested uint32 = 1 << iota // over its outbound budget (backpressure hint for other loops)
	recOnline                       // a connection is attached (router Alive)
	recDead                         // removed from the registry
	recInCong                       // listed in the owner's congested list (owner only)
)

// owner returns the loop that holds rec's state (it may change: takeover).
func (rec *sessionRec) owner(g *Gateway) *loop { return g.allLoops()[rec.own.Load()] }

// setOwner hands rec to l.
func (rec *sessionRec) setOwner(l *loop) { rec.own.Store(uint32(l.idx)) }

// ownedBy reports whether l owns rec (atomic: rec may have moved away).
func (rec *sessionRec) ownedBy(l *loop) bool { return rec.own.Load() == uint32(l.idx) }

// dead reports whether rec was removed from the registry.
func (rec *sessionRec) dead() bool { return rec.has(recDead) }

func (rec *sessionRec) set(bit uint32, on bool) {
	if on {
		rec.flags.Or(bit)
	} else {
		rec.flags.And(^bit)
	}
}

func (rec *sessionRec) has(bit uint32) bool { return rec.flags.Load()&bit != 0 }

// recExtra holds the parts of a sessionRec that most sessions never use.
// Loop-only (owner).
type recExtra struct {
	waiters  []*ackToken   // publisher acks parked until this subscriber drains
	early    []inItem      // items that reached owner before st did
	wheelAt  int64         // deadline of rec's live wheel entry (offline timers)
	expireAt int64         // offline: when the session ends (unix nanos); 0 = not scheduled
	will     *session.Will // pending delayed will
	willAt   int64
	// fenced: the session arrived from another loop and deliveries sent to
	// that loop before the move may still be on their way here (fence.go);
	// deliveries that did not come that way wait in held until they have.
	fenced bool
	fence  *takeoverReq // the handover being fenced
	held   []inItem
}

// fenced reports whether rec's handover from another loop is incomplete.
func (rec *sessionRec) fenced() bool { return rec.x != nil && rec.x.fenced }

// ext returns rec's extra state, allocating it.
func (rec *sessionRec) ext() *recExtra {
	if rec.x == nil {
		rec.x = &recExtra{}
	}
	return rec.x
}

const slabChunk = 4096

// registry maps client IDs to sessions (sharded, mutex per shard) and hands
// out subscriber handles from a slab of slots. Safe for concurrent use;
// touched at CONNECT, close and expiry only.
type registry struct {
	seed   maphash.Seed
	shards [64]regShard

	slabMu sync.Mutex
	chunks atomic.Pointer[[]*[slabChunk]atomic.Pointer[sessionRec]]
	gens   []uint32 // generation per slot, guarded by slabMu
	free   []uint32
	next   uint32
}

type regShard struct {
	mu sync.Mutex
	t  recTable
}

func newRegistry() *registry {
	r := &registry{seed: maphash.MakeSeed(), next: 1} // slot 0 unused: handle 0 means "nobody"
	empty := []*[slabChunk]atomic.Pointer[sessionRec]{}
	r.chunks.Store(&empty)
	return r
}

// shard returns id's shard and its hash (the low 6 bits pick the shard,
// the rest the slot in the shard's table).
func (r *registry) shard(id string) (*regShard, uint64) {
	h := maphash.String(r.seed, id)
	return &r.shards[h&63], h >> 6
}

// acquire returns the session of id, creating one owned by l when there is
// none (created = true).
func (r *registry) acquire(id string, l *loop) (rec *sessionRec, created bool) {
	sh, h := r.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if rec = sh.t.get(id, h); rec != nil {
		return rec, false
	}
	rec = &sessionRec{id: id}
	rec.setOwner(l)
	r.alloc(rec)
	sh.t.insert(rec, h, r.home)
	return rec, true
}

// remove deletes rec from the registry and frees its handle. Called on the
// owner loop; returns false when rec was already removed.
func (r *registry) remove(rec *sessionRec) bool {
	sh, h := r.shard(rec.id)
	sh.mu.Lock()
	if !sh.t.remove(rec, h, r.home) {
		sh.mu.Unlock()
		return false
	}
	rec.set(recDead, true)
	sh.mu.Unlock()
	r.release(rec.handle)
	return true
}

// home is rec's hash for its shard's table.
func (r *registry) home(rec *sessionRec) uint64 { return maphash.String(r.seed, rec.id) >> 6 }

// recTable is one shard's client ID index: an open-addressing hash set of
// sessions (linear probing, backward-shift deletion, no tombstones) that
// costs 8 bytes per slot at a load between 3/16 and 3/4, against 24 bytes
// per slot of a map[string]*sessionRec (BenchmarkIdleConnections). Guarded
// by its shard's mutex.
type recTable struct {
	slots []*sessionRec // len is 0 or a power of two
	n     int
}

// get returns the session of id (hash h), or nil.
func (t *recTable) get(id string, h uint64) *sessionRec {
	mask := uint64(len(t.slots) - 1)
	for i := h & mask; len(t.slots) > 0; i = (i + 1) & mask {
		rec := t.slots[i]
		if rec == nil || rec.id == id {
			return rec
		}
	}
	return nil
}

// insert adds rec (hash h; not present). home recomputes the hash of a
// stored session when the table is resized.
func (t *recTable) insert(rec *sessionRec, h uint64, home func(*sessionRec) uint64) {
	if (t.n+1)*4 > len(t.slots)*3 {
		t.resize(max(8, 2*len(t.slots)), home)
	}
	t.place(rec, h)
	t.n++
}

func (t *recTable) place(rec *sessionRec, h uint64) {
	mask := uint64(len(t.slots) - 1)
	i := h & mask
	for t.slots[i] != nil {
		i = (i + 1) & mask
	}
	t.slots[i] = rec
}

func (t *recTable) resize(size int, home func(*sessionRec) uint64) {
	old := t.slots
	t.slots = make([]*sessionRec, size)
	for _, rec := range old {
		if rec != nil {
			t.place(rec, home(rec))
		}
	}
}

// remove deletes rec (hash h) and reports whether it was there. The
// entries after it in its probe run move back so that no lookup stops
// early at the hole.
func (t *recTable) remove(rec *sessionRec, h uint64, home func(*sessionRec) uint64) bool {
	if len(t.slots) == 0 {
		return false
	}
	mask := uint64(len(t.slots) - 1)
	i := h & mask
	for t.slots[i] != rec {
		if t.slots[i] == nil {
			return false
		}
		i = (i + 1) & mask
	}
	for j := i; ; {
		j = (j + 1) & mask
		next := t.slots[j]
		if next == nil {
			break
		}
		// next may fill the hole at i unless its home lies cyclically in (i, j].
		if k := home(next) & mask; (j > i && (k <= i || k > j)) || (j < i && k <= i && k > j) {
			t.slots[i] = next
			i = j
		}
	}
	t.slots[i] = nil
	t.n--
	if len(t.slots) > 8 && t.n*16 < len(t.slots)*3 {
		t.resize(len(t.slots)/2, home) // give memory back after a mass disconnect
	}
	return true
}

func (r *registry) alloc(rec *sessionRec) router.Subscriber {
	r.slabMu.Lock()
	defer r.slabMu.Unlock()
	var slot uint32
	if n := len(r.free); n > 0 {
		slot = r.free[n-1]
		r.free = r.free[:n-1]
	} else {
		slot = r.next
		r.next++
		chunks := *r.chunks.Load()
		if int(slot/slabChunk) >= len(chunks) {
			grown := append(chunks[:len(chunks):len(chunks)], new([slabChunk]atomic.Pointer[sessionRec]))
			r.chunks.Store(&grown)
		}
		r.gens = append(r.gens, 0)
		for len(r.gens) <= int(slot) {
			r.gens = append(r.gens, 0)
		}
	}
	r.gens[slot]++
	h := router.Subscriber(uint64(slot)<<32 | uint64(r.gens[slot]))
	rec.handle = h // before the slot is published: resolve reads it without a lock
	(*r.chunks.Load())[slot/slabChunk][slot%slabChunk].Store(rec)
	return h
}

func (r *registry) release(h router.Subscriber) {
	slot := uint32(uint64(h) >> 32)
	r.slabMu.Lock()
	(*r.chunks.Load())[slot/slabChunk][slot%slabChunk].Store(nil)
	r.free = append(r.free, slot)
	r.slabMu.Unlock()
}

// resolve returns the live session behind a router handle, or nil when the
// handle is stale (the session ended; its slot may have been reused).
func (r *registry) resolve(h router.Subscriber) *sessionRec {
	slot := uint32(uint64(h) >> 32)
	chunks := *r.chunks.Load()
	if int(slot/slabChunk) >= len(chunks) {
		return nil
	}
	rec := chunks[slot/slabChunk][slot%slabChunk].Load()
	if rec == nil || rec.handle != h {
		return nil
	}
	return rec
}
