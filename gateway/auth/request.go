package auth

import (
	"fmt"
	"net/netip"
)

// Secret is a password or token. It formats as "[redacted]" under every fmt
// verb (%v, %+v, %#v, %s, %q, %x), so a Request can be logged whole.
type Secret []byte

// Format implements fmt.Formatter: the bytes never reach a formatted string.
func (Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("[redacted]")) }

// Request is one CONNECT to authenticate. It owns all its fields: the gateway
// copies the password out of the borrowed packet (NewRequest does), because
// the Request outlives the loop callback that decoded it. Immutable once
// submitted; safe to read from any goroutine.
type Request struct {
	ClientID string
	Username string
	Password Secret // owned copy; may hold a JWT
	// HasUsername and HasPassword carry the CONNECT flags: MQTT 5.0 allows
	// an empty user name that is present (3.1.2.8).
	HasUsername   bool
	HasPassword   bool
	RemoteIP      netip.Addr // the client's address (from PROXY when trusted)
	Listener      string     // listener name from the config
	TLSCommonName string     // verified client certificate subject CN, "" if none
	TLSSANs       []string   // its DNS and IP SANs, owned
}

// NewRequest builds a Request, copying password (which may be a borrowed
// slice of the inbound packet) and sans.
func NewRequest(clientID, username string, hasUser bool, password []byte, hasPass bool, ip netip.Addr, listener, cn string, sans []string) *Request {
	r := &Request{
		ClientID: clientID, Username: username, HasUsername: hasUser,
		HasPassword: hasPass, RemoteIP: ip, Listener: listener, TLSCommonName: cn,
	}
	if len(password) > 0 {
		r.Password = append(Secret(nil), password...)
	}
	if len(sans) > 0 {
		r.TLSSANs = append([]string(nil), sans...)
	}
	return r
}

// Result is the verdict on one Request. It is a value: the ACL slice is
// never modified after it is built and may be shared.
type Result struct {
	Allowed bool
	Reason  Reason // v5 CONNACK reason; Reason.V3() for 3.1.1
	Cause   Cause  // what decided, for counters and logs
	// ACL holds rule lines granted to this client by its JWT claim or by
	// the HTTP backend, in the acl_file syntax, uncompiled; nil when none.
	ACL []string
	// Cached is true when the HTTP backend's answer came from the cache.
	Cached bool
}

// resultOf is the Result for cause c with no ACL.
func resultOf(c Cause) Result {
	return Result{Allowed: c.Allowed(), Reason: c.Reason(), Cause: c}
}
