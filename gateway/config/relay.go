package config

import (
	"fmt"
	"math"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"edgegw/mqttcodec"
)

// Relay is the [relay] section: upstream brokers that chosen topics are
// relayed to and from (gateway/relay does the work). None by default: the
// relay is off.
type Relay struct {
	// Upstream lists the upstream brokers, each a [[relay.upstream]] table.
	// A message may match the rules of several.
	Upstream []Upstream `toml:"upstream"`
}

// Upstream is one [[relay.upstream]] table. A key left out (zero) takes the
// default named in its comment; MaxQoS is a pointer because 0 is a value.
type Upstream struct {
	Name      string   `toml:"name"`      // metrics label and logs; [A-Za-z0-9_.-], unique; required
	Addresses []string `toml:"addresses"` // host:port, tried in order (failover); required
	Protocol  int      `toml:"protocol"`  // 4 = MQTT 3.1.1, 5 = MQTT 5.0; default 5
	// ClientID of each pooled connection: {hostname} is the host's name,
	// {n} the connection's index (required when pool > 1: two connections
	// with one client ID take each other over). Default
	// "edgegw-{hostname}-{name}-{n}".
	ClientID     string   `toml:"client_id"`
	Username     string   `toml:"username"`
	Password     string   `toml:"password"`
	PasswordFile string   `toml:"password_file"` // read at start instead of password (one line, trailing newline dropped)
	TLS          bool     `toml:"tls"`
	CAFile       string   `toml:"ca_file"`     // PEM CAs that sign the upstream's certificate; default: the system's
	CertFile     string   `toml:"cert_file"`   // client certificate (PEM), with key_file
	KeyFile      string   `toml:"key_file"`    //
	ServerName   string   `toml:"server_name"` // TLS server name; default: the address's host
	KeepAlive    Duration `toml:"keepalive"`   // MQTT keep alive; default "30s"; whole seconds, 1s..65535s
	// SessionExpiry > 0 keeps each pooled connection's upstream session
	// across reconnects (v5 Session Expiry Interval; v3.1.1 clean session
	// 0, the broker's own expiry applies): messages for its subscriptions
	// published while the link is down are delivered when it comes back.
	// 0 (default): every connection starts clean. Whole seconds, at most
	// 4294967295s.
	SessionExpiry Duration `toml:"session_expiry"`
	Pool          int      `toml:"pool"` // connections to this upstream; default 4; 1..64
	// SourceAddresses are local IPs to bind, connection i on
	// SourceAddresses[i % len] (more 4-tuples towards one upstream).
	SourceAddresses []string `toml:"source_addresses"`
	Forward         []string `toml:"forward"`       // local PUBLISH matching one of these goes upstream
	Import          []string `toml:"import"`        // upstream messages matching these come to local subscribers
	RemotePrefix    string   `toml:"remote_prefix"` // local "a/b" <-> remote RemotePrefix + "a/b"
	MaxQoS          *int     `toml:"max_qos"`       // cap on the QoS used upstream; default 2
	BufferMessages  int      `toml:"buffer_messages"`
	BufferBytes     int      `toml:"buffer_bytes"`
}

// Upstream defaults (a key left out of a [[relay.upstream]] table).
const (
	DefaultRelayProtocol       = 5
	DefaultRelayKeepAlive      = 30 * time.Second
	DefaultRelayPool           = 4
	DefaultRelayMaxQoS         = 2
	DefaultRelayBufferMessages = 100000
	DefaultRelayBufferBytes    = 64 << 20
	DefaultRelayClientID       = "edgegw-{hostname}-{name}-{n}"
	// MaxRelayPool bounds pool: two goroutines per connection.
	MaxRelayPool = 64
)

// Resolved returns u with every key left out set to its default. Pure.
func (u Upstream) Resolved() Upstream {
	if u.Protocol == 0 {
		u.Protocol = DefaultRelayProtocol
	}
	if u.KeepAlive == 0 {
		u.KeepAlive = Duration(DefaultRelayKeepAlive)
	}
	if u.Pool == 0 {
		u.Pool = DefaultRelayPool
	}
	if u.MaxQoS == nil {
		q := DefaultRelayMaxQoS
		u.MaxQoS = &q
	}
	if u.BufferMessages == 0 {
		u.BufferMessages = DefaultRelayBufferMessages
	}
	if u.BufferBytes == 0 {
		u.BufferBytes = DefaultRelayBufferBytes
	}
	if u.ClientID == "" {
		u.ClientID = DefaultRelayClientID
	}
	return u
}

// QoS returns the resolved max_qos.
func (u *Upstream) QoS() byte {
	if u.MaxQoS == nil {
		return DefaultRelayMaxQoS
	}
	return byte(*u.MaxQoS)
}

// defaultRelay is [relay] as config.toml sets it: no upstream.
func defaultRelay() Relay { return Relay{Upstream: []Upstream{}} }

var relayName = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// validateRelay checks every [[relay.upstream]] table; keys are named
// "relay.upstream[i].key" (Parse puts each on its line, a key left out on
// its table's header line).
func (c *Config) validateRelay(bad func(key, format string, a ...any)) {
	names := map[string]int{}
	for i, raw := range c.Relay.Upstream {
		u := raw.Resolved()
		k := func(key string) string { return fmt.Sprintf("relay.upstream[%d].%s", i, key) }
		switch {
		case u.Name == "":
			bad(k("name"), "required (it labels the upstream's metrics and logs)")
		case !relayName.MatchString(u.Name):
			bad(k("name"), "want 1-64 of A-Z a-z 0-9 _ . -, got %q", u.Name)
		default:
			if j, dup := names[u.Name]; dup {
				bad(k("name"), "%q is also relay.upstream[%d]'s name", u.Name, j)
			}
			names[u.Name] = i
		}
		if len(u.Addresses) == 0 {
			bad(k("addresses"), "required: at least one host:port")
		}
		for j, a := range u.Addresses {
			if msg := checkUpstreamAddr(a); msg != "" {
				bad(fmt.Sprintf("relay.upstream[%d].addresses[%d]", i, j), "%s", msg)
			}
		}
		if u.Protocol != 4 && u.Protocol != 5 {
			bad(k("protocol"), "want 4 (MQTT 3.1.1) or 5 (MQTT 5.0), got %d", u.Protocol)
		}
		if u.Pool < 1 || u.Pool > MaxRelayPool {
			bad(k("pool"), "must be between 1 and %d, got %d", MaxRelayPool, u.Pool)
		}
		if u.Pool > 1 && !strings.Contains(u.ClientID, "{n}") {
			bad(k("client_id"), "must contain {n} when pool > 1 (pooled connections with one client ID take each other over), got %q", u.ClientID)
		}
		if len(u.ClientID) > 128 || !utf8.ValidString(u.ClientID) {
			bad(k("client_id"), "must be valid UTF-8 of at most 128 bytes")
		}
		if u.Password != "" && u.PasswordFile != "" {
			bad(k("password_file"), "set password or password_file, not both")
		}
		if !u.TLS {
			for key, v := range map[string]string{"ca_file": u.CAFile, "cert_file": u.CertFile, "key_file": u.KeyFile, "server_name": u.ServerName} {
				if v != "" {
					bad(k(key), "needs tls = true")
				}
			}
		}
		if (u.CertFile == "") != (u.KeyFile == "") {
			bad(k("cert_file"), "cert_file and key_file go together")
		}
		if ka := u.KeepAlive.D(); ka < time.Second || ka%time.Second != 0 || ka > 65535*time.Second {
			bad(k("keepalive"), "must be whole seconds between 1s and 65535s, got %s", ka)
		}
		if se := u.SessionExpiry.D(); se < 0 || se%time.Second != 0 || se > math.MaxUint32*time.Second {
			bad(k("session_expiry"), "must be whole seconds between 0s and 4294967295s, got %s", se)
		}
		for j, s := range u.SourceAddresses {
			if _, err := netip.ParseAddr(s); err != nil {
				bad(fmt.Sprintf("relay.upstream[%d].source_addresses[%d]", i, j), "want an IP address, got %q", s)
			}
		}
		if q := *u.MaxQoS; q < 0 || q > 2 {
			bad(k("max_qos"), "must be 0, 1 or 2, got %d", q)
		}
		if u.BufferMessages < 1 {
			bad(k("buffer_messages"), "must be >= 1, got %d", u.BufferMessages)
		}
		if u.BufferBytes < 1024 {
			bad(k("buffer_bytes"), "must be >= 1024 bytes, got %d", u.BufferBytes)
		}
		if msg := checkRemotePrefix(u.RemotePrefix); msg != "" {
			bad(k("remote_prefix"), "%s", msg)
		}
		if len(u.Forward) == 0 && len(u.Import) == 0 {
			bad(k("forward"), "no forward and no import rule: the upstream would carry nothing")
		}
		checkRules := func(key string, rules []string) {
			for j, f := range rules {
				if err := mqttcodec.ValidTopicFilter([]byte(f)); err != nil || mqttcodec.IsShared([]byte(f)) {
					bad(fmt.Sprintf("relay.upstream[%d].%s[%d]", i, key, j), "want a topic filter (no $share), got %q", f)
				}
			}
		}
		checkRules("forward", u.Forward)
		checkRules("import", u.Import)
		// A message forwarded upstream that an import rule matches would come
		// back from the upstream and be forwarded again: a loop. remote_prefix
		// maps both rules the same way, so overlap is decided on local forms.
		for j, imp := range u.Import {
			for f, fw := range u.Forward {
				if mqttcodec.FiltersOverlap([]byte(fw), []byte(imp)) {
					bad(fmt.Sprintf("relay.upstream[%d].import[%d]", i, j),
						"%q overlaps forward[%d] %q: a message forwarded upstream would be imported back (a loop)", imp, f, fw)
				}
			}
		}
	}
}

// checkUpstreamAddr returns why a is not a usable upstream address, or "".
// Names are resolved when the relay dials, not here.
func checkUpstreamAddr(a string) string {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Sprintf("want host:port, got %q", a)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Sprintf("port must be 1..65535, got %q", a)
	}
	if host == "" {
		return fmt.Sprintf("no host in %q (an upstream is dialled, not listened on)", a)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.IsUnspecified() || ip.IsMulticast() || ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
			return fmt.Sprintf("%q cannot be dialled (unspecified, multicast or broadcast)", a)
		}
	} else if strings.ContainsAny(host, " /\\@?#") {
		return fmt.Sprintf("malformed host in %q", a)
	}
	return ""
}

// checkRemotePrefix returns why p cannot prefix topic names, or "".
func checkRemotePrefix(p string) string {
	switch {
	case p == "":
		return ""
	case strings.ContainsAny(p, "+#"):
		return fmt.Sprintf("must not contain wildcards, got %q", p)
	case strings.ContainsRune(p, 0) || !utf8.ValidString(p):
		return fmt.Sprintf("must be valid UTF-8 without U+0000, got %q", p)
	case strings.HasPrefix(p, "$share/"):
		return fmt.Sprintf("must not start with $share/, got %q", p)
	case len(p) > 1024:
		return "longer than 1024 bytes"
	}
	return ""
}
