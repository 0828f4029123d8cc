package gateway

// subList is a session's subscribed filters, kept to remove them from the
// router when the session ends (the router has no per-subscriber index).
// Most devices hold one to three filters: a slice costs 16 B per filter
// where the smallest Go map costs ~200 B, so a session keeps a slice and
// switches to a map past subListMax filters (linear search stays cheap up
// to there). Loop-only, like the session record that holds it.
type subList struct {
	few  []string
	many map[string]struct{} // non-nil once past subListMax; few is nil then
}

const subListMax = 16

// add records filter f (the caller knows it is new to the session).
func (s *subList) add(f []byte) {
	if s.many != nil {
		s.many[string(f)] = struct{}{}
		return
	}
	if len(s.few) < subListMax {
		s.few = append(s.few, string(f))
		return
	}
	s.many = make(map[string]struct{}, 2*subListMax)
	for _, x := range s.few {
		s.many[x] = struct{}{}
	}
	s.many[string(f)] = struct{}{}
	s.few = nil
}

// remove forgets filter f; it reports whether f was there.
func (s *subList) remove(f []byte) bool {
	if s == nil {
		return false
	}
	if s.many != nil {
		if _, ok := s.many[string(f)]; !ok {
			return false
		}
		delete(s.many, string(f))
		return true
	}
	for i, x := range s.few {
		if x == string(f) {
			last := len(s.few) - 1
			s.few[i] = s.few[last]
			s.few[last] = ""
			s.few = s.few[:last]
			return true
		}
	}
	return false
}

// has reports whether filter f is recorded.
func (s *subList) has(f []byte) bool {
	if s == nil {
		return false
	}
	if s.many != nil {
		_, ok := s.many[string(f)]
		return ok
	}
	for _, x := range s.few {
		if x == string(f) {
			return true
		}
	}
	return false
}

func (s *subList) len() int {
	if s == nil {
		return 0
	}
	if s.many != nil {
		return len(s.many)
	}
	return len(s.few)
}

// appendTo appends every filter to dst.
func (s *subList) appendTo(dst [][]byte) [][]byte {
	if s == nil {
		return dst
	}
	if s.many != nil {
		for f := range s.many {
			dst = append(dst, []byte(f))
		}
		return dst
	}
	for _, f := range s.few {
		dst = append(dst, []byte(f))
	}
	return dst
}
