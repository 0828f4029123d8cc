package auth

import (
	"strings"
	"testing"
)

// FuzzACLParse: no panics; a parsed file prints back (ACLRule.String) to a
// file that parses to the same rules; compiling and checking never panics.
func FuzzACLParse(f *testing.F) {
	f.Add([]byte(aclIssueRules))
	f.Add([]byte("user a allow publish a/#/b\n"))
	f.Add([]byte("client * deny both +/%c/%u/#\n# x\n\n"))
	f.Add([]byte("user * allow subscribe $share/g/a\nuser x\tdeny publish %u%c\r\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		rules, err := ParseACL(src, "fuzz")
		if err != nil {
			if rules != nil {
				t.Fatal("rules with an error")
			}
			return
		}
		lines := make([]string, len(rules))
		for i, r := range rules {
			lines[i] = r.String()
		}
		again, err := ParseACLLines(lines, "fuzz")
		if err != nil || len(again) != len(rules) {
			t.Fatalf("round trip: %v %d/%d", err, len(again), len(rules))
		}
		for i := range rules {
			if again[i].String() != lines[i] {
				t.Fatalf("round trip %q != %q", again[i].String(), lines[i])
			}
		}
		set := NewACLSet(rules, len(src)%2 == 0)
		for _, id := range []string{"a", "a/b", "", "$x"} {
			m := set.Compile(id, id, rules)
			for _, r := range rules {
				topic := strings.NewReplacer("+", "x", "#", "y").Replace(r.Filter)
				_ = m.CanPublish([]byte(topic))
				_ = m.CanSubscribe([]byte(r.Filter))
			}
		}
	})
}
