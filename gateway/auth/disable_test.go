package auth

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

// TestSetDisabled checks that disabling keeps the hash (enabling again
// restores the same password) and that a disabled account is refused 0x87.
func TestSetDisabled(t *testing.T) {
	file := filepath.Join(t.TempDir(), "passwd")
	if err := SetPassword(file, "alice", "secret", 4); err != nil {
		t.Fatal(err)
	}
	verify := func() Result {
		a, err := New(Config{PasswordFile: file})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		return a.Verify(context.Background(), NewRequest("c", "alice", true, []byte("secret"), true, netip.MustParseAddr("127.0.0.1"), "tcp", "", nil))
	}
	if r := verify(); !r.Allowed {
		t.Fatalf("enabled: %+v", r)
	}
	if err := SetDisabled(file, "alice", true); err != nil {
		t.Fatal(err)
	}
	if r := verify(); r.Allowed || r.Cause != CauseDisabled || r.Reason != ReasonNotAuthorized {
		t.Fatalf("disabled: %+v", r)
	}
	if err := SetDisabled(file, "alice", false); err != nil {
		t.Fatal(err)
	}
	if r := verify(); !r.Allowed {
		t.Fatalf("enabled again: %+v", r)
	}
	if err := SetDisabled(file, "bob", true); !errors.Is(err, ErrNoSuchUser) {
		t.Fatalf("unknown user: %v", err)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
}
