package router

import (
	"errors"
	"strings"
	"testing"
)

func TestParseFilter(t *testing.T) {
	tests := []struct {
		name   string
		filter string
		want   error // nil: valid
		group  string
		inner  string
		wild   bool
	}{
		{name: "exact", filter: "devices/1/cmd", inner: "devices/1/cmd"},
		{name: "empty levels", filter: "a//b", inner: "a//b"},
		{name: "leading slash", filter: "/a", inner: "/a"},
		{name: "trailing slash", filter: "a/", inner: "a/"},
		{name: "plus", filter: "a/+/c", inner: "a/+/c", wild: true},
		{name: "hash", filter: "a/#", inner: "a/#", wild: true},
		{name: "hash alone", filter: "#", inner: "#", wild: true},
		{name: "plus alone", filter: "+", inner: "+", wild: true},
		{name: "plus empty levels", filter: "+//+", inner: "+//+", wild: true},
		{name: "dollar", filter: "$SYS/#", inner: "$SYS/#", wild: true},
		{name: "share", filter: "$share/g/a/+", group: "g", inner: "a/+", wild: true},
		{name: "share exact", filter: "$share/g/a", group: "g", inner: "a"},
		{name: "share hash", filter: "$share/g/#", group: "g", inner: "#", wild: true},
		{name: "share word alone is a normal filter", filter: "$share", inner: "$share"},
		{name: "MQTT-4.7.3-1 empty", filter: "", want: ErrFilterEmpty},
		{name: "MQTT-4.7.1-1 hash not last", filter: "a/#/b", want: ErrFilterMultiLevel},
		{name: "MQTT-4.7.1-1 hash in level", filter: "#x", want: ErrFilterMultiLevel},
		{name: "MQTT-4.7.1-1 hash suffix", filter: "a/b#", want: ErrFilterMultiLevel},
		{name: "MQTT-4.7.1-2 plus in level", filter: "a+", want: ErrFilterSingleLevel},
		{name: "MQTT-4.7.1-2 plus prefix", filter: "a/+b/c", want: ErrFilterSingleLevel},
		{name: "MQTT-1.5.4-2 NUL", filter: "a\x00b", want: ErrFilterUTF8},
		{name: "MQTT-1.5.4-1 bad UTF-8", filter: "a\xffb", want: ErrFilterUTF8},
		{name: "MQTT-1.5.4-1 surrogate", filter: "a\xed\xa0\x80", want: ErrFilterUTF8},
		{name: "MQTT-4.8.2-1 share no group", filter: "$share/", want: ErrShareGroup},
		{name: "MQTT-4.8.2-1 share empty group", filter: "$share//a", want: ErrShareGroup},
		{name: "MQTT-4.8.2-1 share no filter", filter: "$share/g", want: ErrShareFilter},
		{name: "MQTT-4.8.2-1 share empty filter", filter: "$share/g/", want: ErrShareFilter},
		{name: "MQTT-4.8.2-2 share plus group", filter: "$share/g+/a", want: ErrShareGroup},
		{name: "MQTT-4.8.2-2 share hash group", filter: "$share/#/a", want: ErrShareGroup},
		{name: "MQTT-4.8.2-2 share wildcard group no filter", filter: "$share/+", want: ErrShareGroup},
		{name: "share bad inner", filter: "$share/g/a/#/b", want: ErrFilterMultiLevel},
		{name: "too long", filter: strings.Repeat("a", MaxFilterLen+1), want: ErrFilterTooLong},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := parseFilter([]byte(tc.filter))
			if tc.want != nil {
				if !errors.Is(err, tc.want) || !errors.Is(err, ErrInvalidFilter) {
					t.Fatalf("parseFilter(%q) = %v, want %v (an ErrInvalidFilter)", tc.filter, err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseFilter(%q): %v", tc.filter, err)
			}
			if string(p.group) != tc.group || string(p.filter) != tc.inner || p.wild != tc.wild {
				t.Fatalf("parseFilter(%q) = group %q filter %q wild %v, want %q %q %v",
					tc.filter, p.group, p.filter, p.wild, tc.group, tc.inner, tc.wild)
			}
		})
	}
}

func TestShareErrorsAreShareErrors(t *testing.T) {
	for _, err := range []error{ErrShareGroup, ErrShareFilter} {
		if !errors.Is(err, ErrInvalidShare) || !errors.Is(err, ErrInvalidFilter) {
			t.Errorf("%v is not ErrInvalidShare and ErrInvalidFilter", err)
		}
	}
	if errors.Is(ErrFilterEmpty, ErrInvalidShare) {
		t.Error("ErrFilterEmpty must not be ErrInvalidShare")
	}
	if errors.Is(ErrShareNoLocal, ErrInvalidFilter) {
		t.Error("ErrShareNoLocal is a protocol error, not a filter error")
	}
}

// TestRefusedFilterLeavesNoState subscribes invalid filters and options and
// checks that nothing was indexed.
func TestRefusedFilterLeavesNoState(t *testing.T) {
	r := New(Config{})
	bad := []string{"a/#/b", "a+", "#x", "$share/", "$share/g", "$share/g+/a", "$share//a", "", "a/\x00"}
	for _, f := range bad {
		if _, err := r.Subscribe(1, []byte(f), SubOptions{}); !errors.Is(err, ErrInvalidFilter) {
			t.Errorf("Subscribe(%q) = %v, want ErrInvalidFilter", f, err)
		}
		if _, err := r.Unsubscribe(1, []byte(f)); !errors.Is(err, ErrInvalidFilter) {
			t.Errorf("Unsubscribe(%q) = %v, want ErrInvalidFilter", f, err)
		}
	}
	for _, o := range []SubOptions{{QoS: 3}, {RetainHandling: 3}, {SubID: MaxSubID + 1}} {
		if _, err := r.Subscribe(1, []byte("a/b"), o); err != ErrInvalidOptions {
			t.Errorf("Subscribe with %+v = %v, want ErrInvalidOptions", o, err)
		}
	}
	if _, err := r.Subscribe(1, []byte("$share/g/a"), SubOptions{NoLocal: true}); err != ErrShareNoLocal {
		t.Errorf("shared no-local = %v, want ErrShareNoLocal", err)
	}
	if st := r.Stats(); st != (Stats{}) {
		t.Fatalf("state after refused filters: %+v", st)
	}
	for _, topic := range []string{"a/b", "a", "a/#/b", "x"} {
		if d := r.Match([]byte(topic), 0, 0, nil); len(d) != 0 {
			t.Fatalf("Match(%q) after refused filters = %+v", topic, d)
		}
	}
}
