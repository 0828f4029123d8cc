package relay

import (
	"slices"
	"testing"
	"time"
)

// TestForward: local messages matching a forward rule reach Mochi under
// remote_prefix, in order per topic, at min(QoS, max_qos); every token
// comes back through Done once Mochi acknowledged (QoS 2: PUBCOMP); nothing
// outside the rules is forwarded (Matches).
func TestForward(t *testing.T) {
	for _, tc := range []struct {
		name     string
		protocol int
		maxQoS   int
	}{
		{"v5", 5, 2},
		{"v311", 4, 2},
		{"v5-max-qos-1", 5, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := startMochi(t, "127.0.0.1:0")
			c := upstreamCfg(m.addr)
			c.Protocol, c.MaxQoS, c.Pool = tc.protocol, &tc.maxQoS, 3
			c.Forward, c.RemotePrefix = []string{"telemetry/#"}, "edge1/"
			var s sink
			u := newTestUpstream(t, c, s.hooks())
			if u.Matches([]byte("other/x")) || !u.Matches([]byte("telemetry/a")) {
				t.Fatal("Matches disagrees with the forward rule telemetry/#")
			}
			const n = 60
			toks := 0
			for i := 0; i < n; i++ {
				qos := byte(i % 3)
				var tok any
				if qos > 0 {
					tok, toks = i, toks+1
				}
				topic := []string{"telemetry/a", "telemetry/b", "telemetry/c/d"}[i%3]
				if v := u.Forward(msg(topic, qos, seq("m", n)[i]), tok); v != Queued {
					t.Fatalf("Forward %d: %v", i, v)
				}
			}
			waitFor(t, 5*time.Second, "every message at Mochi", func() bool { return len(m.rec.all()) == n })
			waitFor(t, 5*time.Second, "every token back", func() bool { return s.doneCount() == toks })
			got := m.rec.all()
			for i, topic := range []string{"edge1/telemetry/a", "edge1/telemetry/b", "edge1/telemetry/c/d"} {
				var want []string
				for j := i; j < n; j += 3 {
					want = append(want, seq("m", n)[j])
				}
				if p := payloads(got, topic); !slices.Equal(p, want) {
					t.Errorf("%s: got %v, want %v (order per topic)", topic, p, want)
				}
			}
			for _, r := range got {
				if int(r.qos) > tc.maxQoS {
					t.Errorf("%s arrived at QoS %d over max_qos %d", r.topic, r.qos, tc.maxQoS)
				}
			}
			st := u.Stats()
			if st.Held != 0 || st.HeldBytes != 0 || st.Forwarded != n {
				t.Errorf("held %d messages / %d bytes, forwarded %d; want 0, 0, %d", st.Held, st.HeldBytes, st.Forwarded, n)
			}
		})
	}
}

// TestImport: a local subscription covered by an import rule subscribes
// upstream (remote_prefix applied); upstream messages come back through
// Import with their local topic, QoS 0, 1 and 2 (each exactly once:
// acknowledged, not redelivered); messages outside the prefix or the rules
// are dropped as unmapped.
func TestImport(t *testing.T) {
	for _, protocol := range []int{4, 5} {
		t.Run([]string{4: "v311", 5: "v5"}[protocol], func(t *testing.T) {
			m := startMochi(t, "127.0.0.1:0")
			c := upstreamCfg(m.addr)
			c.Protocol, c.Import, c.RemotePrefix = protocol, []string{"commands/#"}, "site/"
			var s sink
			u := newTestUpstream(t, c, s.hooks())
			u.Subscribed([]byte("commands/+"))
			waitFor(t, 5*time.Second, "the upstream subscription", func() bool {
				return slices.Equal(m.subscriptions(), []string{"site/commands/+"})
			})
			for i, p := range []string{"q0", "q1", "q2"} {
				if err := m.s.Publish("site/commands/dev", []byte(p), false, byte(i)); err != nil {
					t.Fatal(err)
				}
			}
			_ = m.s.Publish("commands/dev", []byte("no-prefix"), false, 1)
			waitFor(t, 5*time.Second, "three imports", func() bool { return len(s.importTopics()) >= 3 })
			time.Sleep(200 * time.Millisecond) // a redelivery would show now
			if got, want := s.importTopics(), []string{"commands/dev=q0", "commands/dev=q1", "commands/dev=q2"}; !slices.Equal(got, want) {
				t.Fatalf("imports %v, want %v", got, want)
			}
			for cl := range m.s.Clients.GetAll() {
				if c, ok := m.s.Clients.Get(cl); ok && !c.Net.Inline && c.State.Inflight.Len() != 0 {
					t.Errorf("Mochi still has %d messages in flight to %s: not acknowledged", c.State.Inflight.Len(), cl)
				}
			}
			u.Unsubscribed([]byte("commands/+"))
			waitFor(t, 5*time.Second, "the upstream unsubscription", func() bool { return len(m.subscriptions()) == 0 })
		})
	}
}
