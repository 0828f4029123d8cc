package router

import (
	"sync"
	"sync/atomic"
)

// exactShard holds filters without wildcards, keyed by the filter string.
// Lookups with m[string(topic)] do not allocate.
type exactShard struct {
	mu      sync.RWMutex
	m       map[string]*entry
	matches atomic.Uint64 // Match calls whose topic hashed here
	subs    atomic.Int64
	filters atomic.Int64
	_       [64]byte // keep neighbouring shards' locks off this cache line
}

// entry is one exact filter's subscribers. subs is replaced copy-on-write
// under the shard's write lock; its elements are immutable. The first
// subscriber is stored inline (one allocation for the common single-device
// topic); one is written only when the entry is created.
type entry struct {
	subs []sub
	one  [1]sub
}

func (sh *exactShard) subscribe(f []byte, e sub) bool {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	en := sh.m[string(f)]
	if en == nil {
		en = &entry{one: [1]sub{e}}
		en.subs = en.one[:]
		sh.m[string(f)] = en
		sh.subs.Add(1)
		sh.filters.Add(1)
		return false
	}
	var existed bool
	en.subs, existed = withSub(en.subs, e)
	if !existed {
		sh.subs.Add(1)
	}
	return existed
}

func (sh *exactShard) unsubscribe(f []byte, s Subscriber) bool {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	en := sh.m[string(f)]
	if en == nil {
		return false
	}
	out, ok := withoutSub(en.subs, s)
	if !ok {
		return false
	}
	sh.subs.Add(-1)
	if out == nil {
		delete(sh.m, string(f))
		sh.filters.Add(-1)
		return true
	}
	en.subs = out
	return true
}

// lookup returns the immutable subscriber list for topic (nil when none).
func (sh *exactShard) lookup(topic []byte) []sub {
	sh.mu.RLock()
	var list []sub
	if en := sh.m[string(topic)]; en != nil {
		list = en.subs
	}
	sh.mu.RUnlock()
	return list
}
