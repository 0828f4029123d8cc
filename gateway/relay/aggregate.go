package relay

import (
	"slices"
	"sync"

	"edgegw/mqttcodec"
)

// CollapseAt is the number of distinct upstream filters one import rule
// holds before it collapses onto the import filter itself (see the package
// doc); it expands again at CollapseAt/2.
const CollapseAt = 64

// aggregator maps local subscriptions to upstream subscriptions, by
// reference count per import rule. Safe for concurrent use (one mutex; the
// loops call change at SUBSCRIBE, UNSUBSCRIBE and session end, never per
// message). Lock order: aggregator, then link.
type aggregator struct {
	u     *Upstream
	mu    sync.Mutex
	rules []*importRule
}

// importRule is one import filter's aggregation state. Under aggregator.mu.
type importRule struct {
	filter    []byte
	link      *link          // every upstream subscription of the rule lives on this connection
	refs      map[string]int // counted local filter (its effective form) -> local subscriptions
	up        map[string]struct{}
	collapsed bool
}

func (a *aggregator) init(u *Upstream) {
	a.u = u
	for i, f := range u.imports {
		a.rules = append(a.rules, &importRule{filter: f, link: u.links[i%len(u.links)], refs: map[string]int{}, up: map[string]struct{}{}})
	}
}

// change adds d (+1 or -1) local subscriptions to filter.
func (a *aggregator) change(filter []byte, d int) {
	if len(a.rules) == 0 {
		return
	}
	if _, f, ok := mqttcodec.SplitShared(filter); ok {
		filter = f
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range a.rules {
		var eff []byte
		switch {
		case mqttcodec.FilterCovers(r.filter, filter):
			eff = filter
		case mqttcodec.FiltersOverlap(r.filter, filter):
			eff = r.filter // the local filter wants all of the rule's topics it overlaps
		default:
			continue
		}
		old := r.refs[string(eff)]
		n := old + d
		switch {
		case n < 0:
			continue // never counted (cannot happen: every unsubscribe follows its subscribe)
		case n == 0:
			delete(r.refs, string(eff))
		default:
			r.refs[string(eff)] = n
		}
		a.u.m.localSubs.Add(int64(n - old))
		if (old == 0) != (n == 0) {
			a.recompute(r)
		}
	}
}

// recompute derives r's upstream set from its counted filters and queues
// the difference: subscriptions first, then unsubscriptions (no gap in
// coverage while one replaces another).
func (a *aggregator) recompute(r *importRule) {
	keys := make([]string, 0, len(r.refs))
	for f := range r.refs {
		keys = append(keys, f)
	}
	slices.Sort(keys)
	limit := CollapseAt
	if r.collapsed {
		limit = CollapseAt / 2
	}
	collapse := len(keys) > limit
	want := map[string]struct{}{}
	for i := 0; i < len(keys) && !collapse; i++ {
		x := []byte(keys[i])
		covered := false
		for j := range keys {
			if i == j {
				continue
			}
			y := []byte(keys[j])
			switch {
			case mqttcodec.FilterCovers(y, x):
				covered = true
			case !mqttcodec.FilterCovers(x, y) && mqttcodec.FiltersOverlap(x, y):
				collapse = true // some topics match both: the upstream would send them twice
			}
		}
		if !covered {
			want[keys[i]] = struct{}{}
		}
	}
	if collapse && len(keys) > 0 {
		want = map[string]struct{}{string(r.filter): {}}
	}
	r.collapsed = collapse
	var ops []subOp
	for f := range want {
		if _, ok := r.up[f]; !ok {
			ops = append(ops, subOp{filter: a.remote(f)})
		}
	}
	for f := range r.up {
		if _, ok := want[f]; !ok {
			ops = append(ops, subOp{unsub: true, filter: a.remote(f)})
		}
	}
	a.u.m.upSubs.Add(int64(len(want) - len(r.up)))
	r.up = want
	r.link.pushOps(ops)
}

// remote returns the upstream form of local filter f.
func (a *aggregator) remote(f string) []byte {
	return append(append(make([]byte, 0, len(a.u.prefix)+len(f)), a.u.prefix...), f...)
}

// resubscribe replaces k's pending subscription changes by the current
// upstream set of the rules on k (after a reconnect: the session is new).
func (a *aggregator) resubscribe(k *link) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var ops []subOp
	for _, r := range a.rules {
		if r.link != k {
			continue
		}
		keys := make([]string, 0, len(r.up))
		for f := range r.up {
			keys = append(keys, f)
		}
		slices.Sort(keys)
		for _, f := range keys {
			ops = append(ops, subOp{filter: a.remote(f)})
		}
	}
	k.mu.Lock()
	k.ops = append(k.ops[:0], ops...)
	k.mu.Unlock()
	k.signal()
}

// filters returns the current upstream subscriptions (remote form), sorted.
func (a *aggregator) filters() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, r := range a.rules {
		for f := range r.up {
			out = append(out, string(a.remote(f)))
		}
	}
	slices.Sort(out)
	return out
}
