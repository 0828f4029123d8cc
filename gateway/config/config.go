package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"edgegw/gateway/tlsrec"
	"edgegw/tune"
)

// Duration is a time.Duration that reads and writes TOML strings such as "10s".
type Duration time.Duration

// UnmarshalText parses a Go duration string ("250ms", "1m30s").
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q (want e.g. \"10s\", \"500ms\")", b)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration in Go syntax.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// Config is the whole gateway configuration. The zero value is not valid; start
// from Default() and call Validate, or use Parse, which does both. A value,
// read-only once given to the gateway. Every field is documented, with its
// default and unit, in the repository's config.toml.
type Config struct {
	Listeners Listeners   `toml:"listeners"`
	HTTP      HTTP        `toml:"http"`
	Engine    Engine      `toml:"engine"`
	Limits    Limits      `toml:"limits"`
	Auth      Auth        `toml:"auth"` // protect.go
	Session   Session     `toml:"session"`
	Router    Router      `toml:"router"`
	Drain     Drain       `toml:"drain"`
	Relay     Relay       `toml:"relay"` // relay.go
	Log       Log         `toml:"log"`
	Tune      tune.Config `toml:"tune"` // defined in package tune (tune/config.go)
}

// Listeners names the client-facing listeners. An empty address disables a listener.
type Listeners struct {
	TCP     string `toml:"tcp"`      // MQTT over TCP, default ":1883"
	WS      string `toml:"ws"`       // MQTT over WebSocket, default ":8083"
	WSPath  string `toml:"ws_path"`  // WebSocket upgrade path, default "/mqtt"
	TLS     string `toml:"tls"`      // MQTT over TLS, default "" (off); ":8883" with cert and key
	TLSCert string `toml:"tls_cert"` // PEM certificate chain file for the TLS listener
	TLSKey  string `toml:"tls_key"`  // PEM private key file for the TLS listener
	// WSS is MQTT over WebSocket over TLS, default "" (off); needs tls_cert and
	// tls_key, and uses ws_path and the tls_client_* keys.
	WSS string `toml:"wss"`
	// TLSClientCA is a PEM bundle of the CAs that sign client certificates;
	// needed when tls_client_auth is not "none". Default "".
	TLSClientCA string `toml:"tls_client_ca"`
	// TLSClientAuth asks TLS clients for a certificate: "none" (default),
	// "request" (verified when sent) or "require".
	TLSClientAuth string `toml:"tls_client_auth"`
	// TLSUsernameFrom names the client certificate field that becomes the
	// connection's identity: "" (none, default), "cn" or "san" (first DNS SAN).
	TLSUsernameFrom string `toml:"tls_username_from"`
	// TLSKeyExchange lists the key exchange groups tls and wss accept:
	// "X25519MLKEM768" (hybrid post-quantum), "X25519", "P-256", "P-384",
	// "P-521". Default the three of tlsrec.DefaultKeyExchange.
	TLSKeyExchange []string `toml:"tls_key_exchange"`
	// WSDeflate accepts permessage-deflate (RFC 7692) offers on the ws
	// listener, always without context takeover. Default true.
	WSDeflate bool `toml:"ws_deflate"`
	// WSDeflateMinBytes is the smallest server-to-client message, in bytes
	// of MQTT packets, that is compressed when deflate was negotiated.
	// Default 192 (shorter ones do not shrink). >= 0.
	WSDeflateMinBytes int `toml:"ws_deflate_min_bytes"`
	// ProxyProtocol expects a PROXY v1/v2 header first on every listener,
	// from the ProxyTrusted peers only (CIDRs or addresses; others are
	// closed). Default false, none (protect.go).
	ProxyProtocol bool     `toml:"proxy_protocol"`
	ProxyTrusted  []string `toml:"proxy_trusted"`
}

// HTTP is the metrics and health endpoint.
type HTTP struct {
	Addr           string `toml:"addr"`            // default "127.0.0.1:9883"; serves /metrics and /healthz; "" disables
	MaxConnections int    `toml:"max_connections"` // concurrent HTTP connections; more are closed at accept and counted; default 256
}

// MaxFlushDelay bounds engine.flush_delay: past it the added latency buys
// no more coalescing at any rate worth holding for.
const MaxFlushDelay = 100 * time.Millisecond

// Engine shapes the gnet event loops.
type Engine struct {
	Loops             int      `toml:"loops"`                // event loops; 0 = GOMAXPROCS (which follows the cgroup CPU limit)
	ReusePort         bool     `toml:"reuse_port"`           // SO_REUSEPORT on listeners
	MaxPacketsPerWake int      `toml:"max_packets_per_wake"` // packets decoded per connection per wake before yielding
	InboxSize         int      `toml:"inbox_size"`           // bounded cross-loop inbox per loop, in messages
	ReadBufferSize    int      `toml:"read_buffer_size"`     // gnet read buffer per loop, bytes
	TickInterval      Duration `toml:"tick_interval"`        // timer wheel resolution (keepalive, retry, expiry)
	FlushDelay        Duration `toml:"flush_delay"`          // how long deliveries to a TCP client may wait to share one write; 0 = flush every wake (default)
	GCPercent         int      `toml:"gc_percent"`           // Go GC percent (GOGC) for the process: 0 = leave the runtime's, -1 = off
	TCPKeepAlive      Duration `toml:"tcp_keepalive"`        // idle time before the kernel probes a silent client socket (TCP_USER_TIMEOUT is twice it); 0 = off
	SocketRecvBuffer  int      `toml:"socket_recv_buffer"`   // SO_RCVBUF of client sockets, bytes; 0 = kernel default (autotuned)
	SocketSendBuffer  int      `toml:"socket_send_buffer"`   // SO_SNDBUF of client sockets, bytes; 0 = kernel default (autotuned)
}

// Limits bounds what one client may cost.
type Limits struct {
	MaxConnections     int      `toml:"max_connections"`      // 0 = derived from the fd limit
	MaxPacketSize      int      `toml:"max_packet_size"`      // bytes; larger inbound packets are refused (v5 0x95)
	ConnectTimeout     Duration `toml:"connect_timeout"`      // CONNECT must arrive within this
	MaxKeepAlive       int      `toml:"max_keepalive"`        // seconds; 0 = no cap; v5 clients get Server Keep Alive when capped
	ReceiveMaximum     int      `toml:"receive_maximum"`      // inbound QoS 1/2 in flight per client (v5 Receive Maximum)
	MaxInflight        int      `toml:"max_inflight"`         // outbound QoS 1/2 in flight per client (capped by the client's Receive Maximum)
	TopicAliasMaximum  int      `toml:"topic_alias_maximum"`  // inbound topic aliases per v5 client; 0 = none
	MaxOutboundBytes   int      `toml:"max_outbound_bytes"`   // queued outbound bytes per connection before the slow-consumer policy applies
	SlowConsumerPolicy string   `toml:"slow_consumer_policy"` // "backpressure" (default, lossless), "drop", "disconnect"
	RetryInterval      Duration `toml:"retry_interval"`       // 0 = resend unacknowledged QoS 1/2 only on session resume (as MQTT 5 requires)
	MaxSubscriptions   int      `toml:"max_subscriptions"`    // subscriptions per session; more are refused in SUBACK (v5 0x97, v3 0x80); 0 = no cap
	MaxTLSHandshakes   int      `toml:"max_tls_handshakes"`   // TLS handshakes in progress; a ClientHello past it is refused and counted; 0 = 256 x GOMAXPROCS

	// OutTopicAliases is the number of outbound topic aliases per v5
	// connection: its first N distinct topics, capped by the client's Topic
	// Alias Maximum (session/alias.go). 0 = none.
	OutTopicAliases int `toml:"outbound_topic_aliases"`

	// Storm shaping (gateway/limit; validated in protect.go). 0 = off.
	ConnectRate           float64  `toml:"connect_rate"`             // CONNECTs/s for the whole gateway
	ConnectRatePerIP      float64  `toml:"connect_rate_per_ip"`      // CONNECTs/s per source IP
	MaxConnectionsPerUser int      `toml:"max_connections_per_user"` // connections per username
	AuthRatePerUser       float64  `toml:"auth_rate_per_user"`       // authentication attempts/s per username
	FlappingMaxConnects   int      `toml:"flapping_max_connects"`    // connects per client ID or IP within flapping_window before a ban
	FlappingWindow        Duration `toml:"flapping_window"`          // default "1m"
	FlappingBan           Duration `toml:"flapping_ban"`             // default "5m"
	PublishRatePerClient  float64  `toml:"publish_rate_per_client"`  // PUBLISH messages/s per connection
	PublishBytesPerClient float64  `toml:"publish_bytes_per_client"` // PUBLISH bytes/s per connection
}

// Session governs persistent sessions.
type Session struct {
	MaxSessionExpiry   Duration `toml:"max_session_expiry"`   // upper bound on v5 Session Expiry; v3 clean_session=0 sessions use it
	MaxOfflineMessages int      `toml:"max_offline_messages"` // per offline session
	MaxOfflineBytes    int      `toml:"max_offline_bytes"`    // per offline session
	OfflinePolicy      string   `toml:"offline_policy"`       // when full: "drop_oldest" or "drop_new"; both counted
}

// Router governs subscriptions and retained messages.
type Router struct {
	SharedStrategy      string `toml:"shared_strategy"`       // "round_robin" (default), "random", "sticky" (hash of the publisher's client ID)
	RetainedMaxMessages int    `toml:"retained_max_messages"` // 0 = retained messages disabled
	RetainedMaxBytes    int    `toml:"retained_max_bytes"`    // payload+topic bytes
}

// Drain governs graceful shutdown on SIGTERM/SIGINT.
type Drain struct {
	Timeout         Duration `toml:"timeout"`          // flush deadline before exit
	ServerReference string   `toml:"server_reference"` // if set, v5 clients get DISCONNECT 0x9C with this reference instead of 0x8B
}

// Log sets logging.
type Log struct {
	Level string `toml:"level"` // "debug", "info", "warn", "error"
}

// Default returns the built-in defaults; they equal the repository's config.toml.
func Default() Config {
	return Config{
		Listeners: Listeners{
			TCP: ":1883", WS: ":8083", WSPath: "/mqtt", WSDeflate: true, WSDeflateMinBytes: 192,
			TLSClientAuth: "none", ProxyTrusted: []string{}, TLSKeyExchange: slices.Clone(tlsrec.DefaultKeyExchange),
		},
		HTTP: HTTP{Addr: "127.0.0.1:9883", MaxConnections: 256},
		Engine: Engine{
			ReusePort:         true,
			MaxPacketsPerWake: 64,
			InboxSize:         65536,
			ReadBufferSize:    64 << 10,
			TickInterval:      Duration(100 * time.Millisecond),
			TCPKeepAlive:      Duration(2 * time.Minute),
		},
		Limits: Limits{
			MaxPacketSize:      1 << 20,
			ConnectTimeout:     Duration(10 * time.Second),
			ReceiveMaximum:     64,
			MaxInflight:        64,
			TopicAliasMaximum:  16,
			OutTopicAliases:    16,
			MaxOutboundBytes:   1 << 20,
			SlowConsumerPolicy: "backpressure",
			MaxSubscriptions:   1000,
			FlappingWindow:     Duration(time.Minute),
			FlappingBan:        Duration(5 * time.Minute),
		},
		Auth: defaultAuth(),
		Session: Session{
			MaxSessionExpiry:   Duration(24 * time.Hour),
			MaxOfflineMessages: 1000,
			MaxOfflineBytes:    1 << 20,
			OfflinePolicy:      "drop_oldest",
		},
		Router: Router{
			SharedStrategy:      "round_robin",
			RetainedMaxMessages: 1_000_000,
			RetainedMaxBytes:    256 << 20,
		},
		Drain: Drain{Timeout: Duration(10 * time.Second)},
		Relay: defaultRelay(),
		Log:   Log{Level: "info"},
		Tune:  tune.Default(),
	}
}

// Validate checks every value and returns all problems joined, each a *FieldError.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, &FieldError{Key: key, Msg: fmt.Sprintf(format, a...)})
	}
	if c.Listeners.TCP == "" && c.Listeners.WS == "" && c.Listeners.TLS == "" && c.Listeners.WSS == "" {
		bad("listeners.tcp", "no listener configured (set at least one of tcp, ws, tls)")
	}
	if (c.Listeners.WS != "" || c.Listeners.WSS != "") && !strings.HasPrefix(c.Listeners.WSPath, "/") {
		bad("listeners.ws_path", "must start with '/', got %q", c.Listeners.WSPath)
	}
	if c.Listeners.WSDeflateMinBytes < 0 {
		bad("listeners.ws_deflate_min_bytes", "must be >= 0, got %d", c.Listeners.WSDeflateMinBytes)
	}
	// Equal addresses would share one port (":0" picks a free port for each).
	fixed := func(a string) bool { return a != "" && !strings.HasSuffix(a, ":0") }
	if fixed(c.Listeners.WS) && c.Listeners.WS == c.Listeners.TCP {
		bad("listeners.ws", "must differ from listeners.tcp, both are %q", c.Listeners.WS)
	}
	if fixed(c.Listeners.TLS) && (c.Listeners.TLS == c.Listeners.TCP || c.Listeners.TLS == c.Listeners.WS) {
		bad("listeners.tls", "must differ from listeners.tcp and listeners.ws, got %q", c.Listeners.TLS)
	}
	if c.Listeners.TLS != "" && (c.Listeners.TLSCert == "" || c.Listeners.TLSKey == "") {
		bad("listeners.tls", "the TLS listener needs tls_cert and tls_key")
	}
	if fixed(c.Listeners.WSS) && (c.Listeners.WSS == c.Listeners.TCP || c.Listeners.WSS == c.Listeners.WS || c.Listeners.WSS == c.Listeners.TLS) {
		bad("listeners.wss", "must differ from listeners.tcp, ws and tls, got %q", c.Listeners.WSS)
	}
	if c.Listeners.WSS != "" && (c.Listeners.TLSCert == "" || c.Listeners.TLSKey == "") {
		bad("listeners.wss", "the WSS listener needs tls_cert and tls_key")
	}
	switch c.Listeners.TLSClientAuth {
	case "", "none":
	case "request", "require":
		if c.Listeners.TLSClientCA == "" {
			bad("listeners.tls_client_auth", "%q needs tls_client_ca", c.Listeners.TLSClientAuth)
		}
	default:
		bad("listeners.tls_client_auth", "want \"none\", \"request\" or \"require\", got %q", c.Listeners.TLSClientAuth)
	}
	switch c.Listeners.TLSUsernameFrom {
	case "", "cn", "san":
	default:
		bad("listeners.tls_username_from", "want \"\", \"cn\" or \"san\", got %q", c.Listeners.TLSUsernameFrom)
	}
	if len(c.Listeners.TLSKeyExchange) == 0 {
		bad("listeners.tls_key_exchange", "must name at least one group")
	} else if _, err := tlsrec.ParseKeyExchange(c.Listeners.TLSKeyExchange); err != nil {
		bad("listeners.tls_key_exchange", "%v", err)
	}
	if c.Engine.Loops < 0 {
		bad("engine.loops", "must be >= 0, got %d", c.Engine.Loops)
	}
	if c.Engine.MaxPacketsPerWake < 1 {
		bad("engine.max_packets_per_wake", "must be >= 1, got %d", c.Engine.MaxPacketsPerWake)
	}
	if c.Engine.InboxSize < 64 {
		bad("engine.inbox_size", "must be >= 64, got %d", c.Engine.InboxSize)
	}
	if c.Engine.ReadBufferSize < 4096 {
		bad("engine.read_buffer_size", "must be >= 4096 bytes, got %d", c.Engine.ReadBufferSize)
	}
	if c.Engine.GCPercent < -1 {
		bad("engine.gc_percent", "must be -1 (off), 0 (runtime default) or a percentage > 0, got %d", c.Engine.GCPercent)
	}
	if ka := c.Engine.TCPKeepAlive.D(); ka != 0 && (ka < time.Second || ka%time.Second != 0 || ka > 32767*time.Second) {
		bad("engine.tcp_keepalive", "must be 0 (off) or whole seconds between 1s and 32767s, got %s", ka)
	}
	if b := c.Engine.SocketRecvBuffer; b != 0 && (b < 1024 || b > 1<<30) {
		bad("engine.socket_recv_buffer", "must be 0 (kernel default) or between 1024 and 1073741824 bytes, got %d", b)
	}
	if b := c.Engine.SocketSendBuffer; b != 0 && (b < 1024 || b > 1<<30) {
		bad("engine.socket_send_buffer", "must be 0 (kernel default) or between 1024 and 1073741824 bytes, got %d", b)
	}
	if c.Engine.TickInterval.D() < time.Millisecond || c.Engine.TickInterval.D() > time.Second {
		bad("engine.tick_interval", "must be between 1ms and 1s, got %s", c.Engine.TickInterval.D())
	}
	if d := c.Engine.FlushDelay.D(); d < 0 || d > MaxFlushDelay {
		bad("engine.flush_delay", "must be between 0s and %s, got %s", MaxFlushDelay, d)
	}
	if c.Limits.MaxConnections < 0 {
		bad("limits.max_connections", "must be >= 0, got %d", c.Limits.MaxConnections)
	}
	// [MQTT-2.2.3] the largest packet the remaining-length varint can express.
	if c.Limits.MaxPacketSize < 64 || c.Limits.MaxPacketSize > 268435455+5 {
		bad("limits.max_packet_size", "must be between 64 and 268435460 bytes, got %d", c.Limits.MaxPacketSize)
	}
	if c.Limits.ConnectTimeout.D() <= 0 {
		bad("limits.connect_timeout", "must be > 0")
	}
	if c.Limits.MaxKeepAlive < 0 || c.Limits.MaxKeepAlive > 65535 {
		bad("limits.max_keepalive", "must be between 0 and 65535 seconds, got %d", c.Limits.MaxKeepAlive)
	}
	if c.Limits.ReceiveMaximum < 1 || c.Limits.ReceiveMaximum > 65535 {
		bad("limits.receive_maximum", "must be between 1 and 65535, got %d", c.Limits.ReceiveMaximum)
	}
	if c.Limits.MaxSubscriptions < 0 {
		bad("limits.max_subscriptions", "must be >= 0 (0 = no cap), got %d", c.Limits.MaxSubscriptions)
	}
	if c.Limits.MaxInflight < 1 || c.Limits.MaxInflight > 65535 {
		bad("limits.max_inflight", "must be between 1 and 65535, got %d", c.Limits.MaxInflight)
	}
	if c.Limits.TopicAliasMaximum < 0 || c.Limits.TopicAliasMaximum > 65535 {
		bad("limits.topic_alias_maximum", "must be between 0 and 65535, got %d", c.Limits.TopicAliasMaximum)
	}
	if c.Limits.OutTopicAliases < 0 || c.Limits.OutTopicAliases > 65535 {
		bad("limits.outbound_topic_aliases", "must be between 0 and 65535, got %d", c.Limits.OutTopicAliases)
	}
	if c.Limits.MaxOutboundBytes < 4096 {
		bad("limits.max_outbound_bytes", "must be >= 4096 bytes, got %d", c.Limits.MaxOutboundBytes)
	}
	switch c.Limits.SlowConsumerPolicy {
	case "backpressure", "drop", "disconnect":
	default:
		bad("limits.slow_consumer_policy", "must be \"backpressure\", \"drop\" or \"disconnect\", got %q", c.Limits.SlowConsumerPolicy)
	}
	if c.Limits.RetryInterval.D() < 0 {
		bad("limits.retry_interval", "must be >= 0")
	}
	if c.Limits.MaxTLSHandshakes < 0 {
		bad("limits.max_tls_handshakes", "must be >= 0, got %d", c.Limits.MaxTLSHandshakes)
	}
	if c.HTTP.Addr != "" && c.HTTP.MaxConnections < 1 {
		bad("http.max_connections", "must be >= 1, got %d", c.HTTP.MaxConnections)
	}
	if c.Session.MaxSessionExpiry.D() < 0 {
		bad("session.max_session_expiry", "must be >= 0")
	}
	if c.Session.MaxOfflineMessages < 0 {
		bad("session.max_offline_messages", "must be >= 0, got %d", c.Session.MaxOfflineMessages)
	}
	if c.Session.MaxOfflineBytes < 0 {
		bad("session.max_offline_bytes", "must be >= 0, got %d", c.Session.MaxOfflineBytes)
	}
	switch c.Session.OfflinePolicy {
	case "drop_oldest", "drop_new":
	default:
		bad("session.offline_policy", "must be \"drop_oldest\" or \"drop_new\", got %q", c.Session.OfflinePolicy)
	}
	switch c.Router.SharedStrategy {
	case "round_robin", "random", "sticky":
	default:
		bad("router.shared_strategy", "must be \"round_robin\", \"random\" or \"sticky\", got %q", c.Router.SharedStrategy)
	}
	if c.Router.RetainedMaxMessages < 0 {
		bad("router.retained_max_messages", "must be >= 0, got %d", c.Router.RetainedMaxMessages)
	}
	if c.Router.RetainedMaxBytes < 0 {
		bad("router.retained_max_bytes", "must be >= 0, got %d", c.Router.RetainedMaxBytes)
	}
	if c.Drain.Timeout.D() <= 0 {
		bad("drain.timeout", "must be > 0")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "must be debug, info, warn or error, got %q", c.Log.Level)
	}
	c.validateProtect(bad)
	c.validateRelay(bad)
	errs = append(errs, tuneFieldErrors(c.Tune.Validate())...)
	return errors.Join(errs...)
}
