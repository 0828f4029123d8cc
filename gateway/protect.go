package gateway

// Protection (README "Protection"): the glue between the loops and
// gateway/auth (verifiers on a worker pool, ACLs), gateway/limit (storm
// shaping) and the PROXY protocol parser of gateway/listener. This file
// holds the gateway-wide state, its set-up and the SIGHUP reload; the
// per-connection parts are in guard.go (state), authwait.go (CONNECT),
// acl.go (PUBLISH, SUBSCRIBE, will) and proxy.go (the header).

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"edgegw/gateway/auth"
	"edgegw/gateway/config"
	"edgegw/gateway/limit"
	"edgegw/gateway/listener"
)

// protect is the gateway-wide protection state. It exists only when
// something is configured (Gateway.prot is nil otherwise, and no loop pays
// anything: no guard, no lookup). Its fields are set in New and read-only
// after, except what the reload swaps atomically (the ACL set, the
// verifiers' files inside authn, the limits). Safe for concurrent use.
type protect struct {
	anon     bool                // auth.allow_anonymous
	authOn   bool                // a CONNECT other than an anonymous one goes to the pool
	authn    *auth.Authenticator // nil when !authOn
	aclOn    bool                // auth.acl_file is set
	aclAllow bool                // auth.acl_default = "allow"
	acl      auth.ACLStore       // the acl_file rules in force
	noRules  *auth.ACLSet        // an empty set with acl_default, for verifier rules without acl_file
	lim      *limit.Limiter      // nil when no [limits] storm-shaping key was set at start
	pubRates atomic.Pointer[limit.PublishRates]
	proxy    bool // listeners.proxy_protocol
	trust    listener.ProxyTrust
	m        *protectMetrics
}

// limitConfig maps the [limits] storm-shaping keys onto gateway/limit.
func limitConfig(l *config.Limits) limit.Config {
	return limit.Config{
		ConnectRate:           l.ConnectRate,
		ConnectRatePerIP:      l.ConnectRatePerIP,
		MaxConnectionsPerUser: l.MaxConnectionsPerUser,
		AuthRatePerUser:       l.AuthRatePerUser,
		FlappingMaxConnects:   l.FlappingMaxConnects,
		FlappingWindow:        l.FlappingWindow.D(),
		FlappingBan:           l.FlappingBan.D(),
		PublishRatePerClient:  l.PublishRatePerClient,
		PublishBytesPerClient: l.PublishBytesPerClient,
	}
}

// authConfig maps [auth] onto gateway/auth.
func authConfig(a *config.Auth) auth.Config {
	return auth.Config{
		AllowAnonymous: a.AllowAnonymous,
		PasswordFile:   a.PasswordFile,
		JWTKeys:        a.JWTKeys,
		HTTP: auth.HTTPConfig{
			URL:         a.HTTPURL,
			Timeout:     a.HTTPTimeout.D(),
			Concurrency: a.HTTPConcurrency,
			CacheTTL:    max(a.CacheTTL.D(), 0),
		},
	}
}

// initProtect builds g.prot from the configuration, loading the password
// file, the JWT keys and the ACL file (errors name the file and line). It
// leaves g.prot nil when nothing is configured. Called by New.
func (g *Gateway) initProtect() error {
	cfg := &g.cfg
	a := &cfg.Auth
	if !a.On() && !cfg.Limits.ProtectOn() && !cfg.Listeners.ProxyProtocol {
		newProtectMetrics(g.m.set, nil) // the families exist, at 0, so that dashboards find them
		g.warnAnonymous()
		return nil
	}
	p := &protect{anon: a.AllowAnonymous, aclOn: a.ACLFile != "", proxy: cfg.Listeners.ProxyProtocol}
	p.authOn = !a.AllowAnonymous || a.Verifiers()
	if p.authOn {
		ac := authConfig(a)
		if ac.HTTP.CacheTTL == 0 {
			ac.HTTP.CacheTTL = -1 // cache_ttl = "0s": no positive cache
		}
		authn, err := auth.New(ac)
		if err != nil {
			return fmt.Errorf("cannot set up authentication: %w", err)
		}
		p.authn = authn
	}
	allow, err := auth.ParseACLDefault(a.ACLDefault)
	if err != nil {
		return err
	}
	p.aclAllow = allow
	p.noRules = auth.NewACLSet(nil, allow)
	if p.aclOn {
		if err := p.acl.LoadFile(a.ACLFile, allow); err != nil {
			p.close()
			return err
		}
	}
	if cfg.Limits.ProtectOn() {
		lc := limitConfig(&cfg.Limits)
		if err := lc.Validate(); err != nil {
			p.close()
			return err
		}
		p.lim = limit.New(lc)
		r := lc.PublishRates()
		p.pubRates.Store(&r)
	}
	if p.proxy {
		t, err := listener.ParseProxyTrust(cfg.Listeners.ProxyTrusted)
		if err != nil {
			p.close()
			return err
		}
		p.trust = t
	}
	p.m = newProtectMetrics(g.m.set, p)
	g.prot = p
	g.warnAnonymous()
	return nil
}

// warnAnonymous logs a warning for each listener not bound to loopback
// when anonymous clients are allowed.
func (g *Gateway) warnAnonymous() {
	if !g.cfg.Auth.AllowAnonymous {
		return
	}
	l := &g.cfg.Listeners
	for _, x := range []struct{ kind, addr string }{{"tcp", l.TCP}, {"ws", l.WS}, {"tls", l.TLS}, {"wss", l.WSS}} {
		if x.addr == "" {
			continue
		}
		host, _, err := net.SplitHostPort(x.addr)
		if ip, perr := netip.ParseAddr(host); err == nil && (host == "localhost" || perr == nil && ip.IsLoopback()) {
			continue
		}
		g.log.Warn("listener allows anonymous clients on a non-loopback address",
			"listener", x.kind, "addr", x.addr, "hint", "set auth.allow_anonymous = false with a password_file, jwt_keys or http_url")
	}
}

// close stops the verifier pool.
func (p *protect) close() {
	if p.authn != nil {
		p.authn.Close()
	}
}

// closeProtect stops the verifier pool at shutdown (pending verdicts are
// refused 0x88 and dropped: their connections are gone).
func (g *Gateway) closeProtect() {
	if g.prot != nil {
		g.prot.close()
	}
}

// errReloadNoLimits: the gateway started without any storm-shaping key, so
// it holds no limiter to reconfigure.
var errReloadNoLimits = errors.New("cannot turn [limits] storm shaping on by reload: it was off at start; restart the gateway")

// ReloadProtection is the SIGHUP reload of protection: the password file
// and JWT keys together, the ACL file, and, when next is not nil (the
// configuration file parsed again), the [limits] storm-shaping keys. Each
// part is swapped in atomically; a part whose file is broken keeps its
// previous version, and the error names the file and line. Bans, user
// connection counts and rate states are kept. Clients connected before the
// reload keep the ACL matcher they compiled at CONNECT. Counted in
// edgegw_protect_reloads_total{result}. Safe for concurrent use; reads the
// disk, so never call it on an event loop.
func (g *Gateway) ReloadProtection(next *config.Config) error {
	p := g.prot
	if p == nil {
		if next != nil && (next.Limits.ProtectOn() || next.Auth.On()) {
			return errReloadNoLimits
		}
		return nil
	}
	var errs []error
	if p.authn != nil {
		if err := p.authn.Reload(); err != nil {
			errs = append(errs, err)
		}
	}
	if p.aclOn {
		if err := p.acl.LoadFile(g.cfg.Auth.ACLFile, p.aclAllow); err != nil {
			errs = append(errs, err)
		}
	}
	if next != nil {
		lc := limitConfig(&next.Limits)
		switch {
		case p.lim == nil && next.Limits.ProtectOn():
			errs = append(errs, errReloadNoLimits)
		case p.lim != nil:
			if err := lc.Validate(); err != nil {
				errs = append(errs, err)
				break
			}
			p.lim.SetConfig(lc)
			r := lc.PublishRates()
			p.pubRates.Store(&r)
		}
	}
	err := errors.Join(errs...)
	if err != nil {
		p.m.reloadFailed.Inc()
		g.log.Error("SIGHUP: protection not fully reloaded, keeping the previous version of what failed", "err", err)
		return err
	}
	p.m.reloadOK.Inc()
	g.log.Info("SIGHUP: protection reloaded", "password_file", g.cfg.Auth.PasswordFile, "acl_file", g.cfg.Auth.ACLFile, "jwt_keys", len(g.cfg.Auth.JWTKeys))
	return nil
}

// banLog logs a new flapping ban with the client ID and the IP.
func (g *Gateway) banLog(clientID string, ip netip.Addr) {
	ban := g.cfg.Limits.FlappingBan.D()
	if p := g.prot; p != nil && p.lim != nil {
		ban = p.lim.Config().FlappingBan
	}
	g.log.Warn("client banned for flapping", slog.String("client_id", clientID), slog.String("ip", ip.String()),
		slog.Int("max_connects", g.cfg.Limits.FlappingMaxConnects), slog.Duration("window", g.cfg.Limits.FlappingWindow.D()),
		slog.Duration("ban", ban), slog.Time("until", time.Now().Add(ban)))
}
