package mqttcodec

import (
	"math/rand"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestValidTopicName(t *testing.T) {
	cases := []struct {
		in   string
		want error
	}{
		{"a", nil}, {"/", nil}, {"a/b/c", nil}, {"$SYS/broker", nil}, {"héllo/wörld", nil},
		{"with space/\x01ctrl\x7f", nil}, {"0123456789abcdef0123456789abcdef", nil},
		{"", ErrTopicEmpty},                     // [MQTT-4.7.3-1]
		{"a/+", ErrTopicWildcard},               // [MQTT-3.3.2-2]
		{"#", ErrTopicWildcard},                 // [MQTT-3.3.2-2]
		{"abcdefghijklmnop+", ErrTopicWildcard}, // after the 8-byte fast path
		{"a\x00", ErrTopicUTF8},                 // [MQTT-1.5.4-2]
		{"\xed\xa0\x80", ErrTopicUTF8},          // surrogate [MQTT-1.5.4-1]
		{"abcdefgh\xff", ErrTopicUTF8},          // [MQTT-1.5.4-1]
		{"héllo/+", ErrTopicWildcard},
	}
	for _, c := range cases {
		if got := ValidTopicName([]byte(c.in)); got != c.want {
			t.Errorf("ValidTopicName(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestValidTopicFilter(t *testing.T) {
	cases := []struct {
		in   string
		want error
	}{
		{"a", nil}, {"#", nil}, {"+", nil}, {"a/#", nil}, {"+/+", nil}, {"/+/", nil}, {"a/+/b/#", nil},
		{"$SYS/#", nil}, {"$share/g/a/b", nil}, {"$share/g/#", nil}, {"$share/g/+/x", nil}, {"$share/g//", nil},
		{"$sharex/a", nil}, {"$shar", nil},
		{"", ErrFilterEmpty},               // [MQTT-4.7.3-1]
		{"a#", ErrFilterWildcard},          // [MQTT-4.7.1-2]
		{"a/#/b", ErrFilterWildcard},       // [MQTT-4.7.1-2]
		{"#/", ErrFilterWildcard},          // [MQTT-4.7.1-2]
		{"a+", ErrFilterWildcard},          // [MQTT-4.7.1-3]
		{"+a", ErrFilterWildcard},          // [MQTT-4.7.1-3]
		{"a/b+/c", ErrFilterWildcard},      // [MQTT-4.7.1-3]
		{"a\x00", ErrFilterUTF8},           // [MQTT-1.5.4-2]
		{"\xed\xbf\xbf", ErrFilterUTF8},    // [MQTT-1.5.4-1]
		{"$share/", ErrShareInvalid},       // [MQTT-4.8.2-1]
		{"$share//a", ErrShareInvalid},     // [MQTT-4.8.2-1]
		{"$share/g", ErrShareInvalid},      // [MQTT-4.8.2-1]
		{"$share/g/", ErrShareInvalid},     // [MQTT-4.8.2-1]
		{"$share/g+/a", ErrShareInvalid},   // [MQTT-4.8.2-2]
		{"$share/#/a", ErrShareInvalid},    // [MQTT-4.8.2-2]
		{"$share/g/a#", ErrFilterWildcard}, // [MQTT-4.7.1-2]
	}
	for _, c := range cases {
		if got := ValidTopicFilter([]byte(c.in)); got != c.want {
			t.Errorf("ValidTopicFilter(%q) = %v, want %v", c.in, got, c.want)
		}
	}
	g, f, ok := SplitShared([]byte("$share/grp/a/+"))
	if !ok || string(g) != "grp" || string(f) != "a/+" {
		t.Errorf("SplitShared = %q %q %v", g, f, ok)
	}
	for _, s := range []string{"a/b", "$share/", "$share/g", "$share/g/", "$share//x"} {
		if _, _, ok := SplitShared([]byte(s)); ok {
			t.Errorf("SplitShared(%q) ok", s)
		}
	}
}

// naiveFilterValid is the 15-line reference: split on '/', check each level.
func naiveFilterValid(s string) bool {
	if s == "" || !naiveUTF8(s) {
		return false
	}
	if strings.HasPrefix(s, "$share/") {
		rest := s[len("$share/"):]
		i := strings.IndexByte(rest, '/')
		if i <= 0 || strings.ContainsAny(rest[:i], "+#") || i == len(rest)-1 {
			return false
		}
		s = rest[i+1:]
	}
	levels := strings.Split(s, "/")
	for i, l := range levels {
		if strings.Contains(l, "#") && (l != "#" || i != len(levels)-1) {
			return false
		}
		if strings.Contains(l, "+") && l != "+" {
			return false
		}
	}
	return true
}

// naiveUTF8: the standard library rejects ill-formed input and surrogates.
func naiveUTF8(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

func TestTopicFilterAgainstNaive(t *testing.T) {
	alphabet := []string{"a", "b", "/", "+", "#", "$share/", "$", "é", "\x00", "\xff", "g"}
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 20000; i++ {
		var sb strings.Builder
		for n := rng.Intn(7); n >= 0; n-- {
			sb.WriteString(alphabet[rng.Intn(len(alphabet))])
		}
		s := sb.String()
		if got, want := ValidTopicFilter([]byte(s)) == nil, naiveFilterValid(s); got != want {
			t.Fatalf("ValidTopicFilter(%q) valid=%v, naive=%v", s, got, want)
		}
		nameOK := s != "" && !strings.ContainsAny(s, "+#") && naiveUTF8(s)
		if got := ValidTopicName([]byte(s)) == nil; got != nameOK {
			t.Fatalf("ValidTopicName(%q) valid=%v, naive=%v", s, got, nameOK)
		}
	}
}

func TestValidUTF8String(t *testing.T) {
	valid := []string{"", "abc", "\x01\x1f\x7f", "\u0080\u009f", "\uFFFF", "\U0010FFFF", "日本語", "\uFEFF",
		strings.Repeat("abcdefgh", 5) + "é"}
	for _, s := range valid {
		if err := ValidUTF8String([]byte(s)); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	invalid := []string{"\x00", "abcdefghij\x00", "\xc3", "\xc0\x80", "\xed\xa0\x80", "\xed\xbf\xbf",
		"\xf4\x90\x80\x80", "\xff", strings.Repeat("a", 17) + "\x80"}
	for _, s := range invalid {
		if err := ValidUTF8String([]byte(s)); err != ErrInvalidUTF8 {
			t.Errorf("%q: %v, want ErrInvalidUTF8", s, err)
		}
	}
	// Differential against the standard library on random bytes.
	rng := rand.New(rand.NewSource(2))
	buf := make([]byte, 24)
	for i := 0; i < 50000; i++ {
		n := rng.Intn(len(buf))
		for j := 0; j < n; j++ {
			buf[j] = byte(rng.Intn(256))
			if rng.Intn(2) == 0 {
				buf[j] &= 0x7f
			}
		}
		s := buf[:n]
		want := utf8.Valid(s) && !strings.ContainsRune(string(s), 0)
		if got := ValidUTF8String(s) == nil; got != want {
			t.Fatalf("ValidUTF8String(% x) = %v, want %v", s, got, want)
		}
	}
}
