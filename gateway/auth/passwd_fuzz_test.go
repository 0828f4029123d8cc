package auth

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzParsePasswords: no panic; an error is a *LineError naming a line that
// exists; a parsed file re-parses identically after SetPassword's setLine
// rewrites one of its users.
func FuzzParsePasswords(f *testing.F) {
	h := "$2a$04$" + "abcdefghijklmnopqrstuu" + "abcdefghijklmnopqrstuvwxyz01234" // 60-byte shape
	for _, s := range []string{"", "alice:" + h + "\n", "# c\r\nbob:!" + h, "a:b\n", ":x", "a:!\n", "alice:" + h + "\nalice:" + h} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePasswords("f", data)
		if err != nil {
			var le *LineError
			if !errors.As(err, &le) || le.Line < 1 || le.Line > bytes.Count(data, []byte{'\n'})+1 {
				t.Fatalf("error %v", err)
			}
			return
		}
		for user, a := range p.users {
			out := setLine(data, user, a.hash)
			q, err := ParsePasswords("f", out)
			if err != nil || q.Len() != p.Len() || q.users[user].disabled != a.disabled {
				t.Fatalf("setLine(%q) broke the file: %v", user, err)
			}
			break
		}
	})
}
