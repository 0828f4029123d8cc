package tune

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Targets are what the gateway is configured to hold; the sysctl doctor
// derives its recommendations from them.
type Targets struct {
	MaxConnections   int64 // client connections (limits.max_connections, or the fd cap)
	Backlog          int64 // listen backlog wanted; 0 = derived from MaxConnections
	RelayConnections int64 // outgoing connections (upstream relay, bench); 0 = none
}

// backlog is the listen backlog for t: a tenth of the connections, so a
// reconnect storm of that many SYNs waits in the queue instead of being
// dropped, between 4096 and 65535.
func (t Targets) backlog() int64 {
	if t.Backlog > 0 {
		return t.Backlog
	}
	return min(max(t.MaxConnections/10, 4096), 65535)
}

// Sysctl statuses.
const (
	StatusOK         = "ok"         // at or past the recommendation
	StatusLow        = "low"        // below it; apply = "off", or not applied yet
	StatusRaised     = "raised"     // raised by Apply
	StatusCannot     = "cannot"     // below it and the write failed (Err says why)
	StatusAdvice     = "advice"     // differs from the advice, which tune never applies (it would lower)
	StatusUnreadable = "unreadable" // not there (module not loaded, not Linux) or not readable
)

// Sysctl is one kernel setting, read, compared and maybe raised.
type Sysctl struct {
	Name        string `json:"name"`    // "net.core.somaxconn"
	Current     string `json:"current"` // as the kernel prints it, fields separated by one space
	Recommended string `json:"recommended"`
	After       string `json:"after,omitempty"` // after a raise
	Status      string `json:"status"`
	Why         string `json:"why"`
	Err         string `json:"error,omitempty"`

	rule rule
}

// Command is the exact command that sets the recommendation.
func (s Sysctl) Command() string {
	return fmt.Sprintf("sysctl -w %s=%q", s.Name, s.Recommended)
}

// rule says how Current compares with Recommended.
type rule uint8

const (
	ruleAtLeast  rule = iota // every field >= the recommendation's (raise field by field)
	ruleRange                // "lo hi": lo <= rec lo and hi >= rec hi (widen)
	ruleAtMost               // advice only: lower is better, tune never lowers
	ruleNoTarget             // reported, no recommendation
)

// sysctlPath is the file of a dotted sysctl name below /proc/sys.
func sysctlPath(name string) string { return "/proc/sys/" + strings.ReplaceAll(name, ".", "/") }

// recommend lists the sysctls tune checks, with the recommendation for t.
func recommend(t Targets) []Sysctl {
	conns := max(t.MaxConnections, 1024)
	bl := t.backlog()
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	return []Sysctl{
		{Name: "net.core.somaxconn", Recommended: n(bl), rule: ruleAtLeast,
			Why: "caps every listen backlog: a reconnect storm past it is dropped (ListenOverflows); gnet reads it when the process starts"},
		{Name: "net.ipv4.tcp_max_syn_backlog", Recommended: n(bl), rule: ruleAtLeast,
			Why: "half-open connections held during a SYN storm"},
		{Name: "net.core.netdev_max_backlog", Recommended: n(min(max(conns/32, 1000), 65536)), rule: ruleAtLeast,
			Why: "packets queued per CPU between the NIC and the stack; microbursts past it are dropped"},
		{Name: "net.ipv4.ip_local_port_range", Recommended: localPorts(t.RelayConnections), rule: ruleRange,
			Why: "source ports for outgoing connections (relay, bench) to one destination"},
		{Name: "net.netfilter.nf_conntrack_max", Recommended: n(2 * conns), rule: ruleAtLeast,
			Why: "a full conntrack table drops new and established packets silently"},
		{Name: "fs.file-max", Recommended: n(2*conns + 65536), rule: ruleAtLeast,
			Why: "open files of the whole machine: one per connection, plus everything else"},
		{Name: "fs.nr_open", Recommended: n(max(conns+FDReserve, 1048576)), rule: ruleAtLeast,
			Why: "ceiling of RLIMIT_NOFILE: the hard open-file limit cannot pass it"},
		{Name: "net.ipv4.tcp_rmem", Recommended: "4096 16384 4194304", rule: ruleAtLeast,
			Why: "receive buffer min, default, max per socket: idle IoT connections need little, relays need the max"},
		{Name: "net.ipv4.tcp_wmem", Recommended: "4096 16384 4194304", rule: ruleAtLeast,
			Why: "send buffer min, default, max per socket"},
		{Name: "net.ipv4.tcp_fin_timeout", Recommended: "30", rule: ruleAtMost,
			Why: "orphaned FIN-WAIT-2 sockets held this long after a close storm (advice: tune never lowers)"},
	}
}

// localPorts is the port range recommended for n outgoing connections:
// the kernel default when it fits them twice over, else all of 1024-65535.
func localPorts(n int64) string {
	if n*2 <= 60999-32768 {
		return "32768 60999"
	}
	return "1024 65535"
}

// ReadSysctls reads and judges every sysctl below root for targets t.
// Never fails: an unreadable one has StatusUnreadable and Err.
func ReadSysctls(root string, t Targets) []Sysctl {
	list := recommend(t)
	r := &reader{root: root}
	for i := range list {
		s := &list[i]
		b, err := r.read(sysctlPath(s.Name))
		if err != nil {
			s.Status, s.Err = StatusUnreadable, err.Error()
			continue
		}
		s.Current = strings.Join(strings.Fields(string(b)), " ")
		s.Status = judge(s.rule, s.Current, s.Recommended)
	}
	return list
}

// fields parses a sysctl's value as integers.
func fields(v string) ([]int64, bool) {
	f := strings.Fields(v)
	out := make([]int64, len(f))
	for i, x := range f {
		n, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return nil, false
		}
		out[i] = n
	}
	return out, len(out) > 0
}

// judge compares cur with rec under r.
func judge(r rule, cur, rec string) string {
	c, ok1 := fields(cur)
	w, ok2 := fields(rec)
	if !ok1 || !ok2 || len(c) != len(w) {
		return StatusUnreadable
	}
	switch r {
	case ruleAtLeast:
		for i := range c {
			if c[i] < w[i] {
				return StatusLow
			}
		}
	case ruleRange:
		if c[0] > w[0] || c[1] < w[1] {
			return StatusLow
		}
	case ruleAtMost:
		if c[0] > w[0] {
			return StatusAdvice
		}
	}
	return StatusOK
}

// raised is the value to write for cur under r: each field raised to the
// recommendation, none lowered (a range only widened).
func raised(r rule, cur, rec string) string {
	c, _ := fields(cur)
	w, _ := fields(rec)
	out := make([]string, len(c))
	for i := range c {
		v := max(c[i], w[i])
		if r == ruleRange && i == 0 {
			v = min(c[i], w[i])
		}
		out[i] = strconv.FormatInt(v, 10)
	}
	// tcp_rmem/wmem: raising min or max alone may leave default outside
	// [min, max]; the kernel refuses that, so keep them ordered.
	if len(out) == 3 {
		a, _ := strconv.ParseInt(out[0], 10, 64)
		b, _ := strconv.ParseInt(out[1], 10, 64)
		d, _ := strconv.ParseInt(out[2], 10, 64)
		b = max(b, a)
		d = max(d, b)
		out[1], out[2] = strconv.FormatInt(b, 10), strconv.FormatInt(d, 10)
	}
	return strings.Join(out, " ")
}

// ApplySysctls raises every StatusLow sysctl in list below root, writing
// the raised value and reading it back. A failed write is StatusCannot
// with the error; nothing else changes. It never lowers a value and never
// touches StatusAdvice ones. logf (if not nil) is called before and after
// each write.
func ApplySysctls(root string, list []Sysctl, logf func(s Sysctl, before bool)) []Sysctl {
	out := append([]Sysctl(nil), list...)
	r := &reader{root: root}
	for i := range out {
		s := &out[i]
		if s.Status != StatusLow {
			continue
		}
		v := raised(s.rule, s.Current, s.Recommended)
		if logf != nil {
			logf(*s, true)
		}
		p := sysctlPath(s.Name)
		if err := os.WriteFile(at(root, p), []byte(v+"\n"), 0); err != nil {
			s.Status, s.Err = StatusCannot, fmt.Sprintf("cannot write %s: %v", p, unwrapPath(err))
		} else if b, err := r.read(p); err != nil {
			s.Status, s.Err = StatusCannot, err.Error()
		} else {
			s.After = strings.Join(strings.Fields(string(b)), " ")
			if judge(s.rule, s.After, s.Recommended) == StatusOK {
				s.Status = StatusRaised
			} else {
				s.Status, s.Err = StatusCannot, fmt.Sprintf("wrote %q to %s, read back %q", v, p, s.After)
			}
		}
		if logf != nil {
			logf(*s, false)
		}
	}
	return out
}

// ConntrackUsage reads nf_conntrack_count and nf_conntrack_max below root;
// ok is false without conntrack (module not loaded).
func ConntrackUsage(root string) (count, max int64, ok bool) {
	r := &reader{root: root}
	c, err1 := r.int64("/proc/sys/net/netfilter/nf_conntrack_count")
	m, err2 := r.int64("/proc/sys/net/netfilter/nf_conntrack_max")
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return c, m, true
}
