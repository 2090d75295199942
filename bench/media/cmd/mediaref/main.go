// Command mediaref is the reference that the media benchmarks measure
// helpline against: the same packet work with nothing else around it.
//
//	mediaref send -dests FILE   N streams of 20 ms, 172-byte RTP packets,
//	                            one goroutine each on a fixed schedule
//	mediaref relay -pairs N     N pairs of loopback UDP sockets; each
//	                            socket's packets go out of the other one
//
// Both run until SIGTERM or SIGINT. relay prints the ports it bound as one
// JSON line on stdout ({"ports":[[a,b],...]}); send prints {"ready":true}.
// Only loopback addresses are accepted.
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Packet shape of the reference streams, as helpline sends them.
const (
	packetInterval   = 20 * time.Millisecond
	packetSize       = 172
	samplesPerPacket = 160
	readBufferSize   = 2048
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: mediaref send -dests FILE | mediaref relay -pairs N")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	var err error
	switch os.Args[1] {
	case "send":
		err = runSend(ctx, os.Args[2:])
	case "relay":
		err = runRelay(ctx, os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q: use send or relay", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mediaref:", err)
		os.Exit(1)
	}
}

// runSend sends one stream to each address listed in the -dests file.
func runSend(ctx context.Context, args []string) error {
	flags := flag.NewFlagSet("send", flag.ContinueOnError)
	destsFile := flags.String("dests", "", "file with one host:port per line, loopback only")
	if err := flags.Parse(args); err != nil {
		return err
	}
	dests, err := readDestinations(*destsFile)
	if err != nil {
		return err
	}

	conns := make([]*net.UDPConn, len(dests))
	for i := range dests {
		conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return fmt.Errorf("opening sending socket %d: %w", i, err)
		}
		defer conn.Close()
		conns[i] = conn
	}

	// Streams start spread over one packet interval, as calls answered
	// at different moments would.
	start := time.Now().Add(packetInterval)
	var wg sync.WaitGroup
	for i, dest := range dests {
		offset := packetInterval * time.Duration(i) / time.Duration(len(dests))
		wg.Go(func() { sendStream(ctx, conns[i], dest, start.Add(offset), uint32(i)) })
	}
	fmt.Println(`{"ready":true}`)
	wg.Wait()
	return nil
}

func readDestinations(path string) ([]netip.AddrPort, error) {
	if path == "" {
		return nil, errors.New("missing -dests: give a file with one host:port per line")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the destinations: %w", err)
	}
	var dests []netip.AddrPort
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		dest, err := netip.ParseAddrPort(line)
		if err != nil {
			return nil, fmt.Errorf("destination %q: %w", line, err)
		}
		if !dest.Addr().IsLoopback() {
			return nil, fmt.Errorf("destination %s is not a loopback address", dest)
		}
		dests = append(dests, dest)
	}
	if len(dests) == 0 {
		return nil, fmt.Errorf("%s lists no destination", path)
	}
	return dests, nil
}

// sendStream sends packet n at start + n×20 ms until ctx ends.
func sendStream(ctx context.Context, conn *net.UDPConn, dest netip.AddrPort, start time.Time, ssrc uint32) {
	packet := make([]byte, packetSize)
	packet[0] = 0x80
	binary.BigEndian.PutUint32(packet[8:12], ssrc)
	timer := time.NewTimer(time.Until(start))
	defer timer.Stop()

	for n := 0; ; n++ {
		due := start.Add(time.Duration(n) * packetInterval)
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		} else if ctx.Err() != nil {
			return
		}
		binary.BigEndian.PutUint16(packet[2:4], uint16(n))
		binary.BigEndian.PutUint32(packet[4:8], uint32(n)*samplesPerPacket)
		_, _ = conn.WriteToUDPAddrPort(packet, dest)
	}
}

// runRelay binds the pairs, prints their ports and relays until ctx ends.
func runRelay(ctx context.Context, args []string) error {
	flags := flag.NewFlagSet("relay", flag.ContinueOnError)
	pairs := flags.Int("pairs", 0, "number of socket pairs")
	if err := flags.Parse(args); err != nil {
		return err
	}
	if *pairs < 1 {
		return fmt.Errorf("-pairs %d: give at least 1", *pairs)
	}

	legs := make([]*relayLeg, 0, 2**pairs)
	ports := make([][2]int, 0, *pairs)
	for range *pairs {
		a, err := newRelayLeg()
		if err != nil {
			return err
		}
		b, err := newRelayLeg()
		if err != nil {
			return err
		}
		a.other, b.other = b, a
		legs = append(legs, a, b)
		ports = append(ports, [2]int{a.port(), b.port()})
	}
	line, err := json.Marshal(map[string]any{"ports": ports})
	if err != nil {
		return err
	}
	fmt.Println(string(line))

	var wg sync.WaitGroup
	for _, leg := range legs {
		wg.Go(leg.run)
	}
	<-ctx.Done()
	for _, leg := range legs {
		leg.conn.Close()
	}
	wg.Wait()
	return nil
}

// relayLeg is one socket of a pair. It latches the source of the packets
// it receives, which becomes the destination of the other leg's packets.
type relayLeg struct {
	conn  *net.UDPConn
	other *relayLeg
	// peer is the latched source, read by the other leg's goroutine.
	peer atomic.Pointer[netip.AddrPort]
}

func newRelayLeg() (*relayLeg, error) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("opening a relay socket: %w", err)
	}
	return &relayLeg{conn: conn}, nil
}

func (l *relayLeg) port() int {
	return l.conn.LocalAddr().(*net.UDPAddr).Port
}

// run reads packets and writes each out of the other leg's socket to that
// leg's latched peer.
func (l *relayLeg) run() {
	buf := make([]byte, readBufferSize)
	for {
		n, source, err := l.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		if latched := l.peer.Load(); latched == nil || *latched != source {
			l.peer.Store(&source)
		}
		if dest := l.other.peer.Load(); dest != nil {
			_, _ = l.other.conn.WriteToUDPAddrPort(buf[:n], *dest)
		}
	}
}
