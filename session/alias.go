package session

// outAliases is one connection's outbound topic aliases (v5 Topic Alias,
// section 3.3.2.3.4), kept only for a client that announced a Topic Alias
// Maximum in CONNECT and only while that connection lives: it is created by
// the first aliased PUBLISH, dropped by Attach and Detach [MQTT-3.3.2-7], so
// a resend after resume can only use an alias the new connection has seen.
// Loop-only, like its State.
//
// Policy: first come, kept for the connection. The first max distinct topics
// written to the connection (max = the client's Topic Alias Maximum capped by
// Limits.OutTopicAliases) take aliases 1, 2, ... in that order; an alias is
// never reassigned, so the first PUBLISH with a topic carries topic + alias
// and every later one an empty topic + alias (section 3.3.2.3.4), and no
// alias exceeds the client's Topic Alias Maximum [MQTT-3.3.2-11]. Topics beyond
// the first max are sent in full. Nothing is tracked per message (no LRU
// list to update), an alias never has to be re-announced, and a lookup does
// not allocate; the map's keys are copies, so a connection holds at most
// max topics whatever its traffic.
type outAliases struct {
	m   map[string]uint16 // topic -> alias
	max uint16            // highest alias this connection may use (>= 1)
}

// minAliasTopic is the shortest topic worth an alias: the Topic Alias
// property costs 3 bytes, so a topic of up to 3 bytes saves nothing.
const minAliasTopic = 4

// topicAlias returns the alias to send topic with, and whether the topic
// must still be sent with it (the alias's first use on this connection).
// alias 0 means "send the full topic, no alias". It allocates only when it
// assigns a new alias (at most max times per connection).
func (s *State) topicAlias(topic []byte) (alias uint16, first bool) {
	mx := min(s.aliasMax, s.lim.OutTopicAliases)
	if mx == 0 || len(topic) < minAliasTopic {
		return 0, false
	}
	f := s.f()
	a := f.outAlias
	if a == nil {
		a = &outAliases{m: make(map[string]uint16, min(int(mx), 16)), max: mx}
		f.outAlias = a
	}
	if v, ok := a.m[string(topic)]; ok {
		return v, false
	}
	if len(a.m) >= int(a.max) {
		return 0, false
	}
	return uint16(len(a.m) + 1), true
}

// keepAlias records that alias was sent with topic (topicAlias said first).
// Called only once the PUBLISH is committed to the Out, so a packet rolled
// back (too large) never leaves an alias the client did not see.
func (s *State) keepAlias(topic []byte, alias uint16) {
	s.fl.outAlias.m[string(topic)] = alias
}

// OutAliases returns the number of outbound topic aliases the current
// connection has been sent.
func (s *State) OutAliases() int {
	if s.fl == nil || s.fl.outAlias == nil {
		return 0
	}
	return len(s.fl.outAlias.m)
}
