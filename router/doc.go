// Package router owns subscriptions and matching for edgegw: the exact-topic
// index, the wildcard trie, $share groups and the retained message store.
//
// # Structure
//
// Filters without wildcards live in a sharded hash index (exact.go) keyed
// by the filter string, so the fast path for "devices/<id>/cmd" is one read
// lock, one map lookup (m[string(topic)] does not allocate) and one
// append. (Keying the map by the 64-bit shard hash with the filter inline
// in the entry was tried: no faster on BenchmarkMatchExact, 22 B/sub more.) Filters with '+' or '#', and every $share filter, live in a trie
// (trie.go) sharded by the filter's first level; filters whose first level
// is itself a wildcard share one extra shard, which Match skips for topics
// starting with '$'. Every shard has its own lock, so subscribes to
// unrelated subtrees do not contend and matches only take read locks. A
// trie shard's lock is spread over 16 cache lines (a reader takes the one
// its topic hashes to, a writer takes all), because every Match of
// "devices/..." reads the shard of "devices".
//
// The subscription lists that Match reads are copy-on-write: an element of
// a published list is never modified (appends may fill spare capacity past
// every reader's length), so Match copies an exact list after releasing the
// shard lock, and the SubIDs slices it hands out may point into router
// memory (immutable, shared, valid for as long as the caller keeps them).
// The cost is O(subscribers) per unsubscribe or option change on a topic
// with many subscribers; subscribing is amortised O(1).
//
// There is no per-caller match cache: on the exact path a cache lookup
// would cost what the index lookup costs (one hash, one probe).
//
// # Shared subscriptions
//
// "$share/{group}/{filter}" groups live at the filter's trie node; each
// matching group adds exactly one Delivery (Shared set) chosen by
// Config.SharedStrategy: round_robin (a per-group atomic cursor), random, or
// sticky (rendezvous hashing of publisherHash and the member, so a publisher
// stays on one member and only the publishers of a departed member move).
// Gone members are handled in two ways: the session's end removes its
// memberships (UnsubscribeAll), and Config.Alive, when set, lets selection
// skip members whose connection is down while their persistent session
// keeps the membership. When no member is alive the strategy's first choice
// gets the message, so that a persistent session can queue it.
//
// # Retained messages
//
// The retained store (retained.go) is a topic tree sharded by first level:
// a lookup with a literal first level visits one shard, '+' enumerates one
// node's children, '#' walks one subtree. It is bounded by count and bytes;
// a refusal is counted. Expired messages are skipped by lookups and freed
// by PurgeExpired, which the gateway calls from a ticker.
//
// # Subscribers
//
// A Subscriber is an opaque uint64 chosen by the gateway (event loop, slot and
// generation). The router never interprets it except to compare it for
// equality (overlap merging, no-local) and to hash it (sticky shares). A
// stale handle is therefore harmless here: the gateway drops deliveries to
// handles whose generation no longer matches. Config.Alive, when set, lets
// shared-group selection skip members that are gone.
//
// # Concurrency contract
//
// Router is safe for concurrent use by any number of goroutines. Match never
// takes a write lock and never waits on anything a subscriber holds; it only
// waits for a writer of the same shard, which holds the lock for a map or trie
// update (no I/O, no callbacks). Config.Alive is called with a trie shard's
// read lock held and must be cheap and non-blocking.
//
// # Imports
//
// Standard library only. Counters are exposed through Stats; the gateway turns
// them into metrics.
package router
