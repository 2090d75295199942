package harness

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
)

// Loopback is the only address benchmarks bind to or send to.
const Loopback = "127.0.0.1"

// Port block region for large ranges (a server's RTP ports): below Linux's
// ephemeral ports (32768-60999), so that the block is not broken up by
// short-lived client sockets.
const (
	blockLow      = 10000
	blockHigh     = 32768
	pickAttempts  = 200
	blockAttempts = 200
)

// ErrNoFreePort means no free loopback port or block was found.
var ErrNoFreePort = errors.New("no free loopback port found")

// PortRange is an inclusive range of ports.
type PortRange struct {
	Min int `json:"min"`
	Max int `json:"max"`
}

// FreePort returns a port on 127.0.0.1 that was free for both UDP and TCP
// when checked. The port is released before it is returned.
func FreePort() (int, error) {
	for range pickAttempts {
		listener, err := net.Listen("tcp", net.JoinHostPort(Loopback, "0"))
		if err != nil {
			return 0, fmt.Errorf("opening a TCP socket to pick a port: %w", err)
		}
		port := listener.Addr().(*net.TCPAddr).Port
		listener.Close()
		if udpFree(port) {
			return port, nil
		}
	}
	return 0, fmt.Errorf("picking a port free for UDP and TCP: %w", ErrNoFreePort)
}

// FreeEphemeralBlock returns an even port N on 127.0.0.1 from the
// ephemeral range with N to N+size-1 free for UDP when checked, such as
// SIPp's media ports (audio RTP and RTCP, video RTP and RTCP).
func FreeEphemeralBlock(size int) (int, error) {
	for range pickAttempts {
		port, err := FreePort()
		if err != nil {
			return 0, err
		}
		// Linux hands out odd ports for bind to port 0, so start the
		// block at the even port below.
		port -= port % 2
		if rangeFree(port, size) {
			return port, nil
		}
	}
	return 0, fmt.Errorf("picking %d consecutive UDP ports from an even port: %w", size, ErrNoFreePort)
}

// FreePortRange returns size consecutive ports from an even port chosen at
// random in [10000, 32768), every one free for UDP when checked.
func FreePortRange(size int) (PortRange, error) {
	if size < 1 || size > blockHigh-blockLow {
		return PortRange{}, fmt.Errorf("port range size %d: must be between 1 and %d", size, blockHigh-blockLow)
	}
	for range blockAttempts {
		start := blockLow + 2*rand.IntN((blockHigh-blockLow-size)/2)
		if rangeFree(start, size) {
			return PortRange{Min: start, Max: start + size - 1}, nil
		}
	}
	return PortRange{}, fmt.Errorf("picking %d consecutive UDP ports: %w", size, ErrNoFreePort)
}

func rangeFree(start, size int) bool {
	for port := start; port < start+size; port++ {
		if !udpFree(port) {
			return false
		}
	}
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
