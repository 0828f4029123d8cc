package session

import (
	"bytes"
	"testing"

	"edgegw/mqttcodec"
)

var aliasLim = func() Limits { l := testLim; l.OutTopicAliases = 8; l.MaxInflight = 10; return l }()

// aliasConn returns a v5 session whose client announced Topic Alias Maximum max.
func aliasConn(t *testing.T, max uint16, lim *Limits) (*State, Params) {
	t.Helper()
	pr := Params{Version: mqttcodec.V5, ClientID: "c", RecvMax: 10, TopicAliasMax: max, Expiry: 60}
	s := New(&pr, lim)
	s.Attach(&pr, 0, newOut())
	return s, pr
}

func topicMsg(qos byte, topic string) *Message {
	p := mqttcodec.Publish{QoS: qos, Topic: []byte(topic), Payload: []byte("p")}
	return NewMessage(&p, p.Topic, 0)
}

// wirePub is a decoded PUBLISH as the client saw it.
type wirePub struct {
	topic string // on the wire (empty when aliased)
	alias uint16
	id    uint16
}

// decodePubs decodes every PUBLISH in o and resolves aliases the way a
// client must (section 3.3.2.3.4), failing on an alias never announced or
// above max.
func decodePubs(t *testing.T, o *Out, max uint16, known map[uint16]string) (pubs []wirePub, resolved []string) {
	t.Helper()
	for _, f := range packets(t, o) {
		if mqttcodec.PacketType(f[0]>>4) != mqttcodec.PUBLISH {
			continue
		}
		var p mqttcodec.Publish
		if err := mqttcodec.DecodePublish(f, mqttcodec.V5, &p); err != nil {
			t.Fatalf("decode: %v", err)
		}
		w := wirePub{topic: string(p.Topic), id: p.PacketID}
		topic := w.topic
		if p.Props.Has(mqttcodec.PropTopicAlias) {
			w.alias = p.Props.TopicAlias
			if w.alias == 0 || w.alias > max {
				t.Fatalf("alias %d, client maximum %d [MQTT-3.3.2-11]", w.alias, max)
			}
			if topic != "" {
				known[w.alias] = topic
			} else if topic = known[w.alias]; topic == "" {
				t.Fatalf("alias %d used before it was announced on this connection", w.alias)
			}
		}
		pubs = append(pubs, w)
		resolved = append(resolved, topic)
	}
	return pubs, resolved
}

// TestOutAliasPolicy: the first N distinct topics take aliases 1..N for the
// connection; a first use carries topic + alias, later ones only the alias;
// topics past N and topics too short to gain are sent in full.
func TestOutAliasPolicy(t *testing.T) {
	s, _ := aliasConn(t, 2, &aliasLim)
	o := newOut()
	var st SendStats
	topics := []string{"sensors/a/temp", "sensors/b/temp", "sensors/c/temp", "abc", "sensors/a/temp", "sensors/b/temp", "sensors/c/temp"}
	for _, tp := range topics {
		s.Deliver(Delivery{Msg: topicMsg(0, tp)}, 0, o, &st)
	}
	pubs, resolved := decodePubs(t, o, 2, map[uint16]string{})
	want := []wirePub{
		{"sensors/a/temp", 1, 0}, {"sensors/b/temp", 2, 0}, {"sensors/c/temp", 0, 0}, {"abc", 0, 0},
		{"", 1, 0}, {"", 2, 0}, {"sensors/c/temp", 0, 0},
	}
	if len(pubs) != len(want) {
		t.Fatalf("%d packets, want %d", len(pubs), len(want))
	}
	for i := range want {
		if pubs[i] != want[i] || resolved[i] != topics[i] {
			t.Errorf("packet %d: %+v resolves to %q, want %+v (%q)", i, pubs[i], resolved[i], want[i], topics[i])
		}
	}
	if s.OutAliases() != 2 {
		t.Fatalf("OutAliases %d, want 2", s.OutAliases())
	}
}

// TestOutAliasMaximum: never an alias above the client's Topic Alias
// Maximum [MQTT-3.3.2-11] nor above the server's cap; clients that announce
// none, and v3 clients, get no alias and no state.
func TestOutAliasMaximum(t *testing.T) {
	for _, tc := range []struct {
		name      string
		clientMax uint16
		serverCap uint16
		ver       mqttcodec.Version
		want      int // aliases used
	}{
		{"MQTT-3.3.2-11/client-max", 3, 8, mqttcodec.V5, 3},
		{"server-cap", 100, 2, mqttcodec.V5, 2},
		{"client-none", 0, 8, mqttcodec.V5, 0},
		{"server-off", 5, 0, mqttcodec.V5, 0},
		{"v311", 5, 8, mqttcodec.V311, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lim := aliasLim
			lim.OutTopicAliases = tc.serverCap
			pr := Params{Version: tc.ver, ClientID: "c", RecvMax: 10, TopicAliasMax: tc.clientMax}
			s := New(&pr, &lim)
			s.Attach(&pr, 0, newOut())
			o := newOut()
			var st SendStats
			for i := 0; i < 20; i++ {
				s.Deliver(Delivery{Msg: topicMsg(0, "devices/long/topic/"+string(rune('a'+i%10)))}, 0, o, &st)
			}
			if s.OutAliases() != tc.want {
				t.Fatalf("%d aliases, want %d", s.OutAliases(), tc.want)
			}
			if tc.want == 0 && s.fl != nil {
				t.Fatal("a client without aliases got session flows for QoS 0")
			}
			if tc.ver == mqttcodec.V5 {
				lim := max(tc.clientMax, 1)
				_, resolved := decodePubs(t, o, lim, map[uint16]string{})
				for i, r := range resolved {
					if want := "devices/long/topic/" + string(rune('a'+i%10)); r != want {
						t.Fatalf("packet %d resolves to %q, want %q", i, r, want)
					}
				}
			}
		})
	}
}

// TestOutAliasResume: aliases do not survive the connection
// [MQTT-3.3.2-7]: QoS 1 messages resent after resume carry their topic again
// (first use on the new connection), or no alias at all when the new
// connection announces none.
func TestOutAliasResume(t *testing.T) {
	for _, newMax := range []uint16{4, 0} {
		s, pr := aliasConn(t, 4, &aliasLim)
		var st SendStats
		o := newOut()
		for i := 0; i < 3; i++ {
			s.Deliver(Delivery{Msg: topicMsg(1, "plant/line-1/press"), QoS: 1}, 0, o, &st)
		}
		pubs, _ := decodePubs(t, o, 4, map[uint16]string{})
		if pubs[1].topic != "" || pubs[1].alias != 1 {
			t.Fatalf("second delivery %+v, want alias only", pubs[1])
		}
		s.Detach(0, &st)
		pr.TopicAliasMax = newMax
		o = newOut()
		s.Attach(&pr, 0, o)
		pubs, resolved := decodePubs(t, o, max(newMax, 1), map[uint16]string{})
		if len(pubs) != 3 {
			t.Fatalf("max %d: %d resent, want 3", newMax, len(pubs))
		}
		for i, p := range pubs {
			if resolved[i] != "plant/line-1/press" {
				t.Fatalf("max %d: resend %d resolves to %q", newMax, i, resolved[i])
			}
			if newMax == 0 && p.alias != 0 {
				t.Fatalf("resend %d carries alias %d to a client that announced none", i, p.alias)
			}
		}
		if newMax != 0 && (pubs[0].topic == "" || pubs[1].topic != "") {
			t.Fatalf("resends %+v: first must carry the topic, later only the alias", pubs)
		}
	}
}

// TestOutAliasTooLarge: a PUBLISH dropped as too large for the client's
// Maximum Packet Size leaves no alias behind: the next message on that
// topic still announces it.
func TestOutAliasTooLarge(t *testing.T) {
	pr := Params{Version: mqttcodec.V5, ClientID: "c", RecvMax: 10, TopicAliasMax: 4, MaxPacket: 64}
	s := New(&pr, &aliasLim)
	s.Attach(&pr, 0, newOut())
	o := newOut()
	var st SendStats
	big := mqttcodec.Publish{Topic: []byte("too/large/topic"), Payload: bytes.Repeat([]byte("x"), 100)}
	s.Deliver(Delivery{Msg: NewMessage(&big, big.Topic, 0)}, 0, o, &st)
	if st.TooLarge != 1 || s.OutAliases() != 0 {
		t.Fatalf("stats %+v, %d aliases", st, s.OutAliases())
	}
	s.Deliver(Delivery{Msg: topicMsg(0, "too/large/topic")}, 0, o, &st)
	pubs, _ := decodePubs(t, o, 4, map[uint16]string{})
	if len(pubs) != 1 || pubs[0].topic != "too/large/topic" || pubs[0].alias != 1 {
		t.Fatalf("got %+v, want topic + alias 1", pubs)
	}
}

// TestOutAliasAllocs: after the alias is assigned, an aliased delivery
// does not allocate.
func TestOutAliasAllocs(t *testing.T) {
	s, _ := aliasConn(t, 4, &aliasLim)
	o := newOut()
	var st SendStats
	m := topicMsg(0, "sensors/room-12/humidity")
	s.Deliver(Delivery{Msg: m}, 0, o, &st)
	other := topicMsg(0, "sensors/unaliased/one")
	for i := 0; i < 5; i++ { // fill the aliases: the rest go unaliased
		s.Deliver(Delivery{Msg: topicMsg(0, "fill/topic/"+string(rune('a'+i)))}, 0, o, &st)
	}
	if a := testing.AllocsPerRun(100, func() {
		o.Reset()
		*o.Arena = (*o.Arena)[:0]
		s.Deliver(Delivery{Msg: m}, 0, o, &st)
		s.Deliver(Delivery{Msg: other}, 0, o, &st)
	}); a != 0 {
		t.Fatalf("aliased delivery allocates %v times", a)
	}
}
