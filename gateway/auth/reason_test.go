package auth

import "testing"

func TestCauseTable(t *testing.T) {
	seen := map[string]bool{}
	for c := Cause(0); c < numCauses; c++ {
		name := c.String()
		if name == "" || seen[name] {
			t.Fatalf("cause %d: name %q missing or repeated", c, name)
		}
		seen[name] = true
		if c.Allowed() != (c.Reason() == ReasonSuccess) {
			t.Fatalf("%v: allowed %v but reason %v", c, c.Allowed(), c.Reason())
		}
		if got := resultOf(c); got.Cause != c || got.Allowed != c.Allowed() {
			t.Fatalf("resultOf(%v) = %+v", c, got)
		}
	}
	for _, tc := range []struct {
		c  Cause
		v5 Reason
		v3 byte
	}{
		{CausePassword, 0x00, 0x00},
		{CauseBadPassword, 0x86, 0x04},
		{CauseJWTExpired, 0x86, 0x04},
		{CauseDisabled, 0x87, 0x05},
		{CauseHTTPForbidden, 0x87, 0x05},
		{CauseHTTPTimeout, 0x88, 0x03},
		{CauseHTTPError, 0x88, 0x03},
		{CauseQueueFull, 0x89, 0x03},
		{CauseHTTPBusy, 0x89, 0x03},
	} {
		if tc.c.Reason() != tc.v5 || tc.c.Reason().V3() != tc.v3 {
			t.Errorf("%v: %#x/%#x, want %#x/%#x", tc.c, byte(tc.c.Reason()), tc.c.Reason().V3(), byte(tc.v5), tc.v3)
		}
	}
}
