package gateway

import (
	"os"
	"strings"
	"testing"

	"edgegw/gateway/auth"
)

// TestProtectReload: ReloadProtection (SIGHUP) swaps in a changed password
// file, ACL file and [limits]; a broken password or ACL file keeps the
// previous version, the error names the file and line, and both outcomes
// are counted.
func TestProtectReload(t *testing.T) {
	pw := writePasswd(t, map[string]string{"alice": "a"})
	acl := writeFile(t, "acl", "user * allow both a/#\n")
	var cfg Config
	g := newTestGateway(t, func(c *Config) {
		c.Auth.AllowAnonymous = false
		c.Auth.PasswordFile = pw
		c.Auth.ACLFile = acl
		c.Auth.ACLDefault = "deny"
		c.Limits.ConnectRatePerIP = 1000
		cfg = *c
	})
	if got := connackOn(t, g, connectAuth(4, "bob-1", "bob", "b", true, true, "")); got != 0x04 {
		t.Fatalf("bob before: %#x", got)
	}
	if got := connackOn(t, g, connectAuth(4, "w-1", "alice", "a", true, true, "b/will")); got != 0x05 {
		t.Fatalf("will on b/ before: %#x", got)
	}

	// Good files.
	if err := auth.SetPassword(pw, "bob", "b", 4); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(acl, []byte("user * allow both b/#\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := g.ReloadProtection(nil); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if got := connackOn(t, g, connectAuth(4, "bob-2", "bob", "b", true, true, "")); got != 0 {
		t.Fatalf("bob after the reload: %#x", got)
	}
	if got := connackOn(t, g, connectAuth(4, "w-2", "alice", "a", true, true, "b/will")); got != 0 {
		t.Fatalf("will on b/ after the reload: %#x", got)
	}

	// Broken files: the previous versions stay.
	if err := os.WriteFile(pw, []byte("alice:$2a$04$tooshort\nbob\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(acl, []byte("user * allow both b/#\nuser * alow publish x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := g.ReloadProtection(nil)
	if err == nil || !strings.Contains(err.Error(), pw) || !strings.Contains(err.Error(), "line 1") || !strings.Contains(err.Error(), acl+":2") {
		t.Fatalf("broken reload: %v, want the password file and acl:2 named", err)
	}
	if strings.Contains(err.Error(), "tooshort") {
		t.Fatalf("the error shows a hash: %v", err)
	}
	if got := connackOn(t, g, connectAuth(4, "bob-3", "bob", "b", true, true, "")); got != 0 {
		t.Fatalf("bob after a broken reload: %#x", got)
	}
	if got := connackOn(t, g, connectAuth(4, "w-3", "alice", "a", true, true, "b/will")); got != 0 {
		t.Fatalf("will on b/ after a broken reload: %#x", got)
	}

	// [limits] from the configuration read again.
	next := cfg
	next.Limits.ConnectRatePerIP = 0.001
	if err := g.ReloadProtection(&next); err == nil {
		t.Fatal("the broken files still fail the reload")
	}
	if got := connackOn(t, g, connectAuth(4, "bob-4", "bob", "b", true, true, "")); got != 0 {
		t.Fatalf("first connect under the new rate: %#x", got)
	}
	if got := connackOn(t, g, connectAuth(5, "bob-5", "bob", "b", true, true, "")); got != 0x9F {
		t.Fatalf("second connect under the new rate: %#x, want 0x9F", got)
	}
	if ok, failed := metric(t, g, `edgegw_protect_reloads_total{result="ok"}`), metric(t, g, `edgegw_protect_reloads_total{result="failed"}`); ok != 1 || failed != 2 {
		t.Fatalf("reloads ok %v failed %v, want 1 and 2", ok, failed)
	}
}
