package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"edgegw/gateway/listener"
	"edgegw/gateway/relay"
	"edgegw/gateway/telemetry"
	"edgegw/gateway/tlsrec"
	"edgegw/router"
	"edgegw/session"
	"edgegw/tune"
)

// Gateway is one running edgegw data path. Its exported methods are safe
// for concurrent use.
type Gateway struct {
	cfg    Config
	log    *slog.Logger // through alog: never blocks a loop
	alog   *telemetry.Log
	router *router.Router
	reg    *registry
	m      *metricSet
	lim    session.Limits
	policy policy

	h      *handler
	eng    gnet.Engine
	booted chan struct{}
	done   chan error // gnet.Rotate's result

	loopsMu sync.Mutex
	loopMap atomic.Pointer[map[gnet.EventLoop]*loop] // copy on write
	loops   atomic.Pointer[[]*loop]

	addrMu      sync.Mutex
	addrs       map[string]string
	httpSrv     *telemetry.Server
	tlsSrv      *tlsrec.Server   // nil without a TLS or WSS listener (tls.go)
	tlsPort     int              // port of the TLS listener (0 = none)
	wssPort     int              // port of the WSS listener (0 = none)
	maxConns    int64            // limits.max_connections, or derived from the fd limit
	tn          *tuneGlue        // memory budget and admission (admission.go)
	sock        listener.Options // client socket options: keepalive, TCP_USER_TIMEOUT, buffers (sockets.go)
	sticky      bool             // router.shared_strategy = "sticky": Match needs the publisher's hash
	wsPort      int              // port of the WebSocket listener (0 = none)
	draining    atomic.Bool      // Shutdown began: no PUBLISH is read, no acknowledgement sent
	drain       drainCtl         // Shutdown's phases and what it could not deliver (drain.go)
	reclaimStop chan struct{}    // closed by Shutdown: ends reclaimLoop (reclaim.go)
	started     atomic.Bool
	purging     atomic.Bool  // a retained-expiry sweep is running (see purgeRetained)
	purgeAt     atomic.Int64 // unix nanos of the last sweep's start
	idSeq       atomic.Uint64
	idSalt      string
	prot        *protect // authentication, ACLs, storm shaping, PROXY; nil when none is configured (protect.go)

	relays []*relay.Upstream // [[relay.upstream]]; none by default (relay.go)
}

type policy uint8

const (
	policyBackpressure policy = iota
	policyDrop
	policyDisconnect
)

// New validates cfg and returns a Gateway that is not yet listening.
func New(cfg Config, log *slog.Logger) (*Gateway, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	g := &Gateway{cfg: cfg, log: log, reg: newRegistry(), booted: make(chan struct{}), done: make(chan error, 1), reclaimStop: make(chan struct{}), addrs: map[string]string{}}
	g.router = router.New(router.Config{
		SharedStrategy:      cfg.Router.SharedStrategy,
		RetainedMaxMessages: cfg.Router.RetainedMaxMessages,
		RetainedMaxBytes:    cfg.Router.RetainedMaxBytes,
		Alive: func(s router.Subscriber) bool {
			rec := g.reg.resolve(s)
			return rec != nil && rec.has(recOnline)
		},
	})
	g.m = newMetricSet(func() (a, b, c, d, e int64) {
		st := g.router.Stats()
		return st.Subscriptions, st.Filters, st.SharedGroups, st.RetainedMessages, st.RetainedBytes
	})
	g.alog = telemetry.NewLog(log.Handler(), 0, g.m.set)
	g.log = slog.New(g.alog)
	switch cfg.Limits.SlowConsumerPolicy {
	case "drop":
		g.policy = policyDrop
	case "disconnect":
		g.policy = policyDisconnect
	}
	g.lim = session.Limits{
		MaxPacketSize:      uint32(cfg.Limits.MaxPacketSize),
		ReceiveMaximum:     uint16(cfg.Limits.ReceiveMaximum),
		MaxInflight:        uint16(cfg.Limits.MaxInflight),
		TopicAliasMaximum:  uint16(cfg.Limits.TopicAliasMaximum),
		OutTopicAliases:    uint16(cfg.Limits.OutTopicAliases),
		MaxKeepAlive:       uint16(cfg.Limits.MaxKeepAlive),
		MaxSessionExpiry:   uint32(min(cfg.Session.MaxSessionExpiry.D()/time.Second, 0xFFFFFFFF)),
		MaxOfflineMessages: cfg.Session.MaxOfflineMessages,
		MaxOfflineBytes:    cfg.Session.MaxOfflineBytes,
		DropOldest:         cfg.Session.OfflinePolicy == "drop_oldest",
		RetainAvailable:    cfg.Router.RetainedMaxMessages > 0,
		Budget:             &session.QueueBudget{},
	}
	g.sticky = cfg.Router.SharedStrategy == "sticky"
	g.sock = clientSockets(cfg)
	g.maxConns = cfg.MaxConnections(tune.NoFile()) // keeps descriptors for listeners, HTTP and files
	g.initTune()
	g.idSalt = strconv.FormatInt(time.Now().UnixNano()%(1<<30), 36)
	g.h = &handler{g: g}
	if err := g.initProtect(); err != nil {
		return nil, err
	}
	if err := g.initRelay(); err != nil {
		return nil, err
	}
	return g, nil
}

// Start binds every configured listener and the HTTP endpoint and returns
// once the engine accepts connections. Errors read
// `cannot open listener ":1883": address already in use`.
func (g *Gateway) Start() error {
	if !g.started.CompareAndSwap(false, true) {
		return errAlreadyStarted
	}
	var addrs []string
	if a := g.cfg.Listeners.TCP; a != "" {
		bound, err := listener.Resolve(a)
		if err != nil {
			return err
		}
		g.setAddr("tcp", bound)
		addrs = append(addrs, "tcp://"+bound)
	}
	if a := g.cfg.Listeners.WS; a != "" {
		bound, err := listener.Resolve(a)
		if err != nil {
			return err
		}
		_, port, _ := net.SplitHostPort(bound)
		g.wsPort, _ = strconv.Atoi(port)
		g.setAddr("ws", bound)
		addrs = append(addrs, "tcp://"+bound)
	}
	if g.cfg.Listeners.TLS != "" || g.cfg.Listeners.WSS != "" {
		srv, err := g.newTLSServer()
		if err != nil {
			return err
		}
		g.tlsSrv = srv
	}
	for _, k := range []struct {
		kind, addr string
		port       *int
	}{{"tls", g.cfg.Listeners.TLS, &g.tlsPort}, {"wss", g.cfg.Listeners.WSS, &g.wssPort}} {
		if k.addr == "" {
			continue
		}
		bound, err := listener.Resolve(k.addr)
		if err != nil {
			return err
		}
		_, port, _ := net.SplitHostPort(bound)
		*k.port, _ = strconv.Atoi(port)
		g.setAddr(k.kind, bound)
		addrs = append(addrs, "tcp://"+bound)
	}
	if len(addrs) == 0 {
		return errNoListener
	}
	if a := g.cfg.HTTP.Addr; a != "" {
		hs, err := g.startHTTP(a)
		if err != nil {
			return err
		}
		g.httpSrv = hs
		g.setAddr("http", hs.Addr())
	}
	g.applyGCPercent()
	loops := g.cfg.Engine.Loops
	if loops == 0 {
		loops = runtime.GOMAXPROCS(0)
	}
	opts := []gnet.Option{
		gnet.WithMulticore(true),
		gnet.WithNumEventLoop(loops),
		gnet.WithReusePort(g.cfg.Engine.ReusePort),
		gnet.WithReuseAddr(true),
		gnet.WithReadBufferCap(g.cfg.Engine.ReadBufferSize),
		gnet.WithTicker(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithLogger(gnetLogger{g.log}),
	}
	opts = append(opts, gnetSocketOptions(g.sock)...)
	g.alog.Start()
	go func() { g.done <- gnet.Rotate(g.h, addrs, opts...) }()
	select {
	case <-g.booted:
		go g.reclaimLoop(g.reclaimStop)
		go g.tuneLoop(g.reclaimStop)
		g.startRelay()
		return nil
	case err := <-g.done:
		g.done <- err
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		g.alog.Stop(ctx)
		cancel()
		if g.httpSrv != nil {
			g.httpSrv.Close()
		}
		return &listener.OpenError{Addr: g.cfg.Listeners.TCP, Err: err}
	}
}

// applyGCPercent sets the process's GC percent from engine.gc_percent (0:
// leave it). It is process-wide: the last gateway started wins.
func (g *Gateway) applyGCPercent() {
	p := g.cfg.Engine.GCPercent
	if p == 0 {
		return
	}
	prev := debug.SetGCPercent(p)
	g.log.Info("garbage collector", "gc_percent", p, "was", prev)
	if p < 0 && debug.SetMemoryLimit(-1) == math.MaxInt64 {
		g.log.Warn("engine.gc_percent = -1 without GOMEMLIMIT: the heap grows without bound",
			"hint", "set GOMEMLIMIT or a gc_percent > 0")
	}
}

func (g *Gateway) setAddr(kind, a string) {
	g.addrMu.Lock()
	g.addrs[kind] = a
	g.addrMu.Unlock()
}

// Addr returns the bound host:port of listener kind ("tcp", "ws", "tls",
// "wss", "http"), or "" when it is not enabled.
func (g *Gateway) Addr(kind string) string {
	g.addrMu.Lock()
	defer g.addrMu.Unlock()
	a := g.addrs[kind]
	// A listener on every interface (":1883") is reported as its loopback
	// address, which is what a local client dials.
	if h, p, err := net.SplitHostPort(a); err == nil && (h == "" || net.ParseIP(h) != nil && net.ParseIP(h).IsUnspecified()) {
		return net.JoinHostPort("127.0.0.1", p)
	}
	return a
}

// loopOf returns the gateway's loop for a gnet event loop, creating it on
// first sight (gnet does not enumerate its loops). Called on that loop.
func (g *Gateway) loopOf(el gnet.EventLoop) *loop {
	if m := g.loopMap.Load(); m != nil {
		if l := (*m)[el]; l != nil {
			return l
		}
	}
	g.loopsMu.Lock()
	defer g.loopsMu.Unlock()
	old := g.loopMap.Load()
	if old != nil {
		if l := (*old)[el]; l != nil {
			return l
		}
	}
	nm := make(map[gnet.EventLoop]*loop)
	var list []*loop
	if old != nil {
		for k, v := range *old {
			nm[k] = v
		}
		list = append(list, *g.loops.Load()...)
	}
	l := newLoop(g, el, len(list))
	nm[el] = l
	list = append(list, l)
	g.loopMap.Store(&nm)
	g.loops.Store(&list)
	return l
}

// allLoops returns the loops seen so far.
func (g *Gateway) allLoops() []*loop {
	if p := g.loops.Load(); p != nil {
		return *p
	}
	return nil
}

// assignID generates a client identifier for an empty one [MQTT-3.1.3-6].
func (g *Gateway) assignID() string {
	return "edgegw-" + g.idSalt + "-" + strconv.FormatUint(g.idSeq.Add(1), 36)
}

// gnetLogger routes gnet's logging to slog at debug level (errors at warn).
type gnetLogger struct{ l *slog.Logger }

func (x gnetLogger) Debugf(f string, a ...any) {}
func (x gnetLogger) Infof(f string, a ...any)  { x.l.Debug(fmt.Sprintf(f, a...)) }
func (x gnetLogger) Warnf(f string, a ...any)  { x.l.Warn(fmt.Sprintf(f, a...)) }
func (x gnetLogger) Errorf(f string, a ...any) { x.l.Warn(fmt.Sprintf(f, a...)) }
func (x gnetLogger) Fatalf(f string, a ...any) { x.l.Error(fmt.Sprintf(f, a...)) }
