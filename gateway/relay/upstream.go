package relay

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"edgegw/gateway/config"
	"edgegw/mqttcodec"
	"edgegw/session"
)

// Hooks connect an Upstream to the gateway. Both callbacks run on relay
// goroutines, never on an event loop; the gateway implements them by
// posting into loop inboxes.
type Hooks struct {
	// Done receives the tokens given to Forward of messages the upstream
	// now has (see the package doc for when that is), in batches. It must
	// not block; toks is reused after it returns.
	Done func(toks []any)
	// Import receives upstream messages that match an import rule, topics
	// in their local form, in the order connection conn (the pooled
	// connection's index) received them. The messages are the callee's. It
	// may block briefly: that is the backpressure on the upstream (the
	// upstream's acknowledgements of these messages are sent after it
	// returns). msgs is reused after it returns.
	Import func(conn int, msgs []*session.Message)
}

// Options are the settings config.Upstream does not expose. The zero value
// is ready to use.
type Options struct {
	Log         *slog.Logger  // one line per connection state change; nil: discarded
	Metrics     *metrics.Set  // where the upstream's metrics are registered; nil: a set of its own
	Hostname    string        // {hostname} in client_id; "": os.Hostname()
	BackoffMin  time.Duration // first reconnect wait bound; default 100ms
	BackoffMax  time.Duration // reconnect wait cap; default 10s
	DialTimeout time.Duration // TCP connect, TLS handshake and CONNACK, each; default 5s (capped by keepalive)
	// Window3 is the publish window towards a 3.1.1 upstream (3.1.1 has no
	// Receive Maximum). Default 128. A v5 upstream's window is its
	// CONNACK's Receive Maximum, capped at MaxWindow.
	Window3 int
	// MaxPacket is the Maximum Packet Size we announce (v5) and accept,
	// bytes. Default 1 MiB + 1 KiB.
	MaxPacket int
}

// MaxWindow caps the publish window towards one connection (a v5
// upstream's Receive Maximum may say 65535).
const MaxWindow = 4096

// importWindow is the Receive Maximum we announce to a v5 upstream: its
// QoS 1/2 messages in flight to one pooled connection.
const importWindow = 1024

// Verdict is Forward's answer.
type Verdict uint8

const (
	Queued Verdict = iota // taken: a token comes back through Hooks.Done once the upstream has it
	Full                  // not taken: the buffer is full (counted); QoS 1 must not be acknowledged to the device
)

// Upstream is one [[relay.upstream]]: its pool of connections, its rules,
// its buffer and its aggregation. Its methods are safe for concurrent use;
// Forward, Matches, Subscribed and Unsubscribed never block on I/O and
// are what the event loops call.
type Upstream struct {
	cfg     config.Upstream // resolved
	name    string
	idx     int // index in the gateway's list (the gateway's loop-prevention tag)
	version mqttcodec.Version
	prefix  []byte
	forward [][]byte
	imports [][]byte
	maxQoS  byte
	maxMsgs int64
	maxB    int64
	hooks   Hooks
	opt     Options
	log     *slog.Logger
	m       *upMetrics
	tlsCfg  *tls.Config
	pass    []byte
	links   []*link
	agg     aggregator

	startOnce sync.Once
	stop      chan struct{}
	ctx       context.Context // cancelled by Close: ends a dial or TLS handshake in progress
	cancel    context.CancelFunc
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// New builds an upstream from its resolved, validated configuration (idx
// is its position in [[relay.upstream]]). It reads password_file and the
// TLS files; it dials nothing (Start does).
func New(c config.Upstream, idx int, hooks Hooks, opt Options) (*Upstream, error) {
	c = c.Resolved()
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Metrics == nil {
		opt.Metrics = metrics.NewSet()
	}
	if opt.BackoffMin <= 0 {
		opt.BackoffMin = 100 * time.Millisecond
	}
	if opt.BackoffMax <= 0 {
		opt.BackoffMax = 10 * time.Second
	}
	if opt.DialTimeout <= 0 {
		opt.DialTimeout = 5 * time.Second
	}
	opt.DialTimeout = min(opt.DialTimeout, c.KeepAlive.D())
	if opt.Window3 <= 0 {
		opt.Window3 = 128
	}
	if opt.MaxPacket <= 0 {
		opt.MaxPacket = 1<<20 + 1024
	}
	if opt.Hostname == "" {
		opt.Hostname, _ = os.Hostname()
	}
	u := &Upstream{
		cfg: c, name: c.Name, idx: idx, prefix: []byte(c.RemotePrefix), maxQoS: c.QoS(),
		maxMsgs: int64(c.BufferMessages), maxB: int64(c.BufferBytes),
		hooks: hooks, opt: opt, stop: make(chan struct{}),
	}
	u.ctx, u.cancel = context.WithCancel(context.Background())
	u.log = opt.Log.With("upstream", c.Name)
	u.version = mqttcodec.V5
	if c.Protocol == 4 {
		u.version = mqttcodec.V311
	}
	for _, f := range c.Forward {
		u.forward = append(u.forward, []byte(f))
	}
	for _, f := range c.Import {
		u.imports = append(u.imports, []byte(f))
	}
	switch {
	case c.PasswordFile != "":
		b, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("relay.upstream[%d].password_file: cannot read %q: %w", idx, c.PasswordFile, err)
		}
		u.pass = []byte(strings.TrimRight(string(b), "\r\n"))
	case c.Password != "":
		u.pass = []byte(c.Password)
	}
	if c.TLS {
		t, err := tlsConfig(&c, idx)
		if err != nil {
			return nil, err
		}
		u.tlsCfg = t
	}
	u.m = newUpMetrics(opt.Metrics, c.Name, c.Pool)
	u.links = make([]*link, c.Pool)
	for i := range u.links {
		u.links[i] = newLink(u, i)
	}
	u.m.states[stateDown].Store(int64(c.Pool))
	u.agg.init(u)
	return u, nil
}

// tlsConfig builds the client TLS configuration of c.
func tlsConfig(c *config.Upstream, idx int) (*tls.Config, error) {
	t := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("relay.upstream[%d].ca_file: cannot read %q: %w", idx, c.CAFile, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("relay.upstream[%d].ca_file: no PEM certificate in %q", idx, c.CAFile)
		}
		t.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("relay.upstream[%d].cert_file: cannot load %q and %q: %w", idx, c.CertFile, c.KeyFile, err)
		}
		t.Certificates = []tls.Certificate{cert}
	}
	return t, nil
}

// Name returns the upstream's name (its metrics label).
func (u *Upstream) Name() string { return u.name }

// Index returns the upstream's position in [[relay.upstream]].
func (u *Upstream) Index() int { return u.idx }

// Pool returns the number of pooled connections.
func (u *Upstream) Pool() int { return len(u.links) }

// Start starts every pooled connection's writer goroutine (each dials,
// then starts its reader). Safe to call once; later calls do nothing.
func (u *Upstream) Start() {
	u.startOnce.Do(func() {
		for _, k := range u.links {
			u.wg.Add(1)
			go k.run()
		}
	})
}

// Close stops every connection and waits for their goroutines. Messages
// still held are never released through Done: their devices were not
// acknowledged and resend them.
func (u *Upstream) Close() {
	u.closeOnce.Do(func() {
		close(u.stop)
		u.cancel()
		for _, k := range u.links {
			k.closeConn()
		}
	})
	u.wg.Wait()
}

// closing reports whether Close was called.
func (u *Upstream) closing() bool {
	select {
	case <-u.stop:
		return true
	default:
		return false
	}
}

// Matches reports whether topic (local form) matches a forward rule.
// Safe for concurrent use; never allocates.
func (u *Upstream) Matches(topic []byte) bool {
	for _, f := range u.forward {
		if mqttcodec.MatchFilter(f, topic) {
			return true
		}
	}
	return false
}

// importMatch reports whether topic (local form) matches an import rule.
func (u *Upstream) importMatch(topic []byte) bool {
	for _, f := range u.imports {
		if mqttcodec.MatchFilter(f, topic) {
			return true
		}
	}
	return false
}

// Forward hands m (immutable, shared; not copied) to the pooled connection
// of its topic. tok, when not nil, comes back through Hooks.Done once the
// upstream has the message; the caller withholds the device's
// acknowledgement until then. Called on an event loop: it never blocks
// (one short critical section and a non-blocking wake). The caller has
// checked Matches.
//
// Past buffer_messages or buffer_bytes it answers Full and keeps nothing:
// a QoS 0 message is dropped (counted, reason buffer_full), a QoS 1 one is
// counted in edgegw_relay_not_acknowledged_total and its token never comes
// back: the device is not acknowledged and resends it. A QoS 2 message with
// a token is taken past the bound (counted in edgegw_relay_over_bound_total):
// the device's session has recorded its packet identifier and suppresses
// the resend [MQTT-4.3.3-9], so a refusal could never be retried; the
// device's Receive Maximum bounds how many it can have outstanding.
func (u *Upstream) Forward(m *session.Message, tok any) Verdict {
	size := int64(m.Size)
	force := m.QoS == 2 && tok != nil
	n, b := u.m.held.Add(1), u.m.heldBytes.Add(size)
	if n > u.maxMsgs || b > u.maxB {
		if !force {
			u.m.held.Add(-1)
			u.m.heldBytes.Add(-size)
			if m.QoS == 0 {
				u.m.dropped[dropBufferFull].Inc()
			} else {
				u.m.notAcked.Inc()
			}
			return Full
		}
		u.m.overBound.Inc()
	}
	e := &entry{msg: m, tok: tok, qos: min(m.QoS, u.maxQoS), size: size}
	u.links[u.linkOf(m.Topic)].enqueue(e)
	return Queued
}

// linkOf returns the pooled connection of topic: FNV-1a, so the same topic
// always takes the same connection (per-topic order).
func (u *Upstream) linkOf(topic []byte) int {
	if len(u.links) == 1 {
		return 0
	}
	h := uint32(2166136261)
	for _, c := range topic {
		h = (h ^ uint32(c)) * 16777619
	}
	return int(h % uint32(len(u.links)))
}

// release ends e's hold on the buffer.
func (u *Upstream) release(e *entry) {
	u.m.held.Add(-1)
	u.m.heldBytes.Add(-e.size)
}

// clientID expands the client_id template for connection n.
func (u *Upstream) clientID(n int) string {
	r := strings.NewReplacer("{hostname}", u.opt.Hostname, "{name}", u.name, "{n}", strconv.Itoa(n))
	return r.Replace(u.cfg.ClientID)
}

// sourceAddr returns the local address connection n binds, or nil.
func (u *Upstream) sourceAddr(n int) net.Addr {
	if len(u.cfg.SourceAddresses) == 0 {
		return nil
	}
	return &net.TCPAddr{IP: net.ParseIP(u.cfg.SourceAddresses[n%len(u.cfg.SourceAddresses)])}
}

// Subscribed records a new local subscription to filter (a "$share/g/"
// filter counts as its topic filter). Called on an event loop: a map
// update under the aggregation's mutex and, when the upstream set changes,
// SUBSCRIBE/UNSUBSCRIBE operations queued for a writer.
func (u *Upstream) Subscribed(filter []byte) { u.agg.change(filter, 1) }

// Unsubscribed records the end of a local subscription to filter (an
// UNSUBSCRIBE, or the end of its session).
func (u *Upstream) Unsubscribed(filter []byte) { u.agg.change(filter, -1) }

// Stats is a snapshot of an upstream's figures (tests, logs).
type Stats struct {
	Held, HeldBytes      int64
	UpstreamSubs         int64
	LocalSubs            int64
	Up, Connected, Down  int64 // connections per state
	Forwarded, Imported  uint64
	Connects, Failovers  uint64
	NotAcked, BufferFull uint64
	Resent, Resumed      uint64
	UpstreamFilters      []string // the current upstream subscriptions (remote form), sorted
	ConnectionErrors     map[string]uint64
}

// Stats returns a snapshot.
func (u *Upstream) Stats() Stats {
	s := Stats{
		Held: u.m.held.Load(), HeldBytes: u.m.heldBytes.Load(),
		UpstreamSubs: u.m.upSubs.Load(), LocalSubs: u.m.localSubs.Load(),
		Up: u.m.states[stateUp].Load(), Connected: u.m.states[stateConnected].Load(), Down: u.m.states[stateDown].Load(),
		Forwarded: u.m.forwarded.Get(), Imported: u.m.imported.Get(),
		Connects: u.m.connects.Get(), Failovers: u.m.failovers.Get(),
		NotAcked: u.m.notAcked.Get(), BufferFull: u.m.dropped[dropBufferFull].Get(), Resent: u.m.resent.Get(), Resumed: u.m.resumed.Get(),
		UpstreamFilters:  u.agg.filters(),
		ConnectionErrors: map[string]uint64{},
	}
	for i, c := range u.m.errors {
		if v := c.Get(); v > 0 {
			s.ConnectionErrors[downLabels[i]] = v
		}
	}
	return s
}
