package auth

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func TestPasswordFileVerify(t *testing.T) {
	dir := t.TempDir()
	file := writeFile(t, dir, "passwd", "# accounts\n\nalice:"+hashOf(t, "wonderland")+"\r\n"+
		"bob:!"+hashOf(t, "builder")+"\n")
	a := newAuth(t, Config{PasswordFile: file})
	for _, tc := range []struct {
		name       string
		user, pass string
		cause      Cause
		reason     Reason
		v3         byte
	}{
		{"right", "alice", "wonderland", CausePassword, ReasonSuccess, 0x00},
		{"wrong", "alice", "wonderland!", CauseBadPassword, ReasonBadUserNameOrPassword, 0x04},
		{"empty password", "alice", "", CauseBadPassword, ReasonBadUserNameOrPassword, 0x04},
		{"disabled with right password", "bob", "builder", CauseDisabled, ReasonNotAuthorized, 0x05},
		{"disabled with wrong password", "bob", "x", CauseDisabled, ReasonNotAuthorized, 0x05},
		{"unknown user", "carol", "wonderland", CauseUnknownUser, ReasonBadUserNameOrPassword, 0x04},
		{"user name is case sensitive", "Alice", "wonderland", CauseUnknownUser, ReasonBadUserNameOrPassword, 0x04},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := verify(a, userReq(tc.user, tc.pass))
			if r.Cause != tc.cause || r.Reason != tc.reason || r.Reason.V3() != tc.v3 || r.Allowed != (tc.cause == CausePassword) {
				t.Fatalf("got %+v, want cause %v reason %v v3 %#x", r, tc.cause, tc.reason, tc.v3)
			}
		})
	}
}

func TestParsePasswordsErrorsNameLine(t *testing.T) {
	h := hashOf(t, "secret-pw")
	for _, tc := range []struct {
		name, data string
		line       int
		want       error
	}{
		{"no colon", "alice:" + h + "\nbob\n", 2, ErrSyntax},
		{"not bcrypt", "# c\nalice:$1$md5hash\n", 2, ErrBadHash},
		{"plain text", "alice:secret-pw\n", 1, ErrBadHash},
		{"empty user", ":" + h + "\n", 1, ErrBadUser},
		{"space in user", "al ice:" + h + "\n", 1, ErrBadUser},
		{"duplicate", "alice:" + h + "\n\nalice:" + h + "\n", 3, ErrDuplicateUser},
		{"disabled bad hash", "alice:!nothash\n", 1, ErrBadHash},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePasswords("pw.txt", []byte(tc.data))
			var le *LineError
			if !errors.As(err, &le) || le.Line != tc.line || le.File != "pw.txt" || !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want line %d %v", err, tc.line, tc.want)
			}
			msg := err.Error()
			if !strings.Contains(msg, `"pw.txt"`) || !strings.Contains(msg, "line ") {
				t.Fatalf("error %q does not name file and line", msg)
			}
			if strings.Contains(msg, "secret-pw") || strings.Contains(msg, h) || strings.Contains(msg, "md5hash") {
				t.Fatalf("error %q leaks line content", msg)
			}
		})
	}
}

func TestLoadPasswordFileMissing(t *testing.T) {
	_, err := New(Config{PasswordFile: filepath.Join(t.TempDir(), "nope")})
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("got %v", err)
	}
}

func TestSetPassword(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "passwd")

	// New file: created 0600, verifiable.
	if err := SetPassword(file, "alice", "pw-one", 4); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	// Add others by hand: a comment, a disabled account, CRLF, no final newline.
	old, _ := os.ReadFile(file)
	bobLine := "bob:!" + hashOf(t, "bob-pw") + "\r\n"
	content := "# keep me\n" + string(old) + bobLine + "carol:" + hashOf(t, "carol-pw")
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(file, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := SetPassword(file, "alice", "pw-two", 4); err != nil {
		t.Fatal(err)
	}
	if err := SetPassword(file, "bob", "bob-new", 4); err != nil {
		t.Fatal(err)
	}
	if err := SetPassword(file, "dave", "dave-pw", 4); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(file)
	lines := strings.Split(string(got), "\n")
	if lines[0] != "# keep me" || !strings.HasPrefix(lines[1], "alice:$2a$04$") ||
		!strings.HasPrefix(lines[2], "bob:!$2a$04$") || !strings.HasSuffix(lines[2], "\r") ||
		!strings.HasPrefix(lines[3], "carol:") || !strings.HasPrefix(lines[4], "dave:") || lines[5] != "" || len(lines) != 6 {
		t.Fatalf("file:\n%q", got)
	}
	if !strings.Contains(string(got), content[strings.Index(content, "carol:"):]) {
		t.Fatal("carol's line changed")
	}
	if fi, _ := os.Stat(file); fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode not kept: %v", fi.Mode())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("temp files left: %v", ents)
	}
	a := newAuth(t, Config{PasswordFile: file})
	for user, want := range map[string]Cause{"alice:pw-two": CausePassword, "alice:pw-one": CauseBadPassword,
		"bob:bob-new": CauseDisabled, "carol:carol-pw": CausePassword, "dave:dave-pw": CausePassword} {
		u, p, _ := strings.Cut(user, ":")
		if r := verify(a, userReq(u, p)); r.Cause != want {
			t.Errorf("%s: %v, want %v", user, r.Cause, want)
		}
	}
}

func TestSetPasswordRefuses(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "passwd")
	long := strings.Repeat("p", 73) + "TOPSECRET"
	for _, tc := range []struct {
		name, user, pass string
		want             error
	}{
		{"colon", "a:b", "x", ErrBadUser},
		{"newline", "a\nb", "x", ErrBadUser},
		{"comment", "#a", "x", ErrBadUser},
		{"empty password", "a", "", ErrEmptyPassword},
		{"too long", "a", long, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := SetPassword(file, tc.user, tc.pass, 4)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if tc.pass != "" && strings.Contains(err.Error(), "TOPSECRET") {
				t.Fatalf("error leaks the password: %v", err)
			}
		})
	}
	// A file we cannot parse is not rewritten.
	writeFile(t, dir, "passwd", "garbage line\n")
	if err := SetPassword(file, "alice", "pw", 4); !errors.Is(err, ErrSyntax) {
		t.Fatalf("got %v", err)
	}
	if got, _ := os.ReadFile(file); string(got) != "garbage line\n" {
		t.Fatalf("file rewritten: %q", got)
	}
}

// TestUnknownUserTiming: an unknown user costs a bcrypt comparison at the
// file's cost, like a wrong password, so timing does not reveal which user
// names exist.
func TestUnknownUserTiming(t *testing.T) {
	h, err := bcrypt.GenerateFromPassword([]byte("pw"), 6)
	if err != nil {
		t.Fatal(err)
	}
	a := newAuth(t, Config{PasswordFile: writeFile(t, t.TempDir(), "pw", "alice:"+string(h)+"\n")})
	measure := func(user string) time.Duration {
		best := time.Hour
		for range 3 {
			t0 := time.Now()
			verify(a, userReq(user, "wrong"))
			best = min(best, time.Since(t0))
		}
		return best
	}
	wrong, unknown := measure("alice"), measure("nobody")
	if unknown < wrong/3 {
		t.Fatalf("unknown user refused in %v, wrong password in %v", unknown, wrong)
	}
}
