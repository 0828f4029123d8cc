package tune

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
)

// Report is everything tune found, as `edgegw tune` prints it (text, or
// one JSON object with --json). A value.
type Report struct {
	Apply    string   `json:"apply"` // "raise" or "off"
	Cgroup   Cgroup   `json:"cgroup"`
	Runtime  Runtime  `json:"runtime"`
	Files    Files    `json:"open_files"`
	Budget   Budget   `json:"memory"`
	Targets  Targets  `json:"targets"`
	Sysctls  []Sysctl `json:"sysctls"`
	Rings    []Ring   `json:"rings"`
	Signals  Signals  `json:"signals"`
	Warnings []string `json:"warnings"` // what will bite: connections that cannot fit, values left low
	Problems []string `json:"problems"` // what could not be read, and why
}

// Options say what to inspect. The zero value inspects this machine for a
// default Config.
type Options struct {
	Root      string              // "" = this machine's /proc and /sys
	Config    Config              // the [tune] section
	Targets   Targets             // MaxConnections 0 = what the open-file limit allows
	Listeners []string            // listener addresses ("host:port"), for the NIC rings
	Getenv    func(string) string // nil = os.Getenv
	Rings     RingIO              // nil = the ethtool ioctl
}

func (o *Options) getenv(k string) string {
	if o.Getenv == nil {
		return os.Getenv(k)
	}
	return o.Getenv(k)
}

// ReadNoFile reports RLIMIT_NOFILE without changing it.
func ReadNoFile() Files {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return Files{Err: fmt.Sprintf("cannot read RLIMIT_NOFILE: %v", err), Cap: FDCap(1 << 20)}
	}
	return Files{SoftBefore: rl.Cur, Soft: rl.Cur, Hard: rl.Max, Cap: FDCap(rl.Cur)}
}

// Inspect reads everything and changes nothing.
func Inspect(o Options) Report {
	return inspect(o, ReadNoFile())
}

func inspect(o Options, files Files) Report {
	rep := Report{Apply: o.Config.applyMode(), Files: files, Targets: o.Targets}
	if files.Err != "" {
		rep.Problems = append(rep.Problems, files.Err)
	}
	var probs []string
	rep.Cgroup, probs = ReadCgroup(o.Root)
	rep.Problems = append(rep.Problems, probs...)
	rep.Runtime = ReadRuntime(rep.Cgroup, o.getenv)
	memTotal, err := ReadMemTotal(o.Root)
	if err != nil {
		rep.Problems = append(rep.Problems, err.Error())
	}
	var baseline int64
	if rep.Cgroup.MemoryLimit > 0 {
		baseline = rep.Cgroup.MemoryWorkingSet
	} else if v, err := ReadResident(o.Root); err == nil {
		baseline = v
	}
	rep.Budget = NewBudget(rep.Cgroup, memTotal, o.Config, baseline)
	if rep.Targets.MaxConnections == 0 {
		rep.Targets.MaxConnections = files.Cap
	}
	rep.Targets.Backlog = rep.Targets.backlog()
	rep.Sysctls = ReadSysctls(o.Root, rep.Targets)
	rep.Rings = readRings(&o, &rep.Problems)
	rep.Signals, probs = ReadSignals(o.Root)
	rep.Problems = append(rep.Problems, probs...)
	rep.Warnings = warnings(rep, o.Targets.MaxConnections)
	return rep
}

// readRings reads the rings of the listeners' interfaces.
func readRings(o *Options, probs *[]string) []Ring {
	if len(o.Listeners) == 0 {
		return nil
	}
	ifs, err := ListenerInterfaces(o.Listeners)
	if err != nil {
		*probs = append(*probs, err.Error())
		return nil
	}
	io := o.Rings
	if io == nil {
		e, err := OpenEthtool()
		if err != nil {
			*probs = append(*probs, err.Error())
			return nil
		}
		defer e.Close()
		io = e
	}
	return ReadRings(io, ifs)
}

// warnings lists what will bite; configured is limits.max_connections (0:
// derived from the fd limit).
func warnings(rep Report, configured int64) []string {
	var w []string
	if configured > 0 && configured > rep.Files.Cap {
		w = append(w, fmt.Sprintf("limits.max_connections %d is above what the open-file limit allows (about %d; soft %d, hard %d): raise it with ulimit -n / LimitNOFILE=",
			configured, rep.Files.Cap, rep.Files.Soft, rep.Files.Hard))
	}
	if rep.Budget.Capacity < rep.Targets.MaxConnections {
		w = append(w, fmt.Sprintf("memory holds about %d connections, fewer than the %d targeted: CONNECTs past it get 0x89 Server busy (%s)",
			rep.Budget.Capacity, rep.Targets.MaxConnections, rep.Budget))
	}
	for _, s := range rep.Sysctls {
		switch s.Status {
		case StatusLow, StatusCannot:
			w = append(w, fmt.Sprintf("%s is %s, below the %s recommended for %d connections: %s", s.Name, s.Current, s.Recommended, rep.Targets.MaxConnections, s.Command()))
		}
	}
	for _, r := range rep.Rings {
		if r.Status == RingLow || r.Status == RingCannot {
			w = append(w, fmt.Sprintf("%s rings below their maximum (rx %d/%d, tx %d/%d): microbursts overflow them; %s", r.Interface, r.Rx, r.RxMax, r.Tx, r.TxMax, r.Command))
		}
	}
	s := rep.Signals
	if s.Conntrack && s.ConntrackMax > 0 && s.ConntrackCount*100 > s.ConntrackMax*ConntrackWarnPct {
		w = append(w, fmt.Sprintf("conntrack table %d%% full (%d of %d)", s.ConntrackCount*100/s.ConntrackMax, s.ConntrackCount, s.ConntrackMax))
	}
	return w
}

// Apply raises what it may, then reports: the soft open-file limit to the
// hard one, GOMEMLIMIT from the memory budget, and, with apply = "raise",
// the sysctls and NIC rings below their recommendation. Each change is
// logged through logf before and after (nil: not logged); nothing that
// fails stops it. Process-wide and machine-wide: call it once, from main,
// before the gateway starts.
func Apply(o Options, logf func(msg string, args ...any)) Report {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	files := RaiseNoFile()
	if files.Soft != files.SoftBefore {
		logf("raised the open-file soft limit", "before", files.SoftBefore, "after", files.Soft, "hard", files.Hard)
	}
	rep := inspect(o, files)
	unmanaged := int64(0)
	if ms, ok := rep.Cgroup.Probe(o.Root).Sample(); ok && rep.Budget.Source == SourceCgroup {
		unmanaged = ms.Unmanaged()
	}
	lim, src := SetGoMemLimit(rep.Budget, o.Config, o.getenv, unmanaged)
	rep.Runtime.GOMEMLIMIT, rep.Runtime.GOMEMLIMITSource = lim, src
	if rep.Apply != ApplyRaise {
		return rep
	}
	rep.Sysctls = ApplySysctls(o.Root, rep.Sysctls, func(s Sysctl, before bool) {
		if before {
			logf("raising sysctl", "name", s.Name, "before", s.Current, "recommended", s.Recommended)
		} else {
			logf("sysctl", "name", s.Name, "before", s.Current, "after", s.After, "status", s.Status, "err", s.Err)
		}
	})
	if len(rep.Rings) > 0 {
		io := o.Rings
		if io == nil {
			if e, err := OpenEthtool(); err == nil {
				defer e.Close()
				io = e
			}
		}
		if io != nil {
			before := rep.Rings
			rep.Rings = ApplyRings(io, rep.Rings)
			for i, r := range rep.Rings {
				if before[i].Status == RingLow {
					logf("NIC rings", "interface", r.Interface, "rx_before", before[i].Rx, "tx_before", before[i].Tx,
						"rx", r.Rx, "tx", r.Tx, "status", r.Status, "err", r.Err)
				}
			}
		}
	}
	rep.Warnings = warnings(rep, o.Targets.MaxConnections)
	return rep
}

// WriteJSON writes the report as one JSON object.
func (rep Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// WriteText writes the report for a person.
func (rep Report) WriteText(w io.Writer) {
	cg := rep.Cgroup
	fmt.Fprintf(w, "cgroup\n")
	if cg.MemoryVersion == 0 {
		fmt.Fprintf(w, "  memory: no memory controller found\n")
	} else {
		limit := "none"
		if cg.MemoryLimit > 0 {
			limit = mib(cg.MemoryLimit) + " (" + cg.MemoryLimitFrom + ")"
		}
		fmt.Fprintf(w, "  memory v%d %s: limit %s, usage %s, working set %s, kernel %s, sockets %s, failcnt %d, oom kills %d\n",
			cg.MemoryVersion, cg.MemoryDir, limit, mib(cg.MemoryUsage), mib(cg.MemoryWorkingSet), mib(cg.KernelMemory), mib(cg.SocketMemory), cg.FailCount, cg.OOMKills)
	}
	quota := "no quota"
	if cg.CPUQuota > 0 {
		quota = fmt.Sprintf("quota %.2f cores (period %dus)", cg.CPUQuota, cg.CPUPeriodUs)
	}
	cpuset := ""
	if cg.Cpuset != "" {
		cpuset = fmt.Sprintf(", cpuset %s (%d CPUs)", cg.Cpuset, cg.CpusetCount)
	}
	fmt.Fprintf(w, "  cpu v%d: %s%s\n", cg.CPUVersion, quota, cpuset)
	rt := rep.Runtime
	gml := "none"
	if rt.GOMEMLIMIT > 0 {
		gml = mib(rt.GOMEMLIMIT)
	}
	fmt.Fprintf(w, "runtime\n  GOMAXPROCS %d (%s; %d CPUs usable), GOMEMLIMIT %s (%s)\n", rt.GOMAXPROCS, rt.GOMAXPROCSSource, rt.NumCPU, gml, rt.GOMEMLIMITSource)
	f := rep.Files
	fmt.Fprintf(w, "open files\n  soft %d (was %d), hard %d: about %d connections\n", f.Soft, f.SoftBefore, f.Hard, f.Cap)
	fmt.Fprintf(w, "memory\n  %s\n", rep.Budget)
	fmt.Fprintf(w, "sysctls (targets: %d connections, backlog %d, %d outgoing; apply = %q)\n", rep.Targets.MaxConnections, rep.Targets.Backlog, rep.Targets.RelayConnections, rep.Apply)
	for _, s := range rep.Sysctls {
		switch s.Status {
		case StatusUnreadable:
			fmt.Fprintf(w, "  %-32s unreadable: %s\n", s.Name, s.Err)
		case StatusRaised:
			fmt.Fprintf(w, "  %-32s %s -> %s (raised; recommended %s)\n", s.Name, s.Current, s.After, s.Recommended)
		case StatusLow, StatusCannot, StatusAdvice:
			extra := ""
			if s.Err != "" {
				extra = " (" + s.Err + ")"
			}
			fmt.Fprintf(w, "  %-32s %s, recommended %s: %s%s\n    %s\n", s.Name, s.Current, s.Recommended, s.Status, extra, s.Command())
		default:
			fmt.Fprintf(w, "  %-32s %s (ok; recommended %s)\n", s.Name, s.Current, s.Recommended)
		}
	}
	fmt.Fprintf(w, "rings\n")
	if len(rep.Rings) == 0 {
		fmt.Fprintf(w, "  no listener interface inspected\n")
	}
	writeRings(w, rep.Rings)
	s := rep.Signals
	fmt.Fprintf(w, "signals (since boot)\n")
	pct := 0.0
	if s.TCPOutSegs > 0 {
		pct = float64(s.TCPRetransSegs) * 100 / float64(s.TCPOutSegs)
	}
	fmt.Fprintf(w, "  TCP: %d segments sent, %d retransmitted (%.2f%%), %d timeouts; listen overflows %d, drops %d\n",
		s.TCPOutSegs, s.TCPRetransSegs, pct, s.TCPTimeouts, s.ListenOverflows, s.ListenDrops)
	fmt.Fprintf(w, "  TCP sockets: %d in use, %d orphaned, %d time-wait, %s of socket memory\n", s.TCPInUse, s.TCPOrphan, s.TCPTimeWait, mib(s.TCPMemoryBytes))
	if s.Conntrack {
		fmt.Fprintf(w, "  conntrack: %d of %d entries\n", s.ConntrackCount, s.ConntrackMax)
	} else {
		fmt.Fprintf(w, "  conntrack: no table (module not loaded)\n")
	}
	for _, i := range s.Interfaces {
		fmt.Fprintf(w, "  %s: rx drops %d, errors %d; tx drops %d, errors %d\n", i.Name, i.RxDrops, i.RxErrors, i.TxDrops, i.TxErrors)
	}
	section := func(name string, lines []string) {
		if len(lines) == 0 {
			return
		}
		fmt.Fprintf(w, "%s\n", name)
		for _, l := range lines {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
	section("warnings", rep.Warnings)
	section("could not read", rep.Problems)
}

// writeRings writes one line per interface.
func writeRings(w io.Writer, rings []Ring) {
	for _, r := range rings {
		switch r.Status {
		case RingUnsupported, RingUnreadable:
			fmt.Fprintf(w, "  %s: no ring settings (%s)\n", r.Interface, r.Err)
		default:
			line := fmt.Sprintf("  %s: rx %d/%d tx %d/%d %s", r.Interface, r.Rx, r.RxMax, r.Tx, r.TxMax, r.Status)
			if r.Command != "" {
				line += ": " + r.Command
			}
			if r.Err != "" {
				line += " (" + r.Err + ")"
			}
			fmt.Fprintln(w, line)
		}
	}
}

// Summary is the report in a few key-value pairs, for the start-up log.
func (rep Report) Summary() []any {
	low := []string{}
	for _, s := range rep.Sysctls {
		if s.Status == StatusLow || s.Status == StatusCannot {
			low = append(low, s.Name)
		}
	}
	return []any{
		"cgroup_memory", rep.Cgroup.MemoryVersion, "memory_limit", rep.Budget.Limit, "memory_source", rep.Budget.Source,
		"capacity_connections", rep.Budget.Capacity, "gomaxprocs", rep.Runtime.GOMAXPROCS, "gomaxprocs_source", rep.Runtime.GOMAXPROCSSource,
		"gomemlimit", rep.Runtime.GOMEMLIMIT, "gomemlimit_source", rep.Runtime.GOMEMLIMITSource,
		"sysctls_low", strings.Join(low, ","), "warnings", len(rep.Warnings), "problems", len(rep.Problems),
	}
}
