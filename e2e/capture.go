package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Capture limits.
const (
	captureStartTimeout = 15 * time.Second
	captureStopGrace    = 10 * time.Second
	probeResendInterval = 100 * time.Millisecond
	// captureReadyLine is what tshark prints on stderr when the capture
	// starts, a moment before packets are really captured (see sync).
	captureReadyLine = "Capturing on 'Loopback: lo'"
	captureInterface = "lo"
)

// RTP header sizes (RFC 3550 5.1 and 5.3.1) used to compute payload length.
const (
	udpHeaderBytes         = 8
	rtpFixedHeaderBytes    = 12
	rtpCSRCBytes           = 4
	rtpExtensionHeaderSize = 4
	rtpExtensionWordBytes  = 4
)

// Sentinel errors of CheckContinuous.
var (
	// ErrNoPackets means the stream to check is empty.
	ErrNoPackets = errors.New("no RTP packets")
	// ErrSSRCChanged means the stream has more than one SSRC.
	ErrSSRCChanged = errors.New("RTP SSRC changed")
	// ErrSequenceGap means a sequence number was skipped or repeated.
	ErrSequenceGap = errors.New("RTP sequence number not consecutive")
)

// ErrBadCaptureLine means tshark printed a line the harness cannot parse.
var ErrBadCaptureLine = errors.New("invalid tshark field line")

// rtpFields are the tshark fields read per packet, in this order.
var rtpFields = []string{
	"frame.time_epoch", "ip.src", "udp.srcport", "ip.dst", "udp.dstport", "udp.length",
	"rtp.ssrc", "rtp.seq", "rtp.timestamp", "rtp.p_type", "rtp.marker",
	"rtp.cc", "rtp.ext", "rtp.ext.len", "rtp.padding", "rtp.padding.count",
}

// rtpFieldIndex maps each name in rtpFields to its column.
var rtpFieldIndex = func() map[string]int {
	index := make(map[string]int, len(rtpFields))
	for i, field := range rtpFields {
		index[field] = i
	}
	return index
}()

// RTPPacket is one RTP packet seen on the loopback interface.
type RTPPacket struct {
	Time      time.Time
	Src, Dst  netip.AddrPort
	SSRC      uint32
	Seq       uint16
	Timestamp uint32
	PT        uint8
	Marker    bool
	// PayloadLen is the payload size in bytes, without header, CSRCs,
	// header extension and padding.
	PayloadLen int
}

// RTPPackets is a capture in arrival order, with filters.
type RTPPackets []RTPPacket

// To returns the packets sent to port.
func (p RTPPackets) To(port int) RTPPackets {
	return p.Filter(func(packet RTPPacket) bool { return int(packet.Dst.Port()) == port })
}

// From returns the packets sent from port.
func (p RTPPackets) From(port int) RTPPackets {
	return p.Filter(func(packet RTPPacket) bool { return int(packet.Src.Port()) == port })
}

// WithPT returns the packets with payload type pt.
func (p RTPPackets) WithPT(pt uint8) RTPPackets {
	return p.Filter(func(packet RTPPacket) bool { return packet.PT == pt })
}

// Filter returns the packets for which keep returns true.
func (p RTPPackets) Filter(keep func(RTPPacket) bool) RTPPackets {
	var matching RTPPackets
	for _, packet := range p {
		if keep(packet) {
			matching = append(matching, packet)
		}
	}
	return matching
}

// SSRCs returns the distinct SSRCs in order of first appearance.
func (p RTPPackets) SSRCs() []uint32 {
	var ssrcs []uint32
	seen := map[uint32]bool{}
	for _, packet := range p {
		if !seen[packet.SSRC] {
			seen[packet.SSRC] = true
			ssrcs = append(ssrcs, packet.SSRC)
		}
	}
	return ssrcs
}

// CheckContinuous returns nil when the packets form one continuous stream:
// one SSRC and each sequence number one more than the previous (modulo
// 2^16). Pass one direction of one call leg, e.g. packets.To(port).
func CheckContinuous(packets RTPPackets) error {
	if len(packets) == 0 {
		return ErrNoPackets
	}

	first := packets[0]
	for i := 1; i < len(packets); i++ {
		previous, packet := packets[i-1], packets[i]
		if packet.SSRC != first.SSRC {
			return fmt.Errorf("%w at packet %d: %#08x, then %#08x", ErrSSRCChanged, i, first.SSRC, packet.SSRC)
		}
		if packet.Seq != previous.Seq+1 {
			return fmt.Errorf("%w at packet %d: %d followed by %d", ErrSequenceGap, i, previous.Seq, packet.Seq)
		}
	}
	return nil
}

// RTPCapture records UDP traffic of one port on lo with tshark. tshark
// decodes packets as it captures and also writes them to File.
//
// Start and stop are synchronised with probe datagrams that the harness
// sends to a socket of its own on a second port, inside the same capture
// filter: once tshark printed a probe, it has captured everything the
// kernel delivered before it.
type RTPCapture struct {
	// Port is the UDP port captured in both directions.
	Port int
	// File is the pcap file written.
	File string

	probe     *net.UDPConn
	probePort int
	probes    int

	proc     *process
	stdout   *eventLog[string]
	stderr   *eventLog[string]
	outputs  []*lineWriter
	stopOnce sync.Once
	stopErr  error
}

// Capture starts tshark on lo with the capture filter "udp port PORT" (plus
// the harness's probe port), waits until tshark prints "Capturing on
// 'Loopback: lo'" and until it has seen a first probe, and returns.
// t.Cleanup stops it.
func Capture(t testing.TB, port int) *RTPCapture {
	t.Helper()

	tshark := RequireTool(t, "tshark")
	RequireRoot(t, "tshark captures on the loopback interface")

	probe, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(Loopback)})
	if err != nil {
		t.Fatalf("opening the capture probe socket: %v", err)
	}
	t.Cleanup(func() { probe.Close() })

	c := &RTPCapture{
		Port:      port,
		File:      filepath.Join(t.TempDir(), "rtp-"+strconv.Itoa(port)+".pcap"),
		probe:     probe,
		probePort: probe.LocalAddr().(*net.UDPAddr).Port,
		stdout:    newEventLog[string](),
		stderr:    newEventLog[string](),
	}
	c.start(t, tshark)

	ready := func(line string) bool { return strings.Contains(line, captureReadyLine) }
	if _, _, err := c.stderr.wait(0, ready, captureStartTimeout, c.proc.exited); err != nil {
		c.stop()
		t.Fatalf("waiting for tshark to capture on %s: %v\n%s", captureInterface, err, strings.Join(c.stderr.snapshot(), "\n"))
	}
	if err := c.sync(); err != nil {
		c.stop()
		t.Fatalf("waiting for tshark to see the first probe: %v\n%s", err, strings.Join(c.stderr.snapshot(), "\n"))
	}
	return c
}

func (c *RTPCapture) start(t testing.TB, tshark string) {
	t.Helper()

	filter := fmt.Sprintf("udp port %d or udp port %d", c.Port, c.probePort)
	args := []string{"-i", captureInterface, "-f", filter, "-w", c.File, "-P", "-l",
		"-d", "udp.port==" + strconv.Itoa(c.Port) + ",rtp",
		"-T", "fields", "-E", "separator=/t", "-E", "occurrence=f"}
	for _, field := range rtpFields {
		args = append(args, "-e", field)
	}

	stdout := &lineWriter{emit: c.stdout.add}
	stderr := &lineWriter{emit: c.stderr.add}
	c.outputs = []*lineWriter{stdout, stderr}

	cmd := exec.Command(tshark, args...)
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	cmd.WaitDelay = waitDelay

	proc, err := startProcess("tshark", cmd)
	if err != nil {
		t.Fatalf("starting the capture: %v", err)
	}
	c.proc = proc
	t.Cleanup(func() { c.stop() })
}

// sync sends a new probe, again every probeResendInterval because tshark
// may print "Capturing on" a moment before it really captures, and waits
// until tshark printed it. Probe number n carries n payload bytes, so its
// udp.length distinguishes it from earlier probes.
func (c *RTPCapture) sync() error {
	c.probes++
	payload := make([]byte, c.probes)
	wantLength := strconv.Itoa(udpHeaderBytes + c.probes)
	isProbe := func(line string) bool {
		fields := strings.Split(line, "\t")
		return c.isProbeLine(line) && fields[rtpFieldIndex["udp.length"]] == wantLength
	}

	deadline := time.Now().Add(captureStartTimeout)
	for {
		if _, err := c.probe.WriteToUDP(payload, c.probe.LocalAddr().(*net.UDPAddr)); err != nil {
			return fmt.Errorf("sending capture probe: %w", err)
		}

		_, _, err := c.stdout.wait(0, isProbe, probeResendInterval, c.proc.exited)
		if err == nil {
			return nil
		}
		if errors.Is(err, ErrProcessExited) || time.Now().After(deadline) {
			return fmt.Errorf("probe %d not captured: %w", c.probes, err)
		}
	}
}

// isProbeLine reports whether a tshark line is a probe: sent from and to
// the probe port.
func (c *RTPCapture) isProbeLine(line string) bool {
	fields := strings.Split(line, "\t")
	port := strconv.Itoa(c.probePort)
	return len(fields) == len(rtpFields) &&
		fields[rtpFieldIndex["udp.srcport"]] == port && fields[rtpFieldIndex["udp.dstport"]] == port
}

// Stop waits until tshark has seen every packet sent so far, then ends it.
func (c *RTPCapture) Stop(t testing.TB) {
	t.Helper()

	if err := c.sync(); err != nil && c.proc.running() {
		t.Errorf("synchronising with the capture before stopping: %v", err)
	}
	if err := c.stop(); err != nil {
		t.Fatalf("stopping the capture: %v", err)
	}
}

func (c *RTPCapture) stop() error {
	c.stopOnce.Do(func() {
		// tshark captures through a dumpcap child; a killed tshark
		// would leave it running.
		helpers := c.proc.children()
		code, killed := c.proc.stop(syscall.SIGINT, captureStopGrace)
		if killed {
			killOrphans(helpers, "dumpcap")
		}
		for _, output := range c.outputs {
			output.Close()
		}
		switch {
		case killed:
			c.stopErr = fmt.Errorf("tshark (pid %d) ignored SIGINT and was killed", c.proc.pid())
		case code != 0:
			c.stopErr = fmt.Errorf("tshark exited with code %d: %s", code, strings.Join(c.stderr.snapshot(), "\n"))
		}
	})
	return c.stopErr
}

// Packets stops the capture if it still runs and returns every packet of
// the port, decoded as RTP; packets that are not RTP are left out.
func (c *RTPCapture) Packets(t testing.TB) RTPPackets {
	t.Helper()

	if c.proc.running() {
		c.Stop(t)
	}

	var lines []string
	for _, line := range c.stdout.snapshot() {
		if !c.isProbeLine(line) {
			lines = append(lines, line)
		}
	}
	packets, err := parseRTPFields([]byte(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatalf("decoding the capture of port %d: %v", c.Port, err)
	}
	return packets
}

// parseRTPFields decodes tshark's tab-separated rtpFields lines. Lines
// without an RTP SSRC (not RTP after all) are skipped.
func parseRTPFields(data []byte) (RTPPackets, error) {
	var packets RTPPackets
	scanner := bufio.NewScanner(bytes.NewReader(data))
	for line := 1; scanner.Scan(); line++ {
		text := scanner.Text()
		if strings.TrimSpace(text) == "" {
			continue
		}
		packet, ok, err := parseRTPLine(text)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if ok {
			packets = append(packets, packet)
		}
	}
	return packets, scanner.Err()
}

func parseRTPLine(line string) (RTPPacket, bool, error) {
	fields := strings.Split(line, "\t")
	if len(fields) != len(rtpFields) {
		return RTPPacket{}, false, fmt.Errorf("%w: %d fields, want %d: %q", ErrBadCaptureLine, len(fields), len(rtpFields), line)
	}
	value := func(name string) string {
		return fields[rtpFieldIndex[name]]
	}
	if value("rtp.ssrc") == "" {
		return RTPPacket{}, false, nil
	}

	p := fieldParser{}
	packet := RTPPacket{
		Time:      p.epoch(value("frame.time_epoch")),
		Src:       p.addrPort(value("ip.src"), value("udp.srcport")),
		Dst:       p.addrPort(value("ip.dst"), value("udp.dstport")),
		SSRC:      uint32(p.uint(value("rtp.ssrc"), 32)),
		Seq:       uint16(p.uint(value("rtp.seq"), 16)),
		Timestamp: uint32(p.uint(value("rtp.timestamp"), 32)),
		PT:        uint8(p.uint(value("rtp.p_type"), 7)),
		Marker:    p.flag(value("rtp.marker")),
	}

	payload := int(p.uint(value("udp.length"), 16)) - udpHeaderBytes - rtpFixedHeaderBytes -
		rtpCSRCBytes*int(p.uint(value("rtp.cc"), 4))
	if p.flag(value("rtp.ext")) {
		payload -= rtpExtensionHeaderSize + rtpExtensionWordBytes*int(p.uint(value("rtp.ext.len"), 16))
	}
	if p.flag(value("rtp.padding")) {
		payload -= int(p.uint(value("rtp.padding.count"), 8))
	}
	packet.PayloadLen = payload

	if p.err != nil {
		return RTPPacket{}, false, fmt.Errorf("%w: %w: %q", ErrBadCaptureLine, p.err, line)
	}
	return packet, true, nil
}

// fieldParser converts tshark field values and keeps the first error.
type fieldParser struct {
	err error
}

func (p *fieldParser) uint(text string, bits int) uint64 {
	if text == "" {
		return 0
	}
	base := 10
	if hex, ok := strings.CutPrefix(text, "0x"); ok {
		text, base = hex, 16
	}
	value, err := strconv.ParseUint(text, base, bits)
	if err != nil && p.err == nil {
		p.err = err
	}
	return value
}

func (p *fieldParser) flag(text string) bool {
	switch text {
	case "", "0", "False", "false":
		return false
	case "1", "True", "true":
		return true
	}
	if p.err == nil {
		p.err = fmt.Errorf("invalid flag %q", text)
	}
	return false
}

func (p *fieldParser) epoch(text string) time.Time {
	seconds, fraction, _ := strings.Cut(text, ".")
	whole := p.uint(seconds, 63)
	nanos := uint64(0)
	if fraction != "" {
		fraction = (fraction + "000000000")[:9]
		nanos = p.uint(strings.TrimLeft(fraction, "0"), 32)
	}
	return time.Unix(int64(whole), int64(nanos))
}

func (p *fieldParser) addrPort(host, port string) netip.AddrPort {
	addr, err := netip.ParseAddr(host)
	if err != nil {
		if p.err == nil {
			p.err = err
		}
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(addr, uint16(p.uint(port, 16)))
}
