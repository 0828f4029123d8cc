package auth

import (
	"strings"
)

// ACLSet is a parsed rule file with its default. Immutable once built and
// safe for concurrent use; a reload builds a new one (see ACLStore).
type ACLSet struct {
	rules []aclPrepared
	allow bool // acl_default

	// pub and subs hold the "*" rules without placeholders, indexed by file
	// position: the part of every client's matcher that is the same for all.
	pub  aclIndex
	subs []aclSubRule

	// perClient reports "*" rules with placeholders; when there are none, a
	// client that no named rule selects gets shared, built once.
	perClient   bool
	shared      *ACLMatcher
	userNames   map[string]struct{}
	clientNames map[string]struct{}
}

// aclPrepared is a rule with its filter split once at load time.
type aclPrepared struct {
	ACLRule
	levels      []string // nil when placeholder (split per client)
	placeholder bool
}

// NewACLSet builds a set from parsed rules (file order) and acl_default.
// rules must come from ParseACL; the set keeps its own copy.
func NewACLSet(rules []ACLRule, defaultAllow bool) *ACLSet {
	s := &ACLSet{
		rules:       make([]aclPrepared, len(rules)),
		allow:       defaultAllow,
		userNames:   make(map[string]struct{}),
		clientNames: make(map[string]struct{}),
	}
	for i, r := range rules {
		p := prepareACL(r)
		s.rules[i] = p
		switch {
		case !r.Any && r.Subject == ACLUser:
			s.userNames[r.Name] = struct{}{}
		case !r.Any:
			s.clientNames[r.Name] = struct{}{}
		case p.placeholder:
			s.perClient = true
		default:
			if r.Action&ACLPublish != 0 {
				s.pub.add(p.levels, int32(i))
			}
			if r.Action&ACLSubscribe != 0 {
				s.subs = append(s.subs, aclSubRule{idx: int32(i), levels: p.levels, allow: r.Allow})
			}
		}
	}
	s.shared = &ACLMatcher{set: s, all: aclNone}
	return s
}

func prepareACL(r ACLRule) aclPrepared {
	p := aclPrepared{ACLRule: r}
	p.placeholder = strings.Contains(r.Filter, "%u") || strings.Contains(r.Filter, "%c")
	if !p.placeholder {
		p.levels = strings.Split(r.Filter, "/")
	}
	return p
}

// Default reports acl_default: true for "allow".
func (s *ACLSet) Default() bool { return s.allow }

// Len returns the number of rules in the file.
func (s *ACLSet) Len() int { return len(s.rules) }

// Compile builds the matcher of one client at CONNECT: the rules that apply
// to username (empty when anonymous) and clientID, extra (a verifier's rules
// for this client, from ParseACLLines) ahead of the file's, with %u and %c
// substituted. Its cost grows with the extra rules, the named rules that
// select the client and the "*" rules with placeholders; the other rules are
// shared (BenchmarkACLCompile). CPU only: safe on an event loop and for
// concurrent use. The matcher may be shared between clients. A nil set
// returns a nil matcher, which allows everything (no ACL configured).
func (s *ACLSet) Compile(username, clientID string, extra []ACLRule) *ACLMatcher {
	if s == nil {
		return nil
	}
	if len(extra) == 0 && !s.perClient {
		_, u := s.userNames[username]
		_, c := s.clientNames[clientID]
		if !u && !c {
			return s.shared
		}
	}
	m := &ACLMatcher{set: s, all: aclNone}
	for _, r := range extra {
		if r.applies(username, clientID) {
			p := prepareACL(r)
			m.addOwn(&p, int32(len(m.extra)), username, clientID)
			m.extra = append(m.extra, r.Allow)
		}
	}
	m.off = int32(len(m.extra))
	for i := range s.rules {
		r := &s.rules[i]
		if (!r.Any || r.placeholder) && r.applies(username, clientID) {
			m.addOwn(r, m.off+int32(i), username, clientID)
		}
	}
	return m
}

// applies reports whether r selects the client. "user NAME" never selects
// an anonymous client.
func (r *ACLRule) applies(username, clientID string) bool {
	if r.Any {
		return true
	}
	if r.Subject == ACLUser {
		return username != "" && r.Name == username
	}
	return r.Name == clientID
}

// addOwn adds rule r with index idx to the client's own index.
func (m *ACLMatcher) addOwn(r *aclPrepared, idx int32, username, clientID string) {
	levels := r.levels
	if r.placeholder {
		var ok bool
		if levels, ok = substituteACL(r.Filter, username, clientID, r.Allow); !ok {
			return // allow rule with an unsafe value: matches nothing
		}
	}
	if r.Action&ACLPublish != 0 {
		if levels == nil {
			m.all = min(m.all, idx)
		} else {
			m.own.add(levels, idx)
		}
	}
	if r.Action&ACLSubscribe != 0 {
		m.subs = append(m.subs, aclSubRule{idx: idx, levels: levels, allow: r.Allow})
	}
}

// substituteACL splits filter and replaces %u and %c in each level. A value
// is unsafe when it is empty or holds '+', '#', '/' or U+0000; for an allow
// rule it is also unsafe when it would make the first level start with '$'
// (a system topic the rule's author did not name). With an unsafe value an
// allow rule is dropped (ok false) and a deny rule denies every topic and
// filter (levels nil, ok true): it denies more, never less.
func substituteACL(filter, username, clientID string, allow bool) (levels []string, ok bool) {
	levels = strings.Split(filter, "/")
	for i, l := range levels {
		hasU, hasC := strings.Contains(l, "%u"), strings.Contains(l, "%c")
		if !hasU && !hasC {
			continue
		}
		safe := (!hasU || safeACLValue(username)) && (!hasC || safeACLValue(clientID))
		if safe {
			if hasU {
				l = strings.ReplaceAll(l, "%u", username)
			}
			if hasC {
				l = strings.ReplaceAll(l, "%c", clientID)
			}
			safe = !(allow && i == 0 && strings.HasPrefix(l, "$") && !strings.HasPrefix(levels[0], "$"))
		}
		if !safe {
			if allow {
				return nil, false
			}
			return nil, true
		}
		levels[i] = l
	}
	return levels, true
}

func safeACLValue(v string) bool {
	return v != "" && !strings.ContainsAny(v, "+#/\x00")
}
