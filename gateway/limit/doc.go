// Package limit owns edgegw's storm shaping primitives ([limits] in
// config.toml): connect rates (global and per source IP), connections per
// user, authentication attempts per user, flapping bans by client ID and by
// IP, and per-connection publish rates. It decides; the glue in package
// gateway acts on its Reason (CONNACK or DISCONNECT code, close, counter,
// log line).
//
// # Time
//
// Nothing here reads the clock. Every call takes now, nanoseconds on a
// monotonic scale chosen by the caller (the loop's clock, read once per
// wake, as time.Since(start)); tests drive a fake clock. now must not go
// backwards by more than a tick between calls on the same key; a small step
// back only makes a check stricter for that step.
//
// # Rates
//
// Rates are token buckets in the GCRA form (one int64 "theoretical arrival
// time" per bucket): a rate r per second with burst b allows b at once and
// then one every 1/r seconds. The burst is one second's worth (max(1, r)).
// Rates above 1e9 per second are treated as 1e9 (the step is 1 ns). A cost
// larger than the burst (a publish bigger than a second's bytes) passes
// when the bucket is full and leaves it in debt, so no message is refused
// forever.
//
// # Concurrency and memory
//
// Limiter is safe for concurrent use by every event loop and never blocks
// one for long: the global bucket is one atomic (a CAS loop), and the keyed
// state lives in tables of 64 shards, each behind its own mutex held for a
// map lookup and a few arithmetic operations (no allocation, no I/O, no
// callback under it). Keys are 64-bit maphash hashes with a per-process
// random seed, so looking up a borrowed client ID or username allocates
// nothing; two keys with the same hash share their limits (odds 2^-64 per
// pair, and the seed keeps them unpredictable). A ban keeps its client ID
// (at most MaxBanLabel bytes) or IP as a string, allocated once when it is
// banned, for Bans.
//
// Each table is bounded in entries (Config.MaxTrackedIPs, MaxTrackedClients,
// MaxTrackedUsers; defaults 65,536, 65,536 and 262,144, about 90 bytes per
// entry with its map slot, so at most about 36 MiB together, allocated per
// shard on its first use). A full
// shard evicts an idle entry (bucket full, no connections, flapping window
// over, no ban) found among the 8 after a rotating hand, losing nothing;
// failing that the least recently used of those 8 that holds neither a
// connection nor a ban (counted: EvictedActive, its rate state is lost and
// it starts over with a full bucket); failing that the new key is not
// tracked and the request passes (counted: Untracked). Failing open is the
// choice: a table full of active keys means a distributed storm, which the
// global connect_rate bounds, and refusing every new address would make the
// storm a denial of service.
//
// SetConfig swaps the configuration for every caller at once (the SIGHUP
// reload) and keeps bans in force, connection counts and bucket states.
//
// Publish is a value that lives on one connection and is used only by the
// loop that owns it (Loop-only); it holds no map.
//
// # Imports
//
// The standard library only; neither gateway nor gnet. Config carries the
// [limits] keys with toml tags; durations are time.Duration, and the
// configuration package maps its string Duration onto them.
package limit
