package bench

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"

	"edgegw/gateway/config"
)

// Duration is the gateway configuration's duration: a time.Duration that
// reads and writes TOML strings such as "10s".
type Duration = config.Duration

// Scenario names.
const (
	ScenarioConn   = "conn"   // ramp N connections, hold, report connect latency and failures
	ScenarioFanIn  = "fanin"  // many publishers, few subscribers on a wildcard
	ScenarioFanOut = "fanout" // few publishers, many subscribers on the same topic
	ScenarioP2P    = "p2p"    // pairs: client i publishes to client i+1's topic
	ScenarioShared = "shared" // publishers into $share groups
	ScenarioStorm  = "storm"  // drop every connection at once, measure recovery with backoff
)

var scenarios = []string{ScenarioConn, ScenarioFanIn, ScenarioFanOut, ScenarioP2P, ScenarioShared, ScenarioStorm}

// maxPerPublisherRate is what one publisher can send: maxBurst messages per
// 10 ms pacer tick.
const maxPerPublisherRate = 100 * maxBurst

// Hard bounds: every run stops by itself and never opens more than this.
const (
	hardMaxClients   = 1_000_000        // across all worker processes
	hardMaxTotalRate = 5_000_000        // msgs/s across all publishers
	hardMaxDuration  = 24 * time.Hour   // one measurement phase
	maxPayload       = 1 << 20          // bytes
	minPayload       = 16               // timestamp (8) + publisher (4) + sequence (4)
	maxProcs         = 64               // worker processes
	maxSourceIPs     = 4096             // addresses in --source-ips
	defaultBroker    = "127.0.0.1:1883" // --broker
	defaultDuration  = 10 * time.Second // --duration
	defaultDrain     = 2 * time.Second  // --drain
	defaultTimeout   = 10 * time.Second // --connect-timeout
	defaultKeepAlive = 60 * time.Second // --keepalive
	defaultInflight  = 32               // --inflight
	defaultStepTime  = 5 * time.Second  // --step-duration
	defaultBackMax   = 5 * time.Second  // --backoff-max
	defaultBackMin   = 50 * time.Millisecond
)

// CapacityConfig governs --capacity: the load is raised in steps while the
// thresholds hold, then the knee is bisected.
type CapacityConfig struct {
	Enabled      bool     `toml:"enabled"`        // --capacity
	Dimension    string   `toml:"dimension"`      // "connections" or "rate"; default: connections for conn/storm, rate otherwise
	Start        float64  `toml:"start"`          // first step's load (connections or total msgs/s)
	Factor       float64  `toml:"factor"`         // multiply the load by this each step while thresholds hold (default 2)
	Max          float64  `toml:"max"`            // never step above this load
	Bisect       int      `toml:"bisect"`         // bisection steps between the last good and the first bad load (default 3)
	StepDuration Duration `toml:"step_duration"`  // measurement time per step (default 5s)
	P99Max       Duration `toml:"p99_max"`        // threshold: p99 latency (publish scenarios) or connect latency (conn)
	MinDelivery  float64  `toml:"min_delivery"`   // threshold: delivery ratio (default 0.999)
	MaxConnErr   float64  `toml:"max_conn_error"` // threshold: failed/attempted connects (default 0.001)
}

// Config is one benchmark run. Zero values are filled by Defaults; Validate
// checks every field. TOML keys equal the flag names with '-' replaced by '_'.
type Config struct {
	Broker         string   `toml:"broker"`          // host:port of the MQTT broker
	Transport      string   `toml:"transport"`       // "tcp", "ws" (MQTT over WebSocket), "tls" or "wss" (the same over TLS)
	TLSCA          string   `toml:"tls_ca"`          // tls/wss: PEM file of the CA to trust (default: system roots)
	TLSInsecure    bool     `toml:"tls_insecure"`    // tls/wss: skip certificate verification
	TLSServerName  string   `toml:"tls_server_name"` // tls/wss: name to verify and send as SNI (default: broker host)
	WSPath         string   `toml:"ws_path"`         // WebSocket upgrade path
	Scenario       string   `toml:"scenario"`        // conn, fanin, fanout, p2p, shared, storm
	MQTT           int      `toml:"mqtt"`            // protocol version: 4 (3.1.1) or 5
	Clients        int      `toml:"clients"`         // conn/storm/p2p: number of clients
	Publishers     int      `toml:"publishers"`      // fanin/fanout/shared: publishing clients
	Subscribers    int      `toml:"subscribers"`     // fanin/fanout/shared: subscribing clients
	Groups         int      `toml:"groups"`          // shared: number of $share groups
	Topics         int      `toml:"topics"`          // fanout: distinct topics (publisher j -> topic j%topics)
	QoS            int      `toml:"qos"`             // 0, 1 or 2 for publish and subscribe
	Payload        int      `toml:"payload"`         // bytes per message, >= 16
	Rate           float64  `toml:"rate"`            // msgs/s per publisher
	TotalRate      float64  `toml:"total_rate"`      // msgs/s over all publishers (overrides rate)
	KeepAlive      Duration `toml:"keepalive"`       // MQTT keepalive
	Clean          bool     `toml:"clean"`           // clean session / clean start
	SessionExpiry  Duration `toml:"session_expiry"`  // v5, persistent sessions only
	ConnectRate    float64  `toml:"connect_rate"`    // new connections per second (ramp-up); 0 = as fast as the dialers go
	ConnectTimeout Duration `toml:"connect_timeout"` // dial + CONNACK deadline
	Duration       Duration `toml:"duration"`        // measurement phase
	Drain          Duration `toml:"drain"`           // after publishing stops, wait this long at most for deliveries
	Inflight       int      `toml:"inflight"`        // QoS 1/2 messages in flight per publisher
	StormAt        Duration `toml:"storm_at"`        // storm: when to drop all connections (default duration/3)
	BackoffMin     Duration `toml:"backoff_min"`     // storm: first reconnect delay
	BackoffMax     Duration `toml:"backoff_max"`     // storm: largest reconnect delay
	Jitter         float64  `toml:"jitter"`          // storm: fraction of the delay randomised, 0..1
	SourceIPs      string   `toml:"source_ips"`      // "127.0.0.2-127.0.0.40" or a comma list
	Procs          int      `toml:"procs"`           // worker processes
	Loops          int      `toml:"loops"`           // gnet event loops per process (0 = cores)
	Dialers        int      `toml:"dialers"`         // concurrent dials per process
	MaxClients     int      `toml:"max_clients"`     // refuse runs above this many connections
	Username       string   `toml:"username"`        // CONNECT user name
	Password       string   `toml:"password"`        // CONNECT password
	JSON           string   `toml:"json"`            // JSON lines output file; the SVG goes next to it
	PID            int      `toml:"pid"`             // broker process to sample from /proc
	Seed           int64    `toml:"seed"`            // jitter seed (0 = time)
	PublishTick    Duration `toml:"publish_tick"`    // how often publishers write what is due, in one write each (0 = 10ms)

	// SubscriberBroker, when set, is where the subscribers of
	// fanin/fanout/shared connect instead of Broker (same transport and TLS
	// settings): the far side of a relay or bridge, so that delivery,
	// latency and loss are measured through it.
	SubscriberBroker string `toml:"subscriber_broker"`

	Capacity CapacityConfig `toml:"capacity"`

	// Set by the parent for worker processes; not in TOML.
	worker  int   // this worker's index
	workers int   // number of workers (0 or 1: single process)
	t0      int64 // unix nanos of second 0 of the timeline
	runID   string
}

// Defaults returns the built-in defaults.
func Defaults() Config {
	return Config{
		Broker:         defaultBroker,
		Transport:      "tcp",
		WSPath:         "/mqtt",
		Scenario:       ScenarioConn,
		MQTT:           4,
		Clients:        100,
		Publishers:     10,
		Subscribers:    1,
		Groups:         1,
		Topics:         1,
		Payload:        64,
		Rate:           10,
		KeepAlive:      Duration(defaultKeepAlive),
		Clean:          true,
		SessionExpiry:  Duration(5 * time.Minute),
		ConnectTimeout: Duration(defaultTimeout),
		Duration:       Duration(defaultDuration),
		Drain:          Duration(defaultDrain),
		Inflight:       defaultInflight,
		BackoffMin:     Duration(defaultBackMin),
		BackoffMax:     Duration(defaultBackMax),
		Jitter:         0.5,
		Procs:          1,
		Dialers:        64,
		MaxClients:     100_000,
		Capacity: CapacityConfig{
			Factor:       2,
			Bisect:       3,
			StepDuration: Duration(defaultStepTime),
			P99Max:       Duration(100 * time.Millisecond),
			MinDelivery:  0.999,
			MaxConnErr:   0.001,
		},
	}
}

// durationFlag adapts *Duration to flag.Value.
type durationFlag struct{ d *Duration }

func (f durationFlag) String() string {
	if f.d == nil {
		return ""
	}
	return f.d.D().String()
}
func (f durationFlag) Set(s string) error { return f.d.UnmarshalText([]byte(s)) }

// bindFlags registers every flag on fs, writing into c.
func bindFlags(fs *flag.FlagSet, c *Config, file *string, worker *string, ratio *string) {
	fs.StringVar(file, "scenario-file", "", "TOML scenario file (keys as the flags, '-' -> '_'); flags given explicitly win")
	fs.StringVar(&c.Broker, "broker", c.Broker, "MQTT broker host:port")
	fs.StringVar(&c.SubscriberBroker, "subscriber-broker", c.SubscriberBroker, "fanin/fanout/shared: subscribers connect to this host:port instead of --broker (the far side of a relay or bridge; same transport)")
	fs.StringVar(&c.Transport, "transport", c.Transport, "tcp, ws (MQTT over WebSocket), tls or wss (the same over TLS; each TLS client costs two relay goroutines and one unix socketpair, and its handshake counts in connect latency)")
	fs.StringVar(&c.TLSCA, "tls-ca", c.TLSCA, "tls/wss: PEM file of the CA to trust (default: system roots)")
	fs.BoolVar(&c.TLSInsecure, "tls-insecure", c.TLSInsecure, "tls/wss: skip certificate verification")
	fs.StringVar(&c.TLSServerName, "tls-server-name", c.TLSServerName, "tls/wss: server name to verify and send as SNI (default: the broker's host)")
	fs.StringVar(&c.WSPath, "ws-path", c.WSPath, "WebSocket upgrade path")
	fs.StringVar(&c.Scenario, "scenario", c.Scenario, "one of "+strings.Join(scenarios, ", "))
	fs.IntVar(&c.MQTT, "mqtt", c.MQTT, "MQTT protocol version: 4 (3.1.1) or 5")
	fs.IntVar(&c.Clients, "clients", c.Clients, "conn/storm/p2p: number of clients")
	fs.IntVar(&c.Publishers, "publishers", c.Publishers, "fanin/fanout/shared: publishing clients")
	fs.IntVar(&c.Subscribers, "subscribers", c.Subscribers, "fanin/fanout/shared: subscribing clients")
	fs.IntVar(&c.Groups, "groups", c.Groups, "shared: number of $share groups")
	fs.IntVar(&c.Topics, "topics", c.Topics, "fanout: distinct topics")
	fs.IntVar(&c.QoS, "qos", c.QoS, "QoS 0, 1 or 2")
	fs.IntVar(&c.Payload, "payload", c.Payload, "payload bytes (>= 16: timestamp + publisher + sequence)")
	fs.Float64Var(&c.Rate, "rate", c.Rate, "messages per second per publisher")
	fs.Float64Var(&c.TotalRate, "total-rate", c.TotalRate, "messages per second over all publishers (overrides --rate)")
	fs.Var(durationFlag{&c.KeepAlive}, "keepalive", "MQTT keepalive")
	fs.BoolVar(&c.Clean, "clean", c.Clean, "clean session (false: persistent sessions)")
	fs.Var(durationFlag{&c.SessionExpiry}, "session-expiry", "MQTT 5 session expiry for persistent sessions")
	fs.Float64Var(&c.ConnectRate, "connect-rate", c.ConnectRate, "new connections per second during ramp-up (0: unlimited)")
	fs.Var(durationFlag{&c.ConnectTimeout}, "connect-timeout", "deadline for dial + CONNACK")
	fs.Var(durationFlag{&c.Duration}, "duration", "measurement phase")
	fs.Var(durationFlag{&c.Drain}, "drain", "after publishing stops, wait at most this long for deliveries")
	fs.IntVar(&c.Inflight, "inflight", c.Inflight, "QoS 1/2 messages in flight per publisher")
	fs.Var(durationFlag{&c.StormAt}, "storm-at", "storm: when to drop all connections (default duration/3)")
	fs.Var(durationFlag{&c.BackoffMin}, "backoff-min", "storm: first reconnect delay")
	fs.Var(durationFlag{&c.BackoffMax}, "backoff-max", "storm: largest reconnect delay")
	fs.Float64Var(&c.Jitter, "jitter", c.Jitter, "storm: randomised fraction of each backoff delay, 0..1")
	fs.StringVar(&c.SourceIPs, "source-ips", c.SourceIPs, "local addresses to dial from: 127.0.0.2-127.0.0.40 or a comma list (loopback or local interfaces only)")
	fs.IntVar(&c.Procs, "procs", c.Procs, "worker processes (re-executes this binary)")
	fs.IntVar(&c.Loops, "loops", c.Loops, "gnet event loops per process (0: number of cores)")
	fs.IntVar(&c.Dialers, "dialers", c.Dialers, "concurrent dials per process")
	fs.IntVar(&c.MaxClients, "max-clients", c.MaxClients, "hard cap on connections for this run")
	fs.StringVar(&c.Username, "username", c.Username, "CONNECT user name")
	fs.StringVar(&c.Password, "password", c.Password, "CONNECT password")
	fs.StringVar(&c.JSON, "json", c.JSON, "write JSON lines here and an SVG chart next to it")
	fs.IntVar(&c.PID, "pid", c.PID, "broker process ID: sample its CPU and RSS from /proc")
	fs.Int64Var(&c.Seed, "seed", c.Seed, "random seed for jitter (0: time)")
	fs.Var(durationFlag{&c.PublishTick}, "publish-tick", "how often publishers write what is due, one write each (default 10ms; 1ms sends a 1,000 msgs/s publisher's messages one per write)")
	fs.BoolVar(&c.Capacity.Enabled, "capacity", c.Capacity.Enabled, "capacity search: raise load while thresholds hold, bisect the knee")
	fs.StringVar(&c.Capacity.Dimension, "capacity-dimension", c.Capacity.Dimension, "capacity: connections or rate")
	fs.Float64Var(&c.Capacity.Start, "capacity-start", c.Capacity.Start, "capacity: first load (connections or total msgs/s)")
	fs.Float64Var(&c.Capacity.Factor, "capacity-factor", c.Capacity.Factor, "capacity: load multiplier per step")
	fs.Float64Var(&c.Capacity.Max, "capacity-max", c.Capacity.Max, "capacity: highest load tried")
	fs.IntVar(&c.Capacity.Bisect, "capacity-bisect", c.Capacity.Bisect, "capacity: bisection steps at the knee")
	fs.Var(durationFlag{&c.Capacity.StepDuration}, "step-duration", "capacity: measurement time per step")
	fs.Var(durationFlag{&c.Capacity.P99Max}, "p99-max", "capacity threshold: p99 latency")
	fs.Float64Var(&c.Capacity.MinDelivery, "min-delivery", c.Capacity.MinDelivery, "capacity threshold: lowest delivery ratio")
	fs.Float64Var(&c.Capacity.MaxConnErr, "max-conn-error", c.Capacity.MaxConnErr, "capacity threshold: highest connect error ratio")
	fs.StringVar(worker, "x-worker", "", "internal: worker spec index/count/t0/runid")
	fs.StringVar(ratio, "ratio", "", "print the ratio per figure of two JSON result files: A.json,B.json")
}

// flagKey maps a flag name to its TOML key path.
var flagKey = map[string]string{
	"capacity": "capacity.enabled", "capacity-dimension": "capacity.dimension", "capacity-start": "capacity.start",
	"capacity-factor": "capacity.factor", "capacity-max": "capacity.max", "capacity-bisect": "capacity.bisect",
	"step-duration": "capacity.step_duration", "p99-max": "capacity.p99_max", "min-delivery": "capacity.min_delivery",
	"max-conn-error": "capacity.max_conn_error",
}

// loadFile decodes a TOML scenario file over c, strictly: an unknown key is
// an error naming the key and its line.
func loadFile(path string, c *Config) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("cannot read scenario file: %w", err)
	}
	return decodeTOML(path, b, c)
}

func decodeTOML(name string, b []byte, c *Config) error {
	dec := toml.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		var sm *toml.StrictMissingError
		if errors.As(err, &sm) && len(sm.Errors) > 0 {
			e := &sm.Errors[0]
			row, _ := e.Position()
			return fmt.Errorf("%s:%d: unknown key %q", name, row, strings.Join(e.Key(), "."))
		}
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, _ := de.Position()
			key := strings.Join(de.Key(), ".")
			if key != "" {
				return fmt.Errorf("%s:%d: key %q: %s", name, row, key, strings.TrimPrefix(de.Error(), "toml: "))
			}
			return fmt.Errorf("%s:%d: %s", name, row, strings.TrimPrefix(de.Error(), "toml: "))
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// parseArgs builds the Config from defaults, an optional scenario file and
// the flags (explicit flags override the file).
func parseArgs(args []string, stderr io.Writer) (c Config, worker, ratio string, err error) {
	c = Defaults()
	var file string
	fs := flag.NewFlagSet("edgegw bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bindFlags(fs, &c, &file, &worker, &ratio)
	if err = fs.Parse(args); err != nil {
		return c, "", "", err
	}
	if fs.NArg() > 0 {
		return c, "", "", fmt.Errorf("unexpected argument %q (flags only; see -h)", fs.Arg(0))
	}
	if file != "" {
		fc := Defaults()
		if err = loadFile(file, &fc); err != nil {
			return c, "", "", err
		}
		// Re-apply the explicitly set flags over the file's values.
		fs2 := flag.NewFlagSet("edgegw bench", flag.ContinueOnError)
		fs2.SetOutput(io.Discard)
		var f2, w2, r2 string
		bindFlags(fs2, &fc, &f2, &w2, &r2)
		var explicit []string
		fs.Visit(func(f *flag.Flag) {
			if f.Name != "scenario-file" {
				explicit = append(explicit, "-"+f.Name+"="+f.Value.String())
			}
		})
		if err = fs2.Parse(explicit); err != nil {
			return c, "", "", err
		}
		c = fc
	}
	return c, worker, ratio, nil
}

// Validate checks every value; the error names the flag.
func (c *Config) Validate() error {
	bad := func(flagName, format string, a ...any) error {
		return fmt.Errorf("--%s: %s", flagName, fmt.Sprintf(format, a...))
	}
	if t := c.PublishTick.D(); t != 0 && (t < 100*time.Microsecond || t > time.Second) {
		return bad("publish-tick", "must be between 100µs and 1s, got %s", t)
	}
	if c.Broker == "" || !strings.Contains(c.Broker, ":") {
		return bad("broker", "want host:port, got %q", c.Broker)
	}
	if sb := c.SubscriberBroker; sb != "" {
		if !strings.Contains(sb, ":") {
			return bad("subscriber-broker", "want host:port, got %q", sb)
		}
		switch c.Scenario {
		case ScenarioFanIn, ScenarioFanOut, ScenarioShared:
		default:
			return bad("subscriber-broker", "only fanin, fanout and shared have subscribers of their own, got --scenario %s", c.Scenario)
		}
	}
	switch c.Transport {
	case "tcp", "ws", "tls", "wss":
	default:
		return bad("transport", "want tcp, ws, tls or wss, got %q", c.Transport)
	}
	if !isTLS(c.Transport) && (c.TLSCA != "" || c.TLSInsecure || c.TLSServerName != "") {
		return bad("transport", "--tls-ca, --tls-insecure and --tls-server-name need --transport tls or wss, got %q", c.Transport)
	}
	if isTLS(c.Transport) {
		if _, err := tlsClientConfig(c); err != nil {
			return err
		}
	}
	if !strings.HasPrefix(c.WSPath, "/") {
		return bad("ws-path", "must start with '/', got %q", c.WSPath)
	}
	ok := false
	for _, s := range scenarios {
		ok = ok || s == c.Scenario
	}
	if !ok {
		return bad("scenario", "unknown scenario %q (want one of %s)", c.Scenario, strings.Join(scenarios, ", "))
	}
	if c.MQTT != 4 && c.MQTT != 5 {
		return bad("mqtt", "want 4 (3.1.1) or 5, got %d", c.MQTT)
	}
	if c.QoS < 0 || c.QoS > 2 {
		return bad("qos", "want 0, 1 or 2, got %d", c.QoS)
	}
	if c.Payload < minPayload || c.Payload > maxPayload {
		return bad("payload", "want %d..%d bytes (the timestamp and sequence need %d), got %d", minPayload, maxPayload, minPayload, c.Payload)
	}
	for _, v := range []struct {
		name string
		n    int
	}{{"clients", c.Clients}, {"publishers", c.Publishers}, {"subscribers", c.Subscribers}, {"groups", c.Groups}, {"topics", c.Topics}} {
		if v.n < 0 {
			return bad(v.name, "must be >= 0, got %d", v.n)
		}
	}
	if c.MaxClients < 1 || c.MaxClients > hardMaxClients {
		return bad("max-clients", "want 1..%d, got %d", hardMaxClients, c.MaxClients)
	}
	n := c.totalClients()
	if n < 1 {
		return bad(c.countFlag(), "the %s scenario needs at least one client", c.Scenario)
	}
	if n > c.MaxClients {
		return bad(c.countFlag(), "%d connections exceed --max-clients %d", n, c.MaxClients)
	}
	switch c.Scenario {
	case ScenarioFanIn, ScenarioFanOut, ScenarioShared:
		if c.Publishers < 1 || c.Subscribers < 1 {
			return bad("publishers", "the %s scenario needs >= 1 publisher and >= 1 subscriber", c.Scenario)
		}
	case ScenarioP2P:
		if c.Clients < 2 {
			return bad("clients", "p2p needs >= 2 clients, got %d", c.Clients)
		}
	}
	if c.Scenario == ScenarioShared && (c.Groups < 1 || c.Groups > c.Subscribers) {
		return bad("groups", "want 1..subscribers (%d), got %d", c.Subscribers, c.Groups)
	}
	if c.Scenario == ScenarioFanOut && (c.Topics < 1 || c.Topics > c.Subscribers) {
		return bad("topics", "want 1..subscribers (%d), got %d", c.Subscribers, c.Topics)
	}
	if c.Rate < 0 || c.TotalRate < 0 {
		return bad("rate", "must be >= 0")
	}
	if c.publishes() {
		if c.Rate == 0 && c.TotalRate == 0 {
			return bad("rate", "publishing scenario %s needs --rate or --total-rate > 0", c.Scenario)
		}
		if tr := c.totalRate(); tr > hardMaxTotalRate {
			return bad("rate", "impossible total rate %.0f msgs/s (limit %d)", tr, hardMaxTotalRate)
		}
		if pr := c.perPublisherRate(); pr > maxPerPublisherRate {
			return bad("rate", "impossible: %.0f msgs/s per publisher (at most %d; add publishers)", pr, maxPerPublisherRate)
		}
		if tr := c.totalRate(); tr*float64(c.Payload) > 10e9 {
			return bad("rate", "impossible: %.0f msgs/s of %d bytes exceeds 10 GB/s", tr, c.Payload)
		}
	}
	if c.ConnectRate < 0 {
		return bad("connect-rate", "must be >= 0, got %g", c.ConnectRate)
	}
	if c.KeepAlive.D() < 0 || c.KeepAlive.D() > 65535*time.Second {
		return bad("keepalive", "want 0..65535s, got %s", c.KeepAlive.D())
	}
	if c.ConnectTimeout.D() <= 0 {
		return bad("connect-timeout", "must be > 0")
	}
	if c.Duration.D() <= 0 || c.Duration.D() > hardMaxDuration {
		return bad("duration", "want > 0 and <= %s, got %s", hardMaxDuration, c.Duration.D())
	}
	if c.Drain.D() < 0 || c.Drain.D() > time.Minute {
		return bad("drain", "want 0..1m, got %s", c.Drain.D())
	}
	if c.Inflight < 1 || c.Inflight > 65535 {
		return bad("inflight", "want 1..65535, got %d", c.Inflight)
	}
	if c.StormAt.D() < 0 || c.StormAt.D() >= c.Duration.D() {
		return bad("storm-at", "must be within --duration (%s), got %s", c.Duration.D(), c.StormAt.D())
	}
	if c.BackoffMin.D() <= 0 || c.BackoffMax.D() < c.BackoffMin.D() {
		return bad("backoff-min", "want 0 < backoff-min <= backoff-max")
	}
	if c.Jitter < 0 || c.Jitter > 1 {
		return bad("jitter", "want 0..1, got %g", c.Jitter)
	}
	if c.Procs < 1 || c.Procs > maxProcs {
		return bad("procs", "want 1..%d, got %d", maxProcs, c.Procs)
	}
	if c.Procs > n {
		return bad("procs", "%d workers for %d clients", c.Procs, n)
	}
	if c.Loops < 0 || c.Loops > 256 {
		return bad("loops", "want 0..256, got %d", c.Loops)
	}
	if c.Dialers < 1 || c.Dialers > 4096 {
		return bad("dialers", "want 1..4096, got %d", c.Dialers)
	}
	if c.PID < 0 {
		return bad("pid", "must be > 0")
	}
	if _, err := parseSourceIPs(c.SourceIPs); err != nil {
		return bad("source-ips", "%v", err)
	}
	if c.Capacity.Enabled {
		cp := &c.Capacity
		if cp.Dimension != "" && cp.Dimension != "connections" && cp.Dimension != "rate" {
			return bad("capacity-dimension", "want connections or rate, got %q", cp.Dimension)
		}
		if cp.Dimension == "rate" && !c.publishes() {
			return bad("capacity-dimension", "rate needs a publishing scenario, not %s", c.Scenario)
		}
		if cp.Factor <= 1 || cp.Factor > 100 {
			return bad("capacity-factor", "want > 1 and <= 100, got %g", cp.Factor)
		}
		if cp.Bisect < 0 || cp.Bisect > 20 {
			return bad("capacity-bisect", "want 0..20, got %d", cp.Bisect)
		}
		if cp.Start < 0 || cp.Max < 0 || (cp.Max > 0 && cp.Start > cp.Max) {
			return bad("capacity-start", "want 0 <= start <= max")
		}
		if cp.StepDuration.D() <= 0 {
			return bad("step-duration", "must be > 0")
		}
		if cp.P99Max.D() <= 0 {
			return bad("p99-max", "must be > 0")
		}
		if cp.MinDelivery < 0 || cp.MinDelivery > 1 {
			return bad("min-delivery", "want 0..1, got %g", cp.MinDelivery)
		}
		if cp.MaxConnErr < 0 || cp.MaxConnErr > 1 {
			return bad("max-conn-error", "want 0..1, got %g", cp.MaxConnErr)
		}
	}
	return nil
}

func (c *Config) countFlag() string {
	switch c.Scenario {
	case ScenarioFanIn, ScenarioFanOut, ScenarioShared:
		return "publishers"
	}
	return "clients"
}

// publishes reports whether the scenario sends messages.
func (c *Config) publishes() bool {
	switch c.Scenario {
	case ScenarioConn, ScenarioStorm:
		return false
	}
	return true
}

// totalClients is the number of connections the scenario opens.
func (c *Config) totalClients() int {
	switch c.Scenario {
	case ScenarioFanIn, ScenarioFanOut, ScenarioShared:
		return c.Publishers + c.Subscribers
	}
	return c.Clients
}

// numPublishers is how many clients publish.
func (c *Config) numPublishers() int {
	switch c.Scenario {
	case ScenarioFanIn, ScenarioFanOut, ScenarioShared:
		return c.Publishers
	case ScenarioP2P:
		return c.Clients
	}
	return 0
}

// totalRate is the configured message rate over all publishers.
func (c *Config) totalRate() float64 {
	if c.TotalRate > 0 {
		return c.TotalRate
	}
	return c.Rate * float64(c.numPublishers())
}

// perPublisherRate is each publisher's rate in msgs/s.
func (c *Config) perPublisherRate() float64 {
	if p := c.numPublishers(); p > 0 && c.TotalRate > 0 {
		return c.TotalRate / float64(p)
	}
	return c.Rate
}
