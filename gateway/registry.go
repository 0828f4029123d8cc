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
type sessionRec struct {
	id     string
	handle router.Subscriber // slot<<32 | generation: the router's subscriber

	owner atomic.Pointer[loop] // the loop that holds st

	// loop-only (owner)
	st      *session.State      // nil while the state is on its way to owner (takeover)
	conn    *conn               // attached connection; nil when offline
	x       *recExtra           // rarely needed state, allocated on first use (idle memory)
	subs    map[string]struct{} // the session's filters, to remove them from the router when it ends
	wheelAt int64
	flags   atomic.Uint32 // recCongested | recOnline, readable by any loop
	dead    bool          // removed from the registry
	inCong  bool          // listed in owner's congested list
}

// sessionRec.flags bits.
const (
	recCongested uint32 = 1 << iota // over its outbound budget (backpressure hint for other loops)
	recOnline                       // a connection is attached (router Alive)
)

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
	expireAt int64         // offline: when the session ends (unix nanos); 0 = not scheduled
	will     *session.Will // pending delayed will
	willAt   int64
}

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
	m  map[string]*sessionRec
}

func newRegistry() *registry {
	r := &registry{seed: maphash.MakeSeed(), next: 1} // slot 0 unused: handle 0 means "nobody"
	for i := range r.shards {
		r.shards[i].m = make(map[string]*sessionRec)
	}
	empty := []*[slabChunk]atomic.Pointer[sessionRec]{}
	r.chunks.Store(&empty)
	return r
}

func (r *registry) shard(id string) *regShard {
	return &r.shards[maphash.String(r.seed, id)&63]
}

// acquire returns the session of id, creating one owned by l when there is
// none (created = true).
func (r *registry) acquire(id string, l *loop) (rec *sessionRec, created bool) {
	sh := r.shard(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if rec = sh.m[id]; rec != nil {
		return rec, false
	}
	rec = &sessionRec{id: id}
	rec.owner.Store(l)
	r.alloc(rec)
	sh.m[id] = rec
	return rec, true
}

// remove deletes rec from the registry and frees its handle. Called on the
// owner loop; returns false when rec was already removed.
func (r *registry) remove(rec *sessionRec) bool {
	sh := r.shard(rec.id)
	sh.mu.Lock()
	if sh.m[rec.id] != rec {
		sh.mu.Unlock()
		return false
	}
	delete(sh.m, rec.id)
	rec.dead = true
	sh.mu.Unlock()
	r.release(rec.handle)
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
