package limit

// Reason is why a request was refused; OK (0) means allowed. Its String is
// the counter label.
type Reason uint8

// Reasons.
const (
	OK            Reason = iota
	ConnectRate          // limits.connect_rate: the gateway's accept rate
	ConnectRateIP        // limits.connect_rate_per_ip
	UserQuota            // limits.max_connections_per_user
	AuthRate             // limits.auth_rate_per_user
	Banned               // a ban in force (by client ID or IP)
	Flapping             // this connect crossed flapping_max_connects: banned from now on
	PublishRate          // limits.publish_rate_per_client
	PublishBytes         // limits.publish_bytes_per_client
	numReasons
)

var reasonInfo = [numReasons]struct {
	label   string
	v5      byte
	v3      byte // 0: close without CONNACK / DISCONNECT
	connack bool // refused at CONNECT (false: during the session)
}{
	OK:            {"ok", 0x00, 0x00, false},
	ConnectRate:   {"connect_rate", 0x9F, 0, true}, // v5 Connection rate exceeded; v3 close
	ConnectRateIP: {"connect_rate_per_ip", 0x9F, 0, true},
	UserQuota:     {"max_connections_per_user", 0x97, 0x03, true}, // v5 Quota exceeded; v3 Server unavailable
	AuthRate:      {"auth_rate_per_user", 0x9F, 0, true},
	Banned:        {"banned", 0x8A, 0x05, true},     // v5 Banned; v3 Not authorized
	Flapping:      {"flapping", 0x8A, 0x05, true},   // the same answer; a distinct label and a log line
	PublishRate:   {"publish_rate", 0x96, 0, false}, // v5 DISCONNECT Message rate too high; v3 close
	PublishBytes:  {"publish_bytes", 0x96, 0, false},
}

// Reasons lists every refusal (not OK), for registering counters up front.
var Reasons = []Reason{ConnectRate, ConnectRateIP, UserQuota, AuthRate, Banned, Flapping, PublishRate, PublishBytes}

// String returns the counter label, such as "connect_rate_per_ip".
func (r Reason) String() string {
	if r >= numReasons {
		return "unknown"
	}
	return reasonInfo[r].label
}

// V5 returns the MQTT 5 reason code: in CONNACK for a refused connect, in
// DISCONNECT for a publish limit (MQTT 5.0 section 2.4 table 2-6).
func (r Reason) V5() byte {
	if r >= numReasons {
		return 0x80
	}
	return reasonInfo[r].v5
}

// V3 returns the MQTT 3.1.1 CONNACK return code (section 3.2.2.3) and
// true, or 0 and false where 3.1.1 has no fitting code and the connection
// is closed without an answer (rates, publish limits).
func (r Reason) V3() (code byte, answer bool) {
	if r >= numReasons || r == OK {
		return 0, false
	}
	c := reasonInfo[r].v3
	return c, c != 0
}

// AtConnect reports whether r refuses a CONNECT (answered by CONNACK),
// rather than ending a running session.
func (r Reason) AtConnect() bool { return r < numReasons && reasonInfo[r].connack }
