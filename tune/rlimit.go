package tune

import (
	"fmt"
	"syscall"
)

// FDReserve is the number of descriptors FDCap keeps for what is not a
// client connection: listeners (one per loop with SO_REUSEPORT), the HTTP
// endpoint and its clients, upstream relays, log and config files, the
// runtime's own (epoll, eventfd, pipes).
const FDReserve = 100

// minFDCap is the least FDCap returns, however low the limit.
const minFDCap = 64

// Files is RLIMIT_NOFILE before and after RaiseNoFile.
type Files struct {
	SoftBefore uint64 `json:"soft_before"`
	Soft       uint64 `json:"soft"`
	Hard       uint64 `json:"hard"`
	Cap        int64  `json:"max_connections"` // FDCap(Soft)
	Err        string `json:"error,omitempty"`
}

// FDCap is the number of client connections a soft open-file limit of soft
// allows: soft minus FDReserve, at least 64. An unlimited or absurd limit
// reads as 1<<40.
func FDCap(soft uint64) int64 {
	if soft > 1<<40 {
		return 1 << 40
	}
	return max(int64(soft)-FDReserve, minFDCap)
}

// NoFile returns the soft RLIMIT_NOFILE; 1<<20 when it cannot be read.
func NoFile() uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 1 << 20
	}
	return rl.Cur
}

// RaiseNoFile raises the soft RLIMIT_NOFILE to the hard limit and reports
// both. (The Go runtime already does this at start-up on Linux; doing it
// again covers a limit lowered since, and reports what we got.)
// Process-wide.
func RaiseNoFile() Files {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return Files{Err: fmt.Sprintf("cannot read RLIMIT_NOFILE: %v", err), Cap: FDCap(1 << 20)}
	}
	f := Files{SoftBefore: rl.Cur, Soft: rl.Cur, Hard: rl.Max}
	if rl.Cur < rl.Max {
		raised := rl
		raised.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err != nil {
			f.Err = fmt.Sprintf("cannot raise the open-file soft limit from %d to %d: %v", rl.Cur, rl.Max, err)
		} else {
			f.Soft = rl.Max
		}
	}
	f.Cap = FDCap(f.Soft)
	return f
}
