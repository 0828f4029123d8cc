package mqttcodec

import (
	"bytes"
	"encoding/binary"
)

const (
	plus8 = 0x2b2b2b2b2b2b2b2b // '+'
	hash8 = 0x2323232323232323 // '#'
)

// ValidTopicName checks a PUBLISH (or will) topic name: at least one byte
// [MQTT-4.7.3-1], no wildcard characters [MQTT-3.3.2-2] [MQTT-4.7.0-1]
// (3.1.1: [MQTT-4.7.1-1]), and the UTF-8 string rules [MQTT-4.7.3-2]
// [MQTT-1.5.4-1] [MQTT-1.5.4-2]. It returns ErrTopicEmpty, ErrTopicWildcard,
// ErrTopicUTF8 (a Malformed Packet when received, section 1.5.4) or nil and
// never allocates. Topics starting with '$' are valid names; whether a client may
// publish to them is policy, not syntax [MQTT-4.7.2].
func ValidTopicName(b []byte) error {
	if len(b) == 0 {
		return ErrTopicEmpty
	}
	return topicChars(b)
}

// topicChars checks a topic name that may be empty.
func topicChars(b []byte) error {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		if x&hi8 != 0 || hasZeroByte(x) || hasZeroByte(x^plus8) || hasZeroByte(x^hash8) {
			return topicSlow(b)
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c == 0 || c >= 0x80 || c == '+' || c == '#' {
			return topicSlow(b)
		}
	}
	return nil
}

func topicSlow(b []byte) error {
	if bytes.IndexByte(b, '+') >= 0 || bytes.IndexByte(b, '#') >= 0 {
		return ErrTopicWildcard // [MQTT-3.3.2-2] [MQTT-4.7.0-1]
	}
	if ValidUTF8String(b) != nil {
		return ErrTopicUTF8 // [MQTT-1.5.4-1] [MQTT-1.5.4-2] [MQTT-4.7.3-2]
	}
	return nil
}

// sharePrefix starts a shared subscription filter [MQTT-4.8.2].
var sharePrefix = []byte("$share/")

// IsShared reports whether filter has the $share/ prefix [MQTT-4.8.2].
func IsShared(filter []byte) bool { return bytes.HasPrefix(filter, sharePrefix) }

// SplitShared splits a shared subscription "$share/{ShareName}/{filter}" into
// its share name and topic filter (views into filter). ok is false when filter
// is not shared or malformed; use ValidTopicFilter for the reason.
func SplitShared(filter []byte) (group, topicFilter []byte, ok bool) {
	if !IsShared(filter) {
		return nil, nil, false
	}
	rest := filter[len(sharePrefix):]
	i := bytes.IndexByte(rest, '/')
	if i <= 0 || i == len(rest)-1 {
		return nil, nil, false
	}
	return rest[:i], rest[i+1:], true
}

// ValidTopicFilter checks a SUBSCRIBE or UNSUBSCRIBE topic filter: at least
// one byte [MQTT-4.7.3-1], the UTF-8 string rules [MQTT-4.7.3-2], '+' alone
// in its level [MQTT-4.7.1-2], '#' alone in the last level [MQTT-4.7.1-1]
// (3.1.1 numbers these [MQTT-4.7.1-3] and [MQTT-4.7.1-2]),
// and for "$share/" filters a non-empty ShareName without '/', '+' or '#'
// followed by '/' and a valid non-empty filter [MQTT-4.8.2-1] [MQTT-4.8.2-2].
// It returns ErrFilterEmpty, ErrFilterUTF8, ErrFilterWildcard,
// ErrShareInvalid or nil and never allocates. All carry 0x8F, a valid SUBACK
// code; DecodeSubscribe has already closed on ill-formed UTF-8
// [MQTT-1.5.4-1], so ErrFilterUTF8 is only seen on filters from elsewhere.
func ValidTopicFilter(b []byte) error {
	if len(b) == 0 {
		return ErrFilterEmpty // [MQTT-4.7.3-1]
	}
	if ValidUTF8String(b) != nil {
		return ErrFilterUTF8 // [MQTT-4.7.3-2]
	}
	if IsShared(b) {
		rest := b[len(sharePrefix):]
		i := bytes.IndexByte(rest, '/')
		if i <= 0 { // no ShareName, or no '/' after it [MQTT-4.8.2-1]
			return ErrShareInvalid
		}
		if bytes.IndexByte(rest[:i], '+') >= 0 || bytes.IndexByte(rest[:i], '#') >= 0 {
			return ErrShareInvalid // [MQTT-4.8.2-2]
		}
		b = rest[i+1:]
		if len(b) == 0 {
			return ErrShareInvalid // [MQTT-4.8.2-1] the filter part must be non-empty
		}
	}
	return filterLevels(b)
}

// filterLevels checks wildcard placement [MQTT-4.7.1-1] [MQTT-4.7.1-2].
func filterLevels(b []byte) error {
	for i, c := range b {
		switch c {
		case '+':
			if (i > 0 && b[i-1] != '/') || (i+1 < len(b) && b[i+1] != '/') {
				return ErrFilterWildcard // [MQTT-4.7.1-2] (3.1.1: [MQTT-4.7.1-3])
			}
		case '#':
			if (i > 0 && b[i-1] != '/') || i != len(b)-1 {
				return ErrFilterWildcard // [MQTT-4.7.1-1] (3.1.1: [MQTT-4.7.1-2])
			}
		}
	}
	return nil
}
