package bench

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/panjf2000/gnet/v2/pkg/logging"
	"golang.org/x/sys/unix"
)

// runner executes one run (one capacity step) in this process.
type runner struct {
	cfg      *Config
	ver      byte
	runID    string
	prefix   string // topic prefix "bench/<runid>/"
	payload  []byte // template: 16 bytes header slot + run ID + filler
	interval int64  // ns between two publishes of one publisher
	hkEvery  int64  // ns between housekeeping passes (keepalive, timeouts)
	ips      []netip.Addr
	ws       bool           // MQTT over WebSocket
	wsKey    wsKey          // Sec-WebSocket-Key / Accept of this run
	wsMask   [4]byte        // masking key of this run's frames
	wsHost   string         // Host header
	tls      *tls.Config    // tls/wss: client configuration; nil for tcp/ws
	relayWG  sync.WaitGroup // TLS relay goroutines (two per TLS client)
	clients  []*client      // this worker's share

	cli     *gnet.Client
	loopsMu sync.Mutex
	loops   map[gnet.EventLoop]*loop
	loopArr atomic.Pointer[[]*loop]

	dialQ      chan *client
	publishing atomic.Bool
	reconnect  atomic.Bool // storm: redial closed clients
	stopping   atomic.Bool
	ready      atomic.Int64
	fails      failures
	rngMu      sync.Mutex
	rng        *rand.Rand

	limMu   sync.Mutex
	limNext time.Time // connect-rate limiter

	dialWG sync.WaitGroup
	off    *loop // counters recorded off the loops (dial failures)
}

// errNoBroker is returned when the broker cannot be reached at all.
var errNoBroker = errors.New("cannot reach broker")

func newRunner(cfg *Config) (*runner, error) {
	r := &runner{cfg: cfg, ver: byte(cfg.MQTT), loops: map[gnet.EventLoop]*loop{}}
	r.off = &loop{r: r}
	r.runID = cfg.runID
	if r.runID == "" {
		r.runID = strconv.FormatInt(time.Now().UnixNano()%1e10, 36)
	}
	r.prefix = "bench/" + r.runID + "/"
	seed := cfg.Seed
	if seed == 0 {
		seed = time.Now().UnixNano()
	}
	r.rng = rand.New(rand.NewPCG(uint64(seed), uint64(cfg.worker)))
	r.ws = cfg.Transport == "ws" || cfg.Transport == "wss"
	if isTLS(cfg.Transport) {
		tc, err := tlsClientConfig(cfg)
		if err != nil {
			return nil, err
		}
		r.tls = tc
	}
	var keySeed [16]byte
	for i := range keySeed {
		keySeed[i] = byte(r.rng.Uint32())
	}
	r.wsKey = newWSKey(keySeed[:])
	copy(r.wsMask[:], keySeed[12:])
	r.wsHost = cfg.Broker
	r.payload = make([]byte, cfg.Payload)
	for i := minPayload; i < len(r.payload); i++ {
		r.payload[i] = 'x'
	}
	copy(r.payload[minPayload:], r.runID)
	if rate := cfg.perPublisherRate(); rate > 0 {
		r.interval = int64(float64(time.Second) / rate)
		if r.interval < 1 {
			r.interval = 1
		}
	}
	// Housekeeping runs often enough that a ping goes out before the
	// broker's 1.5 x keepalive deadline, and at least once a second.
	r.hkEvery = max(min(int64(time.Second), int64(cfg.ConnectTimeout.D())/4), int64(10*time.Millisecond))
	if ka := int64(cfg.KeepAlive.D()); ka > 0 {
		r.hkEvery = max(min(r.hkEvery, ka/4), int64(10*time.Millisecond))
	}
	ips, err := parseSourceIPs(cfg.SourceIPs)
	if err != nil {
		return nil, err
	}
	// Each worker takes its share of the source addresses when there are enough.
	if cfg.workers > 1 && len(ips) >= cfg.workers {
		var mine []netip.Addr
		for i, ip := range ips {
			if i%cfg.workers == cfg.worker {
				mine = append(mine, ip)
			}
		}
		ips = mine
	}
	r.ips = ips
	n := cfg.totalClients()
	workers := max(cfg.workers, 1)
	for i := cfg.worker; i < n; i += workers {
		c := &client{idx: uint32(i), slot: -1, pubSlot: -1}
		c.role = r.roleOf(i)
		r.clients = append(r.clients, c)
	}
	r.dialQ = make(chan *client, len(r.clients)+1)
	return r, nil
}

// Topic layout. Global client indices: for fanin/fanout/shared, subscribers
// are 0..S-1 and publishers S..S+P-1; for p2p every client does both.
func (r *runner) roleOf(i int) uint8 {
	c := r.cfg
	switch c.Scenario {
	case ScenarioFanIn, ScenarioFanOut, ScenarioShared:
		if i < c.Subscribers {
			return roleSub
		}
		return rolePub
	case ScenarioP2P:
		return rolePub | roleSub
	}
	return 0
}

// pubTopic appends the topic client c publishes to.
func (r *runner) pubTopic(dst []byte, c *client) []byte {
	cfg := r.cfg
	dst = append(dst, r.prefix...)
	dst = append(dst, cfg.Scenario...)
	dst = append(dst, '/')
	j := int(c.idx)
	switch cfg.Scenario {
	case ScenarioFanOut:
		return strconv.AppendInt(dst, int64((j-cfg.Subscribers)%cfg.Topics), 10)
	case ScenarioP2P:
		return strconv.AppendInt(dst, int64((j+1)%cfg.Clients), 10)
	}
	return strconv.AppendInt(dst, int64(j), 10)
}

// subFilter returns the filter client c subscribes to (in lp's scratch-free buffer).
func (r *runner) subFilter(_ *loop, c *client) []byte {
	cfg := r.cfg
	i := int(c.idx)
	var dst []byte
	if cfg.Scenario == ScenarioShared {
		dst = append(dst, "$share/g"...)
		dst = strconv.AppendInt(dst, int64(i%cfg.Groups), 10)
		dst = append(dst, '/')
	}
	dst = append(dst, r.prefix...)
	dst = append(dst, cfg.Scenario...)
	dst = append(dst, '/')
	switch cfg.Scenario {
	case ScenarioFanOut:
		return strconv.AppendInt(dst, int64(i%cfg.Topics), 10)
	case ScenarioP2P:
		return strconv.AppendInt(dst, int64(i), 10)
	}
	return append(dst, '+')
}

// fanout is how many deliveries one publish of c must cause.
func (r *runner) fanout(c *client) int {
	cfg := r.cfg
	switch cfg.Scenario {
	case ScenarioFanIn:
		return cfg.Subscribers
	case ScenarioFanOut:
		t := (int(c.idx) - cfg.Subscribers) % cfg.Topics
		n := cfg.Subscribers / cfg.Topics
		if t < cfg.Subscribers%cfg.Topics {
			n++
		}
		return n
	case ScenarioShared:
		return cfg.Groups
	case ScenarioP2P:
		return 1
	}
	return 0
}

func (r *runner) appendConnect(dst []byte, c *client) []byte {
	var idb [48]byte
	o := connectOpts{
		version:   r.ver,
		clientID:  r.clientID(idb[:0], c),
		keepAlive: uint16(r.cfg.KeepAlive.D() / time.Second),
		clean:     r.cfg.Clean,
		username:  r.cfg.Username,
		password:  r.cfg.Password,
	}
	if !r.cfg.Clean && r.ver == 5 {
		o.sessionExpiry = uint32(r.cfg.SessionExpiry.D() / time.Second)
	}
	return appendConnect(dst, &o)
}

// loopFor returns the state of event loop el, creating it on first use.
func (r *runner) loopFor(el gnet.EventLoop) *loop {
	r.loopsMu.Lock()
	defer r.loopsMu.Unlock()
	lp := r.loops[el]
	if lp == nil {
		lp = &loop{r: r, el: el, scratch: make([]byte, 0, 4096), lastHK: time.Now().UnixNano()}
		r.loops[el] = lp
		arr := make([]*loop, 0, len(r.loops))
		if old := r.loopArr.Load(); old != nil {
			arr = append(arr, *old...)
		}
		arr = append(arr, lp)
		r.loopArr.Store(&arr)
	}
	return lp
}

func (r *runner) loopList() []*loop {
	if p := r.loopArr.Load(); p != nil {
		return *p
	}
	return nil
}

// start creates the gnet client and the dialers.
func (r *runner) start() error {
	raiseNoFile()
	loops := r.cfg.Loops
	if loops == 0 {
		loops = min(max(1, runtime.NumCPU()), 16)
	}
	cli, err := gnet.NewClient(&handler{r: r},
		gnet.WithMulticore(true),
		gnet.WithNumEventLoop(loops),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithReadBufferCap(64<<10),
		gnet.WithLogger(quietLogger{}),
		gnet.WithLogLevel(logging.ErrorLevel),
	)
	if err != nil {
		return fmt.Errorf("cannot create event loops: %w", err)
	}
	if err := cli.Start(); err != nil {
		return fmt.Errorf("cannot start event loops: %w", err)
	}
	r.cli = cli
	for i := 0; i < min(r.cfg.Dialers, max(1, len(r.clients))); i++ {
		r.dialWG.Add(1)
		go r.dialer()
	}
	return nil
}

// stop closes every connection and the event loops.
func (r *runner) stop() {
	r.stopping.Store(true)
	r.publishing.Store(false)
	close(r.dialQ)
	r.dialWG.Wait()
	if r.cli == nil {
		return
	}
	r.onLoops(func(lp *loop) { lp.closeAll(true) })
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) && r.connectedNow() > 0 {
		time.Sleep(5 * time.Millisecond)
	}
	_ = r.cli.Stop()
	r.relayWG.Wait() // gnet closed its ends: every relay sees EOF and ends
}

// connectedNow counts registered connections (racy read through Execute).
func (r *runner) connectedNow() int {
	n := 0
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, lp := range r.loopList() {
		wg.Add(1)
		err := lp.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
			mu.Lock()
			n += len(lp.clients)
			mu.Unlock()
			wg.Done()
			return nil
		}))
		if err != nil {
			wg.Done()
		}
	}
	wg.Wait()
	return n
}

// onLoops runs fn on every loop and waits for all of them.
func (r *runner) onLoops(fn func(*loop)) {
	var wg sync.WaitGroup
	for _, lp := range r.loopList() {
		wg.Add(1)
		err := lp.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
			fn(lp)
			wg.Done()
			return nil
		}))
		if err != nil {
			wg.Done()
		}
	}
	wg.Wait()
}

// pacer ticks every loop until ctx ends: publishing and housekeeping run there.
func (r *runner) pacer(ctx context.Context) {
	// A publisher writes everything due in one tick with one write, so a
	// longer tick costs fewer syscalls per message; timestamps are taken
	// at the write, so latency figures do not depend on it.
	tick := 10 * time.Millisecond
	if d := r.cfg.PublishTick.D(); d > 0 {
		tick = d // --publish-tick
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	pending := map[*loop]*atomic.Bool{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, lp := range r.loopList() {
			busy := pending[lp]
			if busy == nil {
				busy = new(atomic.Bool)
				pending[lp] = busy
			}
			if busy.Load() {
				continue // the previous tick has not run yet: never queue up work
			}
			busy.Store(true)
			lpc := lp
			if err := lp.el.Execute(ctx, gnet.RunnableFunc(func(ctx context.Context) error {
				err := lpc.tick(ctx)
				busy.Store(false)
				return err
			})); err != nil {
				busy.Store(false)
			}
		}
	}
}

// dial queues c for connecting now.
func (r *runner) enqueue(c *client) {
	select {
	case r.dialQ <- c:
	default:
		panic("BUG: dial queue full")
	}
}

// settled reports whether a closed client stays closed (no reconnect).
func (r *runner) settled(c *client) bool {
	return r.stopping.Load() || !r.reconnect.Load()
}

// redial schedules a reconnect with exponential backoff and jitter. Safe
// from any goroutine; the timer hands c to a dialer.
func (r *runner) redial(c *client) {
	cfg := r.cfg
	d := cfg.BackoffMin.D() << min(c.attempts, 20)
	if d > cfg.BackoffMax.D() || d <= 0 {
		d = cfg.BackoffMax.D()
	}
	if c.attempts < 255 {
		c.attempts++
	}
	r.rngMu.Lock()
	j := r.rng.Float64()
	r.rngMu.Unlock()
	d -= time.Duration(float64(d) * cfg.Jitter * j)
	time.AfterFunc(d, func() {
		if r.stopping.Load() {
			return
		}
		defer func() { _ = recover() }() // dialQ closed by stop: drop
		r.enqueue(c)
	})
}

// waitRate blocks until the connect-rate limiter admits one more dial.
func (r *runner) waitRate(ramp bool) {
	if !ramp || r.cfg.ConnectRate <= 0 {
		return
	}
	step := time.Duration(float64(time.Second) / r.cfg.ConnectRate * float64(max(r.cfg.workers, 1)))
	r.limMu.Lock()
	now := time.Now()
	if r.limNext.Before(now) {
		r.limNext = now
	}
	at := r.limNext
	r.limNext = r.limNext.Add(step)
	r.limMu.Unlock()
	if d := time.Until(at); d > 0 {
		time.Sleep(d)
	}
}

// dialer connects queued clients and enrolls them into the event loops.
func (r *runner) dialer() {
	defer r.dialWG.Done()
	for c := range r.dialQ {
		if r.stopping.Load() {
			continue
		}
		r.waitRate(!c.everReady)
		r.dialOne(c)
	}
}

func (r *runner) dialOne(c *client) {
	d := net.Dialer{Timeout: r.cfg.ConnectTimeout.D(), Control: bindNoPort}
	if len(r.ips) > 0 {
		d.LocalAddr = &net.TCPAddr{IP: r.ips[int(c.idx)%len(r.ips)].AsSlice()}
	}
	c.connStart = time.Now().UnixNano()
	lp0 := r.off
	lp0.ctr.attempts.Add(1)
	addr := r.cfg.Broker
	if c.role == roleSub && r.cfg.SubscriberBroker != "" {
		addr = r.cfg.SubscriberBroker // the far side of a relay or bridge
	}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		lp0.ctr.connFail.Add(1)
		r.fails.add(dialReason(err))
		if !r.settled(c) {
			r.redial(c)
		}
		return
	}
	if r.tls != nil {
		if nc, err = r.tlsConn(nc, c.connStart); err != nil {
			lp0.ctr.connFail.Add(1)
			r.fails.add(err.Error())
			if !r.settled(c) {
				r.redial(c)
			}
			return
		}
	}
	if _, err := r.cli.EnrollContext(nc, c); err != nil {
		lp0.ctr.connFail.Add(1)
		r.fails.add("enroll")
		if !r.settled(c) {
			r.redial(c)
		}
	}
}

// tlsConn handshakes nc and returns the socketpair end that relays to it;
// on error nc is closed and the error is a failure-table reason.
func (r *runner) tlsConn(nc net.Conn, start int64) (net.Conn, error) {
	tc, err := tlsHandshake(nc, r.tls, time.Unix(0, start).Add(r.cfg.ConnectTimeout.D()))
	if err != nil {
		nc.Close()
		return nil, errors.New("tls_handshake")
	}
	out, err := tlsBridge(tc, &r.relayWG)
	if err != nil {
		tc.Close()
		return nil, errors.New("tls_socketpair")
	}
	return out, nil
}

// dialReason names a dial error for the failure table.
func dialReason(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "dial_refused"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "dial_no_local_port"
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "dial_too_many_files"
	case errors.Is(err, syscall.ECONNRESET):
		return "dial_reset"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "dial_timeout"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "dial_timeout"
	}
	return "dial_error"
}

// bindNoPort sets IP_BIND_ADDRESS_NO_PORT so that binding a source address
// does not reserve an ephemeral port before connect: the kernel then picks
// the port per 4-tuple and one source address serves far more connections.
func bindNoPort(_, _ string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
	})
	if err != nil {
		return err
	}
	_ = serr // best effort: older kernels lack the option
	return nil
}

// probe checks the broker, and the subscriber broker when set, accepts TCP
// (and, for tls/wss, completes a TLS handshake) before any load starts, so
// that an unreachable broker or a certificate problem gives one clear error
// instead of N failures.
func probe(cfg *Config) error {
	if err := probeOne(cfg, cfg.Broker); err != nil {
		return err
	}
	if cfg.SubscriberBroker != "" {
		return probeOne(cfg, cfg.SubscriberBroker)
	}
	return nil
}

func probeOne(cfg *Config, broker string) error {
	timeout := cfg.ConnectTimeout.D()
	nc, err := net.DialTimeout("tcp", broker, timeout)
	if err != nil {
		return fmt.Errorf("%w %s: %v", errNoBroker, broker, err)
	}
	if !isTLS(cfg.Transport) {
		return nc.Close()
	}
	tc, err := tlsClientConfig(cfg)
	if err != nil {
		nc.Close()
		return err
	}
	c, err := tlsHandshake(nc, tc, time.Now().Add(timeout))
	if err != nil {
		nc.Close()
		return fmt.Errorf("%w over TLS: %v", errNoBroker, err)
	}
	return c.Close()
}

// raiseNoFile lifts the soft open-file limit to the hard limit.
func raiseNoFile() {
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil && rl.Cur < rl.Max {
		rl.Cur = rl.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
}

// noFileLimit returns the soft open-file limit.
func noFileLimit() int {
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) != nil {
		return 1024
	}
	return int(min(rl.Cur, 1<<30))
}

// quietLogger drops gnet's log lines (its errors surface as our counters).
type quietLogger struct{}

func (quietLogger) Debugf(string, ...any) {}
func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Warnf(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(string, ...any) {}
