package auth

import (
	"bytes"
	"math"
	"strings"
)

// aclNone marks "no rule": higher than every rule index.
const aclNone = math.MaxInt32

// ACLMatcher answers one client's publish and subscribe checks. Built by
// ACLSet.Compile at CONNECT; immutable, so safe for concurrent use and
// shareable between clients. A nil *ACLMatcher allows everything.
//
// Rules are numbered in first-match order: the client's extra rules 0..off-1,
// then file rule i as off+i. The "*" rules without placeholders live in the
// set's index, shared by every client; the client's own index holds its
// extra rules, the named rules that select it and the "*" rules with
// placeholders, substituted. A check takes the lowest index either finds.
type ACLMatcher struct {
	set   *ACLSet
	off   int32
	extra []bool // permissions of the extra rules

	own  aclIndex
	all  int32        // lowest deny-everything rule (see substituteACL)
	subs []aclSubRule // own subscribe rules in order
}

// aclSubRule is one subscribe rule; levels nil means every filter.
type aclSubRule struct {
	idx    int32
	levels []string
	allow  bool
}

// aclIndex finds the lowest index of the publish rules matching a topic: an
// exact-topic map for filters without wildcards, a trie for the others. Its
// zero value is empty; immutable once built.
type aclIndex struct {
	exact map[string]int32
	root  *aclNode
}

// aclNode is a trie level. end is the lowest index of the rules whose filter
// ends here, hash of those ending in "/#" below it ('#' at the root).
type aclNode struct {
	kids      map[string]*aclNode
	plus      *aclNode
	end, hash int32
}

func newACLNode() *aclNode { return &aclNode{end: aclNone, hash: aclNone} }

// add inserts a filter (split, no placeholders) with index idx. Indexes are
// added in increasing order, so the first one kept is the lowest.
func (x *aclIndex) add(levels []string, idx int32) {
	wild := false
	for _, l := range levels {
		if l == "+" || l == "#" {
			wild = true
			break
		}
	}
	if !wild {
		if x.exact == nil {
			x.exact = make(map[string]int32)
		}
		f := strings.Join(levels, "/")
		if _, ok := x.exact[f]; !ok {
			x.exact[f] = idx
		}
		return
	}
	if x.root == nil {
		x.root = newACLNode()
	}
	n := x.root
	for _, l := range levels {
		switch l {
		case "#":
			n.hash = min(n.hash, idx)
			return
		case "+":
			if n.plus == nil {
				n.plus = newACLNode()
			}
			n = n.plus
		default:
			c := n.kids[l]
			if c == nil {
				if n.kids == nil {
					n.kids = make(map[string]*aclNode)
				}
				c = newACLNode()
				n.kids[l] = c
			}
			n = c
		}
	}
	n.end = min(n.end, idx)
}

// lookup returns min(best, the lowest index matching topic).
func (x *aclIndex) lookup(topic []byte, best int32) int32 {
	if x.exact != nil {
		if i, ok := x.exact[string(topic)]; ok && i < best {
			best = i
		}
	}
	if x.root != nil {
		best = x.root.match(topic, true, best)
	}
	return best
}

// CanPublish reports whether the client may publish to topic, a valid topic
// name (no wildcards). Also the check for the will at CONNECT. It does not
// allocate and does not keep topic.
func (m *ACLMatcher) CanPublish(topic []byte) bool {
	if m == nil {
		return true
	}
	best := m.own.lookup(topic, m.all)
	if best > m.off { // only a file rule can still win
		if i := m.set.pub.lookup(topic, best-m.off); i != aclNone {
			best = min(best, i+m.off)
		}
	}
	return m.perm(best)
}

// perm returns the permission of rule idx, the default for aclNone.
func (m *ACLMatcher) perm(idx int32) bool {
	switch {
	case idx == aclNone:
		return m.set.allow
	case idx < m.off:
		return m.extra[idx]
	}
	return m.set.rules[idx-m.off].Allow
}

// match returns min(best, the lowest index of a rule below n matching t),
// where t is the rest of the topic from a level boundary. A leading '+' or
// '#' does not match a topic starting with '$' [MQTT-4.7.2-1]. A node
// stands for one depth, so a check visits each node at most once: its cost
// is bounded by the trie's size, whatever the mix of '+' and literals.
func (n *aclNode) match(t []byte, first bool, best int32) int32 {
	level, rest, more := aclSplit(t)
	if !first || len(t) == 0 || t[0] != '$' {
		best = min(best, n.hash) // '#' matches this level and all below
		if n.plus != nil {
			best = n.plus.step(rest, more, best)
		}
	}
	if c := n.kids[string(level)]; c != nil {
		best = c.step(rest, more, best)
	}
	return best
}

// step continues at c after the level it stands for.
func (c *aclNode) step(rest []byte, more bool, best int32) int32 {
	if !more {
		return min(best, c.end, c.hash) // "a/#" also matches "a" [MQTT-4.7.1-1]
	}
	return c.match(rest, false, best)
}

func aclSplit(t []byte) (level, rest []byte, more bool) {
	if i := bytes.IndexByte(t, '/'); i >= 0 {
		return t[:i], t[i+1:], true
	}
	return t, nil, false
}

// CanSubscribe reports whether the client may subscribe to filter, a valid
// topic filter; a "$share/{group}/" prefix is checked as the filter after
// it. The first allow rule that covers filter or deny rule that overlaps it
// decides (see the notes in acl.go). It does not allocate and does not keep
// filter.
func (m *ACLMatcher) CanSubscribe(filter []byte) bool {
	if m == nil {
		return true
	}
	if rest, ok := bytes.CutPrefix(filter, []byte("$share/")); ok {
		if i := bytes.IndexByte(rest, '/'); i >= 0 {
			filter = rest[i+1:]
		}
	}
	shared := m.set.subs
	i, j := 0, 0
	for i < len(shared) || j < len(m.subs) {
		var s *aclSubRule
		if j == len(m.subs) || i < len(shared) && shared[i].idx+m.off < m.subs[j].idx {
			s = &shared[i]
			i++
		} else {
			s = &m.subs[j]
			j++
		}
		if s.levels == nil {
			return s.allow
		}
		if s.allow && aclCovers(s.levels, filter) {
			return true
		}
		if !s.allow && aclOverlaps(s.levels, filter) {
			return false
		}
	}
	return m.set.allow
}

func isDollar(b []byte) bool { return len(b) > 0 && b[0] == '$' }

// aclCovers reports whether every topic that f matches, r matches. The
// topic "" is no topic [MQTT-4.7.3-1], so "+/#" covers "#" and "/+/#"
// covers "/#" (the parent level that '#' adds would be "").
func aclCovers(r []string, f []byte) bool {
	f0, _, _ := aclSplit(f)
	more := true
	for i := 0; ; i++ {
		if i == len(r) {
			return !more
		}
		if r[i] == "#" {
			return !(i == 0 && isDollar(f)) // [MQTT-4.7.2-1]
		}
		if !more {
			return false
		}
		level, rest, m := aclSplit(f)
		if string(level) == "#" {
			return r[i] == "+" && len(r) == i+2 && r[i+1] == "#" && (i == 0 || i == 1 && len(f0) == 0)
		}
		if r[i] == "+" {
			if i == 0 && isDollar(level) {
				return false // [MQTT-4.7.2-1]
			}
		} else if string(level) != r[i] {
			return false // also f's '+' against r's literal
		}
		f, more = rest, m
	}
}

// aclOverlaps reports whether some topic matches both r and f. The topic ""
// is no topic [MQTT-4.7.3-1], so "/#" (which matches "" as its parent level)
// does not overlap "+".
func aclOverlaps(r []string, f []byte) bool {
	fDollar, rDollar := isDollar(f), r[0] != "" && r[0][0] == '$'
	f0, _, _ := aclSplit(f)
	emptyFirst := r[0] == "" || len(f0) == 0 // only "" matched level 0
	more := true
	for i := 0; ; i++ {
		var level, rest []byte
		var m bool
		if more {
			level, rest, m = aclSplit(f)
		}
		if i < len(r) && r[i] == "#" {
			if i == 1 && !more && emptyFirst {
				return false // the only common topic would be ""
			}
			return !(i == 0 && fDollar) // [MQTT-4.7.2-1]
		}
		if more && string(level) == "#" {
			if i == 1 && i == len(r) && emptyFirst {
				return false
			}
			return !(i == 0 && rDollar)
		}
		if i == len(r) || !more {
			return i == len(r) && !more
		}
		if r[i] == "+" || string(level) == "+" {
			if i == 0 && (rDollar || fDollar) {
				return false // [MQTT-4.7.2-1]
			}
		} else if string(level) != r[i] {
			return false
		}
		f, more = rest, m
	}
}
