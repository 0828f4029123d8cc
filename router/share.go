package router

import (
	"math/rand/v2"
	"sync/atomic"
)

// group is one $share/{name}/{filter} group, stored at the filter's trie
// node. members is copy-on-write; next is the round-robin cursor.
type group struct {
	name    string
	members []sub
	next    atomic.Uint64
}

func groupIndex(groups []*group, name []byte) int {
	for i, g := range groups {
		if g.name == string(name) {
			return i
		}
	}
	return -1
}

func findGroup(groups []*group, name []byte) *group {
	if i := groupIndex(groups, name); i >= 0 {
		return groups[i]
	}
	return nil
}

// pick appends the delivery for one member of g [MQTT-4.8.2]: each message
// goes to exactly one member of each matching group.
//
// round_robin starts at the group's cursor, random at a random member, and
// sticky takes the member with the highest rendezvous hash of
// (publisherHash, member): a publisher stays on one member, and when members
// come and go only the publishers of that member move. Members for which
// Config.Alive returns false are skipped; when none is alive the first choice
// is delivered anyway, so that a persistent session can queue it.
func (m *matcher) pick(g *group) {
	members := g.members
	n := len(members)
	if n == 0 {
		return
	}
	alive := m.r.alive
	var chosen *sub
	switch m.r.strategy {
	case sticky:
		var best, bestAlive uint64
		var first *sub
		for i := range members {
			w := mix64(m.pubHash ^ uint64(members[i].s)*0x9e3779b97f4a7c15)
			if first == nil || w > best {
				best, first = w, &members[i]
			}
			if (chosen == nil || w > bestAlive) && (alive == nil || alive(members[i].s)) {
				bestAlive, chosen = w, &members[i]
			}
		}
		if chosen == nil {
			chosen = first
		}
	default:
		var start uint64
		if m.r.strategy == random {
			start = rand.Uint64()
		} else {
			start = g.next.Add(1) - 1
		}
		i := int(start % uint64(n))
		chosen = &members[i]
		if alive != nil {
			for k := 0; k < n; k++ {
				j := (i + k) % n
				if alive(members[j].s) {
					chosen = &members[j]
					break
				}
			}
		}
	}
	d := chosen.delivery()
	d.Shared = true
	m.dst = append(m.dst, d)
}

// mix64 is the splitmix64 finaliser.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
