package relay

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestAggregation: 1,000 local subscriptions (as 1,000 clients make them)
// on 10 filters under one import rule are 10 upstream subscriptions at
// Mochi; when all are gone, none.
func TestAggregation(t *testing.T) {
	m := startMochi(t, "127.0.0.1:0")
	c := upstreamCfg(m.addr)
	c.Import = []string{"commands/#"}
	var s sink
	u := newTestUpstream(t, c, s.hooks())
	var want []string
	for f := 0; f < 10; f++ {
		want = append(want, fmt.Sprintf("commands/dev%d/+", f))
	}
	for i := 0; i < 1000; i++ {
		u.Subscribed([]byte(want[i%10]))
	}
	waitFor(t, 5*time.Second, "10 upstream subscriptions", func() bool {
		got := m.subscriptions()
		slices.Sort(got)
		return slices.Equal(got, want)
	})
	st := u.Stats()
	if st.UpstreamSubs != 10 || st.LocalSubs != 1000 {
		t.Fatalf("upstream %d, local %d; want 10 and 1000", st.UpstreamSubs, st.LocalSubs)
	}
	for i := 0; i < 999; i++ {
		u.Unsubscribed([]byte(want[i%10]))
	}
	time.Sleep(100 * time.Millisecond)
	if got := m.subscriptions(); !slices.Equal(got, []string{want[9]}) {
		t.Fatalf("after 999 of 1000 unsubscribed: upstream has %v, want only %s", got, want[9])
	}
	u.Unsubscribed([]byte(want[9]))
	waitFor(t, 5*time.Second, "no upstream subscription", func() bool { return len(m.subscriptions()) == 0 })
	if st := u.Stats(); st.UpstreamSubs != 0 || st.LocalSubs != 0 {
		t.Fatalf("upstream %d, local %d; want 0 and 0", st.UpstreamSubs, st.LocalSubs)
	}
}

// TestAggregationCover: the collapse rule on the upstream set (no Mochi:
// the set as the aggregation computes it).
func TestAggregationCover(t *testing.T) {
	for _, tc := range []struct {
		name  string
		local []string
		want  []string
	}{
		{"disjoint", []string{"commands/a", "commands/b"}, []string{"commands/a", "commands/b"}},
		{"covered-by-another", []string{"commands/a", "commands/+", "commands/b"}, []string{"commands/+"}},
		{"partial-overlap-collapses", []string{"commands/+/x", "commands/a/+"}, []string{"commands/#"}},
		{"wider-than-the-rule", []string{"#"}, []string{"commands/#"}},
		{"outside-the-rule", []string{"telemetry/#", "$share/g/commands/a"}, []string{"commands/a"}},
		{"past-CollapseAt", seq("commands/d", CollapseAt+1), []string{"commands/#"}},
		{"at-CollapseAt", seq("commands/d", CollapseAt), seq("commands/d", CollapseAt)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := upstreamCfg("127.0.0.1:1")
			c.Import = []string{"commands/#"}
			u, err := New(c, 0, Hooks{}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range tc.local {
				u.Subscribed([]byte(f))
			}
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if got := u.Stats().UpstreamFilters; !slices.Equal(got, want) {
				t.Fatalf("upstream set %v, want %v", got, want)
			}
			for _, f := range tc.local {
				u.Unsubscribed([]byte(f))
			}
			if got := u.Stats(); len(got.UpstreamFilters) != 0 || got.LocalSubs != 0 || got.UpstreamSubs != 0 {
				t.Fatalf("after every unsubscribe: %v, local %d, gauge %d", got.UpstreamFilters, got.LocalSubs, got.UpstreamSubs)
			}
		})
	}
}

// TestAggregationExpand: a collapsed rule expands again below CollapseAt/2.
func TestAggregationExpand(t *testing.T) {
	c := upstreamCfg("127.0.0.1:1")
	c.Import = []string{"commands/#"}
	u, err := New(c, 0, Hooks{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fs := seq("commands/d", CollapseAt+1)
	for _, f := range fs {
		u.Subscribed([]byte(f))
	}
	for _, f := range fs[CollapseAt/2:] {
		u.Unsubscribed([]byte(f))
	}
	want := slices.Clone(fs[:CollapseAt/2])
	slices.Sort(want)
	if got := u.Stats().UpstreamFilters; !slices.Equal(got, want) {
		t.Fatalf("upstream set %v, want the %d left", got, CollapseAt/2)
	}
}

// TestResubscribe: after the upstream restarts, the current set is
// subscribed again (on a new session), paced in batches of subBatch.
func TestResubscribe(t *testing.T) {
	m := startMochi(t, "127.0.0.1:0")
	addr := m.addr
	c := upstreamCfg(addr)
	c.Import = []string{"commands/#", "config/#"}
	c.Pool = 1
	var s sink
	u := newTestUpstream(t, c, s.hooks())
	var want []string
	for i := 0; i < 40; i++ {
		f := fmt.Sprintf("commands/d%d", i)
		u.Subscribed([]byte(f))
		want = append(want, f)
	}
	u.Subscribed([]byte("config/x"))
	want = append(want, "config/x")
	slices.Sort(want)
	have := func(m *mochi) func() bool {
		return func() bool {
			got := m.subscriptions()
			slices.Sort(got)
			return slices.Equal(got, want)
		}
	}
	waitFor(t, 5*time.Second, "41 upstream subscriptions", have(m))
	m.close()
	m2 := startMochi(t, addr)
	waitFor(t, 10*time.Second, "41 upstream subscriptions after the restart", have(m2))
	if err := m2.s.Publish("config/x", []byte("after"), false, 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "an import after the restart", func() bool { return slices.Contains(s.importTopics(), "config/x=after") })
}
