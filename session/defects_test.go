package session

import (
	"testing"

	"edgegw/mqttcodec"
)

// decodeAll decodes every PUBLISH o holds (v5) and returns them; other
// packet types are returned as their type in types.
func decodeAll(t *testing.T, o *Out) (pubs []mqttcodec.Publish, types []mqttcodec.PacketType) {
	t.Helper()
	for _, f := range packets(t, o) {
		types = append(types, mqttcodec.TypeOf(f))
		if mqttcodec.TypeOf(f) != mqttcodec.PUBLISH {
			continue
		}
		var p mqttcodec.Publish
		if err := mqttcodec.DecodePublish(f, 5, &p); err != nil {
			t.Fatalf("decode: %v", err)
		}
		p.Props.User = append([]byte(nil), p.Props.User...)
		pubs = append(pubs, p)
	}
	return pubs, types
}

// [MQTT-3.3.4-9]: a session resumed by a connection with a smaller Receive
// Maximum gets no more unacknowledged PUBLISH than that; the rest follows as
// acknowledgements arrive, with DUP and their original packet identifiers.
func TestResumeHonoursReceiveMaximum(t *testing.T) {
	lim := testLim
	lim.MaxInflight = 5
	pr := Params{Version: 5, ClientID: "c", RecvMax: 5, Expiry: 60}
	s := New(&pr, &lim)
	s.Attach(&pr, 0, newOut())
	var st SendStats
	for i := 0; i < 5; i++ {
		s.Deliver(Delivery{Msg: msg(1, "m"), QoS: 1}, 0, newOut(), &st)
	}
	if s.Inflight() != 5 {
		t.Fatalf("inflight %d, want 5", s.Inflight())
	}
	s.Detach(0, &SendStats{})
	pr.RecvMax = 1
	o := newOut()
	s.Attach(&pr, 0, o)
	pubs, _ := decodeAll(t, o)
	if len(pubs) != 1 || pubs[0].PacketID != 1 || !pubs[0].Dup {
		t.Fatalf("resume with Receive Maximum 1 sent %d PUBLISH (%+v), want 1 (id 1, DUP)", len(pubs), pubs)
	}
	var sc Scratch
	for id := uint16(1); id <= 5; id++ {
		o := newOut()
		ack := mqttcodec.AppendAck(nil, 5, &mqttcodec.Ack{Type: mqttcodec.PUBACK, PacketID: id})
		if _, err := s.Handle(ack, &sc, 0, o); err != nil {
			t.Fatal(err)
		}
		pubs, _ := decodeAll(t, o)
		if id == 5 {
			if len(pubs) != 0 {
				t.Fatalf("after the last ack: %d PUBLISH", len(pubs))
			}
			break
		}
		if len(pubs) != 1 || pubs[0].PacketID != id+1 || !pubs[0].Dup {
			t.Fatalf("ack %d released %+v, want id %d with DUP", id, pubs, id+1)
		}
	}
	if s.Inflight() != 0 {
		t.Fatalf("inflight %d after every ack", s.Inflight())
	}
}

// [MQTT-3.3.2-6]: a message whose expiry passed while it was inflight is
// resent on resume (its delivery had started) with an interval of 1, never
// a wrapped value; a queued one that expired is dropped [MQTT-3.3.2-5].
func TestResendPastExpiryNeverWraps(t *testing.T) {
	pr := Params{Version: 5, ClientID: "c", RecvMax: 1, Expiry: 60}
	s := New(&pr, &testLim)
	s.Attach(&pr, 0, newOut())
	p := mqttcodec.Publish{QoS: 1, Topic: []byte("t"), Payload: []byte("x")}
	p.Props.MessageExpiry = 2
	p.Props.Set(mqttcodec.PropMessageExpiry)
	m := NewMessage(&p, p.Topic, 0)
	var st SendStats
	s.Deliver(Delivery{Msg: m, QoS: 1}, 0, newOut(), &st) // inflight
	s.Deliver(Delivery{Msg: m, QoS: 1}, 0, newOut(), &st) // queued behind the window of 1
	s.Detach(0, &SendStats{})
	o := newOut()
	got := s.Attach(&pr, 10e9, o) // 8 s after expiry
	pubs, _ := decodeAll(t, o)
	if len(pubs) != 1 {
		t.Fatalf("resume sent %d PUBLISH, want the inflight one only", len(pubs))
	}
	if e := pubs[0].Props.MessageExpiry; !pubs[0].Props.Has(mqttcodec.PropMessageExpiry) || e != 1 {
		t.Fatalf("resent Message Expiry Interval %d, want 1", e)
	}
	var sc Scratch
	ack := mqttcodec.AppendAck(nil, 5, &mqttcodec.Ack{Type: mqttcodec.PUBACK, PacketID: pubs[0].PacketID})
	ev, _ := s.Handle(ack, &sc, 10e9, newOut())
	if got.Expired+ev.Sent.Expired != 1 || s.Inflight() != 0 {
		t.Fatalf("expired %d+%d inflight %d, want the queued copy dropped as expired", got.Expired, ev.Sent.Expired, s.Inflight())
	}
	for _, tc := range []struct {
		at, now int64
		want    uint32
	}{
		{10e9, 0, 10}, {10e9, 9_000_000_001, 1}, {10e9, 10e9, 1}, {10e9, 20e9, 1}, {1 << 62, 0, 0xFFFFFFFF},
	} {
		if got := RemainingExpiry(tc.at, tc.now); got != tc.want {
			t.Errorf("RemainingExpiry(%d, %d) = %d, want %d", tc.at, tc.now, got, tc.want)
		}
	}
}

// v5 section 3.1.3.2.4: a will's Message Expiry Interval counts from when
// the will is published, not from CONNECT.
func TestWillExpiryCountsFromPublication(t *testing.T) {
	c := mqttcodec.Connect{Version: 5, ClientID: []byte("w"), CleanStart: true, WillFlag: true, WillQoS: 1,
		WillTopic: []byte("dev/1/status"), WillPayload: []byte("offline")}
	c.WillProps.MessageExpiry = 2
	c.WillProps.Set(mqttcodec.PropMessageExpiry)
	pr, rc := ParseConnect(&c, &testLim, 0, nil)
	if rc != mqttcodec.Success {
		t.Fatal(rc)
	}
	m := pr.Will.Message(3e9) // the client stayed 3 s
	if m.Expired(3e9) || m.Expired(4_999_999_999) || !m.Expired(5e9) {
		t.Fatalf("will published at 3 s expires at %d, want 5 s", m.ExpiresAt)
	}
	if pr.Will.Msg.ExpiresAt != 0 {
		t.Fatal("the stored will was stamped: a second publication would inherit it")
	}
}

// Expired messages leave an offline queue before its bounds are applied, so
// they never push out live ones.
func TestOfflineQueueDropsExpiredFirst(t *testing.T) {
	pr := Params{Version: 5, ClientID: "c", RecvMax: 1, Expiry: 60}
	s := New(&pr, &testLim) // MaxOfflineMessages 3
	s.Attach(&pr, 0, newOut())
	s.Detach(0, &SendStats{})
	short := mqttcodec.Publish{QoS: 1, Topic: []byte("t"), Payload: []byte("old")}
	short.Props.MessageExpiry = 1
	short.Props.Set(mqttcodec.PropMessageExpiry)
	var st SendStats
	for i := 0; i < 3; i++ {
		s.Deliver(Delivery{Msg: NewMessage(&short, short.Topic, 0), QoS: 1}, 0, nil, &st)
	}
	var dst SendStats
	s.Attach(&pr, 0, newOut()) // reconnect and leave again 2 s later
	s.fl.inflight = nil        // (the first one went inflight: forget it for this check)
	s.Detach(2e9, &dst)
	if n, _ := s.Queued(); n != 0 || dst.Expired != 2 || dst.QueueFull != 0 {
		t.Fatalf("queued %d, expired %d, full %d: want the 2 expired ones gone", n, dst.Expired, dst.QueueFull)
	}
}

// Every State method that moves messages reports the change of the
// inflight window and the queue, so that the gateway's gauges return to 0.
func TestGaugeDeltasBalance(t *testing.T) {
	pr := Params{Version: 5, ClientID: "c", RecvMax: 2, Expiry: 60}
	s := New(&pr, &testLim)
	var sum SendStats
	sum.Add(s.Attach(&pr, 0, newOut()))
	for i := 0; i < 3; i++ { // 2 inflight, 1 queued
		s.Deliver(Delivery{Msg: msg(1, "m"), QoS: 1}, 0, newOut(), &sum)
	}
	s.Detach(0, &sum)
	s.Deliver(Delivery{Msg: msg(1, "m"), QoS: 1}, 0, nil, &sum) // offline
	sum.Add(s.Attach(&pr, 0, newOut()))
	var sc Scratch
	ev, _ := s.Handle(mqttcodec.AppendAck(nil, 5, &mqttcodec.Ack{Type: mqttcodec.PUBACK, PacketID: 1}), &sc, 0, newOut())
	sum.Add(ev.Sent)
	n, _ := s.Queued()
	if sum.DInflight != s.Inflight() || sum.DQueued != n {
		t.Fatalf("reported inflight %d queued %d, state has %d and %d", sum.DInflight, sum.DQueued, s.Inflight(), n)
	}
	s.Reset(&sum)
	if sum.DInflight != 0 || sum.DQueued != 0 {
		t.Fatalf("after Reset the reported totals are %d, %d", sum.DInflight, sum.DQueued)
	}
}

// Out.Limit: past the byte budget of a wake, deliveries wait in the queue
// (in order) and Pump sends them when the connection has room again.
func TestOutputBudgetQueuesAndPumps(t *testing.T) {
	pr := Params{Version: 5, ClientID: "c", RecvMax: 65535}
	lim := testLim
	lim.MaxInflight = 100
	s := New(&pr, &lim)
	s.Attach(&pr, 0, newOut())
	o := newOut()
	o.Limit = 1
	var st SendStats
	for i := 0; i < 4; i++ {
		s.Deliver(Delivery{Msg: msg(byte(i%2), "m"), QoS: 1}, 0, o, &st)
	}
	if st.Sent != 1 || st.Queued != 3 || !s.CanSend() {
		t.Fatalf("sent %d queued %d can send %v", st.Sent, st.Queued, s.CanSend())
	}
	o2 := newOut()
	s.Pump(0, o2, &st)
	if st.Sent != 4 || s.CanSend() {
		t.Fatalf("after Pump: sent %d, can send %v", st.Sent, s.CanSend())
	}
}

// An offline queue at its bound drops its expired messages before live
// ones (drop_oldest would otherwise push out a live message).
func TestOfflineQueueFullDropsExpiredNotLive(t *testing.T) {
	pr := Params{Version: 5, ClientID: "c", RecvMax: 1, Expiry: 60}
	s := New(&pr, &testLim) // MaxOfflineMessages 3, drop oldest
	s.Attach(&pr, 0, newOut())
	s.Detach(0, &SendStats{})
	short := mqttcodec.Publish{QoS: 1, Topic: []byte("t"), Payload: []byte("old")}
	short.Props.MessageExpiry = 1
	short.Props.Set(mqttcodec.PropMessageExpiry)
	var st SendStats
	s.Deliver(Delivery{Msg: NewMessage(&short, short.Topic, 0), QoS: 1}, 0, nil, &st) // expires at 1 s
	s.Deliver(Delivery{Msg: msg(1, "live1"), QoS: 1}, 0, nil, &st)
	s.Deliver(Delivery{Msg: msg(1, "live2"), QoS: 1}, 0, nil, &st)
	s.Deliver(Delivery{Msg: msg(1, "live3"), QoS: 1}, 2e9, nil, &st) // full: the expired one goes
	if st.Expired != 1 || st.QueueFull != 0 {
		t.Fatalf("expired %d, dropped for the bound %d: want the expired one dropped, no live one", st.Expired, st.QueueFull)
	}
	if n, _ := s.Queued(); n != 3 {
		t.Fatalf("queued %d, want the 3 live ones", n)
	}
}

// Limits.Budget: while the process-wide queue budget is over, a message
// that would be queued is dropped by the offline policy and counted, and
// the byte deltas let the gateway keep the sum.
func TestQueueBudget(t *testing.T) {
	for _, dropOldest := range []bool{true, false} {
		lim := testLim
		lim.DropOldest = dropOldest
		lim.Budget = &QueueBudget{}
		pr := Params{Version: 5, ClientID: "c", RecvMax: 1, Expiry: 60}
		s := New(&pr, &lim)
		s.Attach(&pr, 0, newOut())
		s.Detach(0, &SendStats{})
		var st SendStats
		s.Deliver(Delivery{Msg: msg(1, "a"), QoS: 1}, 0, nil, &st)
		s.Deliver(Delivery{Msg: msg(1, "b"), QoS: 1}, 0, nil, &st)
		lim.Budget.Set(true)
		s.Deliver(Delivery{Msg: msg(1, "c"), QoS: 1}, 0, nil, &st)
		n, b := s.Queued()
		if st.OverBudget != 1 || n != 2 || st.DQueued != 2 || st.DQueuedBytes != b {
			t.Fatalf("drop oldest %v: over budget %d, queued %d (reported %d), bytes %d (reported %d)",
				dropOldest, st.OverBudget, n, st.DQueued, b, st.DQueuedBytes)
		}
		if got := string(s.fl.queue.front().Msg.Payload); dropOldest && got != "b" || !dropOldest && got != "a" {
			t.Fatalf("drop oldest %v: front is %q", dropOldest, got)
		}
		lim.Budget.Set(false)
		s.Deliver(Delivery{Msg: msg(1, "d"), QoS: 1}, 0, nil, &st)
		if n, _ := s.Queued(); n != 3 || st.OverBudget != 1 {
			t.Fatalf("budget back under: queued %d, over budget %d", n, st.OverBudget)
		}
	}
}
