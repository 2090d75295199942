package media

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
)

// Sentinel errors of RTP port allocation.
var (
	// ErrInvalidPortRange means the configured RTP port range cannot be
	// used: an invalid address, bounds outside 1024-65535, min above max,
	// or no even port in between.
	ErrInvalidPortRange = errors.New("invalid RTP port range")

	// ErrPortsExhausted means every even port of the range is in use or
	// could not be bound. The SIP layer responds with 503 Service Unavailable.
	ErrPortsExhausted = errors.New("RTP ports exhausted")
)

// Bounds of a configurable RTP port range. Ports below 1024 are reserved
// for system services.
const (
	minRTPPort = 1024
	maxRTPPort = 65535
)

// PortRange hands out UDP sockets on even ports of an inclusive range, in
// round-robin order so that a port just released is reused as late as
// possible and late packets of an old call do not reach a new one. RTP
// uses even ports (RFC 3550 section 11); the odd port above each is left
// for RTCP, which this server does not use. PortRange is safe for
// concurrent use.
type PortRange struct {
	ip    netip.Addr
	first int // lowest even port of the range
	last  int // highest even port of the range

	// mu guards next and inUse.
	mu sync.Mutex
	// next is the even port the next Allocate tries first.
	next int
	// inUse maps each port handed out and not released to its socket.
	inUse map[int]*net.UDPConn
}

// NewPortRange returns a range of the even ports from min to max,
// inclusive, bound on ip. An odd min or max is moved inward to the nearest
// even port.
func NewPortRange(ip netip.Addr, min, max int) (*PortRange, error) {
	if !ip.IsValid() {
		return nil, fmt.Errorf("create RTP port range: %w: no IP address given, set the RTP address", ErrInvalidPortRange)
	}
	if min < minRTPPort || max > maxRTPPort || min > max {
		return nil, fmt.Errorf("create RTP port range %d-%d: %w: want %d <= min <= max <= %d",
			min, max, ErrInvalidPortRange, minRTPPort, maxRTPPort)
	}

	first := min + min%2
	last := max - max%2
	if first > last {
		return nil, fmt.Errorf("create RTP port range %d-%d: %w: the range contains no even port, widen it",
			min, max, ErrInvalidPortRange)
	}

	return &PortRange{
		ip:    ip.Unmap(),
		first: first,
		last:  last,
		next:  first,
		inUse: make(map[int]*net.UDPConn),
	}, nil
}

// Bounds returns the lowest and the highest even port of the range.
func (r *PortRange) Bounds() (first, last int) {
	return r.first, r.last
}

// Size returns the number of even ports in the range.
func (r *PortRange) Size() int {
	return (r.last-r.first)/2 + 1
}

// Allocate binds a UDP socket on the next free even port, going round the
// range from where the last allocation stopped. Ports that another program
// holds are skipped. It returns ErrPortsExhausted when no port of the range
// can be bound.
func (r *PortRange) Allocate() (*net.UDPConn, error) {
	r.mu.Lock()
	defer r.mu.Unlock()

	var lastErr error
	for range r.Size() {
		port := r.next
		r.advanceLocked()
		if r.inUse[port] != nil {
			continue
		}

		conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(r.ip, uint16(port))))
		if err != nil {
			lastErr = err
			continue
		}
		r.inUse[port] = conn
		return conn, nil
	}

	if lastErr != nil {
		return nil, fmt.Errorf("allocate RTP port in %d-%d on %s: %w (last bind error: %v)",
			r.first, r.last, r.ip, ErrPortsExhausted, lastErr)
	}
	return nil, fmt.Errorf("allocate RTP port in %d-%d on %s: %w: all %d ports in use, widen the range",
		r.first, r.last, r.ip, ErrPortsExhausted, r.Size())
}

// advanceLocked moves next to the following even port, wrapping at the end
// of the range. The caller holds mu.
func (r *PortRange) advanceLocked() {
	r.next += 2
	if r.next > r.last {
		r.next = r.first
	}
}

// Release closes a socket from Allocate and makes its port free again.
// Calling it twice, or with nil, does nothing.
func (r *PortRange) Release(conn *net.UDPConn) {
	if conn == nil {
		return
	}

	local, ok := conn.LocalAddr().(*net.UDPAddr)
	if !ok {
		return
	}
	port := local.Port

	r.mu.Lock()
	owned := r.inUse[port] == conn
	if owned {
		delete(r.inUse, port)
	}
	r.mu.Unlock()

	if owned {
		// A close error leaves nothing to undo: the port is free either way.
		_ = conn.Close()
	}
}

// InUse returns the number of sockets allocated and not yet released.
func (r *PortRange) InUse() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.inUse)
}
