package gateway

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"edgegw/tune"
)

// Kernel signals (tune.Signals): TCP retransmits and timeouts, listen
// queue overflows, conntrack, interface drops and errors, TCP socket
// memory. tuneLoop samples them every signalSample, off the event loops,
// sets the metrics below, and logs tune's warnings (each kind at most once
// a minute) before they lose messages.
const signalSample = 5 * time.Second

// kernelMetrics holds the metrics of the kernel signals. Written by the
// tune goroutine (and once by initTune), read by scrapes.
type kernelMetrics struct {
	set                          *metrics.Set
	outSegs, retrans, timeouts   *metrics.Counter
	listenOverflows, listenDrops *metrics.Counter
	conntrack, conntrackMax      atomic.Int64
	tcpMem, inuse, orphan, tw    atomic.Int64
	watch                        tune.Watch
}

func newKernelMetrics(s *metrics.Set) *kernelMetrics {
	k := &kernelMetrics{set: s}
	k.outSegs = s.NewCounter("edgegw_kernel_tcp_segments_sent_total")
	k.retrans = s.NewCounter("edgegw_kernel_tcp_segments_retransmitted_total")
	k.timeouts = s.NewCounter("edgegw_kernel_tcp_timeouts_total")
	k.listenOverflows = s.NewCounter("edgegw_kernel_listen_overflows_total")
	k.listenDrops = s.NewCounter("edgegw_kernel_listen_drops_total")
	gauge := func(name string, a *atomic.Int64) {
		s.NewGauge(name, func() float64 { return float64(a.Load()) })
	}
	gauge("edgegw_kernel_conntrack_entries", &k.conntrack)
	gauge("edgegw_kernel_conntrack_max", &k.conntrackMax)
	gauge("edgegw_kernel_tcp_memory_bytes", &k.tcpMem)
	gauge(`edgegw_kernel_tcp_sockets{state="inuse"}`, &k.inuse)
	gauge(`edgegw_kernel_tcp_sockets{state="orphan"}`, &k.orphan)
	gauge(`edgegw_kernel_tcp_sockets{state="time_wait"}`, &k.tw)
	return k
}

// sample reads the signals, updates the metrics and returns the warnings
// due. The tune goroutine only.
func (k *kernelMetrics) sample(now time.Time) []tune.Warning {
	s, _ := tune.ReadSignals("")
	set := func(c *metrics.Counter, v int64) { c.Set(uint64(max(v, 0))) }
	set(k.outSegs, s.TCPOutSegs)
	set(k.retrans, s.TCPRetransSegs)
	set(k.timeouts, s.TCPTimeouts)
	set(k.listenOverflows, s.ListenOverflows)
	set(k.listenDrops, s.ListenDrops)
	k.conntrack.Store(s.ConntrackCount)
	k.conntrackMax.Store(s.ConntrackMax)
	k.tcpMem.Store(s.TCPMemoryBytes)
	k.inuse.Store(s.TCPInUse)
	k.orphan.Store(s.TCPOrphan)
	k.tw.Store(s.TCPTimeWait)
	for _, i := range s.Interfaces {
		q := strconv.Quote(i.Name)
		set(k.set.GetOrCreateCounter(`edgegw_kernel_interface_drops_total{interface=`+q+`,direction="rx"}`), i.RxDrops)
		set(k.set.GetOrCreateCounter(`edgegw_kernel_interface_drops_total{interface=`+q+`,direction="tx"}`), i.TxDrops)
		set(k.set.GetOrCreateCounter(`edgegw_kernel_interface_errors_total{interface=`+q+`,direction="rx"}`), i.RxErrors)
		set(k.set.GetOrCreateCounter(`edgegw_kernel_interface_errors_total{interface=`+q+`,direction="tx"}`), i.TxErrors)
	}
	return k.watch.Observe(s, now)
}

func init() {
	for k, v := range map[string]metricMeta{
		"edgegw_kernel_tcp_segments_sent_total":          {"counter", "TCP segments the kernel sent (/proc/net/snmp Tcp OutSegs; the machine's network namespace, since boot)."},
		"edgegw_kernel_tcp_segments_retransmitted_total": {"counter", "TCP segments the kernel retransmitted (Tcp RetransSegs); over 2% of those sent in a window is logged as a warning."},
		"edgegw_kernel_tcp_timeouts_total":               {"counter", "TCP retransmission timeouts (/proc/net/netstat TcpExt TCPTimeouts)."},
		"edgegw_kernel_listen_overflows_total":           {"counter", "Times a listen queue was full (TcpExt ListenOverflows); growth is logged as a warning."},
		"edgegw_kernel_listen_drops_total":               {"counter", "SYNs and connections dropped at listen sockets (TcpExt ListenDrops)."},
		"edgegw_kernel_conntrack_entries":                {"gauge", "Entries in the conntrack table (0 without conntrack); past 80% of the max is logged as a warning."},
		"edgegw_kernel_conntrack_max":                    {"gauge", "Size of the conntrack table (net.netfilter.nf_conntrack_max; 0 without conntrack)."},
		"edgegw_kernel_tcp_memory_bytes":                 {"gauge", "Memory of all TCP socket buffers (/proc/net/sockstat TCP mem)."},
		"edgegw_kernel_tcp_sockets":                      {"gauge", "TCP sockets of the machine by state (inuse, orphan, time_wait; /proc/net/sockstat)."},
		"edgegw_kernel_interface_drops_total":            {"counter", "Packets dropped by a network interface, by interface and direction (rx, tx; /proc/net/dev); rx growth is logged as a warning."},
		"edgegw_kernel_interface_errors_total":           {"counter", "Errors of a network interface, by interface and direction (rx, tx; /proc/net/dev)."},
	} {
		metricHelp[k] = v
	}
}
