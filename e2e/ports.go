package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Loopback is the only address the harness binds to or sends to.
const Loopback = "127.0.0.1"

// Port block limits. Blocks start at a random even port of their region,
// so parallel tests and parallel test binaries rarely pick the same one.
// Each candidate is checked by binding. Large blocks (a server's RTP range)
// come from a region below Linux's ephemeral ports (32768-60999), and small
// ones (SIPp's media ports) from above it, so that the many small blocks
// cannot break up the room that a large block needs.
const (
	portBlockLow     = 30000
	portBlockHigh    = 59000
	largeBlockLow    = 10000
	largeBlockHigh   = 30000
	largeBlockSize   = 16
	portPickAttempts = 200

	// DefaultRTPPorts is the size of the RTP block that StartServer gives
	// each server: one even port per call leg, so 50 legs.
	DefaultRTPPorts = 100

	// sippMediaPorts covers SIPp's -mp block: audio RTP on N, RTCP on
	// N+1, video on N+2 and its RTCP on N+3.
	sippMediaPorts = 4
)

// listenPollInterval is how often WaitListening rereads /proc/net.
const listenPollInterval = 20 * time.Millisecond

// ErrNoFreePort means no free port was found after many random attempts.
var ErrNoFreePort = errors.New("no free loopback port found")

// ErrNotListening means a process did not open its socket before the deadline.
var ErrNotListening = errors.New("port not listening")

// reserved holds every port handed out in this test binary, so two helpers
// never get the same one even though each check releases the port again.
var reserved = struct {
	sync.Mutex // guards ports
	ports      map[int]bool
}{ports: map[int]bool{}}

// PortRange is an inclusive range of ports.
type PortRange struct {
	Min, Max int
}

// FreePort returns a port on 127.0.0.1 that was free for both UDP and TCP
// when checked and that no other caller in this test binary has received.
// The port is released before it is returned, so another process could
// still take it in between; random choice keeps that unlikely.
func FreePort(t testing.TB) int {
	t.Helper()

	for range portPickAttempts {
		port, err := ephemeralTCPPort()
		if err != nil {
			t.Fatalf("picking a free port: %v", err)
		}
		if udpFree(port) && reserve(port, 1) {
			return port
		}
	}
	t.Fatalf("picking a port free for UDP and TCP: %v", ErrNoFreePort)
	return 0
}

// FreePortPair returns a port N on 127.0.0.1 with N and N+1 both free for
// UDP and TCP when checked and reserved for the test, for baresip, which
// opens its TLS transport on the port after its sip_listen port.
func FreePortPair(t testing.TB) int {
	t.Helper()

	for range portPickAttempts {
		port, err := ephemeralTCPPort()
		if err != nil {
			t.Fatalf("picking a free port: %v", err)
		}
		if udpFree(port) && udpFree(port+1) && tcpFree(port+1) && reserve(port, 2) {
			t.Cleanup(func() { release(port, 2) })
			return port
		}
	}
	t.Fatalf("picking two consecutive ports free for UDP and TCP: %v", ErrNoFreePort)
	return 0
}

// FreePortRange returns size consecutive ports starting at an even port
// chosen at random (in [10000, 30000) for 16 ports or more, else in
// [30000, 59000)), all free for UDP when checked and not handed out to a
// running test in this test binary. The ports go back to the pool when
// the test ends, after the cleanups that stop its processes.
func FreePortRange(t testing.TB, size int) PortRange {
	t.Helper()

	if size < 1 {
		t.Fatalf("port range size %d: must be at least 1", size)
	}

	low, high := portBlockLow, portBlockHigh
	if size >= largeBlockSize {
		low, high = largeBlockLow, largeBlockHigh
	}
	for range portPickAttempts {
		start := low + 2*rand.IntN((high-low-size)/2)
		if rangeFree(start, size) && reserve(start, size) {
			t.Cleanup(func() { release(start, size) })
			return PortRange{Min: start, Max: start + size - 1}
		}
	}
	t.Fatalf("picking %d consecutive free UDP ports: %v", size, ErrNoFreePort)
	return PortRange{}
}

// FreeMediaPort returns an even port N for SIPp's -mp option with N to N+3
// free: SIPp binds N for audio and N+2 for video.
func FreeMediaPort(t testing.TB) int {
	t.Helper()
	return FreePortRange(t, sippMediaPorts).Min
}

func ephemeralTCPPort() (int, error) {
	listener, err := net.Listen("tcp", net.JoinHostPort(Loopback, "0"))
	if err != nil {
		return 0, fmt.Errorf("listening on a TCP port of %s: %w", Loopback, err)
	}
	defer listener.Close()
	return listener.Addr().(*net.TCPAddr).Port, nil
}

func tcpFree(port int) bool {
	listener, err := net.Listen("tcp", net.JoinHostPort(Loopback, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	listener.Close()
	return true
}

func udpFree(port int) bool {
	conn, err := net.ListenPacket("udp", net.JoinHostPort(Loopback, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

func rangeFree(start, size int) bool {
	for port := start; port < start+size; port++ {
		if !udpFree(port) {
			return false
		}
	}
	return true
}

func reserve(start, size int) bool {
	reserved.Lock()
	defer reserved.Unlock()

	for port := start; port < start+size; port++ {
		if reserved.ports[port] {
			return false
		}
	}
	for port := start; port < start+size; port++ {
		reserved.ports[port] = true
	}
	return true
}

// release returns a block that reserve handed out.
func release(start, size int) {
	reserved.Lock()
	defer reserved.Unlock()
	for port := start; port < start+size; port++ {
		delete(reserved.ports, port)
	}
}

// WaitListening waits until some process has a socket bound to port on
// 127.0.0.1 or 0.0.0.0: a UDP socket for network "udp", a listening socket
// for "tcp". It reads /proc/net instead of probing, because a probe bind
// could make the other process's bind fail.
func WaitListening(ctx context.Context, network string, port int) error {
	ticker := time.NewTicker(listenPollInterval)
	defer ticker.Stop()

	for {
		bound, err := portBound(network, port)
		if err != nil {
			return err
		}
		if bound {
			return nil
		}

		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %s port %d: %w", ErrNotListening, network, port, context.Cause(ctx))
		case <-ticker.C:
		}
	}
}

// TCP socket state LISTEN in /proc/net/tcp (include/net/tcp_states.h).
const procTCPListen = "0A"

func portBound(network string, port int) (bool, error) {
	path := "/proc/net/" + network
	file, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("reading %s to find port %d: %w", path, port, err)
	}
	defer file.Close()

	portSuffix := fmt.Sprintf(":%04X", port)
	scanner := bufio.NewScanner(file)
	for scanner.Scan() {
		fields := strings.Fields(scanner.Text())
		if len(fields) < 4 {
			continue
		}
		local, state := fields[1], fields[3]
		if !strings.HasSuffix(local, portSuffix) {
			continue
		}
		if !strings.HasPrefix(local, "0100007F:") && !strings.HasPrefix(local, "00000000:") {
			continue
		}
		if network == "tcp" && state != procTCPListen {
			continue
		}
		return true, nil
	}
	return false, scanner.Err()
}
