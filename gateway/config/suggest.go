package config

import (
	"reflect"
	"strings"
)

// suggestKey returns the known key nearest to the unknown dotted key parts
// under the struct type t ("http.adress" -> "http.addr"), or "" when none is
// near. Each part that names no field is replaced by the nearest field name
// of its struct (editDistance, see nearEnough); a part under a scalar has no
// candidates. Called only on a configuration error, so it may allocate.
func suggestKey(t reflect.Type, parts []string) string {
	fixed := make([]string, 0, len(parts))
	changed := false
	for _, part := range parts {
		t = deref(t)
		switch t.Kind() {
		case reflect.Map:
			t = t.Elem()
		case reflect.Struct:
			f, ok := fieldByTag(t, part)
			if !ok {
				best, bestD := "", -1
				for _, name := range tomlNames(t, nil) {
					d := editDistance(part, name)
					if !nearEnough(part, name, d) {
						continue
					}
					// The nearest; of equals, the one sharing the longer
					// prefix ("logging": log, not engine).
					if bestD < 0 || d < bestD || d == bestD && commonPrefix(part, name) > commonPrefix(part, best) {
						best, bestD = name, d
					}
				}
				if best == "" {
					return ""
				}
				f, _ = fieldByTag(t, best)
				part, changed = best, true
			}
			t = f.Type
		default:
			return ""
		}
		fixed = append(fixed, part)
	}
	if !changed {
		return ""
	}
	return strings.Join(fixed, ".")
}

// nearEnough reports whether the unknown name a is near the key b at edit
// distance d: one edit away, or starting with the same letter and within
// two thirds of a's length. That takes "adress" to "addr" (4 of 6),
// "loopz" to "loops", "ebgine" to "engine", and nothing to "x", "nope",
// "server" (router) or "tcp" (http).
func nearEnough(a, b string, d int) bool {
	return d <= 1 || a != "" && a[0] == b[0] && 3*d <= 2*len(a)
}

// commonPrefix is the length of the longest common prefix of a and b.
func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// tomlNames appends the `toml` names of struct t's fields to dst, looking
// through untagged embedded structs as fieldByTag does.
func tomlNames(t reflect.Type, dst []string) []string {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if tag == "" && f.Anonymous && deref(f.Type).Kind() == reflect.Struct {
			dst = tomlNames(deref(f.Type), dst)
			continue
		}
		if !f.IsExported() || tag == "-" {
			continue
		}
		if tag == "" {
			tag = f.Name
		}
		dst = append(dst, tag)
	}
	return dst
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and transpositions of adjacent bytes
// each cost 1 ("loopz" -> "loops" 1, "adress" -> "addr" 4).
func editDistance(a, b string) int {
	// Three rows of the (len(a)+1) x (len(b)+1) table suffice.
	prev2, prev, cur := make([]int, len(b)+1), make([]int, len(b)+1), make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// didYouMean is the hint appended to an unknown key's error: " (did you
// mean http.addr?)", or "" without a suggestion.
func didYouMean(key string) string {
	if key == "" {
		return ""
	}
	return " (did you mean " + key + "?)"
}
