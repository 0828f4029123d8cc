package tune

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Signals are the kernel counters behind silently lost messages: TCP
// retransmits and timeouts (an rx ring or a link overflowing), listen
// queue overflows (a reconnect storm past the backlog), conntrack filling,
// interface drops and errors, TCP socket memory. Counters are totals since
// boot, for the machine's network namespace. A value.
type Signals struct {
	TCPOutSegs      int64 `json:"tcp_out_segments"`     // /proc/net/snmp Tcp OutSegs
	TCPRetransSegs  int64 `json:"tcp_retrans_segments"` // Tcp RetransSegs
	TCPTimeouts     int64 `json:"tcp_timeouts"`         // /proc/net/netstat TcpExt TCPTimeouts
	ListenOverflows int64 `json:"listen_overflows"`     // TcpExt ListenOverflows
	ListenDrops     int64 `json:"listen_drops"`         // TcpExt ListenDrops

	Conntrack      bool  `json:"conntrack"` // the conntrack table exists (module loaded)
	ConntrackCount int64 `json:"conntrack_count"`
	ConntrackMax   int64 `json:"conntrack_max"`

	TCPInUse       int64 `json:"tcp_inuse"` // /proc/net/sockstat TCP
	TCPOrphan      int64 `json:"tcp_orphan"`
	TCPTimeWait    int64 `json:"tcp_tw"`
	TCPMemoryBytes int64 `json:"tcp_memory_bytes"` // TCP mem (pages) x page size

	Interfaces []IfStats `json:"interfaces"` // /proc/net/dev, loopback included
}

// IfStats are one interface's drop and error counters.
type IfStats struct {
	Name     string `json:"name"`
	RxDrops  int64  `json:"rx_drops"`
	RxErrors int64  `json:"rx_errors"`
	TxDrops  int64  `json:"tx_drops"`
	TxErrors int64  `json:"tx_errors"`
}

// maxInterfaces bounds the interfaces read from /proc/net/dev (a host
// with thousands of veths must not make thousands of series).
const maxInterfaces = 64

// ReadSignals reads the signals below root. What cannot be read stays 0
// and is one line in problems.
func ReadSignals(root string) (Signals, []string) {
	r := &reader{root: root}
	var s Signals
	if t, err := r.table("/proc/net/snmp", "Tcp"); err != nil {
		r.p.add("%v", err)
	} else {
		s.TCPOutSegs, s.TCPRetransSegs = t["OutSegs"], t["RetransSegs"]
	}
	if t, err := r.table("/proc/net/netstat", "TcpExt"); err != nil {
		r.p.add("%v", err)
	} else {
		s.TCPTimeouts, s.ListenOverflows, s.ListenDrops = t["TCPTimeouts"], t["ListenOverflows"], t["ListenDrops"]
	}
	s.ConntrackCount, s.ConntrackMax, s.Conntrack = ConntrackUsage(root)
	if !s.Conntrack {
		r.p.add("conntrack: no /proc/sys/net/netfilter/nf_conntrack_count (module not loaded: no table to fill)")
	}
	r.sockstat(&s)
	r.netdev(&s)
	return s, r.p
}

// table reads a /proc/net/snmp style file: pairs of lines "Key: names..."
// and "Key: values...". It returns the pair for key.
func (r *reader) table(p, key string) (map[string]int64, error) {
	b, err := r.read(p)
	if err != nil {
		return nil, err
	}
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 8192), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || f[0] != key+":" {
			continue
		}
		if names == nil {
			names = f[1:]
			continue
		}
		if len(f)-1 != len(names) {
			return nil, fmt.Errorf("cannot parse %s: %s has %d names and %d values", p, key, len(names), len(f)-1)
		}
		m := make(map[string]int64, len(names))
		for i, n := range names {
			v, err := strconv.ParseInt(f[i+1], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("cannot parse %s: %s %s = %q", p, key, n, f[i+1])
			}
			m[n] = v
		}
		return m, nil
	}
	return nil, fmt.Errorf("cannot parse %s: no %s lines", p, key)
}

func (r *reader) sockstat(s *Signals) {
	b, err := r.read("/proc/net/sockstat")
	if err != nil {
		r.p.add("%v", err)
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "TCP:" {
			continue
		}
		for i := 1; i+1 < len(f); i += 2 {
			v, err := strconv.ParseInt(f[i+1], 10, 64)
			if err != nil {
				r.p.add("cannot parse /proc/net/sockstat: TCP %s = %q", f[i], f[i+1])
				return
			}
			switch f[i] {
			case "inuse":
				s.TCPInUse = v
			case "orphan":
				s.TCPOrphan = v
			case "tw":
				s.TCPTimeWait = v
			case "mem":
				s.TCPMemoryBytes = v * int64(os.Getpagesize())
			}
		}
		return
	}
	r.p.add("cannot parse /proc/net/sockstat: no TCP line")
}

// netdev reads /proc/net/dev: "  eth0: rx_bytes rx_packets rx_errs rx_drop
// fifo frame compressed multicast tx_bytes tx_packets tx_errs tx_drop ...".
func (r *reader) netdev(s *Signals) {
	b, err := r.read("/proc/net/dev")
	if err != nil {
		r.p.add("%v", err)
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || strings.Contains(name, "|") {
			continue // the two header lines
		}
		f := strings.Fields(rest)
		if len(f) < 12 {
			r.p.add("cannot parse /proc/net/dev: %q", strings.TrimSpace(line))
			continue
		}
		var v [12]int64
		bad := false
		for i := range v {
			if v[i], err = strconv.ParseInt(f[i], 10, 64); err != nil {
				bad = true
			}
		}
		if bad {
			r.p.add("cannot parse /proc/net/dev: %q", strings.TrimSpace(line))
			continue
		}
		if len(s.Interfaces) == maxInterfaces {
			r.p.add("/proc/net/dev: more than %d interfaces, the rest not read", maxInterfaces)
			return
		}
		s.Interfaces = append(s.Interfaces, IfStats{Name: strings.TrimSpace(name), RxErrors: v[2], RxDrops: v[3], TxErrors: v[10], TxDrops: v[11]})
	}
}

// Thresholds of the warnings.
const (
	ConntrackWarnPct   = 80   // conntrack table fuller than this
	RetransWarnPermil  = 20   // retransmitted segments over 2% of those sent in a window
	retransMinSegments = 1000 // windows with fewer segments sent are too small to judge
	warnEvery          = time.Minute
)

// Warning is one signal that is about to lose messages.
type Warning struct {
	Kind string // "conntrack", "retransmits", "listen_overflows", "rx_drops"
	Msg  string
}

// Watch turns successive Signals into warnings, each kind at most once a
// minute. Owned by one sampling goroutine; not safe for concurrent use.
type Watch struct {
	prev  Signals
	have  bool
	every map[string]*Every
}

// Observe compares s with the previous sample and returns the warnings due
// at now.
func (w *Watch) Observe(s Signals, now time.Time) []Warning {
	var out []Warning
	warn := func(kind, format string, a ...any) {
		if w.every == nil {
			w.every = map[string]*Every{}
		}
		e := w.every[kind]
		if e == nil {
			e = &Every{Interval: warnEvery}
			w.every[kind] = e
		}
		if ok, held := e.Allow(now); ok {
			msg := fmt.Sprintf(format, a...)
			if held > 0 {
				msg += fmt.Sprintf(" (%d more since the last warning)", held)
			}
			out = append(out, Warning{Kind: kind, Msg: msg})
		}
	}
	if s.Conntrack && s.ConntrackMax > 0 && s.ConntrackCount*100 > s.ConntrackMax*ConntrackWarnPct {
		warn("conntrack", "conntrack table %d%% full (%d of %d entries): when full, the kernel drops packets of new and existing connections silently; raise net.netfilter.nf_conntrack_max",
			s.ConntrackCount*100/s.ConntrackMax, s.ConntrackCount, s.ConntrackMax)
	}
	if w.have {
		p := w.prev
		out1, re := s.TCPOutSegs-p.TCPOutSegs, s.TCPRetransSegs-p.TCPRetransSegs
		if out1 >= retransMinSegments && re*1000 > out1*RetransWarnPermil {
			warn("retransmits", "TCP retransmits at %.1f%% of segments sent (%d of %d since the last sample): a ring, a link or a peer is dropping packets",
				float64(re)*100/float64(out1), re, out1)
		}
		if d, dd := s.ListenOverflows-p.ListenOverflows, s.ListenDrops-p.ListenDrops; d > 0 || dd > 0 {
			warn("listen_overflows", "listen queue overflowed %d times (%d SYNs dropped) since the last sample: connections arrive faster than accepted or the backlog (net.core.somaxconn) is too small", d, dd)
		}
		for _, ifs := range s.Interfaces {
			for _, q := range p.Interfaces {
				if q.Name == ifs.Name && ifs.RxDrops > q.RxDrops {
					warn("rx_drops", "%s dropped %d received packets since the last sample: its rx ring or the backlog (net.core.netdev_max_backlog) overflows", ifs.Name, ifs.RxDrops-q.RxDrops)
				}
			}
		}
	}
	w.prev, w.have = s, true
	return out
}
