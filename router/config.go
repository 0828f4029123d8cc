package router

import (
	"fmt"
	"math/bits"
)

// Shared subscription strategies (Config.SharedStrategy).
const (
	StrategyRoundRobin = "round_robin" // default: members in turn, per group
	StrategyRandom     = "random"      // a uniformly random member
	StrategySticky     = "sticky"      // rendezvous hash of the publisher: one publisher, one member
)

// DefaultShards is the number of shards of each index when Config.Shards is 0.
const DefaultShards = 64

// Config configures a Router. The zero value works: 64 shards, round robin,
// retained messages disabled.
type Config struct {
	// Shards is the number of shards of the exact index, the trie and the
	// retained store, rounded up to a power of two. 0 means DefaultShards.
	Shards int
	// SharedStrategy picks one member of a $share group per message:
	// "round_robin" (default when empty), "random" or "sticky".
	SharedStrategy string
	// RetainedMaxMessages bounds the retained store by count; 0 disables it
	// (every Retain is refused with ErrRetainDisabled).
	RetainedMaxMessages int
	// RetainedMaxBytes bounds the retained store by topic+payload+props
	// bytes; 0 means no byte bound.
	RetainedMaxBytes int
	// Alive, when not nil, tells shared-group selection whether a member is
	// connected. Members for which it returns false are skipped; when no
	// member is alive the strategy's first choice is returned anyway (a
	// persistent session queues it). It is called during Match under a
	// read lock: it must be safe for concurrent use, cheap and non-blocking.
	Alive func(Subscriber) bool
}

// Validate reports the first invalid field, naming its key.
func (c Config) Validate() error {
	switch c.SharedStrategy {
	case "", StrategyRoundRobin, StrategyRandom, StrategySticky:
	default:
		return fmt.Errorf("router: shared_strategy must be %q, %q or %q, got %q",
			StrategyRoundRobin, StrategyRandom, StrategySticky, c.SharedStrategy)
	}
	if c.Shards < 0 || c.Shards > 1<<16 {
		return fmt.Errorf("router: shards must be in [0, 65536], got %d", c.Shards)
	}
	if c.RetainedMaxMessages < 0 {
		return fmt.Errorf("router: retained_max_messages must be >= 0, got %d", c.RetainedMaxMessages)
	}
	if c.RetainedMaxBytes < 0 {
		return fmt.Errorf("router: retained_max_bytes must be >= 0, got %d", c.RetainedMaxBytes)
	}
	return nil
}

func (c Config) shards() int {
	n := c.Shards
	if n <= 0 {
		n = DefaultShards
	}
	if n > 1<<16 {
		n = 1 << 16
	}
	return 1 << bits.Len(uint(n-1))
}

type strategy uint8

const (
	roundRobin strategy = iota
	random
	sticky
)

func (c Config) strategy() strategy {
	switch c.SharedStrategy {
	case StrategyRandom:
		return random
	case StrategySticky:
		return sticky
	}
	return roundRobin
}
