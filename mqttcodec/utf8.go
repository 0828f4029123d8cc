package mqttcodec

import (
	"encoding/binary"
	"unicode/utf8"
)

const (
	lo8 = 0x0101010101010101
	hi8 = 0x8080808080808080
)

// hasZeroByte reports whether any byte of x is 0 (exact for "any").
func hasZeroByte(x uint64) bool { return (x-lo8)&^x&hi8 != 0 }

// ValidUTF8String checks the MQTT rules for a UTF-8 encoded string: well
// formed, no surrogate code points (U+D800..U+DFFF) [MQTT-1.5.4-1] and no
// U+0000 [MQTT-1.5.4-2] (3.1.1: [MQTT-1.5.3-1] [MQTT-1.5.3-2]). Control
// characters U+0001..U+001F and U+007F..U+009F and non-characters are
// allowed: section 1.5.4 says only that they SHOULD NOT be sent and that a
// receiver MAY treat them as malformed. A BOM (EF BB BF) is kept as U+FEFF,
// never stripped [MQTT-1.5.4-3]. It returns ErrInvalidUTF8 or nil and never
// allocates.
func ValidUTF8String(b []byte) error {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		if x&hi8 != 0 || hasZeroByte(x) {
			return validUTF8Slow(b[i:])
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c == 0 || c >= 0x80 {
			return validUTF8Slow(b[i:])
		}
	}
	return nil
}

// validUTF8Slow handles non-ASCII input; utf8.Valid rejects ill-formed
// sequences, overlong forms and surrogates [MQTT-1.5.4-1].
func validUTF8Slow(b []byte) error {
	for _, c := range b {
		if c == 0 {
			return ErrInvalidUTF8 // [MQTT-1.5.4-2]
		}
	}
	if !utf8.Valid(b) {
		return ErrInvalidUTF8 // [MQTT-1.5.4-1]
	}
	return nil
}
