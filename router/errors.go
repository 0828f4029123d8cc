package router

// Error is a pre-allocated router error. Compare with errors.Is: every filter
// error is also ErrInvalidFilter, every $share form error is also
// ErrInvalidShare (and therefore ErrInvalidFilter).
type Error struct {
	msg    string
	parent *Error
}

// Error returns the message.
func (e *Error) Error() string { return e.msg }

// Is reports whether target is e or one of e's ancestors, so that
// errors.Is(ErrShareGroup, ErrInvalidFilter) holds.
func (e *Error) Is(target error) bool {
	for p := e; p != nil; p = p.parent {
		if p == target {
			return true
		}
	}
	return false
}

// Filter errors: the session answers them with SUBACK reason code 0x8F
// (TopicFilterInvalid, v5) or 0x80 (failure, v3.1.1). A refused filter leaves
// no state behind.
var (
	ErrInvalidFilter     = &Error{msg: "router: invalid topic filter"}
	ErrFilterEmpty       = &Error{msg: "router: empty topic filter", parent: ErrInvalidFilter}                                 // [MQTT-4.7.3-1]
	ErrFilterTooLong     = &Error{msg: "router: topic filter longer than 65535 bytes", parent: ErrInvalidFilter}               // [MQTT-1.5.4]
	ErrFilterUTF8        = &Error{msg: "router: topic filter is not valid UTF-8 or contains U+0000", parent: ErrInvalidFilter} // [MQTT-1.5.4-1], [MQTT-1.5.4-2]
	ErrFilterMultiLevel  = &Error{msg: "router: '#' must be a whole last level", parent: ErrInvalidFilter}                     // [MQTT-4.7.1-1]
	ErrFilterSingleLevel = &Error{msg: "router: '+' must be a whole level", parent: ErrInvalidFilter}                          // [MQTT-4.7.1-2]

	ErrInvalidShare = &Error{msg: "router: invalid $share filter", parent: ErrInvalidFilter}
	ErrShareGroup   = &Error{msg: "router: $share group name empty or contains a wildcard", parent: ErrInvalidShare} // [MQTT-4.8.2-1], [MQTT-4.8.2-2]
	ErrShareFilter  = &Error{msg: "router: $share without a topic filter", parent: ErrInvalidShare}                  // [MQTT-4.8.2-1]
)

// ErrShareNoLocal refuses NoLocal on a shared subscription. In v5 this is a
// Protocol Error [MQTT-3.8.3-4]: the session closes the connection with
// DISCONNECT 0x82 rather than answering with a SUBACK code.
var ErrShareNoLocal = &Error{msg: "router: no-local on a shared subscription"}

// ErrInvalidOptions refuses subscription options out of range (QoS > 2,
// retain handling > 2, subscription identifier > 268435455).
var ErrInvalidOptions = &Error{msg: "router: invalid subscription options"}

// Retained store errors.
var (
	// ErrRetainedFull is returned (and counted in Stats.RetainedRefused) when
	// storing a message would exceed Config.RetainedMaxMessages or
	// Config.RetainedMaxBytes. The previous message on the topic, if any, stays.
	ErrRetainedFull = &Error{msg: "router: retained store full"}
	// ErrRetainDisabled is returned (and counted) when Config.RetainedMaxMessages is 0.
	ErrRetainDisabled = &Error{msg: "router: retained messages disabled"}
	// ErrInvalidTopic refuses a retained message whose topic is empty or holds a wildcard.
	ErrInvalidTopic = &Error{msg: "router: invalid topic name"}
)
