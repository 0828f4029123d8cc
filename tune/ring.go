package tune

import (
	"errors"
	"fmt"
	"net"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Ringparam is struct ethtool_ringparam (linux/ethtool.h) without its cmd:
// the maximum and current sizes of a NIC's rx and tx rings, in descriptors.
type Ringparam struct {
	RxMax, RxMiniMax, RxJumboMax, TxMax uint32
	Rx, RxMini, RxJumbo, Tx             uint32
}

// RingIO reads and writes ring sizes of a network interface: the ethtool
// ioctl (Ethtool) on a machine, a fake in tests.
type RingIO interface {
	GetRings(ifname string) (Ringparam, error) // ETHTOOL_GRINGPARAM
	SetRings(ifname string, p Ringparam) error // ETHTOOL_SRINGPARAM
}

// Ring statuses (Ring.Status).
const (
	RingMax         = "max"         // already at the maximum the driver allows
	RingLow         = "low"         // below it; apply = "off", or not applied yet
	RingRaised      = "raised"      // raised to the maximum by ApplyRings
	RingCannot      = "cannot"      // below it and the change failed (Err)
	RingUnsupported = "unsupported" // the driver has no ring settings (EOPNOTSUPP: loopback, many virtual NICs)
	RingUnreadable  = "unreadable"  // any other error
)

// Ring is one interface's rings.
type Ring struct {
	Interface string `json:"interface"`
	Rx        uint32 `json:"rx"`
	RxMax     uint32 `json:"rx_max"`
	Tx        uint32 `json:"tx"`
	TxMax     uint32 `json:"tx_max"`
	Status    string `json:"status"`
	Err       string `json:"error,omitempty"`
	Command   string `json:"command,omitempty"` // ethtool -G ... (where low)
}

// ReadRings reads the rings of each interface.
func ReadRings(io RingIO, ifaces []string) []Ring {
	out := make([]Ring, 0, len(ifaces))
	for _, name := range ifaces {
		r := Ring{Interface: name}
		p, err := io.GetRings(name)
		switch {
		case errors.Is(err, unix.EOPNOTSUPP):
			r.Status, r.Err = RingUnsupported, "the driver reports no ring sizes (EOPNOTSUPP)"
		case err != nil:
			r.Status, r.Err = RingUnreadable, fmt.Sprintf("cannot read rings of %s: %v", name, err)
		default:
			r.Rx, r.RxMax, r.Tx, r.TxMax = p.Rx, p.RxMax, p.Tx, p.TxMax
			r.Status = RingMax
			if p.Rx < p.RxMax || p.Tx < p.TxMax {
				r.Status = RingLow
				r.Command = fmt.Sprintf("ethtool -G %s rx %d tx %d", name, p.RxMax, p.TxMax)
			}
		}
		out = append(out, r)
	}
	return out
}

// ApplyRings raises every RingLow interface's rx and tx rings to their
// maximum and reads them back. A failure is RingCannot with the error; a
// driver that refuses to set (EOPNOTSUPP) is RingUnsupported. Changing
// rings can reset the link for a moment on some drivers.
func ApplyRings(io RingIO, rings []Ring) []Ring {
	out := append([]Ring(nil), rings...)
	for i := range out {
		r := &out[i]
		if r.Status != RingLow {
			continue
		}
		p, err := io.GetRings(r.Interface)
		if err == nil {
			p.Rx, p.Tx = p.RxMax, p.TxMax
			err = io.SetRings(r.Interface, p)
		}
		if err == nil {
			p, err = io.GetRings(r.Interface)
		}
		switch {
		case errors.Is(err, unix.EOPNOTSUPP):
			r.Status, r.Err = RingUnsupported, "the driver does not allow changing its rings (EOPNOTSUPP)"
		case err != nil:
			r.Status, r.Err = RingCannot, fmt.Sprintf("cannot raise rings of %s: %v", r.Interface, err)
		case p.Rx < p.RxMax || p.Tx < p.TxMax:
			r.Rx, r.Tx = p.Rx, p.Tx
			r.Status, r.Err = RingCannot, fmt.Sprintf("set rx %d tx %d, read back rx %d tx %d", p.RxMax, p.TxMax, p.Rx, p.Tx)
		default:
			r.Rx, r.Tx, r.Status, r.Command = p.Rx, p.Tx, RingRaised, ""
		}
	}
	return out
}

// Ethtool is the ethtool ioctl (SIOCETHTOOL) on a socket of the calling
// thread's network namespace. Safe for concurrent use; Close when done.
type Ethtool struct{ fd int }

// OpenEthtool opens the socket the ioctl goes through.
func OpenEthtool() (*Ethtool, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("cannot open a socket for ethtool: %w", err)
	}
	return &Ethtool{fd: fd}, nil
}

// Close closes the socket.
func (e *Ethtool) Close() error { return unix.Close(e.fd) }

// ethtoolRing is struct ethtool_ringparam.
type ethtoolRing struct {
	cmd uint32
	p   Ringparam
}

// ifreqData is struct ifreq with ifr_data: the name and a pointer.
type ifreqData struct {
	name [unix.IFNAMSIZ]byte
	data unsafe.Pointer
	_    [24 - unsafe.Sizeof(uintptr(0))]byte // the union is 24 bytes
}

func (e *Ethtool) ioctl(ifname string, cmd uint32, p *Ringparam) error {
	if len(ifname) >= unix.IFNAMSIZ {
		return fmt.Errorf("interface name %q too long", ifname)
	}
	er := ethtoolRing{cmd: cmd, p: *p}
	var ifr ifreqData
	copy(ifr.name[:], ifname)
	ifr.data = unsafe.Pointer(&er)
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(e.fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr)))
	if errno != 0 {
		return errno
	}
	*p = er.p
	return nil
}

// GetRings is ETHTOOL_GRINGPARAM.
func (e *Ethtool) GetRings(ifname string) (Ringparam, error) {
	var p Ringparam
	err := e.ioctl(ifname, unix.ETHTOOL_GRINGPARAM, &p)
	return p, err
}

// SetRings is ETHTOOL_SRINGPARAM (needs CAP_NET_ADMIN).
func (e *Ethtool) SetRings(ifname string, p Ringparam) error {
	return e.ioctl(ifname, unix.ETHTOOL_SRINGPARAM, &p)
}

// ListenerInterfaces returns the interfaces that carry listeners bound to
// addrs ("host:port"): for an unspecified host (":1883", "0.0.0.0",
// "[::]") every interface that is up, loopback excepted; else the one
// that holds the address (loopback included: its line says it has no
// rings). Sorted as the system lists them, no duplicates.
func ListenerInterfaces(addrs []string) ([]string, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("cannot list interfaces: %w", err)
	}
	want := map[string]bool{}
	for _, a := range addrs {
		if a == "" {
			continue
		}
		host, _, err := net.SplitHostPort(a)
		if err != nil {
			continue
		}
		ip := net.ParseIP(host)
		for _, ifi := range ifs {
			if ifi.Flags&net.FlagUp == 0 {
				continue
			}
			if host == "" || ip != nil && ip.IsUnspecified() {
				if ifi.Flags&net.FlagLoopback == 0 {
					want[ifi.Name] = true
				}
				continue
			}
			if ip == nil {
				continue // a host name: not resolved here
			}
			ias, _ := ifi.Addrs()
			for _, ia := range ias {
				if n, ok := ia.(*net.IPNet); ok && n.IP.Equal(ip) {
					want[ifi.Name] = true
				}
			}
		}
	}
	var out []string
	for _, ifi := range ifs {
		if want[ifi.Name] {
			out = append(out, ifi.Name)
		}
	}
	return out, nil
}
