package listener

import (
	"errors"
	"fmt"
)

// OpenError is a listener that could not be opened. It reads
// `cannot open listener ":1883": address already in use` and unwraps to the
// cause (errors.Is(err, syscall.EADDRINUSE)).
type OpenError struct {
	Addr string // the configured address, as written
	Err  error
}

func (e *OpenError) Error() string { return fmt.Sprintf("cannot open listener %q: %v", e.Addr, e.Err) }

func (e *OpenError) Unwrap() error { return e.Err }

// ErrProxyNeedMore is returned by ParseProxy while the buffered bytes are a
// valid but incomplete PROXY header: wait for more and call it again with
// the whole buffered prefix. It is not a refusal.
var ErrProxyNeedMore = errors.New("listener: PROXY header incomplete")

// ProxyError is a malformed PROXY protocol header. Its values are
// pre-allocated, compared with == or errors.Is; each has its own reason
// label for the close counter. The section numbers are those of haproxy's
// doc/proxy-protocol.txt.
type ProxyError struct {
	reason string
	msg    string
}

// Error returns the message.
func (e *ProxyError) Error() string { return e.msg }

// Reason returns the counter label, such as "proxy_v1_address".
func (e *ProxyError) Reason() string { return e.reason }

// Malformed PROXY headers; every one closes the connection.
var (
	ErrProxySignature  = &ProxyError{"proxy_signature", "listener: PROXY header expected: bytes match neither the v1 nor the v2 signature (2.1, 2.2)"}
	ErrProxyV1TooLong  = &ProxyError{"proxy_v1_too_long", "listener: PROXY v1 line has no CRLF in its first 107 bytes (2.1)"}
	ErrProxyV1CRLF     = &ProxyError{"proxy_v1_crlf", "listener: PROXY v1 line has a lone CR or LF (2.1)"}
	ErrProxyV1Protocol = &ProxyError{"proxy_v1_protocol", "listener: PROXY v1 protocol is not TCP4, TCP6 or UNKNOWN (2.1)"}
	ErrProxyV1Fields   = &ProxyError{"proxy_v1_fields", "listener: PROXY v1 line does not have 4 fields separated by single spaces (2.1)"}
	ErrProxyV1Address  = &ProxyError{"proxy_v1_address", "listener: PROXY v1 address is not canonical or not of the announced family (2.1)"}
	ErrProxyV1Port     = &ProxyError{"proxy_v1_port", "listener: PROXY v1 port is not a decimal in 0..65535 without leading zeros (2.1)"}
	ErrProxyV2Version  = &ProxyError{"proxy_v2_version", "listener: PROXY v2 version is not 2 (2.2)"}
	ErrProxyV2Command  = &ProxyError{"proxy_v2_command", "listener: PROXY v2 command is neither LOCAL nor PROXY (2.2)"}
	ErrProxyV2Family   = &ProxyError{"proxy_v2_family", "listener: PROXY v2 address family or transport protocol is unassigned (2.2)"}
	ErrProxyV2Length   = &ProxyError{"proxy_v2_length", "listener: PROXY v2 length is shorter than the family's addresses (2.2)"}
	ErrProxyV2TLV      = &ProxyError{"proxy_v2_tlv", "listener: PROXY v2 TLV runs past the header's length (2.2.1)"}
)

// ProxyErrors lists every *ProxyError, for registering counters up front.
var ProxyErrors = []*ProxyError{
	ErrProxySignature, ErrProxyV1TooLong, ErrProxyV1CRLF, ErrProxyV1Protocol, ErrProxyV1Fields,
	ErrProxyV1Address, ErrProxyV1Port, ErrProxyV2Version, ErrProxyV2Command, ErrProxyV2Family,
	ErrProxyV2Length, ErrProxyV2TLV,
}

// TrustError is a listeners.proxy_trusted entry that is neither a CIDR nor
// an address.
type TrustError struct {
	Index int
	Entry string
	Err   error
}

func (e *TrustError) Error() string {
	return fmt.Sprintf("listeners.proxy_trusted[%d] %q: not a CIDR or an IP address: %v", e.Index, e.Entry, e.Err)
}

func (e *TrustError) Unwrap() error { return e.Err }
