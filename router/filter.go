package router

import (
	"bytes"
	"unicode/utf8"
)

// MaxFilterLen is the longest topic filter or name: a UTF-8 string's length
// prefix is two bytes [MQTT-1.5.4].
const MaxFilterLen = 65535

var sharePrefix = []byte("$share/")

// parsed is a validated filter. For "$share/{group}/{filter}" group is the
// group name and filter the part after it; otherwise group is nil.
type parsed struct {
	filter []byte
	group  []byte
	wild   bool // filter holds '+' or '#'
}

// parseFilter validates f and splits off a $share prefix. It is the
// authority for the router's invariants and does not depend on mqttcodec.
func parseFilter(f []byte) (parsed, error) {
	var p parsed
	if len(f) == 0 {
		return p, ErrFilterEmpty // [MQTT-4.7.3-1]
	}
	if len(f) > MaxFilterLen {
		return p, ErrFilterTooLong
	}
	if !utf8.Valid(f) || bytes.IndexByte(f, 0) >= 0 {
		return p, ErrFilterUTF8 // [MQTT-1.5.4-1], [MQTT-1.5.4-2]; utf8.Valid also refuses surrogates
	}
	p.filter = f
	if bytes.HasPrefix(f, sharePrefix) {
		rest := f[len(sharePrefix):]
		i := bytes.IndexByte(rest, '/')
		if i < 0 {
			if len(rest) == 0 || bytes.ContainsAny(rest, "+#") {
				return p, ErrShareGroup
			}
			return p, ErrShareFilter // [MQTT-4.8.2-1]: "$share/g" has no filter
		}
		group := rest[:i]
		if len(group) == 0 || bytes.ContainsAny(group, "+#") {
			return p, ErrShareGroup // [MQTT-4.8.2-2]
		}
		p.group = group
		p.filter = rest[i+1:]
		if len(p.filter) == 0 {
			return p, ErrShareFilter // [MQTT-4.8.2-1]
		}
	}
	wild, err := checkWildcards(p.filter)
	p.wild = wild
	return p, err
}

// checkWildcards checks '+' and '#' placement and reports whether f has any.
func checkWildcards(f []byte) (bool, error) {
	wild := false
	start := 0
	for i := 0; i <= len(f); i++ {
		if i < len(f) && f[i] != '/' {
			continue
		}
		level := f[start:i]
		if bytes.IndexByte(level, '#') >= 0 {
			// '#' alone and last [MQTT-4.7.1-1].
			if len(level) != 1 || i != len(f) {
				return false, ErrFilterMultiLevel
			}
			wild = true
		}
		if bytes.IndexByte(level, '+') >= 0 {
			if len(level) != 1 { // '+' occupies a whole level [MQTT-4.7.1-2]
				return false, ErrFilterSingleLevel
			}
			wild = true
		}
		start = i + 1
	}
	return wild, nil
}

// validTopic reports whether t is a valid topic name for the retained store:
// non-empty, no wildcards [MQTT-4.7.3-1], [MQTT-3.3.2-2], valid UTF-8.
func validTopic(t []byte) bool {
	return len(t) > 0 && len(t) <= MaxFilterLen && bytes.IndexAny(t, "+#\x00") < 0 && utf8.Valid(t)
}

// firstLevel returns the bytes of t up to its first '/'.
func firstLevel(t []byte) []byte {
	if i := bytes.IndexByte(t, '/'); i >= 0 {
		return t[:i]
	}
	return t
}

// splitLevel returns the first level of rest and what follows its '/';
// more is false when level is the last one.
func splitLevel(rest []byte) (level, next []byte, more bool) {
	if i := bytes.IndexByte(rest, '/'); i >= 0 {
		return rest[:i], rest[i+1:], true
	}
	return rest, nil, false
}
