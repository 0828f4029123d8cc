package tune

import (
	"errors"
	"fmt"
)

// Apply modes of Config.Apply.
const (
	ApplyRaise = "raise" // raise what is below the recommendation, never lower
	ApplyOff   = "off"   // only report, and print the commands that would raise
)

// Defaults used where a Config field is zero.
const (
	DefaultHighWatermark = 90 // percent of the memory limit
	DefaultHeadroom      = 5  // percent of the memory limit kept out of GOMEMLIMIT, beyond the kernel's share
	// DefaultConnectionCost is the memory one idle MQTT connection costs the
	// cgroup, user space and kernel together, in bytes: see budget.go for
	// how it was measured.
	DefaultConnectionCost = 2560
)

// Config is the [tune] section of config.toml. Its zero value works: every
// zero field means its default. Read-only once given to Inspect or Apply.
type Config struct {
	Apply               string `toml:"apply"`                 // "raise" (default; "" too) or "off"
	MemoryLimit         int64  `toml:"memory_limit"`          // bytes; used when no cgroup limit applies; 0 = the machine's RAM
	ConnectionCost      int64  `toml:"connection_cost"`       // bytes one idle connection costs; 0 = DefaultConnectionCost
	MemoryHighWatermark int    `toml:"memory_high_watermark"` // percent of the limit: capacity is sized to it, and past it new connections are refused; 0 = 90
	GoMemLimitHeadroom  int    `toml:"gomemlimit_headroom"`   // percent of the limit kept out of GOMEMLIMIT beyond the kernel and file memory; 0 = 5
	QueueMemory         int    `toml:"queue_memory"`          // percent of the limit that queued messages of all sessions together may hold; 0 = 25
}

// DefaultQueueMemory is the default share of the memory limit, in percent,
// that the messages queued by all sessions together may hold.
const DefaultQueueMemory = 25

// QueueBound is the bytes that queued messages of all sessions together may
// hold under a memory limit of limit bytes.
func (c Config) QueueBound(limit int64) int64 {
	pct := int64(c.QueueMemory)
	if pct == 0 {
		pct = DefaultQueueMemory
	}
	return limit * pct / 100
}

// Default returns the documented defaults, spelled out (config.toml shows
// them); they behave like the zero value.
func Default() Config {
	return Config{
		Apply:               ApplyRaise,
		MemoryHighWatermark: DefaultHighWatermark,
		GoMemLimitHeadroom:  DefaultHeadroom,
		ConnectionCost:      DefaultConnectionCost,
		QueueMemory:         DefaultQueueMemory,
	}
}

// FieldError is a problem with one key of the section, Key relative to
// [tune] ("apply"). The gateway's loader prefixes "tune." and adds the line.
type FieldError struct {
	Key string
	Msg string
}

func (e *FieldError) Error() string { return "tune." + e.Key + ": " + e.Msg }

// Validate checks every value; problems are *FieldError values joined with
// errors.Join.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, &FieldError{Key: key, Msg: fmt.Sprintf(format, a...)})
	}
	switch c.Apply {
	case "", ApplyRaise, ApplyOff:
	default:
		bad("apply", "must be \"raise\" or \"off\", got %q", c.Apply)
	}
	if c.MemoryLimit < 0 || c.MemoryLimit > 0 && c.MemoryLimit < 16<<20 {
		bad("memory_limit", "must be 0 (the cgroup limit, else RAM) or at least 16777216 bytes (16 MiB), got %d", c.MemoryLimit)
	}
	if c.ConnectionCost < 0 || c.ConnectionCost > 0 && c.ConnectionCost < 256 {
		bad("connection_cost", "must be 0 (the measured default) or at least 256 bytes, got %d", c.ConnectionCost)
	}
	if c.MemoryHighWatermark != 0 && (c.MemoryHighWatermark < 50 || c.MemoryHighWatermark > 99) {
		bad("memory_high_watermark", "must be 0 (default 90) or a percentage between 50 and 99, got %d", c.MemoryHighWatermark)
	}
	if c.GoMemLimitHeadroom != 0 && (c.GoMemLimitHeadroom < 1 || c.GoMemLimitHeadroom > 90) {
		bad("gomemlimit_headroom", "must be 0 (default 5) or a percentage between 1 and 90, got %d", c.GoMemLimitHeadroom)
	}
	if c.QueueMemory != 0 && (c.QueueMemory < 1 || c.QueueMemory > 90) {
		bad("queue_memory", "must be 0 (default 25) or a percentage between 1 and 90, got %d", c.QueueMemory)
	}
	return errors.Join(errs...)
}

// applyMode, watermark, headroom and cost resolve the zero values.
func (c Config) applyMode() string {
	if c.Apply == "" {
		return ApplyRaise
	}
	return c.Apply
}

func (c Config) watermark() int64 {
	if c.MemoryHighWatermark == 0 {
		return DefaultHighWatermark
	}
	return int64(c.MemoryHighWatermark)
}

func (c Config) headroom() int64 {
	if c.GoMemLimitHeadroom == 0 {
		return DefaultHeadroom
	}
	return int64(c.GoMemLimitHeadroom)
}

func (c Config) cost() int64 {
	if c.ConnectionCost == 0 {
		return DefaultConnectionCost
	}
	return c.ConnectionCost
}
