package router

import (
	"errors"
	"testing"
	"unicode/utf8"
)

// FuzzSubscribeMatch subscribes one filter, matches one topic against the
// naive reference, unsubscribes, and checks that nothing is left. Invalid
// filters must be refused with an ErrInvalidFilter and leave no state.
func FuzzSubscribeMatch(f *testing.F) {
	for _, s := range [][2]string{
		{"a/#", "a"}, {"+/+", "/a"}, {"#", "$SYS/x"}, {"$share/g/a/+", "a/b"}, {"a/#/b", "a/x/b"},
		{"a+", "a"}, {"$share/", "x"}, {"$share/g+/a", "a"}, {"a//b", "a//b"}, {"+", ""}, {"$SYS/+", "$SYS/"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, filter, topic string) {
		r := New(Config{Shards: 2})
		_, err := r.Subscribe(7, []byte(filter), SubOptions{QoS: 1})
		if err != nil {
			if !errors.Is(err, ErrInvalidFilter) {
				t.Fatalf("Subscribe(%q): %v is not ErrInvalidFilter", filter, err)
			}
			if st := r.Stats(); st.Subscriptions != 0 {
				t.Fatalf("refused filter %q left %+v", filter, st)
			}
			return
		}
		if !validTopic([]byte(topic)) || !utf8.ValidString(filter) {
			r.Match([]byte(topic), 0, 0, nil) // must not panic
		} else {
			group, inner := splitShare(filter)
			got := r.Match([]byte(topic), 0, 0, nil)
			want := naiveMatch(inner, topic)
			if (len(got) == 1) != want || len(got) > 1 || (len(got) == 1 && got[0].Shared != (group != "")) {
				t.Fatalf("filter %q topic %q: got %+v, naive %v", filter, topic, got, want)
			}
		}
		if ok, err := r.Unsubscribe(7, []byte(filter)); !ok || err != nil {
			t.Fatalf("Unsubscribe(%q) = %v, %v", filter, ok, err)
		}
		assertEmpty(t, r)
	})
}

// FuzzRetained stores a topic and looks it up with a filter.
func FuzzRetained(f *testing.F) {
	f.Add("a/b/c", "a/+/c")
	f.Add("$SYS/x", "#")
	f.Add("a", "a/#")
	f.Add("/", "+/+")
	f.Fuzz(func(t *testing.T, topic, filter string) {
		r := New(Config{Shards: 2, RetainedMaxMessages: 10})
		err := r.Retain(&Retained{Topic: []byte(topic), Payload: []byte("x")})
		if err != nil {
			if err != ErrInvalidTopic || validTopic([]byte(topic)) {
				t.Fatalf("Retain(%q): %v", topic, err)
			}
			return
		}
		n := 0
		r.Retained([]byte(filter), 0, func(*Retained) bool { n++; return true })
		p, perr := parseFilter([]byte(filter))
		want := perr == nil && p.group == nil && naiveMatch(filter, topic)
		if (n == 1) != want || n > 1 {
			t.Fatalf("topic %q filter %q: %d found, naive %v", topic, filter, n, want)
		}
	})
}
