package router

import (
	"sync"
	"sync/atomic"
)

// trieShard holds wildcard and $share filters whose first level hashes here
// (or, for the wild shard, whose first level is '+' or '#').
type trieShard struct {
	mu      slotLock
	root    node
	subs    atomic.Int64 // subscriptions and shared memberships; Match skips the shard at 0
	filters atomic.Int64 // nodes with non-shared subscriptions
	groups  atomic.Int64
	_       [64]byte
}

// lockSlots is the number of read-lock slots of a trie shard.
const lockSlots = 16

// slotLock is a read-mostly lock spread over lockSlots cache lines. Every
// event loop matching "devices/..." read-locks the trie shard of
// "devices"; with one RWMutex its reader count is one cache line bouncing
// between all cores (BenchmarkMatchParallelWild: 5.6M matches/s on 16
// cores). A reader locks the slot picked by its topic's hash; a writer
// locks every slot, in order, which is cheap enough for wildcard and
// $share subscribes.
type slotLock [lockSlots]struct {
	sync.RWMutex
	_ [64 - 24]byte
}

// rlock read-locks the slot for hash h and returns it for RUnlock.
func (l *slotLock) rlock(h uint64) *sync.RWMutex {
	m := &l[h%lockSlots].RWMutex
	m.RLock()
	return m
}

func (l *slotLock) lock() {
	for i := range l {
		l[i].Lock()
	}
}

func (l *slotLock) unlock() {
	for i := range l {
		l[i].Unlock()
	}
}

// node is one level of the trie. subs and each group's members are
// copy-on-write like exact entries; the rest changes only under the shard's
// write lock and is read under its read lock.
type node struct {
	children map[string]*node
	plus     *node // '+' child
	hash     *node // '#' child: matches this level's parent and everything below
	subs     []sub
	groups   []*group
}

func (n *node) empty() bool {
	return len(n.children) == 0 && n.plus == nil && n.hash == nil && len(n.subs) == 0 && len(n.groups) == 0
}

// child returns n's child for level, creating it when create is set.
func (n *node) child(level []byte, create bool) *node {
	var c *node
	switch {
	case len(level) == 1 && level[0] == '+':
		c = n.plus
		if c == nil && create {
			c = &node{}
			n.plus = c
		}
	case len(level) == 1 && level[0] == '#':
		c = n.hash
		if c == nil && create {
			c = &node{}
			n.hash = c
		}
	default:
		c = n.children[string(level)]
		if c == nil && create {
			if n.children == nil {
				n.children = make(map[string]*node, 1)
			}
			c = &node{}
			n.children[string(level)] = c
		}
	}
	return c
}

// dropChild removes n's child for level.
func (n *node) dropChild(level []byte) {
	switch {
	case len(level) == 1 && level[0] == '+':
		n.plus = nil
	case len(level) == 1 && level[0] == '#':
		n.hash = nil
	default:
		delete(n.children, string(level))
	}
}

// subscribe adds e for filter f (the part after any $share prefix; group is
// nil for a non-shared subscription).
func (ts *trieShard) subscribe(f, grp []byte, e sub) bool {
	ts.mu.lock()
	defer ts.mu.unlock()
	n := &ts.root
	for rest, more := f, true; more; {
		var level []byte
		level, rest, more = splitLevel(rest)
		n = n.child(level, true)
	}
	if grp == nil {
		wasEmpty := len(n.subs) == 0
		var existed bool
		n.subs, existed = withSub(n.subs, e)
		if !existed {
			ts.subs.Add(1)
		}
		if wasEmpty {
			ts.filters.Add(1)
		}
		return existed
	}
	g := findGroup(n.groups, grp)
	if g == nil {
		g = &group{name: string(grp)}
		n.groups = append(n.groups[:len(n.groups):len(n.groups)], g)
		ts.groups.Add(1)
	}
	var existed bool
	g.members, existed = withSub(g.members, e)
	if !existed {
		ts.subs.Add(1)
	}
	return existed
}

// unsubscribe removes s from filter f (and group), pruning empty nodes.
func (ts *trieShard) unsubscribe(f, grp []byte, s Subscriber) bool {
	ts.mu.lock()
	defer ts.mu.unlock()
	found := false
	ts.remove(&ts.root, f, grp, s, &found)
	if found {
		ts.subs.Add(-1)
	}
	return found
}

// remove descends to the node of rest and removes s there; it reports
// whether n became empty so that the caller can drop it.
func (ts *trieShard) remove(n *node, rest, grp []byte, s Subscriber, found *bool) bool {
	level, next, more := splitLevel(rest)
	c := n.child(level, false)
	if c == nil {
		return false
	}
	if more {
		if ts.remove(c, next, grp, s, found) {
			n.dropChild(level)
		}
		return n.empty()
	}
	if grp == nil {
		out, ok := withoutSub(c.subs, s)
		if !ok {
			return false
		}
		*found = true
		c.subs = out
		if out == nil {
			ts.filters.Add(-1)
		}
	} else {
		i := groupIndex(c.groups, grp)
		if i < 0 {
			return false
		}
		g := c.groups[i]
		out, ok := withoutSub(g.members, s)
		if !ok {
			return false
		}
		*found = true
		g.members = out
		if out == nil {
			// Copy: Match may be iterating the old slice under a read lock
			// it no longer needs once we hold the write lock, but keep
			// published slices immutable anyway.
			groups := make([]*group, 0, len(c.groups)-1)
			groups = append(groups, c.groups[:i]...)
			c.groups = append(groups, c.groups[i+1:]...)
			if len(c.groups) == 0 {
				c.groups = nil
			}
			ts.groups.Add(-1)
		}
	}
	if c.empty() {
		n.dropChild(level)
	}
	return n.empty()
}

// walk collects into m every subscription in n's subtree whose filter
// matches the remaining topic levels rest (more is false when no level is
// left). It runs under the shard's read lock.
func (m *matcher) walk(n *node, rest []byte, more bool) {
	if n.hash != nil {
		// "a/#" matches "a" and everything below it [MQTT-4.7.1-2].
		m.collect(n.hash)
	}
	if !more {
		m.collect(n)
		return
	}
	level, next, nmore := splitLevel(rest)
	if c := n.children[string(level)]; c != nil {
		m.walk(c, next, nmore)
	}
	if n.plus != nil {
		m.walk(n.plus, next, nmore)
	}
}

func (m *matcher) collect(n *node) {
	if len(n.subs) > 0 {
		m.add(n.subs)
	}
	for _, g := range n.groups {
		m.pick(g)
	}
}
