package tune

import (
	"errors"
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	if err := (Config{}).Validate(); err != nil {
		t.Errorf("zero Config: %v", err)
	}
	if err := Default().Validate(); err != nil {
		t.Errorf("Default(): %v", err)
	}
	bad := []struct {
		c   Config
		key string
	}{
		{Config{Apply: "lower"}, "apply"},
		{Config{MemoryLimit: -1}, "memory_limit"},
		{Config{MemoryLimit: 1 << 20}, "memory_limit"},
		{Config{ConnectionCost: 10}, "connection_cost"},
		{Config{MemoryHighWatermark: 100}, "memory_high_watermark"},
		{Config{MemoryHighWatermark: 10}, "memory_high_watermark"},
		{Config{GoMemLimitHeadroom: 95}, "gomemlimit_headroom"},
	}
	for _, b := range bad {
		err := b.c.Validate()
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Key != b.key || !strings.HasPrefix(err.Error(), "tune."+b.key+": ") {
			t.Errorf("%+v: %v, want a *FieldError for %s", b.c, err, b.key)
		}
	}
}

func TestGoMaxProcsSource(t *testing.T) {
	tests := []struct {
		env           string
		quota         float64
		numCPU, procs int
		want          string
	}{
		{"4", 0, 8, 4, "GOMAXPROCS env"},
		{"", 1.5, 8, 2, "cgroup CPU quota"},
		{"", 0, 8, 8, "cores"},
		{"", 16, 8, 8, "cores"}, // a quota above the cores does not bind
	}
	for _, tt := range tests {
		if got := gomaxprocsSource(tt.env, tt.quota, tt.numCPU, tt.procs); got != tt.want {
			t.Errorf("gomaxprocsSource(%q, %v, %d, %d) = %q, want %q", tt.env, tt.quota, tt.numCPU, tt.procs, got, tt.want)
		}
	}
}

// TestGoMemLimit: GOMEMLIMIT is the limit minus the headroom minus the
// kernel's and the page cache's share, never below an eighth of the limit;
// set only for a cgroup or configured limit, never over the environment's.
func TestGoMemLimit(t *testing.T) {
	b := Budget{Limit: 100 << 20, Source: SourceCgroup}
	if got := GoMemLimit(b, Config{}, 30<<20); got != 100<<20/100*95-30<<20 {
		t.Errorf("GoMemLimit = %d", got)
	}
	if got := GoMemLimit(b, Config{GoMemLimitHeadroom: 10}, 95<<20); got != 100<<20/8 {
		t.Errorf("GoMemLimit with the kernel holding most = %d, want an eighth of the limit", got)
	}
	if GoMemLimit(Budget{}, Config{}, 0) != 0 {
		t.Error("no limit: GOMEMLIMIT set")
	}
	none := func(string) string { return "" }
	env := func(k string) string {
		if k == "GOMEMLIMIT" {
			return "1GiB"
		}
		return ""
	}
	if !FollowGoMemLimit(b, none) || FollowGoMemLimit(b, env) || FollowGoMemLimit(Budget{Limit: 1 << 30, Source: SourceRAM}, none) {
		t.Error("FollowGoMemLimit: want true only for a cgroup or configured limit without the environment variable")
	}
}
