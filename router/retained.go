package router

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// Retained is one retained message. Once passed to Retain it is immutable
// and shared by every reader: neither the caller nor the router modifies it.
type Retained struct {
	Topic     []byte
	Payload   []byte
	QoS       byte
	Props     []byte // encoded v5 properties, opaque to the router
	ExpiresAt int64  // unix nanoseconds; 0 = never [MQTT-3.3.2-5]
	// Value is the caller's own immutable form of the message (the gateway
	// keeps its session.Message here, so a match needs no decoding), opaque
	// to the router and returned as stored.
	Value any
	// Size is what the message counts against the byte bound; 0 means
	// len(Topic)+len(Payload)+len(Props).
	Size int
}

func (m *Retained) size() int64 {
	if m.Size > 0 {
		return int64(m.Size)
	}
	return int64(len(m.Topic) + len(m.Payload) + len(m.Props))
}

func (m *Retained) live(now int64) bool { return m.ExpiresAt == 0 || m.ExpiresAt > now }

// retainedStore is a topic tree sharded by first level, so that a lookup
// for a filter with a literal first level visits one shard, and a '+' only
// enumerates the children of one node.
type retainedStore struct {
	seed     maphash.Seed
	mask     uint64
	shards   []retainedShard
	maxCount int64
	maxBytes int64
	count    atomic.Int64
	bytes    atomic.Int64
	refused  atomic.Uint64
}

type retainedShard struct {
	mu   sync.RWMutex
	root rnode
	_    [64]byte
}

type rnode struct {
	children map[string]*rnode
	msg      *Retained
}

func (rs *retainedStore) init(n, maxCount, maxBytes int) {
	rs.seed = maphash.MakeSeed()
	rs.mask = uint64(n - 1)
	rs.shards = make([]retainedShard, n)
	rs.maxCount = int64(maxCount)
	rs.maxBytes = int64(maxBytes)
}

func (rs *retainedStore) shard(first []byte) *retainedShard {
	return &rs.shards[maphash.Bytes(rs.seed, first)&rs.mask]
}

// Retain stores m as the retained message of m.Topic, replacing the previous
// one; an empty payload clears it [MQTT-3.3.1-6], [MQTT-3.3.1-7]. It returns
// ErrRetainedFull or ErrRetainDisabled (both counted in
// Stats.RetainedRefused) when the store cannot take the message, leaving the
// previous one in place, and ErrInvalidTopic for a topic with wildcards.
// m must not be modified afterwards.
func (r *Router) Retain(m *Retained) error {
	if !validTopic(m.Topic) {
		return ErrInvalidTopic
	}
	rs := &r.ret
	sh := rs.shard(firstLevel(m.Topic))
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if len(m.Payload) == 0 {
		rs.clear(sh, m.Topic)
		return nil
	}
	if rs.maxCount == 0 {
		rs.refused.Add(1)
		return ErrRetainDisabled
	}
	n := &sh.root
	for rest, more := m.Topic, true; more; {
		var level []byte
		level, rest, more = splitLevel(rest)
		c := n.children[string(level)]
		if c == nil {
			// Check the count bound before creating nodes for a new topic.
			if rs.count.Load() >= rs.maxCount {
				rs.refused.Add(1)
				pruneEmpty(&sh.root, m.Topic)
				return ErrRetainedFull
			}
			if n.children == nil {
				n.children = make(map[string]*rnode, 1)
			}
			c = &rnode{}
			n.children[string(level)] = c
		}
		n = c
	}
	var dc, db int64 = 1, m.size()
	if old := n.msg; old != nil {
		dc, db = 0, m.size()-old.size()
	}
	if rs.count.Add(dc) > rs.maxCount {
		rs.count.Add(-dc)
		return rs.refuse(sh, n, m.Topic)
	}
	if b := rs.bytes.Add(db); rs.maxBytes > 0 && db > 0 && b > rs.maxBytes {
		rs.bytes.Add(-db)
		rs.count.Add(-dc)
		return rs.refuse(sh, n, m.Topic)
	}
	n.msg = m
	return nil
}

// refuse counts a refusal and drops the path created for topic when it
// holds no message. Called with sh locked.
func (rs *retainedStore) refuse(sh *retainedShard, n *rnode, topic []byte) error {
	rs.refused.Add(1)
	if n.msg == nil {
		pruneEmpty(&sh.root, topic)
	}
	return ErrRetainedFull
}

// clear removes the retained message of topic. Called with sh locked.
func (rs *retainedStore) clear(sh *retainedShard, topic []byte) {
	n := &sh.root
	for rest, more := topic, true; more; {
		var level []byte
		level, rest, more = splitLevel(rest)
		if n = n.children[string(level)]; n == nil {
			return
		}
	}
	if n.msg == nil {
		return
	}
	rs.count.Add(-1)
	rs.bytes.Add(-n.msg.size())
	n.msg = nil
	pruneEmpty(&sh.root, topic)
}

// pruneEmpty removes the nodes of topic's path that hold neither a message
// nor children, from the leaf up.
func pruneEmpty(n *rnode, rest []byte) bool {
	level, next, more := splitLevel(rest)
	c := n.children[string(level)]
	if c == nil {
		return false
	}
	if more {
		pruneEmpty(c, next)
	}
	if c.msg == nil && len(c.children) == 0 {
		delete(n.children, string(level))
	}
	return n.msg == nil && len(n.children) == 0
}

// AppendRetained appends to dst the live retained messages whose topics
// match filter (wildcards included) and returns the extended slice.
// Shared subscriptions get no retained messages [MQTT-4.8.2], so a $share
// filter, like an invalid one, appends nothing. Only the subtrees the
// filter can match are visited; a '+' enumerates one node's children.
func (r *Router) AppendRetained(dst []*Retained, filter []byte, now int64) []*Retained {
	p, err := parseFilter(filter)
	if err != nil || p.group != nil {
		return dst
	}
	rs := &r.ret
	first, _, _ := splitLevel(p.filter)
	if len(first) == 1 && (first[0] == '+' || first[0] == '#') {
		for i := range rs.shards {
			sh := &rs.shards[i]
			sh.mu.RLock()
			dst = visitRetained(dst, &sh.root, p.filter, now, true)
			sh.mu.RUnlock()
		}
		return dst
	}
	sh := rs.shard(first)
	sh.mu.RLock()
	dst = visitRetained(dst, &sh.root, p.filter, now, true)
	sh.mu.RUnlock()
	return dst
}

// Retained calls fn for each live retained message matching filter until
// fn returns false. fn runs after the store's locks are released, so it may
// call into the Router.
func (r *Router) Retained(filter []byte, now int64, fn func(*Retained) bool) {
	for _, m := range r.AppendRetained(nil, filter, now) {
		if !fn(m) {
			return
		}
	}
}

// visitRetained matches the filter levels in rest against n's subtree.
// atRoot is set when n is a shard root: wildcards there do not match
// topics starting with '$' [MQTT-4.7.2-1].
func visitRetained(dst []*Retained, n *rnode, rest []byte, now int64, atRoot bool) []*Retained {
	level, next, more := splitLevel(rest)
	switch {
	case len(level) == 1 && level[0] == '#':
		if n.msg != nil && !atRoot && n.msg.live(now) {
			dst = append(dst, n.msg) // "a/#" matches "a"
		}
		for name, c := range n.children {
			if atRoot && len(name) > 0 && name[0] == '$' {
				continue
			}
			dst = appendSubtree(dst, c, now)
		}
	case len(level) == 1 && level[0] == '+':
		for name, c := range n.children {
			if atRoot && len(name) > 0 && name[0] == '$' {
				continue
			}
			dst = visitLevel(dst, c, next, more, now)
		}
	default:
		if c := n.children[string(level)]; c != nil {
			dst = visitLevel(dst, c, next, more, now)
		}
	}
	return dst
}

func visitLevel(dst []*Retained, c *rnode, next []byte, more bool, now int64) []*Retained {
	if !more {
		if c.msg != nil && c.msg.live(now) {
			dst = append(dst, c.msg)
		}
		return dst
	}
	return visitRetained(dst, c, next, now, false)
}

func appendSubtree(dst []*Retained, n *rnode, now int64) []*Retained {
	if n.msg != nil && n.msg.live(now) {
		dst = append(dst, n.msg)
	}
	for _, c := range n.children {
		dst = appendSubtree(dst, c, now)
	}
	return dst
}

// PurgeExpired removes retained messages expired at now and returns how
// many it removed. The gateway calls it from a ticker; lookups already skip
// expired messages, this frees their memory and their share of the bounds.
func (r *Router) PurgeExpired(now int64) int {
	rs := &r.ret
	total := 0
	for i := range rs.shards {
		sh := &rs.shards[i]
		sh.mu.Lock()
		total += rs.purge(&sh.root, now)
		sh.mu.Unlock()
	}
	return total
}

func (rs *retainedStore) purge(n *rnode, now int64) int {
	removed := 0
	for name, c := range n.children {
		removed += rs.purge(c, now)
		if c.msg != nil && !c.msg.live(now) {
			rs.count.Add(-1)
			rs.bytes.Add(-c.msg.size())
			c.msg = nil
			removed++
		}
		if c.msg == nil && len(c.children) == 0 {
			delete(n.children, name)
		}
	}
	return removed
}
