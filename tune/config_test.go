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

func TestGoMemLimit(t *testing.T) {
	if got := goMemLimit(100<<20, 20); got != 100<<20/100*80 {
		t.Errorf("goMemLimit = %d", got)
	}
	if goMemLimit(0, 20) != 0 {
		t.Error("no limit: GOMEMLIMIT set")
	}
}
