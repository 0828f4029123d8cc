package auth

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// Password file syntax, one account per line:
//
//	# comment
//	alice:$2a$10$...        enabled
//	bob:!$2a$10$...         disabled: the '!' before the hash locks the account
//
// The user name is everything before the first ':' (no whitespace, no control
// characters, not starting with '#'); the rest is a bcrypt hash ($2a$, $2b$
// or $2y$), optionally preceded by '!' to disable the account, as usermod -L
// does in /etc/shadow. Blank lines and lines starting with '#' are ignored;
// trailing spaces and '\r' are trimmed. A user listed twice is an error.
// A disabled account is refused 0x87 without running bcrypt.

// PasswordFile is one parsed password file. Immutable once built; safe for
// concurrent use.
type PasswordFile struct {
	users map[string]account
	// dummy is a bcrypt hash at the file's first cost, compared against
	// for a user the file does not know when nothing after it can claim
	// the request, so a refusal takes as long for an unknown user as for a
	// wrong password (no user-name probing by timing).
	dummy []byte
}

type account struct {
	hash     []byte
	disabled bool
}

// LoadPasswordFile reads and parses name. Errors name the file and, for
// syntax, the line; never the line's text.
func LoadPasswordFile(name string) (*PasswordFile, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("cannot load password file: %w", err) // *PathError names the file
	}
	return ParsePasswords(name, data)
}

// ParsePasswords parses the content of a password file; name is used in
// errors only.
func ParsePasswords(name string, data []byte) (*PasswordFile, error) {
	p := &PasswordFile{users: make(map[string]account)}
	for i, line := range bytes.Split(data, []byte{'\n'}) {
		line = bytes.TrimRight(line, " \t\r")
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		user, acct, err := parseLine(line)
		if err == nil {
			if _, dup := p.users[user]; dup {
				err = ErrDuplicateUser
			}
		}
		if err != nil {
			return nil, &LineError{File: name, Line: i + 1, Err: err}
		}
		p.users[user] = acct
		if p.dummy == nil {
			cost, _ := bcrypt.Cost(acct.hash)
			p.dummy, _ = bcrypt.GenerateFromPassword([]byte("edgegw-dummy"), cost)
		}
	}
	return p, nil
}

// equalizeTiming spends one bcrypt comparison at the file's cost; see dummy.
func (p *PasswordFile) equalizeTiming(password []byte, cpu chan struct{}) {
	if p != nil && p.dummy != nil {
		cpu <- struct{}{}
		_ = bcrypt.CompareHashAndPassword(p.dummy, password)
		<-cpu
	}
}

func parseLine(line []byte) (string, account, error) {
	colon := bytes.IndexByte(line, ':')
	if colon < 0 {
		return "", account{}, ErrSyntax
	}
	user := string(line[:colon])
	if !validUser(user) {
		return "", account{}, ErrBadUser
	}
	h := line[colon+1:]
	a := account{}
	if len(h) > 0 && h[0] == '!' {
		a.disabled = true
		h = h[1:]
	}
	if _, err := bcrypt.Cost(h); err != nil || !(bytes.HasPrefix(h, []byte("$2a$")) ||
		bytes.HasPrefix(h, []byte("$2b$")) || bytes.HasPrefix(h, []byte("$2y$"))) {
		return "", account{}, ErrBadHash
	}
	a.hash = bytes.Clone(h)
	return user, a, nil
}

func validUser(u string) bool {
	if u == "" || u[0] == '#' {
		return false
	}
	for i := 0; i < len(u); i++ {
		if c := u[i]; c <= ' ' || c == ':' || c == 0x7f {
			return false
		}
	}
	return true
}

// Len is the number of accounts.
func (p *PasswordFile) Len() int { return len(p.users) }

// verify decides req when its user is in the file; ok is false otherwise.
// It runs bcrypt (tens of ms at cost 10): worker goroutines only.
// verify checks req against the file; a bcrypt comparison holds a token
// of cpu (Config.CPU) while it computes.
func (p *PasswordFile) verify(req *Request, cpu chan struct{}) (Result, bool) {
	if p == nil || !req.HasUsername {
		return Result{}, false
	}
	a, ok := p.users[req.Username]
	if !ok {
		return Result{}, false
	}
	if a.disabled {
		return resultOf(CauseDisabled), true
	}
	cpu <- struct{}{}
	err := bcrypt.CompareHashAndPassword(a.hash, req.Password)
	<-cpu
	if err != nil {
		return resultOf(CauseBadPassword), true
	}
	return resultOf(CausePassword), true
}

// SetPassword adds user to the password file, or replaces its hash, with a
// bcrypt hash of password at cost (bcrypt.DefaultCost when 0). Every other
// line is kept byte for byte, a disabled account stays disabled, and the
// file is replaced atomically (temporary file in the same directory, fsync,
// rename), keeping its mode (0600 for a new file). The body of
// `edgegw passwd FILE USER`.
func SetPassword(file, user, password string, cost int) error {
	if !validUser(user) {
		return ErrBadUser
	}
	if password == "" {
		return ErrEmptyPassword
	}
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return fmt.Errorf("cannot hash password: %w", err) // bcrypt errors never echo the password
	}
	mode := os.FileMode(0o600)
	old, err := os.ReadFile(file)
	switch {
	case err == nil:
		if _, err := ParsePasswords(file, old); err != nil {
			return err // do not rewrite a file we cannot read back
		}
		if fi, err := os.Stat(file); err == nil {
			mode = fi.Mode().Perm()
		}
	case errors.Is(err, os.ErrNotExist):
	default:
		return fmt.Errorf("cannot read password file: %w", err)
	}
	out := setLine(old, user, hash)
	return writeAtomic(file, out, mode)
}

// setLine returns data with user's hash set to hash, appending a line when
// user is absent.
func setLine(data []byte, user string, hash []byte) []byte {
	lines := strings.SplitAfter(string(data), "\n")
	prefix := user + ":"
	var b strings.Builder
	found := false
	for _, l := range lines {
		if !found && strings.HasPrefix(l, prefix) {
			rest := l[len(prefix):]
			bang := strings.HasPrefix(rest, "!")
			b.WriteString(prefix)
			if bang {
				b.WriteByte('!')
			}
			b.Write(hash)
			if strings.HasSuffix(rest, "\r\n") {
				b.WriteString("\r\n")
			} else if strings.HasSuffix(rest, "\n") {
				b.WriteByte('\n')
			}
			found = true
			continue
		}
		b.WriteString(l)
	}
	if !found {
		if s := b.String(); s != "" && !strings.HasSuffix(s, "\n") {
			b.WriteByte('\n')
		}
		b.WriteString(prefix)
		b.Write(hash)
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

func writeAtomic(file string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".tmp*")
	if err != nil {
		return fmt.Errorf("cannot write password file: %w", err)
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			_ = tmp.Close()
			_ = os.Remove(name)
		}
	}()
	if err := tmp.Chmod(mode); err != nil {
		return fmt.Errorf("cannot write password file: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("cannot write password file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("cannot write password file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("cannot write password file: %w", err)
	}
	if err := os.Rename(name, file); err != nil {
		return fmt.Errorf("cannot write password file: %w", err)
	}
	ok = true
	return nil
}
