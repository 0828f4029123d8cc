package auth

import (
	"fmt"
	"os"
	"sync/atomic"
)

// ACLStore holds the current ACLSet behind an atomic pointer. Safe for
// concurrent use: loops call Current at CONNECT, the reload goroutine calls
// LoadFile. Clients connected before a reload keep the matcher they
// compiled; new connections see the new set. The zero value holds no set
// (Current returns nil, whose matchers allow everything).
type ACLStore struct {
	cur atomic.Pointer[ACLSet]
}

// Current returns the set in force; nil when none was loaded.
func (s *ACLStore) Current() *ACLSet { return s.cur.Load() }

// Swap installs set (nil: no ACLs) and returns the previous one.
func (s *ACLStore) Swap(set *ACLSet) *ACLSet { return s.cur.Swap(set) }

// LoadFile reads and parses path and, when it is whole and valid, installs
// it with acl_default defaultAllow. On any error the previous set stays in
// force and the error names the file (and the line, for syntax errors:
// errors.As *ACLLineError, errors.Is ErrACLAction...). It reads the disk:
// call it from a goroutine of its own (SIGHUP handler), never on a loop.
func (s *ACLStore) LoadFile(path string, defaultAllow bool) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("cannot load acl_file %q: %w", path, err)
	}
	rules, err := ParseACL(src, path)
	if err != nil {
		return fmt.Errorf("cannot load acl_file: %w", err)
	}
	s.cur.Store(NewACLSet(rules, defaultAllow))
	return nil
}
