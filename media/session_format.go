package media

import "fmt"

// SetFormat switches the session to another G.711 codec and
// telephone-event payload type, as a re-INVITE that changes codec
// requires (RFC 3264 section 8.3.2). Packets received from then on are
// read in the new format, and packets sent carry the new payload type; a
// bridge transcodes toward the other leg's codec packet by packet. It
// returns ErrUnsupportedCodec, and changes nothing, for a codec other
// than PCMU or PCMA.
func (s *Session) SetFormat(codec Codec, telephoneEvent uint8) error {
	law := lawOf(codec)
	if law == lawNone {
		return fmt.Errorf("switching the rtp session to %s: %w", codec.Name, ErrUnsupportedCodec)
	}

	s.outMu.Lock()
	s.formatMu.Lock()
	changed := s.codec != codec || s.eventPT != telephoneEvent
	s.codec, s.law, s.eventPT = codec, law, telephoneEvent
	s.formatMu.Unlock()
	s.outMu.Unlock()

	if changed {
		s.log.Info().Str("codec", codec.Name).Uint8("payload_type", codec.PayloadType).
			Uint8("telephone_event", telephoneEvent).Msg("rtp format changed")
	}
	return nil
}

// SetSending turns sending on or off. While it is off, Play, PlayLoop and
// Bridge go on pacing but send nothing, so a peer that holds the call (our
// direction recvonly or inactive) gets no RTP; the count shows in
// Stats.Muted. The next packet sent afterwards carries the marker bit.
func (s *Session) SetSending(on bool) {
	if s.muted.Swap(!on) == !on {
		return
	}
	s.log.Debug().Bool("sending", on).Msg("rtp sending changed")
}

// Sending reports whether the session sends RTP (see SetSending).
func (s *Session) Sending() bool {
	return !s.muted.Load()
}

// Codec returns the session's current codec.
func (s *Session) Codec() Codec {
	return s.currentCodec()
}

// format returns the codec, its coding and the telephone-event payload
// type under formatMu.
func (s *Session) format() (Codec, g711Law, uint8) {
	s.formatMu.RLock()
	defer s.formatMu.RUnlock()
	return s.codec, s.law, s.eventPT
}

func (s *Session) currentCodec() Codec {
	codec, _, _ := s.format()
	return codec
}

func (s *Session) currentLaw() g711Law {
	_, law, _ := s.format()
	return law
}
