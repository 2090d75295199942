package media

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"time"
)

// packetKind classifies a received packet by its payload type.
type packetKind uint8

const (
	kindInvalid packetKind = iota
	kindAudio
	kindEvent
)

// receive reads datagrams until ctx ends, Close is called or the socket is
// closed. It is the session's only reader, and it owns receiveBuf, packet,
// the event decoder and the reception statistics, whose stream ends with
// it.
func (s *Session) receive(ctx context.Context) {
	defer s.receiver.Done()
	defer s.reception.end()
	stopInterrupt := context.AfterFunc(ctx, s.interruptRead)
	defer stopInterrupt()

	for {
		n, source, err := s.conn.ReadFromUDPAddrPort(s.receiveBuf)
		if err != nil {
			s.logReceiveStop(ctx, err)
			return
		}
		s.handlePacket(s.receiveBuf[:n], source, time.Now())
	}
}

// logReceiveStop logs why the receive goroutine stops. A stop requested by
// the context or Close is routine; any other read error is not.
func (s *Session) logReceiveStop(ctx context.Context, err error) {
	if ctx.Err() != nil || s.isClosed() {
		return
	}
	if errors.Is(err, net.ErrClosed) {
		s.log.Debug().Msg("rtp socket closed, receiving stopped")
		return
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		s.log.Warn().Msg("rtp receiving stopped by a read deadline that another user of the socket set")
		return
	}
	s.log.Warn().Err(err).Msg("rtp receive failed, receiving stopped")
}

func (s *Session) isClosed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// handlePacket processes one datagram: it decrypts SRTP, validates it, checks its source
// against the latch, accounts for it in the reception statistics, turns telephone events or in-band tones into digits
// and forwards the packet when bridged. It allocates nothing.
func (s *Session) handlePacket(datagram []byte, source netip.AddrPort, now time.Time) {
	s.stats.packetsReceived.Add(1)
	s.stats.bytesReceived.Add(uint64(len(datagram)))

	datagram, ok := s.decryptInPlace(datagram)
	if !ok {
		s.stats.srtpRejected.Add(1)
		return
	}
	codec, law, eventPT := s.format()
	kind := s.parse(datagram, codec, law, eventPT)
	if kind == kindInvalid {
		s.stats.invalid.Add(1)
		return
	}
	if !s.acceptSource(normalizeAddrPort(source), now) {
		s.stats.foreign.Add(1)
		return
	}
	s.stats.lastReceived.Store(now.UnixNano())
	s.reception.record(&s.packet.Header, kind == kindAudio, clockRateOf(codec), now)

	header := &s.packet.Header
	payload := s.packet.Payload
	if kind == kindAudio {
		s.stats.audioReceived.Add(1)
		s.detectTones(payload, law, eventPT)
	} else {
		s.decodeEvent(header.SSRC, header.Timestamp, payload)
	}
	s.forward(kind, law, now)
}

// parse unmarshals datagram into s.packet and classifies it by the
// session's current format. Version and size are checked first, so that
// garbage costs no allocation.
func (s *Session) parse(datagram []byte, codec Codec, law g711Law, eventPT uint8) packetKind {
	if len(datagram) < rtpHeaderSize || datagram[0]>>6 != rtpVersion {
		return kindInvalid
	}
	if err := s.packet.Unmarshal(datagram); err != nil {
		return kindInvalid
	}
	if len(s.packet.Payload) == 0 {
		return kindInvalid
	}

	switch payloadType := s.packet.PayloadType; {
	case law != lawNone && payloadType == codec.PayloadType:
		return kindAudio
	case eventPT != 0 && payloadType == eventPT:
		return kindEvent
	default:
		return kindInvalid
	}
}

// acceptSource latches the first valid source and reports whether packets
// from source are taken. Another source takes over once the latched one
// has been silent for relatchIdle.
func (s *Session) acceptSource(source netip.AddrPort, now time.Time) bool {
	s.peerMu.Lock()
	latched := s.latch.addr
	switch {
	case latched == source:
		s.latch.lastSeen = now
		s.peerMu.Unlock()
		return true
	case latched.IsValid() && now.Sub(s.latch.lastSeen) < relatchIdle:
		s.peerMu.Unlock()
		return false
	}
	s.latch = latchState{addr: source, lastSeen: now}
	remote := s.remote
	s.peerMu.Unlock()

	// A latch happens once per call, or once per peer move, so this log is
	// not per packet.
	event := s.log.Debug()
	if latched.IsValid() || source != remote {
		event = s.log.Info()
	}
	event.Stringer("source", source).Stringer("sdp_remote", remote).
		Stringer("previous", latched).Msg("rtp source latched")
	return true
}

// decodeEvent reports a new key press of an RFC 4733 event packet to
// Digits. Each incoming SSRC gets a fresh decoder state.
func (s *Session) decodeEvent(ssrc, timestamp uint32, payload []byte) {
	if !s.eventsStarted || ssrc != s.eventSSRC {
		s.events.Reset()
		s.eventSSRC = ssrc
		s.eventsStarted = true
	}
	if digit, ok := s.events.Decode(timestamp, payload); ok {
		s.pushDigit(digit)
	}
}

// detectTones decodes an audio payload and reports a key press heard in
// it to Digits. It does nothing when the peer negotiated telephone-event,
// so that a key sent both ways counts once.
func (s *Session) detectTones(payload []byte, law g711Law, eventPT uint8) {
	if eventPT != 0 {
		return
	}
	if s.pcm == nil {
		// A re-INVITE dropped telephone-event: allocated once.
		s.pcm = make([]int16, maxDatagramSize)
	}
	samples := s.pcm[:min(len(payload), len(s.pcm))]
	law.decode(samples, payload[:len(samples)])
	if digit, ok := s.tones.Process(samples); ok {
		s.pushDigit(digit)
	}
}

// forward sends the packet in s.packet, coded in law, on to the bridged
// session, if any, and its audio to the mixer the session is in, if any.
func (s *Session) forward(kind packetKind, law g711Law, now time.Time) {
	s.relayMu.Lock()
	defer s.relayMu.Unlock()

	if s.mixInput != nil && kind == kindAudio {
		s.mixInput.write(&s.packet.Header, s.packet.Payload, law)
	}
	if s.relayTo == nil {
		return
	}
	sent := s.relayTo.relayPacket(&s.packet.Header, s.packet.Payload, law, kind, now)

	switch {
	case kind == kindAudio:
		s.stats.audioRelayed.Add(1)
	case sent:
		s.stats.eventsRelayed.Add(1)
	default:
		s.stats.eventsDropped.Add(1)
	}
}
