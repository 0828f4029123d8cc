package bench

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// parseSourceIPs reads "127.0.0.2-127.0.0.40" or "a,b,c" (ranges allowed in
// the list). Only loopback addresses or addresses on a local interface are
// accepted: the tool must never spray traffic from foreign addresses.
func parseSourceIPs(s string) ([]netip.Addr, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var out []netip.Addr
	var local map[netip.Addr]bool
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := netip.ParseAddr(strings.TrimSpace(lo))
		if err != nil {
			return nil, fmt.Errorf("bad address %q", lo)
		}
		b := a
		if isRange {
			if b, err = netip.ParseAddr(strings.TrimSpace(hi)); err != nil {
				return nil, fmt.Errorf("bad address %q", hi)
			}
			if a.Is4() != b.Is4() || b.Less(a) {
				return nil, fmt.Errorf("bad range %q", part)
			}
		}
		for x := a; ; x = x.Next() {
			if !x.IsLoopback() {
				if local == nil {
					local = localAddrs()
				}
				if !local[x] {
					return nil, fmt.Errorf("%s is neither loopback nor on a local interface", x)
				}
			}
			out = append(out, x)
			if len(out) > maxSourceIPs {
				return nil, fmt.Errorf("more than %d addresses", maxSourceIPs)
			}
			if x == b {
				break
			}
		}
	}
	return out, nil
}

// localAddrs lists the addresses configured on this host's interfaces.
func localAddrs() map[netip.Addr]bool {
	m := map[netip.Addr]bool{}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return m
	}
	for _, a := range addrs {
		if pn, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(pn.IP); ok {
				m[ip.Unmap()] = true
			}
		}
	}
	return m
}
