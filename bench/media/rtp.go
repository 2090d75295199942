package mediabench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// RTP sizes and timing of the peer's streams: 20 ms of PCMU per packet.
const (
	// PacketInterval is the time between two packets of one stream.
	PacketInterval = 20 * time.Millisecond
	// PayloadSize is 20 ms of G.711 at 8 kHz.
	PayloadSize = 160
	// rtpHeaderSize is the fixed RTP header without CSRCs (RFC 3550).
	rtpHeaderSize = 12
	// PacketSize is one packet on the wire above UDP: 172 bytes.
	PacketSize = rtpHeaderSize + PayloadSize
	// samplesPerPacket is the RTP timestamp step of one packet.
	samplesPerPacket = 160

	// payloadTypePCMU is the static payload type of G.711 µ-law.
	payloadTypePCMU = 0
	// payloadMagic ("HLBM") starts the payload of the peer's own packets,
	// so that a receiver can distinguish them from the server's prompts.
	payloadMagic = 0x484c424d
	// pcmuSilence fills the rest of the payload.
	pcmuSilence = 0xff

	// readBufferSize is larger than any datagram the peer expects.
	readBufferSize = 2048
	// controlBufferSize holds one SCM_TIMESTAMPNS control message.
	controlBufferSize = 64
	// socketBufferBytes is the receive and send buffer of each RTP
	// socket, so that a short stall of the peer loses nothing.
	socketBufferBytes = 256 << 10
)

// RFC 4733 key presses as the peer sends them.
const (
	// eventEndBit marks the end packets of an event.
	eventEndBit = 0x80
	// eventVolume is -10 dBm0.
	eventVolume = 10
	// eventDurationSamples is each key press, 100 ms.
	eventDurationSamples = 800
	// eventEndRepeats is how often the end packet is sent (RFC 4733
	// section 2.5.1.4 recommends three).
	eventEndRepeats = 3
)

// Window is the measurement interval. Only packets sent, or for pacing
// received, inside it count. The zero value counts nothing.
type Window struct {
	start atomic.Int64
	end   atomic.Int64
}

// Set opens the window from start to end.
func (w *Window) Set(start, end time.Time) {
	w.end.Store(end.UnixNano())
	w.start.Store(start.UnixNano())
}

// Contains reports whether nanos (Unix time in nanoseconds) falls inside.
func (w *Window) Contains(nanos int64) bool {
	return nanos >= w.start.Load() && nanos < w.end.Load()
}

// Endpoint is one call leg's RTP socket in the peer: it receives the far
// end's packets and, once Send is called, sends its own. It sends from the
// socket it receives on, as symmetric RTP (RFC 4961) expects.
type Endpoint struct {
	conn   *net.UDPConn
	window *Window

	// gotPeerPacket is set at the first packet that carries payloadMagic.
	gotPeerPacket atomic.Bool
	// received counts every datagram, inside the window or not.
	received atomic.Int64

	// The fields below are owned by the receive goroutine until Close
	// returns.
	kernelTime  bool
	lastArrival int64
	lastSeq     uint16
	seqStarted  bool
	result      EndpointResult

	// destination is the address the send goroutine sends to. sendMu
	// guards sendDone, which is nil until Send starts the goroutine.
	destination atomic.Pointer[netip.AddrPort]
	sendMu      sync.Mutex
	stopSend    chan struct{}
	sendDone    chan struct{}
	readDone    chan struct{}
	once        sync.Once
	sent        atomic.Int64
}

// EndpointResult holds one endpoint's measurements inside the window.
type EndpointResult struct {
	// Packets counts packets that arrived inside the window (pacing).
	Packets int
	// Deviations are |inter-arrival - 20 ms| of consecutive packets that
	// both arrived inside the window.
	Deviations []time.Duration
	// SeqGaps counts packets missing from the RTP sequence inside the
	// window.
	SeqGaps int
	// PeerPackets counts the peer's own packets that were sent inside the
	// window and arrived, and Latencies their one-way delays.
	PeerPackets int
	Latencies   []time.Duration
	// Sent counts this endpoint's own packets sent inside the window.
	Sent int
	// KernelTimestamps is false when the kernel gave no receive timestamp
	// and arrival times were read after the read returned.
	KernelTimestamps bool
}

// OpenEndpoint binds a UDP socket on 127.0.0.1 with kernel receive
// timestamps and starts receiving. capacity sizes the result slices, the
// number of packets expected inside the window.
func OpenEndpoint(window *Window, capacity int) (*Endpoint, error) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("opening an RTP socket on 127.0.0.1: %w", err)
	}
	_ = conn.SetReadBuffer(socketBufferBytes)
	_ = conn.SetWriteBuffer(socketBufferBytes)

	e := &Endpoint{
		conn:     conn,
		window:   window,
		stopSend: make(chan struct{}),
		readDone: make(chan struct{}),
		result: EndpointResult{
			Deviations: make([]time.Duration, 0, capacity),
			Latencies:  make([]time.Duration, 0, capacity),
		},
	}
	e.kernelTime = enableKernelTimestamps(conn) == nil
	go e.receive()
	return e, nil
}

// enableKernelTimestamps turns on SO_TIMESTAMPNS, so that the kernel
// attaches the receive time to each datagram.
func enableKernelTimestamps(conn *net.UDPConn) error {
	raw, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var sockErr error
	err = raw.Control(func(fd uintptr) {
		sockErr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
	})
	return errors.Join(err, sockErr)
}

// Port returns the socket's port, for SDP.
func (e *Endpoint) Port() int {
	return e.conn.LocalAddr().(*net.UDPAddr).Port
}

// AddrPort returns the socket's address.
func (e *Endpoint) AddrPort() netip.AddrPort {
	return e.conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// GotPeerPacket reports whether a packet of another peer endpoint arrived,
// which through a relay means the relay forwards.
func (e *Endpoint) GotPeerPacket() bool {
	return e.gotPeerPacket.Load()
}

// Received returns how many datagrams arrived so far.
func (e *Endpoint) Received() int64 {
	return e.received.Load()
}

// receive reads until the socket closes.
func (e *Endpoint) receive() {
	defer close(e.readDone)
	buf := make([]byte, readBufferSize)
	oob := make([]byte, controlBufferSize)
	for {
		n, oobn, _, _, err := e.conn.ReadMsgUDPAddrPort(buf, oob)
		if err != nil {
			return
		}
		arrival, ok := kernelTimestamp(oob[:oobn])
		if !ok {
			arrival = time.Now().UnixNano()
			e.kernelTime = false
		}
		e.received.Add(1)
		e.record(buf[:n], arrival)
	}
}

// kernelTimestamp returns the SCM_TIMESTAMPNS time of a control buffer.
//
// NOTE: The layout read here (a 16-byte cmsghdr, then a timespec of two
// 64-bit fields) is that of 64-bit Linux.
func kernelTimestamp(oob []byte) (int64, bool) {
	const headerSize, timespecSize = 16, 16
	for len(oob) >= headerSize {
		length := int(binary.NativeEndian.Uint64(oob[0:8]))
		level := int32(binary.NativeEndian.Uint32(oob[8:12]))
		kind := int32(binary.NativeEndian.Uint32(oob[12:16]))
		if length < headerSize || length > len(oob) {
			return 0, false
		}
		if level == syscall.SOL_SOCKET && kind == syscall.SO_TIMESTAMPNS && length >= headerSize+timespecSize {
			seconds := int64(binary.NativeEndian.Uint64(oob[16:24]))
			nanos := int64(binary.NativeEndian.Uint64(oob[24:32]))
			return seconds*int64(time.Second) + nanos, true
		}
		// Control messages are aligned to 8 bytes.
		oob = oob[min(len(oob), (length+7)&^7):]
	}
	return 0, false
}

// record accounts for one datagram that arrived at arrival (Unix nanos).
func (e *Endpoint) record(datagram []byte, arrival int64) {
	if len(datagram) < rtpHeaderSize {
		return
	}
	e.recordPacing(datagram, arrival)

	payload := datagram[rtpHeaderSize:]
	if len(payload) < 12 || binary.BigEndian.Uint32(payload[0:4]) != payloadMagic {
		return
	}
	e.gotPeerPacket.Store(true)
	sentAt := int64(binary.BigEndian.Uint64(payload[4:12]))
	if e.window.Contains(sentAt) {
		e.result.PeerPackets++
		e.result.Latencies = append(e.result.Latencies, time.Duration(arrival-sentAt))
	}
}

// recordPacing keeps the inter-arrival deviation and the sequence gaps of
// packets that arrived inside the window.
func (e *Endpoint) recordPacing(datagram []byte, arrival int64) {
	seq := binary.BigEndian.Uint16(datagram[2:4])
	previous, previousSeq, started := e.lastArrival, e.lastSeq, e.seqStarted
	e.lastArrival, e.lastSeq, e.seqStarted = arrival, seq, true
	if !e.window.Contains(arrival) {
		return
	}

	e.result.Packets++
	if !started || !e.window.Contains(previous) {
		return
	}
	deviation := time.Duration(arrival-previous) - PacketInterval
	e.result.Deviations = append(e.result.Deviations, deviation.Abs())
	if gap := int(seq - previousSeq - 1); gap > 0 && gap < 1<<15 {
		e.result.SeqGaps += gap
	}
}

// SendOptions describes the stream an endpoint sends.
type SendOptions struct {
	// Destination is the address the packets are sent to.
	Destination netip.AddrPort
	// Digits are pressed as RFC 4733 events before the audio starts.
	Digits string
	// EventPayloadType is the telephone-event payload type; 0 sends no
	// digits.
	EventPayloadType uint8
}

// Send starts sending 20 ms packets to opts.Destination on a fixed
// schedule (packet n at start + n×20 ms) until Close. Each payload carries
// payloadMagic and its send time. A later call, as when a counselor phone
// answers a second offer, only moves the stream to the new destination.
func (e *Endpoint) Send(opts SendOptions) error {
	if !opts.Destination.Addr().IsLoopback() {
		return fmt.Errorf("sending RTP to %s: the peer sends to loopback addresses only", opts.Destination)
	}
	destination := opts.Destination
	e.destination.Store(&destination)

	e.sendMu.Lock()
	defer e.sendMu.Unlock()
	if e.sendDone == nil {
		e.sendDone = make(chan struct{})
		go e.send(opts, e.sendDone)
	}
	return nil
}

func (e *Endpoint) send(opts SendOptions, done chan struct{}) {
	defer close(done)
	ssrc := uint32(time.Now().UnixNano())
	seq := uint16(ssrc >> 7)
	timestamp := ssrc << 3

	packet := make([]byte, PacketSize)
	if opts.EventPayloadType != 0 {
		for _, key := range opts.Digits {
			seq = e.sendDigit(packet, opts, key, ssrc, seq, timestamp)
			timestamp += eventDurationSamples
		}
	}

	fillPayload(packet)
	timer := time.NewTimer(PacketInterval)
	defer timer.Stop()
	start := time.Now()
	for n := 0; ; n++ {
		if !waitUntil(timer, start.Add(time.Duration(n)*PacketInterval), e.stopSend) {
			return
		}
		writeHeader(packet, payloadTypePCMU, n == 0, seq, timestamp, ssrc)
		now := time.Now().UnixNano()
		binary.BigEndian.PutUint64(packet[rtpHeaderSize+4:], uint64(now))
		if _, err := e.conn.WriteToUDPAddrPort(packet, *e.destination.Load()); err == nil && e.window.Contains(now) {
			e.sent.Add(1)
		}
		seq++
		timestamp += samplesPerPacket
	}
}

// sendDigit sends one key press as a start packet and three end packets,
// and returns the next sequence number.
func (e *Endpoint) sendDigit(packet []byte, opts SendOptions, key rune, ssrc uint32, seq uint16, timestamp uint32) uint16 {
	code, ok := eventCode(key)
	if !ok {
		return seq
	}
	event := packet[:rtpHeaderSize+4]
	for i := range 1 + eventEndRepeats {
		end := i > 0
		writeHeader(event, opts.EventPayloadType, i == 0, seq, timestamp, ssrc)
		payload := event[rtpHeaderSize:]
		payload[0] = code
		payload[1] = eventVolume
		if end {
			payload[1] |= eventEndBit
		}
		binary.BigEndian.PutUint16(payload[2:4], eventDurationSamples)
		_, _ = e.conn.WriteToUDPAddrPort(event, opts.Destination)
		seq++
	}
	return seq
}

// eventCode returns the RFC 4733 event code of a DTMF key.
func eventCode(key rune) (byte, bool) {
	switch {
	case key >= '0' && key <= '9':
		return byte(key - '0'), true
	case key == '*':
		return 10, true
	case key == '#':
		return 11, true
	default:
		return 0, false
	}
}

// writeHeader writes an RTP version 2 header without CSRCs.
func writeHeader(packet []byte, payloadType uint8, marker bool, seq uint16, timestamp, ssrc uint32) {
	packet[0] = 0x80
	packet[1] = payloadType & 0x7f
	if marker {
		packet[1] |= 0x80
	}
	binary.BigEndian.PutUint16(packet[2:4], seq)
	binary.BigEndian.PutUint32(packet[4:8], timestamp)
	binary.BigEndian.PutUint32(packet[8:12], ssrc)
}

// fillPayload writes payloadMagic and PCMU silence; the send time goes in
// bytes 4 to 12 of the payload at each send.
func fillPayload(packet []byte) {
	payload := packet[rtpHeaderSize:]
	binary.BigEndian.PutUint32(payload[0:4], payloadMagic)
	for i := 12; i < len(payload); i++ {
		payload[i] = pcmuSilence
	}
}

// waitUntil waits for due and returns false when stop closes first.
func waitUntil(timer *time.Timer, due time.Time, stop <-chan struct{}) bool {
	wait := time.Until(due)
	if wait <= 0 {
		select {
		case <-stop:
			return false
		default:
			return true
		}
	}
	timer.Reset(wait)
	select {
	case <-timer.C:
		return true
	case <-stop:
		return false
	}
}

// Close stops sending and receiving, closes the socket and returns what the
// endpoint measured. Later calls return the same result.
func (e *Endpoint) Close() EndpointResult {
	e.once.Do(func() {
		close(e.stopSend)
		e.sendMu.Lock()
		done := e.sendDone
		e.sendMu.Unlock()
		if done != nil {
			<-done
		}
		e.conn.Close()
		<-e.readDone
		e.result.Sent = int(e.sent.Load())
		e.result.KernelTimestamps = e.kernelTime
	})
	return e.result
}

// OpenEndpoints opens n endpoints that share window. On error it closes
// those already open.
func OpenEndpoints(n int, window *Window, capacity int) ([]*Endpoint, error) {
	endpoints := make([]*Endpoint, 0, n)
	for range n {
		e, err := OpenEndpoint(window, capacity)
		if err != nil {
			CloseEndpoints(endpoints)
			return nil, err
		}
		endpoints = append(endpoints, e)
	}
	return endpoints, nil
}

// CloseEndpoints closes every endpoint and returns their results.
func CloseEndpoints(endpoints []*Endpoint) []EndpointResult {
	results := make([]EndpointResult, len(endpoints))
	for i, e := range endpoints {
		results[i] = e.Close()
	}
	return results
}

// WaitAll polls until ready holds for every endpoint or ctx ends, and
// returns how many were ready at the end.
func WaitAll(ctx context.Context, endpoints []*Endpoint, ready func(*Endpoint) bool) (int, error) {
	const pollInterval = 50 * time.Millisecond
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	for {
		count := 0
		for _, e := range endpoints {
			if ready(e) {
				count++
			}
		}
		if count == len(endpoints) {
			return count, nil
		}
		select {
		case <-ctx.Done():
			return count, fmt.Errorf("%d of %d RTP endpoints ready: %w", count, len(endpoints), ctx.Err())
		case <-ticker.C:
		}
	}
}
