package auth

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func mustACL(t testing.TB, src string, defaultAllow bool) *ACLSet {
	t.Helper()
	rules, err := ParseACL([]byte(src), "test.acl")
	if err != nil {
		t.Fatal(err)
	}
	return NewACLSet(rules, defaultAllow)
}

func TestACLParse(t *testing.T) {
	good := "# comment\n\n   \t\n  # indented comment\nuser alice allow publish devices/%u/#\n" +
		"client * allow subscribe commands/%c/#\nuser * deny both $SYS/#\nclient c1\tdeny\tpublish\t#\n"
	rules, err := ParseACL([]byte(good), "good.acl")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"user alice allow publish devices/%u/#",
		"client * allow subscribe commands/%c/#",
		"user * deny both $SYS/#",
		"client c1 deny publish #",
	}
	if len(rules) != len(want) {
		t.Fatalf("got %d rules, want %d", len(rules), len(want))
	}
	for i, r := range rules {
		if r.String() != want[i] {
			t.Errorf("rule %d = %q, want %q", i, r.String(), want[i])
		}
	}
	if rules[0].Line != 5 || rules[3].Line != 8 || rules[0].Source != "good.acl" {
		t.Errorf("line numbers: %d, %d (%q)", rules[0].Line, rules[3].Line, rules[0].Source)
	}

	bad := []struct {
		name, line string
		kind       *ACLError
	}{
		{"too few fields", "user alice allow publish", ErrACLFields},
		{"too many fields", "user alice allow publish a/b # trailing", ErrACLFields},
		{"subject", "group g allow publish a", ErrACLSubject},
		{"name wildcard", "user al+ce allow publish a", ErrACLName},
		{"name star inside", "user a* allow publish a", ErrACLName},
		{"permission", "user a permit publish a", ErrACLPermission},
		{"action readwrite", "user a allow readwrite a", ErrACLAction},
		{"action case", "user a allow Publish a", ErrACLAction},
		{"hash not last [MQTT-4.7.1-1]", "user a allow publish a/#/b", ErrACLFilter},
		{"hash in level [MQTT-4.7.1-1]", "user a allow publish a/b#", ErrACLFilter},
		{"plus in level [MQTT-4.7.1-2]", "user a allow publish a/b+/c", ErrACLFilter},
		{"nul [MQTT-1.5.4-2]", "user a allow publish a/\x00", ErrACLFilterUTF},
		{"utf8 [MQTT-1.5.4-1]", "user a allow publish a/\xff", ErrACLFilterUTF},
		{"too long [MQTT-1.5.4]", "user a allow publish " + strings.Repeat("a", MaxACLFilterLen+1), ErrACLFilterLen},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			src := "user * allow publish ok/#\n# c\n" + tc.line + "\nuser * deny publish x\n"
			rules, err := ParseACL([]byte(src), "bad.acl")
			if rules != nil || !errors.Is(err, tc.kind) || !errors.Is(err, ErrACLSyntax) {
				t.Fatalf("got %v, %v; want %v", rules, err, tc.kind)
			}
			var le *ACLLineError
			if !errors.As(err, &le) || le.Line != 3 || !strings.HasPrefix(err.Error(), "bad.acl:3: ") {
				t.Fatalf("error %q does not name bad.acl:3", err)
			}
		})
	}
	long := "user * allow publish a\nuser * allow publish " + strings.Repeat("a", 3*MaxACLFilterLen) + "\n"
	if _, err := ParseACL([]byte(long), "long.acl"); !errors.Is(err, ErrACLFilterLen) || !strings.HasPrefix(err.Error(), "long.acl:2: ") {
		t.Errorf("overlong line: %v", err)
	}
	if _, err := ParseACLLines([]string{"user * allow publish a", "user * allow publish b\nuser * allow publish #"}, "jwt"); !errors.Is(err, ErrACLFields) || !strings.HasPrefix(err.Error(), "jwt:2: ") {
		t.Errorf("embedded newline: %v", err)
	}
	for s, want := range map[string]bool{"allow": true, "": true, "deny": false} {
		if got, err := ParseACLDefault(s); err != nil || got != want {
			t.Errorf("ParseACLDefault(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseACLDefault("Deny"); !errors.Is(err, ErrACLDefault) {
		t.Errorf("ParseACLDefault(Deny) = %v", err)
	}
}

const aclIssueRules = `
user alice  allow publish   devices/%u/#
client *    allow subscribe commands/%c/#
user *      deny  publish   $SYS/#
user *      allow both      public/+/status
client c9   deny  publish   public/c9/status
user *      allow publish   public/#
user *      deny  publish   +/secret
user *      allow publish   #
`

func TestACLPublish(t *testing.T) {
	set := mustACL(t, aclIssueRules, false)
	cases := []struct {
		name, user, client, topic string
		want                      bool
	}{
		{"placeholder %u own subtree", "alice", "c1", "devices/alice/temp", true},
		{"placeholder %u parent level [MQTT-4.7.1-1]", "alice", "c1", "devices/alice", true},
		{"placeholder %u other user falls to #", "bob", "c1", "devices/alice/temp", true},
		{"$SYS denied", "alice", "c1", "$SYS/broker/load", false},
		{"$SYS/x denied for anonymous", "", "c1", "$SYS/x", false},
		{"leading # skips $-topic [MQTT-4.7.2-1]", "bob", "c1", "$other/x", false}, // default deny
		{"leading + skips $-topic [MQTT-4.7.2-1]", "bob", "c1", "$x/secret", false},
		{"+ level allow before later deny (order)", "bob", "c1", "public/a/status", true},
		{"first match wins over client deny", "bob", "c9", "public/c9/status", true},
		{"+/secret deny", "bob", "c1", "a/secret", false},
		{"+ matches empty level", "bob", "c1", "/secret", false},
		{"# catch-all", "bob", "c1", "a/b/c", true},
		{"subscribe-only rule does not grant publish", "bob", "c1", "commands/c1/x", true}, // via #
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := set.Compile(tc.user, tc.client, nil)
			if got := m.CanPublish([]byte(tc.topic)); got != tc.want {
				t.Errorf("CanPublish(%q) as %q/%q = %v, want %v", tc.topic, tc.user, tc.client, got, tc.want)
			}
		})
	}
	// Order: the client deny precedes the wildcard allow here.
	m := mustACL(t, "client c9 deny publish public/c9/status\nuser * allow publish public/+/status\n", true).Compile("", "c9", nil)
	if m.CanPublish([]byte("public/c9/status")) || !m.CanPublish([]byte("public/c8/status")) {
		t.Error("first match wins: exact deny before wildcard allow")
	}
	// Default decides when nothing matches.
	for _, def := range []bool{true, false} {
		m := mustACL(t, "user * allow publish a\n", def).Compile("u", "c", nil)
		if m.CanPublish([]byte("b")) != def || !m.CanPublish([]byte("a")) {
			t.Errorf("acl_default %v not applied", def)
		}
	}
	// No acl_file but acl_default "deny": an empty set denies everything.
	if m := NewACLSet(nil, false).Compile("u", "c", nil); m.CanPublish([]byte("a")) || m.CanSubscribe([]byte("a/#")) {
		t.Error("empty set with default deny must deny")
	}
	var none *ACLMatcher
	if !none.CanPublish([]byte("x")) || !none.CanSubscribe([]byte("#")) || (*ACLSet)(nil).Compile("u", "c", nil) != nil {
		t.Error("nil matcher must allow everything")
	}
}

func TestACLSubscribe(t *testing.T) {
	set := mustACL(t, aclIssueRules+"user * deny subscribe a/b\nuser * allow subscribe a/#\n", false)
	cases := []struct {
		name, client, filter string
		want                 bool
	}{
		{"%c own commands", "c1", "commands/c1/#", true},
		{"%c covered +", "c1", "commands/c1/+/x", true},
		{"%c other client", "c1", "commands/c2/#", false},
		{"not covered: wider than rule", "c1", "commands/#", false},
		{"+ rule covers literal", "c1", "public/x/status", true},
		{"+ rule covers +", "c1", "public/+/status", true},
		{"$share prefix stripped", "c1", "$share/g/public/x/status", true},
		{"deny overlapping a/+ wins over later a/#", "c1", "a/+", false},
		{"deny exact a/b", "c1", "a/b", false},
		{"a/c allowed by a/#", "c1", "a/c", true},
		{"a/# overlaps deny a/b", "c1", "a/#", false},
		{"a/c/# covered", "c1", "a/c/#", true},
		{"no rule: default deny", "c1", "zzz", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := set.Compile("bob", tc.client, nil)
			if got := m.CanSubscribe([]byte(tc.filter)); got != tc.want {
				t.Errorf("CanSubscribe(%q) = %v, want %v", tc.filter, got, tc.want)
			}
		})
	}
	m := mustACL(t, "user * deny subscribe $SYS/#\nuser * allow subscribe #\n", false).Compile("u", "c", nil)
	for f, want := range map[string]bool{"#": true, "+/x": true, "$SYS/#": false, "$SYS/a": false, "$other/a": false} {
		if got := m.CanSubscribe([]byte(f)); got != want {
			t.Errorf("[MQTT-4.7.2-1] CanSubscribe(%q) = %v, want %v", f, got, want)
		}
	}
}

func TestACLPlaceholderUnsafe(t *testing.T) {
	set := mustACL(t, "user * allow both devices/%u/#\nuser * allow publish dev-%c/x\nuser * allow publish %u/x\n", false)
	for _, u := range []string{"a/b", "a+b", "a#", "+", "#", ""} {
		m := set.Compile(u, "c", nil)
		for _, topic := range []string{"devices/a/b/x", "devices/a/x", "devices/+/x", "devices/a+b", "devices/", "devices/x"} {
			if m.CanPublish([]byte(topic)) {
				t.Errorf("user %q widened allow devices/%%u/# to %q", u, topic)
			}
		}
		if m.CanSubscribe([]byte("devices/#")) || m.CanSubscribe([]byte("devices/a/#")) {
			t.Errorf("user %q widened subscribe", u)
		}
	}
	if m := set.Compile("a", "c/d", nil); m.CanPublish([]byte("dev-c/d/x")) || !m.CanPublish([]byte("devices/a/q")) {
		t.Error("client id with '/' must drop only its own rule")
	}
	if m := set.Compile("$SYS", "c", nil); m.CanPublish([]byte("$SYS/x")) {
		t.Error("username \"$SYS\" must not reach $SYS through %u/x")
	}
	if m := set.Compile("alice", "c", nil); !m.CanPublish([]byte("devices/alice/t")) || !m.CanPublish([]byte("alice/x")) || !m.CanSubscribe([]byte("devices/alice/+")) {
		t.Error("safe substitution must match")
	}
	// A deny rule with an unsafe value denies everything from its position on.
	deny := mustACL(t, "user * allow publish early\nuser * deny both private/%u\nuser * allow both #\n", true)
	if m := deny.Compile("a/b", "c", nil); !m.CanPublish([]byte("early")) || m.CanPublish([]byte("x")) || m.CanPublish([]byte("private/a/b")) || m.CanSubscribe([]byte("x")) {
		t.Error("unsafe deny must deny more, never less")
	}
	if m := deny.Compile("a", "c", nil); m.CanPublish([]byte("private/a")) || !m.CanPublish([]byte("private/b")) {
		t.Error("safe deny")
	}
}

func TestACLExtraRulesFirst(t *testing.T) {
	set := mustACL(t, "user * deny publish fleet/#\nuser bob allow publish mine/#\n", false)
	extra, err := ParseACLLines([]string{"user * allow publish fleet/%c/up", "", "# c", "user * deny publish mine/secret", "user carol allow publish x"}, "jwt")
	if err != nil || len(extra) != 3 {
		t.Fatal(extra, err)
	}
	m := set.Compile("bob", "c7", extra)
	for topic, want := range map[string]bool{"fleet/c7/up": true, "fleet/c8/up": false, "mine/secret": false, "mine/a": true, "x": false} {
		if got := m.CanPublish([]byte(topic)); got != want {
			t.Errorf("extra-first: CanPublish(%q) = %v, want %v", topic, got, want)
		}
	}
	if m2 := set.Compile("bob", "c7", nil); m2.CanPublish([]byte("fleet/c7/up")) {
		t.Error("extra rules leaked into another compile")
	}
}

func TestACLSharedMatcher(t *testing.T) {
	set := mustACL(t, "user bob deny publish a/b\nclient c9 deny publish a/c\nuser * allow publish a/#\n", false)
	a, b := set.Compile("x", "c1", nil), set.Compile("", "c2", nil)
	if a != b {
		t.Error("clients no named rule selects must share one matcher")
	}
	if m := set.Compile("bob", "c1", nil); m == a || m.CanPublish([]byte("a/b")) || !a.CanPublish([]byte("a/b")) {
		t.Error("named user rule")
	}
	if m := set.Compile("x", "c9", nil); m == a || m.CanPublish([]byte("a/c")) {
		t.Error("named client rule")
	}
	if set2 := mustACL(t, "user * allow publish a/%u\n", false); set2.Compile("x", "c", nil) == set2.Compile("y", "c", nil) {
		t.Error("placeholder rules must not share")
	}
}

func TestACLStoreReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "acl")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var st ACLStore
	if st.Current() != nil {
		t.Fatal("zero store must be empty")
	}
	write("user * allow publish a\n")
	if err := st.LoadFile(path, false); err != nil {
		t.Fatal(err)
	}
	first := st.Current()
	old := first.Compile("u", "c", nil)

	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() { // loops compiling while the reloader swaps
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				_ = st.Current().Compile("u", "c", nil).CanPublish([]byte("a"))
			}
		}
	}()
	write("user * allow publish a\nuser * allow publsh b\n")
	err := st.LoadFile(path, false)
	var le *ACLLineError
	if !errors.Is(err, ErrACLAction) || !errors.As(err, &le) || le.Line != 2 || !strings.Contains(err.Error(), path+":2:") {
		t.Fatalf("broken file: %v", err)
	}
	if st.Current() != first {
		t.Fatal("broken file must keep the previous set")
	}
	if err := st.LoadFile(filepath.Join(dir, "missing"), false); err == nil || st.Current() != first {
		t.Fatal("missing file must keep the previous set")
	}
	write("user * allow publish b\n")
	if err := st.LoadFile(path, false); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	if m := st.Current().Compile("u", "c", nil); m.CanPublish([]byte("a")) || !m.CanPublish([]byte("b")) {
		t.Error("reload not applied")
	}
	if !old.CanPublish([]byte("a")) || old.CanPublish([]byte("b")) {
		t.Error("a compiled matcher must not change on reload")
	}
}

func TestACLCheckAllocs(t *testing.T) {
	set := benchACLSet(100)
	m := set.Compile("user42", "client42", nil)
	filter := []byte("devices/user42/+")
	shared := mustACL(t, "user * allow publish a/+/c\nuser * deny subscribe #\n", false).Compile("u", "c", nil)
	if n := testing.AllocsPerRun(200, func() {
		for _, tc := range aclBenchTopics {
			_ = m.CanPublish(tc.topic)
			_ = shared.CanPublish(tc.topic)
		}
		_ = m.CanPublish([]byte("$SYS/x"))
		_ = shared.CanSubscribe(filter)
		_ = m.CanSubscribe(filter)
	}); n != 0 {
		t.Fatalf("check path allocates %.1f times", n)
	}
}
