package media

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/rs/zerolog"
)

// Sentinel errors of RTP sessions.
var (
	// ErrSessionClosed means the session was closed while the call waited
	// for it or was sending on it.
	ErrSessionClosed = errors.New("RTP session closed")

	// ErrUnsupportedCodec means the session's codec is not PCMU or PCMA,
	// so it cannot play or relay audio. Negotiate only G.711.
	ErrUnsupportedCodec = errors.New("unsupported RTP codec")
)

// RTP sizes and limits.
const (
	// rtpVersion is the only RTP version (RFC 3550 section 5.1).
	rtpVersion = 2
	// rtpHeaderSize is the fixed header without CSRCs or extensions.
	rtpHeaderSize = 12
	// maxDatagramSize is the receive buffer: an Ethernet MTU. A 60 ms
	// G.711 packet is 492 bytes.
	maxDatagramSize = 1500
	// digitBufferSize is how many undelivered digits Digits holds before
	// the oldest is dropped.
	digitBufferSize = 32
	// relatchIdle is how long the latched source must stay silent before
	// packets from another source take over, as after a NAT rebinding.
	relatchIdle = time.Second
)

// pastDeadline is a read deadline in the past, which makes a blocked read
// on the socket return at once.
var pastDeadline = time.Unix(1, 0)

// sessionIDs numbers sessions. Bridge takes the sender slots of two
// sessions in the order of their numbers, so concurrent bridges that share
// a session cannot deadlock.
var sessionIDs atomic.Uint64

// SessionConfig holds the parameters of one call leg's RTP session.
type SessionConfig struct {
	// Conn is the leg's socket from PortRange.Allocate; it is required.
	// The Session reads and writes it but does not close or release it.
	// Only one started Session may use a socket at a time.
	Conn *net.UDPConn
	// Remote is the peer's RTP address from SDP. It may be invalid, or
	// 0.0.0.0 for a call on hold: then nothing is sent until the peer's
	// first packet shows where to send.
	Remote netip.AddrPort
	// Codec is the negotiated audio codec, PCMU or PCMA, with the peer's
	// payload type.
	Codec Codec
	// TelephoneEvent is the negotiated RFC 4733 telephone-event payload
	// type, 0 when the peer does not support it.
	TelephoneEvent uint8
	// Logger receives lifecycle logs. It should carry the call id.
	Logger zerolog.Logger
	// Leg is the leg's role, which labels its reception statistics.
	Leg Leg
	// Reception, when set, receives the statistics of the RTP the session
	// receives: packets received and lost every few seconds, and each
	// stream's statistics when it ends.
	Reception ReceptionObserver
	// SRTP, when set, encrypts the leg's RTP with these SDES keys. Nil
	// sends and receives plain RTP.
	SRTP *SRTPKeys
}

// Session is one call leg's RTP: it receives the peer's audio and DTMF
// events and sends one outbound RTP stream, fed by Play, PlayLoop and
// Bridge in turn.
//
// Sending follows symmetric RTP (RFC 4961): the source address of the
// first valid packet received (version 2, negotiated payload type) is
// latched, and everything is sent there from then on. Until then packets go
// to Remote from SDP, and never to an unspecified address or port 0.
// Packets from other sources are dropped while the latched source is
// active. When it has been silent for a second, the next valid source is
// latched instead, which follows a NAT rebinding. SetRemote with a new
// address clears the latch.
//
// Only one of Play, PlayLoop and Bridge sends at a time: a later call
// waits until the earlier one returns, or until its own context ends.
// Callers stop the earlier one by cancelling its context. A Session is
// safe for concurrent use.
type Session struct {
	id    uint64
	conn  *net.UDPConn
	local netip.AddrPort
	log   zerolog.Logger

	// formatMu guards codec, law and eventPT, which a re-INVITE may
	// change. SetFormat holds outMu and then formatMu, so code that holds
	// outMu may read them without formatMu.
	formatMu sync.RWMutex
	codec    Codec
	law      g711Law
	eventPT  uint8

	// muted is set while the peer must not receive RTP: our SDP direction
	// is recvonly or inactive, as when the peer holds the call.
	muted atomic.Bool

	// peerMu guards remote and latch.
	peerMu sync.Mutex
	remote netip.AddrPort
	latch  latchState

	// sender holds a token while Play, PlayLoop or Bridge owns the
	// outbound stream.
	sender chan struct{}

	// outMu guards out, the outbound stream and its buffers, and srtpOut
	// and srtpKeys. It is held for one packet at a time, and before peerMu
	// when both are needed.
	outMu sync.Mutex
	out   outStream
	// srtpOut encrypts sent packets, nil for plain RTP.
	srtpOut *srtp.Context
	// srtpKeys are the keys of srtpIn and srtpOut.
	srtpKeys SRTPKeys
	// srtpIn decrypts received packets, nil for plain RTP. SetSRTP
	// replaces it while the receive goroutine reads it.
	srtpIn atomic.Pointer[srtp.Context]
	// srtpBroken is set when SetSRTP failed: nothing is sent or accepted
	// then, rather than plain RTP.
	srtpBroken atomic.Bool

	// relayMu guards relayTo, the session that received packets are
	// forwarded to while bridged. The receive goroutine holds it while it
	// forwards a packet, so no forward is under way once Bridge has
	// cleared relayTo.
	relayMu sync.Mutex
	relayTo *Session

	// Receive state, owned by the receive goroutine.
	receiveBuf    []byte
	packet        rtp.Packet
	srtpHeader    rtp.Header
	events        EventDecoder
	eventSSRC     uint32
	eventsStarted bool
	// tones and pcm detect in-band DTMF in the decoded audio. They are
	// used only when the peer negotiated no telephone-event, and pcm is
	// nil until then.
	tones ToneDetector
	pcm   []int16
	// reception counts the packets received and lost, and estimates the
	// jitter of the peer's stream.
	reception reception

	digits chan Digit
	stats  counters

	// lifeMu guards started and closed, so that Start and Close agree on
	// whether the receive goroutine runs.
	lifeMu   sync.Mutex
	started  bool
	closed   bool
	done     chan struct{} // closed by Close
	receiver sync.WaitGroup

	// mixInput, guarded by relayMu, receives the peer's audio while the
	// session is in a Mixer.
	mixInput *jitterBuffer
}

// latchState is the learned source of the peer's RTP.
type latchState struct {
	addr netip.AddrPort
	// lastSeen is when the latched source last sent a valid packet.
	lastSeen time.Time
}

// counters are the atomic counters behind Stats.
type counters struct {
	packetsReceived atomic.Uint64
	bytesReceived   atomic.Uint64
	packetsSent     atomic.Uint64
	bytesSent       atomic.Uint64
	audioReceived   atomic.Uint64
	audioRelayed    atomic.Uint64
	eventsRelayed   atomic.Uint64
	eventsDropped   atomic.Uint64
	invalid         atomic.Uint64
	foreign         atomic.Uint64
	unsent          atomic.Uint64
	sendErrors      atomic.Uint64
	digitsDropped   atomic.Uint64
	srtpRejected    atomic.Uint64
	lastReceived    atomic.Int64 // Unix nanoseconds, 0 before the first valid packet
	muted           atomic.Uint64
}

// Stats is a snapshot of a session's counters.
type Stats struct {
	// PacketsReceived and BytesReceived count every datagram read,
	// valid or not.
	PacketsReceived uint64
	BytesReceived   uint64
	// PacketsSent and BytesSent count RTP packets written, headers
	// included.
	PacketsSent uint64
	BytesSent   uint64
	// AudioReceived counts valid audio packets from the peer.
	AudioReceived uint64
	// AudioRelayed counts audio packets from the peer that Bridge sent
	// on to the other leg.
	AudioRelayed uint64
	// EventsRelayed counts telephone-event packets from the peer sent on
	// to the other leg, and EventsDropped those dropped because the
	// other leg negotiated no telephone-event.
	EventsRelayed uint64
	EventsDropped uint64
	// Invalid counts datagrams ignored as malformed: too short, not RTP
	// version 2, or a payload type that was not negotiated.
	Invalid uint64
	// Foreign counts valid packets ignored because they came from a
	// source other than the latched one.
	Foreign uint64
	// Unsent counts packets not sent because no peer address was known.
	Unsent uint64
	// SendErrors counts failed socket writes.
	SendErrors uint64
	// DigitsDropped counts digits lost because Digits was full.
	DigitsDropped uint64
	// SRTPRejected counts datagrams dropped by SRTP: failed
	// authentication, a replayed packet, or plain RTP on an SRTP leg.
	SRTPRejected uint64
	// LastReceived is when the last valid packet from the latched source
	// arrived, zero before any. A media timeout compares it with now.
	LastReceived time.Time
	// Remote is the peer address from SDP, and Latched the source address
	// learned from the peer's packets (invalid until the first).
	Remote  netip.AddrPort
	Latched netip.AddrPort
	// Muted counts packets not sent because sending was off (SetSending).
	Muted uint64
}

// NewSession prepares a session on cfg.Conn. Call Start to receive.
func NewSession(cfg SessionConfig) *Session {
	s := &Session{
		id:         sessionIDs.Add(1),
		conn:       cfg.Conn,
		local:      localAddrPort(cfg.Conn),
		codec:      cfg.Codec,
		law:        lawOf(cfg.Codec),
		eventPT:    cfg.TelephoneEvent,
		log:        cfg.Logger,
		remote:     normalizeAddrPort(cfg.Remote),
		sender:     make(chan struct{}, 1),
		out:        newOutStream(),
		receiveBuf: make([]byte, maxDatagramSize),
		digits:     make(chan Digit, digitBufferSize),
		done:       make(chan struct{}),
		reception:  reception{observer: cfg.Reception, leg: cfg.Leg},
	}
	if s.eventPT == 0 {
		s.pcm = make([]int16, maxDatagramSize)
	}
	if err := s.SetSRTP(cfg.SRTP); err != nil {
		s.log.Error().Err(err).Msg("srtp unavailable: the leg sends and accepts no media")
	}
	return s
}

func localAddrPort(conn *net.UDPConn) netip.AddrPort {
	if conn == nil {
		return netip.AddrPort{}
	}
	addr, ok := conn.LocalAddr().(*net.UDPAddr)
	if !ok {
		return netip.AddrPort{}
	}
	return normalizeAddrPort(addr.AddrPort())
}

// normalizeAddrPort turns an IPv4-mapped IPv6 address into plain IPv4, so
// that addresses from SDP and from the socket compare equal.
func normalizeAddrPort(p netip.AddrPort) netip.AddrPort {
	if !p.IsValid() {
		return p
	}
	return netip.AddrPortFrom(p.Addr().Unmap(), p.Port())
}

// usableDestination reports whether RTP may be sent to p: a valid,
// specified address and a non-zero port.
func usableDestination(p netip.AddrPort) bool {
	return p.IsValid() && !p.Addr().IsUnspecified() && p.Port() != 0
}

// Start starts the receive goroutine. It stops when ctx ends or Close is
// called. Calling Start again, or after Close, does nothing.
func (s *Session) Start(ctx context.Context) {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	if s.started || s.closed || s.conn == nil {
		return
	}
	s.started = true

	// A previous session on the same socket may have left a past deadline.
	if err := s.conn.SetReadDeadline(time.Time{}); err != nil {
		s.log.Warn().Err(err).Msg("clearing the rtp read deadline failed")
	}
	s.receiver.Add(1)
	go s.receive(ctx)

	codec, _, eventPT := s.format()
	s.peerMu.Lock()
	remote := s.remote
	s.peerMu.Unlock()
	s.log.Debug().Stringer("local", s.local).Stringer("remote", remote).
		Str("codec", codec.Name).Uint8("payload_type", codec.PayloadType).
		Uint8("telephone_event", eventPT).Msg("rtp session started")
}

// Close stops the receive goroutine and waits for it, and makes Play,
// PlayLoop and Bridge on this session return ErrSessionClosed. It does not
// close the socket. Close is idempotent and always returns nil.
func (s *Session) Close() error {
	s.lifeMu.Lock()
	first := !s.closed
	if first {
		s.closed = true
		close(s.done)
	}
	s.lifeMu.Unlock()

	if first {
		s.interruptRead()
	}
	s.receiver.Wait()

	if first {
		// The receive goroutine has returned, so its reception totals
		// may be read here.
		stats := s.Stats()
		s.log.Debug().Uint64("packets_received", stats.PacketsReceived).
			Uint64("packets_sent", stats.PacketsSent).Uint64("invalid", stats.Invalid).
			Uint64("foreign", stats.Foreign).Uint64("send_errors", stats.SendErrors).
			Uint64("packets_lost", s.reception.endedLost).
			Msg("rtp session closed")
	}
	return nil
}

// interruptRead makes a blocked read return, so that the receive
// goroutine notices that it must stop.
func (s *Session) interruptRead() {
	if s.conn != nil {
		// The socket may already be released and closed, which stops the
		// read just as well.
		_ = s.conn.SetReadDeadline(pastDeadline)
	}
}

// Digits returns the DTMF digits received: RFC 4733 events from the peer,
// in-band tones when the peer negotiated no telephone-event, and digits
// passed to InjectDigit, in arrival order. The channel is buffered and
// never closed. When it is full the oldest digit is dropped,
// so a slow reader never blocks the receive goroutine.
func (s *Session) Digits() <-chan Digit {
	return s.digits
}

// InjectDigit adds a digit that arrived by other means, such as a SIP INFO
// request, to Digits.
func (s *Session) InjectDigit(d Digit) {
	s.pushDigit(d)
}

// pushDigit queues d, dropping the oldest queued digit when the buffer is
// full. When other goroutines race for the buffer, d itself may be the
// one dropped; either way the drop is counted.
func (s *Session) pushDigit(d Digit) {
	select {
	case s.digits <- d:
		return
	default:
	}

	select {
	case <-s.digits:
		s.stats.digitsDropped.Add(1)
	default:
	}

	select {
	case s.digits <- d:
	default:
		s.stats.digitsDropped.Add(1)
	}
}

// SetRemote changes the peer address, as a re-INVITE may. A new address
// also clears the latched source, so the next valid packet is latched
// again.
func (s *Session) SetRemote(p netip.AddrPort) {
	p = normalizeAddrPort(p)

	s.peerMu.Lock()
	changed := p != s.remote
	s.remote = p
	if changed {
		s.latch = latchState{}
	}
	s.peerMu.Unlock()

	if changed {
		s.log.Debug().Stringer("remote", p).Msg("rtp remote address changed")
	}
}

// LocalAddr returns the address of the session's socket.
func (s *Session) LocalAddr() netip.AddrPort {
	return s.local
}

// Stats returns a snapshot of the session's counters.
func (s *Session) Stats() Stats {
	s.peerMu.Lock()
	remote, latched := s.remote, s.latch.addr
	s.peerMu.Unlock()

	var lastReceived time.Time
	if nanos := s.stats.lastReceived.Load(); nanos != 0 {
		lastReceived = time.Unix(0, nanos)
	}

	return Stats{
		PacketsReceived: s.stats.packetsReceived.Load(),
		BytesReceived:   s.stats.bytesReceived.Load(),
		PacketsSent:     s.stats.packetsSent.Load(),
		BytesSent:       s.stats.bytesSent.Load(),
		AudioReceived:   s.stats.audioReceived.Load(),
		AudioRelayed:    s.stats.audioRelayed.Load(),
		EventsRelayed:   s.stats.eventsRelayed.Load(),
		EventsDropped:   s.stats.eventsDropped.Load(),
		Invalid:         s.stats.invalid.Load(),
		Foreign:         s.stats.foreign.Load(),
		Unsent:          s.stats.unsent.Load(),
		SendErrors:      s.stats.sendErrors.Load(),
		DigitsDropped:   s.stats.digitsDropped.Load(),
		SRTPRejected:    s.stats.srtpRejected.Load(),
		LastReceived:    lastReceived,
		Remote:          remote,
		Latched:         latched,
		Muted:           s.stats.muted.Load(),
	}
}

// destination returns where to send RTP now: the latched source, else the
// SDP address. The bool is false when neither is usable.
func (s *Session) destination() (netip.AddrPort, bool) {
	s.peerMu.Lock()
	defer s.peerMu.Unlock()

	if usableDestination(s.latch.addr) {
		return s.latch.addr, true
	}
	if usableDestination(s.remote) {
		return s.remote, true
	}
	return netip.AddrPort{}, false
}

// acquireSender waits for the sender slot. The returned function releases
// it.
func (s *Session) acquireSender(ctx context.Context) (func(), error) {
	select {
	case <-s.done:
		return nil, ErrSessionClosed
	default:
	}

	select {
	case s.sender <- struct{}{}:
		return func() { <-s.sender }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.done:
		return nil, ErrSessionClosed
	}
}
