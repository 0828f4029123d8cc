package config

import (
	"net/netip"
	"strings"
	"time"
)

// Auth is the [auth] section: who may connect and what each client may
// publish and subscribe to (gateway/auth does the work). The defaults keep
// the gateway open: anonymous clients allowed, no verifier, no ACL.
type Auth struct {
	// AllowAnonymous admits a CONNECT with neither user name nor password.
	// Default true; the gateway warns at start when a listener that is not
	// on loopback allows it.
	AllowAnonymous bool `toml:"allow_anonymous"`
	// PasswordFile holds "user:bcrypt-hash" lines ("user:!hash" disabled);
	// `edgegw passwd FILE USER` adds or updates one. Default "" (none).
	PasswordFile string `toml:"password_file"`
	// JWTKeys are files with an HMAC secret or an RSA/ECDSA public key
	// (PEM) each, for a JWT in the CONNECT password. Default none.
	JWTKeys []string `toml:"jwt_keys"`
	// HTTPURL receives a POST per uncached CONNECT. Default "" (none).
	HTTPURL string `toml:"http_url"`
	// HTTPTimeout bounds one backend call. Default "2s". > 0.
	HTTPTimeout Duration `toml:"http_timeout"`
	// HTTPConcurrency bounds backend calls in flight. Default 32. >= 1.
	HTTPConcurrency int `toml:"http_concurrency"`
	// CacheTTL keeps the backend's allow this long. Default "5m"; "0s" off.
	CacheTTL Duration `toml:"cache_ttl"`
	// ACLFile holds the ACL rules (gateway/auth acl.go). Default "" (none).
	ACLFile string `toml:"acl_file"`
	// ACLDefault is what no matching rule means: "allow" or "deny".
	ACLDefault string `toml:"acl_default"`
}

// On reports whether any authentication or ACL is configured beyond the
// open default (anonymous allowed, no verifier, no ACL).
func (a *Auth) On() bool {
	return !a.AllowAnonymous || a.PasswordFile != "" || len(a.JWTKeys) > 0 || a.HTTPURL != "" || a.ACLFile != ""
}

// Verifiers reports whether a password file, JWT key or HTTP backend is
// configured.
func (a *Auth) Verifiers() bool {
	return a.PasswordFile != "" || len(a.JWTKeys) > 0 || a.HTTPURL != ""
}

// ProtectOn reports whether any storm-shaping key of [limits] is set.
func (l *Limits) ProtectOn() bool {
	return l.ConnectRate > 0 || l.ConnectRatePerIP > 0 || l.MaxConnectionsPerUser > 0 || l.AuthRatePerUser > 0 ||
		l.FlappingMaxConnects > 0 || l.PublishRatePerClient > 0 || l.PublishBytesPerClient > 0
}

// defaultAuth is [auth] as config.toml sets it.
func defaultAuth() Auth {
	return Auth{
		AllowAnonymous:  true,
		JWTKeys:         []string{},
		HTTPTimeout:     Duration(2 * time.Second),
		HTTPConcurrency: 32,
		CacheTTL:        Duration(5 * time.Minute),
		ACLDefault:      "allow",
	}
}

// validateProtect checks the [auth] keys, the PROXY keys of [listeners] and
// the storm-shaping keys of [limits].
func (c *Config) validateProtect(bad func(key, format string, a ...any)) {
	for i, e := range c.Listeners.ProxyTrusted {
		var err error
		if strings.Contains(e, "/") {
			_, err = netip.ParsePrefix(e)
		} else {
			_, err = netip.ParseAddr(e)
		}
		if err != nil {
			bad("listeners.proxy_trusted", "entry %d %q is not a CIDR or an address", i, e)
		}
	}
	if c.Listeners.ProxyProtocol && len(c.Listeners.ProxyTrusted) == 0 {
		bad("listeners.proxy_protocol", "needs listeners.proxy_trusted (the balancers that send the header)")
	}
	a := &c.Auth
	if a.HTTPURL != "" && !strings.HasPrefix(a.HTTPURL, "http://") && !strings.HasPrefix(a.HTTPURL, "https://") {
		bad("auth.http_url", "must start with http:// or https://, got %q", a.HTTPURL)
	}
	if a.HTTPTimeout.D() <= 0 {
		bad("auth.http_timeout", "must be > 0")
	}
	if a.HTTPConcurrency < 1 {
		bad("auth.http_concurrency", "must be >= 1, got %d", a.HTTPConcurrency)
	}
	if a.CacheTTL.D() < 0 {
		bad("auth.cache_ttl", "must be >= 0")
	}
	switch a.ACLDefault {
	case "allow", "deny":
	default:
		bad("auth.acl_default", "must be \"allow\" or \"deny\", got %q", a.ACLDefault)
	}
	for i, k := range a.JWTKeys {
		if k == "" {
			bad("auth.jwt_keys", "entry %d is empty", i)
		}
	}
	l := &c.Limits
	rate := func(key string, v float64) {
		if !(v >= 0) || v > 1e9 {
			bad(key, "must be a number between 0 (off) and 1e9, got %v", v)
		}
	}
	rate("limits.connect_rate", l.ConnectRate)
	rate("limits.connect_rate_per_ip", l.ConnectRatePerIP)
	rate("limits.auth_rate_per_user", l.AuthRatePerUser)
	rate("limits.publish_rate_per_client", l.PublishRatePerClient)
	rate("limits.publish_bytes_per_client", l.PublishBytesPerClient)
	if l.MaxConnectionsPerUser < 0 {
		bad("limits.max_connections_per_user", "must be >= 0 (0 = off), got %d", l.MaxConnectionsPerUser)
	}
	if l.FlappingMaxConnects < 0 {
		bad("limits.flapping_max_connects", "must be >= 0 (0 = off), got %d", l.FlappingMaxConnects)
	}
	if l.FlappingWindow.D() <= 0 {
		bad("limits.flapping_window", "must be > 0")
	}
	if l.FlappingBan.D() <= 0 {
		bad("limits.flapping_ban", "must be > 0")
	}
}
