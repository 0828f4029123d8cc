package router

import (
	"hash/maphash"
	"slices"
)

// Router is the subscription index and retained store. Safe for concurrent use.
type Router struct {
	seed     maphash.Seed
	mask     uint64
	exact    []exactShard
	trie     []trieShard
	wild     trieShard // filters whose first level is '+' or '#'
	strategy strategy
	alive    func(Subscriber) bool
	ret      retainedStore
}

// New returns an empty Router. cfg should pass Validate; an unknown
// SharedStrategy is treated as round_robin.
func New(cfg Config) *Router {
	n := cfg.shards()
	r := &Router{
		seed:     maphash.MakeSeed(),
		mask:     uint64(n - 1),
		exact:    make([]exactShard, n),
		trie:     make([]trieShard, n),
		strategy: cfg.strategy(),
		alive:    cfg.Alive,
	}
	for i := range r.exact {
		r.exact[i].m = make(map[string]*entry)
	}
	r.ret.init(n, cfg.RetainedMaxMessages, cfg.RetainedMaxBytes)
	return r
}

func (r *Router) exactShard(f []byte) *exactShard {
	return &r.exact[maphash.Bytes(r.seed, f)&r.mask]
}

// trieShard returns the shard of a filter or topic by its first level.
func (r *Router) trieShard(f []byte) *trieShard {
	first := firstLevel(f)
	if len(first) == 1 && (first[0] == '+' || first[0] == '#') {
		return &r.wild
	}
	return &r.trie[maphash.Bytes(r.seed, first)&r.mask]
}

// Subscribe adds subscriber s to filter, or replaces the options of its
// existing subscription to the same filter string (existed is then true;
// v5 retain handling 1 sends retained messages only when it is false).
// "$share/{group}/{filter}" joins a shared group. A refused filter returns
// an error matching ErrInvalidFilter (or ErrShareNoLocal, ErrInvalidOptions)
// and changes nothing. filter is not retained after the call.
func (r *Router) Subscribe(s Subscriber, filter []byte, o SubOptions) (existed bool, err error) {
	p, err := parseFilter(filter)
	if err != nil {
		return false, err
	}
	if !o.valid() {
		return false, ErrInvalidOptions
	}
	if p.group != nil && o.NoLocal {
		return false, ErrShareNoLocal // [MQTT-3.8.3-4]
	}
	e := newSub(s, o)
	if p.group == nil && !p.wild {
		return r.exactShard(p.filter).subscribe(p.filter, e), nil
	}
	return r.trieShard(p.filter).subscribe(p.filter, p.group, e), nil
}

// Unsubscribe removes subscriber s from filter. existed is false when there
// was no such subscription (v5 UNSUBACK 0x11); an invalid filter returns
// the same error Subscribe would.
func (r *Router) Unsubscribe(s Subscriber, filter []byte) (existed bool, err error) {
	p, err := parseFilter(filter)
	if err != nil {
		return false, err
	}
	if p.group == nil && !p.wild {
		return r.exactShard(p.filter).unsubscribe(p.filter, s), nil
	}
	return r.trieShard(p.filter).unsubscribe(p.filter, p.group, s), nil
}

// UnsubscribeAll removes subscriber s from every filter in filters: the
// session's cleanup when it ends. The router keeps no per-subscriber index
// (it would cost memory on every subscription); the session knows its
// filters. Invalid filters are ignored. It returns how many subscriptions
// were removed.
func (r *Router) UnsubscribeAll(s Subscriber, filters [][]byte) int {
	n := 0
	for _, f := range filters {
		if ok, _ := r.Unsubscribe(s, f); ok {
			n++
		}
	}
	return n
}

// Match appends to dst the deliveries for a PUBLISH on topic and returns
// the extended slice. publisher is the publishing client's handle (its
// no-local subscriptions are skipped [MQTT-3.8.3-3]; pass a value no
// subscriber uses when the message has no local publisher, e.g. from the
// relay); publisherHash is a hash of the publisher's client identifier
// used by the sticky shared strategy.
//
// Non-shared subscriptions of one subscriber are merged into one Delivery;
// each matching $share group adds one Delivery. Topics starting with '$'
// are not matched by filters starting with a wildcard [MQTT-4.7.2-1].
// Match does not allocate on the exact-topic path when dst has capacity;
// merging overlapping subscriptions that carry identifiers allocates the
// merged SubIDs. topic must be a valid topic name; it is not retained.
func (r *Router) Match(topic []byte, publisher Subscriber, publisherHash uint64, dst []Delivery) []Delivery {
	m := matcher{r: r, dst: dst, pub: publisher, pubHash: publisherHash}
	start := len(dst)
	h := maphash.Bytes(r.seed, topic)
	es := &r.exact[h&r.mask]
	es.matches.Add(1)
	if list := es.lookup(topic); len(list) > 0 {
		m.add(list)
	}
	if len(topic) > 0 {
		if ts := r.trieShard(topic); ts.subs.Load() > 0 {
			mu := ts.mu.rlock(h >> 32)
			m.walk(&ts.root, topic, true)
			mu.RUnlock()
		}
		if topic[0] != '$' && r.wild.subs.Load() > 0 { // [MQTT-4.7.2-1]
			mu := r.wild.mu.rlock(h >> 32)
			m.walk(&r.wild.root, topic, true)
			mu.RUnlock()
		}
	}
	if m.lists > 1 {
		m.dst = merge(m.dst, start)
	}
	return m.dst
}

// matcher is the state of one Match call; it lives on the caller's stack.
type matcher struct {
	r       *Router
	dst     []Delivery
	pub     Subscriber
	pubHash uint64
	lists   int // non-shared lists that contributed deliveries
}

// add appends the deliveries of an immutable subscription list.
func (m *matcher) add(list []sub) {
	n := len(m.dst)
	for i := range list {
		e := &list[i]
		if e.flags&flagNoLocal != 0 && e.s == m.pub {
			continue // [MQTT-3.8.3-3]
		}
		m.dst = append(m.dst, e.delivery())
	}
	if len(m.dst) > n {
		m.lists++
	}
}

// mergeSortAbove is the result size above which merge sorts instead of
// comparing pairs (BenchmarkMatchMixed: sorting a handful costs more than
// the quadratic scan).
const mergeSortAbove = 32

// merge folds non-shared deliveries of the same subscriber in dst[start:]
// into one: highest QoS, all subscription identifiers, RetainAsPublished if
// any [MQTT-3.3.4-2], [MQTT-3.3.4-3]. Shared deliveries are kept apart.
func merge(dst []Delivery, start int) []Delivery {
	ds := dst[start:]
	w := 0
	if len(ds) <= mergeSortAbove {
	next:
		for i := range ds {
			d := ds[i]
			if !d.Shared {
				for j := 0; j < w; j++ {
					if !ds[j].Shared && ds[j].Sub == d.Sub {
						fold(&ds[j], &d)
						continue next
					}
				}
			}
			ds[w] = d
			w++
		}
	} else {
		slices.SortFunc(ds, func(a, b Delivery) int {
			switch {
			case a.Shared != b.Shared:
				if a.Shared {
					return 1
				}
				return -1
			case a.Sub < b.Sub:
				return -1
			case a.Sub > b.Sub:
				return 1
			}
			return 0
		})
		for i := range ds {
			d := ds[i]
			if w > 0 && !d.Shared && !ds[w-1].Shared && ds[w-1].Sub == d.Sub {
				fold(&ds[w-1], &d)
				continue
			}
			ds[w] = d
			w++
		}
	}
	clear(ds[w:])
	return dst[:start+w]
}

// fold merges d into p, both deliveries to the same subscriber.
func fold(p, d *Delivery) {
	if d.QoS > p.QoS {
		p.QoS = d.QoS
	}
	p.RetainAsPublished = p.RetainAsPublished || d.RetainAsPublished
	p.NoLocal = p.NoLocal && d.NoLocal
	if len(d.SubIDs) > 0 {
		if len(p.SubIDs) == 0 {
			p.SubIDs = d.SubIDs
		} else {
			ids := make([]uint32, 0, len(p.SubIDs)+len(d.SubIDs))
			p.SubIDs = append(append(ids, p.SubIDs...), d.SubIDs...)
		}
	}
}

// Stats is a snapshot of the router's counters. Counts are gauges; Matches
// and RetainedRefused only grow.
type Stats struct {
	Subscriptions    int64  // non-shared subscriptions plus shared group memberships
	Filters          int64  // distinct non-shared filters with at least one subscriber
	SharedGroups     int64  // distinct ($share group, filter) pairs
	RetainedMessages int64  // messages in the retained store (expired ones until purged)
	RetainedBytes    int64  // their topic+payload+props bytes
	Matches          uint64 // Match calls
	RetainedRefused  uint64 // Retain calls refused because the store is full or disabled
}

// Stats returns the current counters. Safe for concurrent use; each field
// is read atomically, the set is not a consistent snapshot.
func (r *Router) Stats() Stats {
	var st Stats
	for i := range r.exact {
		sh := &r.exact[i]
		st.Subscriptions += sh.subs.Load()
		st.Filters += sh.filters.Load()
		st.Matches += sh.matches.Load()
	}
	add := func(ts *trieShard) {
		st.Subscriptions += ts.subs.Load()
		st.Filters += ts.filters.Load()
		st.SharedGroups += ts.groups.Load()
	}
	for i := range r.trie {
		add(&r.trie[i])
	}
	add(&r.wild)
	st.RetainedMessages = r.ret.count.Load()
	st.RetainedBytes = r.ret.bytes.Load()
	st.RetainedRefused = r.ret.refused.Load()
	return st
}
