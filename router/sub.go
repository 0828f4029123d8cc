package router

// Subscriber is an opaque handle chosen by the gateway (for example event
// loop, slot and generation packed in 64 bits). The router compares and
// hashes it and never interprets it.
type Subscriber uint64

// SubOptions are one subscription's options [MQTT-3.8.3].
type SubOptions struct {
	QoS               byte   // maximum QoS granted, 0..2
	NoLocal           bool   // v5: never deliver the subscriber's own publishes [MQTT-3.8.3-3]
	RetainAsPublished bool   // v5: keep the RETAIN flag on forwarded messages [MQTT-3.3.1-12]
	RetainHandling    byte   // v5: 0..2; validated only, the caller acts on Subscribe's existed result
	SubID             uint32 // v5 subscription identifier, 1..268435455; 0 = none
}

// MaxSubID is the largest subscription identifier (a 4-byte varint) [MQTT-3.8.2.1.2].
const MaxSubID = 268435455

func (o SubOptions) valid() bool {
	return o.QoS <= 2 && o.RetainHandling <= 2 && o.SubID <= MaxSubID
}

// Delivery is one subscriber's share of a match. Non-shared subscriptions of
// one subscriber that match the same topic are merged into one Delivery
// (highest QoS, every subscription identifier, RetainAsPublished if any).
// Each matching $share group adds one Delivery with Shared set; it is not
// merged with the member's own non-shared Delivery [MQTT-4.8.2].
type Delivery struct {
	Sub Subscriber
	// SubIDs are the matching subscriptions' identifiers (nil when none).
	// Immutable and router-owned: the caller must not modify them, and may
	// keep them as long as it likes.
	SubIDs            []uint32
	QoS               byte
	RetainAsPublished bool
	// NoLocal is the subscription's option. Informational: Match has already
	// dropped the publisher's own no-local subscriptions.
	NoLocal bool
	// Shared is set when the Delivery comes from a $share group.
	Shared bool
}

const (
	flagNoLocal byte = 1 << iota
	flagRAP
)

// sub is one stored subscription: 16 bytes, stored by value in
// copy-on-write slices. An element of a published slice is never modified,
// which lets Match read slices outside the lock and hand out SubIDs pointing
// at the id field.
type sub struct {
	s     Subscriber
	id    [1]uint32 // an array so that Delivery.SubIDs can be id[:]
	qos   byte
	flags byte
}

func newSub(s Subscriber, o SubOptions) sub {
	e := sub{s: s, id: [1]uint32{o.SubID}, qos: o.QoS}
	if o.NoLocal {
		e.flags |= flagNoLocal
	}
	if o.RetainAsPublished {
		e.flags |= flagRAP
	}
	return e
}

// delivery converts e, which must be an element of an immutable slice.
func (e *sub) delivery() Delivery {
	d := Delivery{Sub: e.s, QoS: e.qos, RetainAsPublished: e.flags&flagRAP != 0, NoLocal: e.flags&flagNoLocal != 0}
	if e.id[0] != 0 {
		d.SubIDs = e.id[:]
	}
	return d
}

// indexOf returns the position of s in list, or -1.
func indexOf(list []sub, s Subscriber) int {
	for i := range list {
		if list[i].s == s {
			return i
		}
	}
	return -1
}

// withSub returns list with e added or replacing the element of the same
// subscriber, never modifying a published element; existed reports a
// replacement. Appending may reuse spare capacity: readers only look at the
// elements below their own length.
func withSub(list []sub, e sub) (out []sub, existed bool) {
	if i := indexOf(list, e.s); i >= 0 {
		out = make([]sub, len(list))
		copy(out, list)
		out[i] = e
		return out, true
	}
	return append(list, e), false
}

// withoutSub returns a fresh copy of list without s; ok is false when s is
// not in list. An empty result is nil.
func withoutSub(list []sub, s Subscriber) (out []sub, ok bool) {
	i := indexOf(list, s)
	if i < 0 {
		return list, false
	}
	if len(list) == 1 {
		return nil, true
	}
	out = make([]sub, 0, len(list)-1)
	out = append(out, list[:i]...)
	out = append(out, list[i+1:]...)
	return out, true
}
