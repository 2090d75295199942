package media

import (
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"testing"
)

var loopbackIP = netip.MustParseAddr("127.0.0.1")

// freeEvenRange picks a range of n even ports on 127.0.0.1, high above the
// ports the kernel hands out for port 0, that can all be bound right now.
// Each test gets its own random range, so parallel test runs rarely meet.
func freeEvenRange(t *testing.T, n int) (int, int) {
	t.Helper()
	const lowest, highest = 40000, 60000
	for range 20 {
		first := lowest + 2*rand.IntN((highest-lowest)/2-n)
		last := first + 2*(n-1)
		if rangeIsFree(first, last) {
			return first, last
		}
	}
	t.Fatalf("no free range of %d even ports found between %d and %d", n, lowest, highest)
	return 0, 0
}

func rangeIsFree(first, last int) bool {
	var conns []*net.UDPConn
	defer func() {
		for _, conn := range conns {
			conn.Close()
		}
	}()
	for port := first; port <= last; port += 2 {
		conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopbackIP, uint16(port))))
		if err != nil {
			return false
		}
		conns = append(conns, conn)
	}
	return true
}

func portOf(conn *net.UDPConn) int {
	return conn.LocalAddr().(*net.UDPAddr).Port
}

func TestNewPortRangeValidation(t *testing.T) {
	tests := []struct {
		name             string
		ip               netip.Addr
		min, max         int
		wantErr          bool
		wantFirst, wantN int
	}{
		{name: "even bounds", ip: loopbackIP, min: 20000, max: 20010, wantFirst: 20000, wantN: 6},
		{name: "odd bounds move inward", ip: loopbackIP, min: 20001, max: 20011, wantFirst: 20002, wantN: 5},
		{name: "single port", ip: loopbackIP, min: 20000, max: 20000, wantFirst: 20000, wantN: 1},
		{name: "lowest allowed", ip: loopbackIP, min: 1024, max: 1025, wantFirst: 1024, wantN: 1},
		{name: "highest allowed", ip: loopbackIP, min: 65534, max: 65535, wantFirst: 65534, wantN: 1},
		{name: "missing address", ip: netip.Addr{}, min: 20000, max: 20010, wantErr: true},
		{name: "below 1024", ip: loopbackIP, min: 1000, max: 20000, wantErr: true},
		{name: "above 65535", ip: loopbackIP, min: 20000, max: 70000, wantErr: true},
		{name: "min above max", ip: loopbackIP, min: 20010, max: 20000, wantErr: true},
		{name: "no even port", ip: loopbackIP, min: 20001, max: 20001, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ports, err := NewPortRange(tt.ip, tt.min, tt.max)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidPortRange) {
					t.Fatalf("NewPortRange: %v, want ErrInvalidPortRange", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewPortRange: %v", err)
			}
			if ports.first != tt.wantFirst {
				t.Errorf("first port %d, want %d", ports.first, tt.wantFirst)
			}
			if ports.Size() != tt.wantN {
				t.Errorf("Size = %d, want %d", ports.Size(), tt.wantN)
			}
		})
	}
}

func TestPortRangeAllocateUntilExhausted(t *testing.T) {
	first, last := freeEvenRange(t, 3)
	ports, err := NewPortRange(loopbackIP, first, last+1)
	if err != nil {
		t.Fatalf("NewPortRange: %v", err)
	}

	var conns []*net.UDPConn
	t.Cleanup(func() {
		for _, conn := range conns {
			ports.Release(conn)
		}
	})
	for i := range 3 {
		conn, err := ports.Allocate()
		if err != nil {
			t.Fatalf("Allocate %d: %v", i, err)
		}
		conns = append(conns, conn)
		if want := first + 2*i; portOf(conn) != want {
			t.Errorf("allocation %d: port %d, want %d", i, portOf(conn), want)
		}
	}

	if _, err := ports.Allocate(); !errors.Is(err, ErrPortsExhausted) {
		t.Errorf("Allocate on a full range: %v, want ErrPortsExhausted", err)
	}
	if ports.InUse() != 3 {
		t.Errorf("InUse = %d, want 3", ports.InUse())
	}
}

func TestPortRangeReleaseAndRoundRobin(t *testing.T) {
	first, last := freeEvenRange(t, 3)
	ports, err := NewPortRange(loopbackIP, first, last)
	if err != nil {
		t.Fatalf("NewPortRange: %v", err)
	}

	a, err := ports.Allocate()
	if err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	b, err := ports.Allocate()
	if err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	t.Cleanup(func() { ports.Release(b) })

	ports.Release(a)
	ports.Release(a)
	ports.Release(nil)
	if ports.InUse() != 1 {
		t.Errorf("InUse after releasing one of two (twice) = %d, want 1", ports.InUse())
	}
	if _, err := a.WriteToUDPAddrPort([]byte{0}, addrOf(b)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("write on a released socket: %v, want net.ErrClosed", err)
	}

	// The next allocation goes on round the range instead of taking back
	// the port just released.
	c, err := ports.Allocate()
	if err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	t.Cleanup(func() { ports.Release(c) })
	if portOf(c) != first+4 {
		t.Errorf("port after release %d, want %d", portOf(c), first+4)
	}

	d, err := ports.Allocate()
	if err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	t.Cleanup(func() { ports.Release(d) })
	if portOf(d) != first {
		t.Errorf("port after wrapping %d, want the released %d", portOf(d), first)
	}
}

func TestPortRangeSkipsPortHeldElsewhere(t *testing.T) {
	first, last := freeEvenRange(t, 2)
	ports, err := NewPortRange(loopbackIP, first, last)
	if err != nil {
		t.Fatalf("NewPortRange: %v", err)
	}

	other, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loopbackIP, uint16(first))))
	if err != nil {
		t.Fatalf("bind %d: %v", first, err)
	}
	t.Cleanup(func() { other.Close() })

	conn, err := ports.Allocate()
	if err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	t.Cleanup(func() { ports.Release(conn) })
	if portOf(conn) != last {
		t.Errorf("port %d, want %d past the port held elsewhere", portOf(conn), last)
	}

	if _, err := ports.Allocate(); !errors.Is(err, ErrPortsExhausted) {
		t.Errorf("Allocate: %v, want ErrPortsExhausted", err)
	}
}

func TestPortRangeConcurrentAllocate(t *testing.T) {
	const size = 8
	first, last := freeEvenRange(t, size)
	ports, err := NewPortRange(loopbackIP, first, last)
	if err != nil {
		t.Fatalf("NewPortRange: %v", err)
	}

	var wg sync.WaitGroup
	conns := make(chan *net.UDPConn, size)
	for range size {
		wg.Go(func() {
			conn, err := ports.Allocate()
			if err != nil {
				t.Errorf("Allocate: %v", err)
				return
			}
			conns <- conn
		})
	}
	wg.Wait()
	close(conns)

	seen := make(map[int]bool)
	for conn := range conns {
		if seen[portOf(conn)] {
			t.Errorf("port %d handed out twice", portOf(conn))
		}
		seen[portOf(conn)] = true
		ports.Release(conn)
	}
	if len(seen) != size || ports.InUse() != 0 {
		t.Errorf("%d distinct ports and %d in use after release, want %d and 0", len(seen), ports.InUse(), size)
	}
}
