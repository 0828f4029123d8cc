package auth

// Reason is the MQTT v5 CONNACK reason code of a verdict (MQTT 5.0 3.2.2.2).
// V3 gives the MQTT 3.1.1 return code for the same verdict (3.1.1 3.2.2.3).
type Reason byte

const (
	ReasonSuccess               Reason = 0x00
	ReasonBadUserNameOrPassword Reason = 0x86 // v3 0x04
	ReasonNotAuthorized         Reason = 0x87 // v3 0x05
	ReasonServerUnavailable     Reason = 0x88 // v3 0x03
	ReasonServerBusy            Reason = 0x89 // v3 0x03
)

// V3 is the MQTT 3.1.1 CONNACK return code for r.
func (r Reason) V3() byte {
	switch r {
	case ReasonSuccess:
		return 0x00
	case ReasonBadUserNameOrPassword:
		return 0x04
	case ReasonNotAuthorized:
		return 0x05
	default:
		return 0x03 // server unavailable: busy, backend down, shutting down
	}
}

func (r Reason) String() string {
	switch r {
	case ReasonSuccess:
		return "success"
	case ReasonBadUserNameOrPassword:
		return "bad user name or password"
	case ReasonNotAuthorized:
		return "not authorized"
	case ReasonServerUnavailable:
		return "server unavailable"
	case ReasonServerBusy:
		return "server busy"
	}
	return "reason(0x" + string("0123456789abcdef"[r>>4]) + string("0123456789abcdef"[r&15]) + ")"
}

// Cause says which verifier decided a Result and why; every Result is
// counted under its Cause (Stats). Causes are safe to log: none names a
// secret.
type Cause uint8

const (
	CauseNone Cause = iota // zero Result: not decided

	// Allowed.
	CauseAnonymous  // Config.AllowAnonymous and no user name or password
	CausePassword   // password file, bcrypt matched
	CauseJWT        // JWT verified
	CauseHTTP       // HTTP backend said allow
	CauseHTTPCached // positive cache hit

	// Refused 0x86 bad user name or password (v3 0x04).
	CauseUnknownUser     // no verifier claimed the request
	CauseBadPassword     // password file, bcrypt mismatch
	CauseJWTMalformed    // looked like a JWT, did not parse
	CauseJWTAlgorithm    // alg not allowed by any configured key ("none", HS* with only public keys, ...)
	CauseJWTSignature    // no key verified the signature
	CauseJWTExpired      // exp in the past
	CauseJWTNotYetValid  // nbf in the future
	CauseJWTClaims       // exp missing, or the ACL claim is not a list of strings
	CauseHTTPDenied      // backend: 200 {"allow":false} or 401
	CauseHTTPDeniedCache // negative cache hit

	// Refused 0x87 not authorized (v3 0x05).
	CauseNoCredentials // anonymous not allowed and no user name
	CauseDisabled      // account disabled in the password file (password not checked)
	CauseJWTSubject    // JWT "sub" differs from the user name
	CauseHTTPForbidden // backend: 403

	// Refused 0x88 server unavailable (v3 0x03): the backend failed.
	CauseHTTPTimeout // no answer within the deadline
	CauseHTTPStatus  // 5xx or another unexpected status
	CauseHTTPGarbage // 200 with a body that is not the expected JSON
	CauseHTTPError   // the call failed (connection refused, reset, TLS)
	CauseShutdown    // Close ran before the request did

	// Refused 0x89 server busy (v3 0x03).
	CauseQueueFull    // Submit: queue full (no callback; Submit returned ErrQueueFull)
	CauseQueueTimeout // waited in the queue past the per-call timeout
	CauseHTTPBusy     // all http_concurrency slots taken until the deadline

	numCauses
)

var causeNames = [numCauses]string{
	CauseNone:            "none",
	CauseAnonymous:       "anonymous",
	CausePassword:        "password",
	CauseJWT:             "jwt",
	CauseHTTP:            "http",
	CauseHTTPCached:      "http_cached",
	CauseUnknownUser:     "unknown_user",
	CauseBadPassword:     "bad_password",
	CauseJWTMalformed:    "jwt_malformed",
	CauseJWTAlgorithm:    "jwt_algorithm",
	CauseJWTSignature:    "jwt_signature",
	CauseJWTExpired:      "jwt_expired",
	CauseJWTNotYetValid:  "jwt_not_yet_valid",
	CauseJWTClaims:       "jwt_claims",
	CauseHTTPDenied:      "http_denied",
	CauseHTTPDeniedCache: "http_denied_cached",
	CauseNoCredentials:   "no_credentials",
	CauseDisabled:        "disabled",
	CauseJWTSubject:      "jwt_subject",
	CauseHTTPForbidden:   "http_forbidden",
	CauseHTTPTimeout:     "http_timeout",
	CauseHTTPStatus:      "http_status",
	CauseHTTPGarbage:     "http_garbage",
	CauseHTTPError:       "http_error",
	CauseShutdown:        "shutdown",
	CauseQueueFull:       "queue_full",
	CauseQueueTimeout:    "queue_timeout",
	CauseHTTPBusy:        "http_busy",
}

// String is the cause's snake_case name, fit for a metric label.
func (c Cause) String() string {
	if c < numCauses {
		return causeNames[c]
	}
	return "unknown"
}

// Reason is the MQTT reason code a Result with this cause carries.
func (c Cause) Reason() Reason {
	switch {
	case c == CauseNone:
		return ReasonNotAuthorized
	case c <= CauseHTTPCached:
		return ReasonSuccess
	case c <= CauseHTTPDeniedCache:
		return ReasonBadUserNameOrPassword
	case c <= CauseHTTPForbidden:
		return ReasonNotAuthorized
	case c <= CauseShutdown:
		return ReasonServerUnavailable
	}
	return ReasonServerBusy
}

// Allowed reports whether the cause admits the client.
func (c Cause) Allowed() bool { return c >= CauseAnonymous && c <= CauseHTTPCached }
