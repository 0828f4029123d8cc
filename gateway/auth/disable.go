package auth

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// ErrNoSuchUser: SetDisabled for a user the password file does not hold.
var ErrNoSuchUser = errors.New("user not in the password file")

// SetDisabled marks user's account disabled (the '!' before the hash, see
// passwd.go) or enabled again, keeping its hash and every other line byte
// for byte; the file is replaced atomically, keeping its mode. The body of
// `edgegw passwd -disable|-enable FILE USER`. It reads and writes the disk:
// never call it on an event loop.
func SetDisabled(file, user string, disabled bool) error {
	if !validUser(user) {
		return ErrBadUser
	}
	old, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("cannot read password file: %w", err)
	}
	if _, err := ParsePasswords(file, old); err != nil {
		return err // do not rewrite a file we cannot read back
	}
	mode := os.FileMode(0o600)
	if fi, err := os.Stat(file); err == nil {
		mode = fi.Mode().Perm()
	}
	prefix := user + ":"
	var b strings.Builder
	found := false
	for _, l := range strings.SplitAfter(string(old), "\n") {
		if !found && strings.HasPrefix(l, prefix) {
			rest := strings.TrimPrefix(l[len(prefix):], "!")
			b.WriteString(prefix)
			if disabled {
				b.WriteByte('!')
			}
			b.WriteString(rest)
			found = true
			continue
		}
		b.WriteString(l)
	}
	if !found {
		return ErrNoSuchUser
	}
	return writeAtomic(file, []byte(b.String()), mode)
}
