package auth

// ACLs (acl*.go) — notes for doc.go.
//
// Syntax: one rule per line, first match wins; blank lines and lines whose
// first non-blank character is '#' are ignored ('#' later on a line is the
// MQTT wildcard, not a comment). Five whitespace-separated fields, keywords
// lower-case:
//
//	user   NAME|*  allow|deny  publish|subscribe|both  FILTER
//	client ID|*    allow|deny  publish|subscribe|both  FILTER
//
// "user *" and "client *" apply to every client, anonymous ones included;
// "user NAME" never applies to a client without a username. FILTER is an MQTT
// topic filter; "%u" and "%c" anywhere in it stand for the client's username
// and client ID (no other '%' sequence is special). When no rule matches,
// acl_default ("allow" or "deny") decides.
//
// Unsafe substitutions: MQTT has no escape for '+', '#' or '/', so a value
// that is empty or holds one of them (or U+0000) is never substituted. An
// allow rule that needs it is dropped for that client (it matches nothing);
// a deny rule that needs it denies every topic (publish) or filter
// (subscribe), for the actions it names, from its position on (it denies
// more, never less). A username "a/b" therefore cannot reach
// "devices/a/b/#" through "devices/%u/#". An allow rule whose substitution
// would make the first level start with '$' is dropped too.
//
// Order: rules that a verifier returns for one client (JWT claims, HTTP
// backend; the same syntax through ParseACLLines) come first, in their order,
// then the file's rules: a verifier's allow or deny overrides the file.
//
// Matching: publish checks a topic name; a filter's leading '+' or '#' does
// not match a topic starting with '$' [MQTT-4.7.2-1]. Subscribe checks the
// requested filter (without its "$share/{group}/" prefix): the first rule
// that is an allow whose filter covers the request (every topic the request
// matches, the rule matches: "a/#" covers "a/+/c", not the reverse) or a deny
// whose filter overlaps it (some topic matches both) decides, so an allowed
// subscription never receives a topic an earlier deny forbids.
//
// Cost and lifetime: an ACLSet (parsed file + default) is immutable and safe
// for concurrent use; ACLStore swaps it atomically on reload and keeps the
// previous set when the new file is broken. The set indexes its "*" rules
// without placeholders once, shared by every client. ACLSet.Compile runs
// once at CONNECT, on the loop (CPU only), and returns an immutable
// ACLMatcher holding only what is the client's own: its extra rules, the
// named rules that select it and the "*" rules with placeholders,
// substituted (none of them: every such client shares one matcher, no
// allocation). Each index is an exact-topic map plus a trie of the wildcard
// filters whose nodes keep the lowest rule index ending there, so
// CanPublish is two map lookups and two walks of at most topic-depth levels
// (branching only at '+'), without allocating; first match wins because the
// lowest index found wins. CanSubscribe scans the client's subscribe rules
// in order (SUBSCRIBE is rare next to PUBLISH), also without allocating.
// Numbers: BenchmarkACLPublish, BenchmarkACLCompile, BenchmarkACLSubscribe.
//
// Clients connected before a reload keep the matcher they compiled (and the
// set it points to) until they disconnect.

import (
	"bufio"
	"bytes"
	"strings"
	"unicode/utf8"
)

// ACLAction is what a rule governs.
type ACLAction uint8

const (
	ACLPublish   ACLAction = 1 << iota // PUBLISH and the will
	ACLSubscribe                       // SUBSCRIBE
	ACLBoth      = ACLPublish | ACLSubscribe
)

// String returns the keyword used in the file.
func (a ACLAction) String() string {
	switch a {
	case ACLPublish:
		return "publish"
	case ACLSubscribe:
		return "subscribe"
	case ACLBoth:
		return "both"
	}
	return "invalid"
}

// ACLSubject says which identity a rule names.
type ACLSubject uint8

const (
	ACLUser   ACLSubject = iota + 1 // the CONNECT username
	ACLClient                       // the client identifier
)

// String returns the keyword used in the file.
func (s ACLSubject) String() string {
	switch s {
	case ACLUser:
		return "user"
	case ACLClient:
		return "client"
	}
	return "invalid"
}

// ACLRule is one parsed line. Owned and immutable once parsed.
type ACLRule struct {
	Subject ACLSubject
	Any     bool   // "*": every client
	Name    string // the username or client ID when !Any
	Allow   bool
	Action  ACLAction
	Filter  string // as written, placeholders included
	Source  string
	Line    int
}

// String returns the rule in file syntax.
func (r ACLRule) String() string {
	name, perm := r.Name, "deny"
	if r.Any {
		name = "*"
	}
	if r.Allow {
		perm = "allow"
	}
	return r.Subject.String() + " " + name + " " + perm + " " + r.Action.String() + " " + r.Filter
}

// MaxACLFilterLen is the longest filter a rule may hold [MQTT-1.5.4].
const MaxACLFilterLen = 65535

// ParseACL parses a rule file. source names it in errors ("acl.conf:3: ...").
// The first bad line refuses the whole input.
func ParseACL(src []byte, source string) ([]ACLRule, error) {
	var rules []ACLRule
	sc := bufio.NewScanner(bytes.NewReader(src))
	sc.Buffer(nil, 2*MaxACLFilterLen+1024)
	line := 0
	for sc.Scan() {
		line++
		r, ok, err := parseACLLine(sc.Text(), source, line)
		if err != nil {
			return nil, err
		}
		if ok {
			rules = append(rules, r)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, &ACLLineError{Source: source, Line: line + 1, Kind: ErrACLFilterLen}
	}
	return rules, nil
}

// ParseACLLines parses rules that a verifier returned for one client, one
// rule per element (an element holding a newline is refused, so a claim
// cannot smuggle extra lines). Line numbers are element indexes + 1.
func ParseACLLines(lines []string, source string) ([]ACLRule, error) {
	rules := make([]ACLRule, 0, len(lines))
	for i, l := range lines {
		if strings.ContainsAny(l, "\r\n") {
			return nil, &ACLLineError{Source: source, Line: i + 1, Kind: ErrACLFields}
		}
		r, ok, err := parseACLLine(l, source, i+1)
		if err != nil {
			return nil, err
		}
		if ok {
			rules = append(rules, r)
		}
	}
	return rules, nil
}

// ParseACLDefault parses acl_default.
func ParseACLDefault(s string) (allow bool, err error) {
	switch s {
	case "allow", "":
		return true, nil
	case "deny":
		return false, nil
	}
	return false, ErrACLDefault
}

// parseACLLine parses one line; ok is false for blank and comment lines.
func parseACLLine(text, source string, line int) (r ACLRule, ok bool, err error) {
	fail := func(k *ACLError, tok string) (ACLRule, bool, error) {
		return ACLRule{}, false, &ACLLineError{Source: source, Line: line, Token: tok, Kind: k}
	}
	f := strings.Fields(text)
	if len(f) == 0 || strings.HasPrefix(f[0], "#") {
		return ACLRule{}, false, nil
	}
	if len(f) != 5 {
		return fail(ErrACLFields, strings.TrimSpace(text))
	}
	r = ACLRule{Source: source, Line: line, Filter: f[4]}
	switch f[0] {
	case "user":
		r.Subject = ACLUser
	case "client":
		r.Subject = ACLClient
	default:
		return fail(ErrACLSubject, f[0])
	}
	if f[1] == "*" {
		r.Any = true
	} else if strings.ContainsAny(f[1], "+#*\x00") || !utf8.ValidString(f[1]) {
		return fail(ErrACLName, f[1])
	} else {
		r.Name = f[1]
	}
	switch f[2] {
	case "allow":
		r.Allow = true
	case "deny":
	default:
		return fail(ErrACLPermission, f[2])
	}
	switch f[3] {
	case "publish":
		r.Action = ACLPublish
	case "subscribe":
		r.Action = ACLSubscribe
	case "both":
		r.Action = ACLBoth
	default:
		return fail(ErrACLAction, f[3])
	}
	if k := checkACLFilter(r.Filter); k != nil {
		return fail(k, r.Filter)
	}
	return r, true, nil
}

// checkACLFilter validates an MQTT topic filter: non-empty [MQTT-4.7.3-1],
// at most 65535 bytes [MQTT-1.5.4], UTF-8 without U+0000 [MQTT-1.5.4-1],
// [MQTT-1.5.4-2], '#' only as the whole last level [MQTT-4.7.1-1], '+' only
// as a whole level [MQTT-4.7.1-2].
func checkACLFilter(f string) *ACLError {
	if f == "" {
		return ErrACLFilter
	}
	if len(f) > MaxACLFilterLen {
		return ErrACLFilterLen
	}
	if strings.IndexByte(f, 0) >= 0 || !utf8.ValidString(f) {
		return ErrACLFilterUTF
	}
	for rest := f; ; {
		level, next, more := cutLevel(rest)
		if strings.ContainsAny(level, "+#") && len(level) != 1 {
			return ErrACLFilter
		}
		if level == "#" && more {
			return ErrACLFilter
		}
		if !more {
			return nil
		}
		rest = next
	}
}

// cutLevel returns the first level of s and what follows its '/'; more is
// false when level is the last one.
func cutLevel(s string) (level, next string, more bool) {
	if i := strings.IndexByte(s, '/'); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}
