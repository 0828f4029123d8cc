package auth

import (
	"strconv"
	"strings"
	"testing"
)

// benchACLSet is n rules that all apply to every client: a quarter each of
// '+' filters, exact filters, '#' filters and %u placeholders.
func benchACLSet(n int) *ACLSet {
	var b strings.Builder
	b.WriteString("user * deny publish $SYS/#\n")
	for i := 1; i < n; i++ {
		s := strconv.Itoa(i)
		switch i % 4 {
		case 0:
			b.WriteString("user * allow publish zone/" + s + "/+/b\n")
		case 1:
			b.WriteString("user * deny publish site/" + s + "/status\n")
		case 2:
			b.WriteString("user * allow both fleet/" + s + "/#\n")
		case 3:
			b.WriteString("user * allow both devices/%u/" + s + "/#\n")
		}
	}
	rules, err := ParseACL([]byte(b.String()), "bench")
	if err != nil {
		panic(err)
	}
	return NewACLSet(rules, false)
}

var aclBenchTopics = []struct {
	name  string
	topic []byte
}{
	{"placeholder", []byte("devices/user42/99/temp/x")}, // own index, '#' hit
	{"plus", []byte("zone/96/a/b")},                     // shared index, '+' hit
	{"exact", []byte("site/97/status")},                 // shared index, exact hit
	{"miss", []byte("nomatch/at/all/x")},                // the default decides
}

// BenchmarkACLPublish is one CanPublish per op: "none" is a nil matcher (no
// acl_file), "rules100" a compiled 100-rule set cycling over the topics
// above, then each topic alone.
func BenchmarkACLPublish(b *testing.B) {
	m := benchACLSet(100).Compile("user42", "c42", nil)
	b.Run("none", func(b *testing.B) {
		b.ReportAllocs()
		var none *ACLMatcher
		i := 0
		for b.Loop() {
			_ = none.CanPublish(aclBenchTopics[i&3].topic)
			i++
		}
	})
	b.Run("rules100", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			_ = m.CanPublish(aclBenchTopics[i&3].topic)
			i++
		}
	})
	for _, tc := range aclBenchTopics {
		b.Run("rules100/"+tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = m.CanPublish(tc.topic)
			}
		})
	}
}

// BenchmarkACLSubscribe is one CanSubscribe against the 100-rule set.
func BenchmarkACLSubscribe(b *testing.B) {
	m := benchACLSet(100).Compile("user42", "c42", nil)
	f := []byte("devices/user42/99/+")
	b.ReportAllocs()
	for b.Loop() {
		_ = m.CanSubscribe(f)
	}
}

// BenchmarkACLCompile is the per-client cost at CONNECT for 100 rules
// ("placeholders": 25 of them hold %u; "shared": none does, so clients share
// one matcher; "2placeholders": 98 shared rules and two with %u / %c).
// B/op is the memory each client's matcher keeps.
func BenchmarkACLCompile(b *testing.B) {
	set := benchACLSet(100)
	b.Run("placeholders", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = set.Compile("user42", "c42", nil)
		}
	})
	var sb strings.Builder
	for i := 0; i < 98; i++ {
		sb.WriteString("user * allow publish zone/" + strconv.Itoa(i) + "/+/b\n")
	}
	rules, _ := ParseACL([]byte(sb.String()), "bench")
	shared := NewACLSet(rules, false)
	b.Run("shared", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = shared.Compile("user42", "c42", nil)
		}
	})
	sb.WriteString("user * allow both devices/%u/#\nclient * allow subscribe commands/%c/#\n")
	rules, _ = ParseACL([]byte(sb.String()), "bench")
	two := NewACLSet(rules, false)
	b.Run("2placeholders", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = two.Compile("user42", "c42", nil)
		}
	})
}
