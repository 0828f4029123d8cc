package mqttcodec

import "bytes"

// Topic filter algebra for callers that reason about filters rather than
// index them (the relay's forward and import rules, their validation). The
// router keeps its own trie for matching at scale; these are linear in the
// number of levels, never allocate, and expect filters that passed
// ValidTopicFilter and are not "$share/" filters (pass SplitShared's
// topicFilter).

// MatchFilter reports whether topic name topic matches filter: '+' matches
// one level, '#' the parent level and every level below it [MQTT-4.7.1-2]
// [MQTT-4.7.1-1], and a filter starting with a wildcard does not match a
// topic starting with '$' [MQTT-4.7.2-1].
func MatchFilter(filter, topic []byte) bool {
	if len(topic) > 0 && topic[0] == '$' && len(filter) > 0 && (filter[0] == '+' || filter[0] == '#') {
		return false // [MQTT-4.7.2-1]
	}
	for {
		f, frest, fmore := cutLevel(filter)
		if len(f) == 1 && f[0] == '#' {
			return true // [MQTT-4.7.1-1] "sport/#" matches "sport" too
		}
		t, trest, tmore := cutLevel(topic)
		if !(len(f) == 1 && f[0] == '+') && !bytes.Equal(f, t) {
			return false
		}
		switch {
		case !fmore && !tmore:
			return true
		case !tmore:
			// The topic ended; only a trailing "/#" matches its parent.
			return string(frest) == "#"
		case !fmore:
			return false
		}
		filter, topic = frest, trest
	}
}

// FilterCovers reports whether every topic that matches filter b also
// matches filter a (b's topics are a subset of a's). Equal filters cover
// each other.
func FilterCovers(a, b []byte) bool {
	if dollarSplit(a, b) {
		return false // a's wildcard first level cannot match b's "$..." topics [MQTT-4.7.2-1]
	}
	for {
		x, arest, amore := cutLevel(a)
		y, brest, bmore := cutLevel(b)
		switch {
		case isHash(x):
			return true
		case isHash(y):
			return false // b reaches every depth below here, a does not
		case isPlus(x):
		case isPlus(y) || !bytes.Equal(x, y):
			return false
		}
		switch {
		case !amore && !bmore:
			return true
		case !bmore:
			return string(arest) == "#" // "x/#" covers "x"
		case !amore:
			return false
		}
		a, b = arest, brest
	}
}

// FiltersOverlap reports whether some topic name matches both a and b.
func FiltersOverlap(a, b []byte) bool {
	if dollarSplit(a, b) || dollarSplit(b, a) {
		return false
	}
	for {
		x, arest, amore := cutLevel(a)
		y, brest, bmore := cutLevel(b)
		if isHash(x) || isHash(y) {
			return true
		}
		if !isPlus(x) && !isPlus(y) && !bytes.Equal(x, y) {
			return false
		}
		switch {
		case !amore && !bmore:
			return true
		case !amore:
			return string(brest) == "#"
		case !bmore:
			return string(arest) == "#"
		}
		a, b = arest, brest
	}
}

// dollarSplit reports whether a starts with a wildcard level and b with a
// literal level starting with '$': then no topic of b matches a
// [MQTT-4.7.2-1].
func dollarSplit(a, b []byte) bool {
	return len(a) > 0 && (a[0] == '+' || a[0] == '#') && len(b) > 0 && b[0] == '$'
}

func isHash(l []byte) bool { return len(l) == 1 && l[0] == '#' }
func isPlus(l []byte) bool { return len(l) == 1 && l[0] == '+' }

// cutLevel splits s at its first '/': the level, what follows the '/', and
// whether there was one.
func cutLevel(s []byte) (level, rest []byte, more bool) {
	if i := bytes.IndexByte(s, '/'); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, nil, false
}
