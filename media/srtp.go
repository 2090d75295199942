package media

import (
	"errors"
	"fmt"

	"github.com/pion/srtp/v3"
)

// srtpReplayWindow is the replay window of received SRTP packets, in
// packets: the default of RFC 3711 section 3.3.2 is 64, and a wider window
// keeps reordered packets on a jittery path.
const srtpReplayWindow = 128

// srtpTagSize is the authentication tag that SuiteAES128SHA1_80 appends to
// each packet: 80 bits.
const srtpTagSize = 10

// errSRTPUnavailable marks a session whose SRTP contexts could not be
// created: it sends and accepts nothing rather than plain RTP.
var errSRTPUnavailable = errors.New("SRTP contexts unavailable")

// SRTPKeys are the SDES keys of one leg's SRTP (RFC 3711, keyed by RFC
// 4568). Local encrypts what this server sends and is the key its SDP
// carried. Remote decrypts what the peer sends and is the key the peer's
// SDP carried.
type SRTPKeys struct {
	Local  CryptoAttribute
	Remote CryptoAttribute
}

// newSRTPContext creates a pion/srtp context for one direction.
func newSRTPContext(key CryptoAttribute, options ...srtp.ContextOption) (*srtp.Context, error) {
	if key.Suite != SuiteAES128SHA1_80 {
		return nil, fmt.Errorf("creating SRTP context: suite %q is not supported", key.Suite)
	}
	ctx, err := srtp.CreateContext(key.masterKey(), key.masterSalt(), srtp.ProtectionProfileAes128CmHmacSha1_80, options...)
	if err != nil {
		return nil, fmt.Errorf("creating SRTP context: %w", err)
	}
	return ctx, nil
}

// SetSRTP turns on SRTP with keys, or changes a key after a re-INVITE.
// A direction whose key is unchanged keeps its context, and so its
// rollover counter and replay window. Once on, SRTP stays on: keys nil is
// rejected, because the SIP layer refuses to fall back to plain RTP within
// a call. When a context cannot be created the session sends and accepts
// nothing until a later SetSRTP succeeds.
func (s *Session) SetSRTP(keys *SRTPKeys) error {
	if keys == nil {
		if s.SRTP() {
			return errors.New("set SRTP: the session uses SRTP and cannot fall back to plain RTP")
		}
		return nil
	}

	s.outMu.Lock()
	defer s.outMu.Unlock()

	if s.srtpOut == nil || !s.srtpKeys.Local.sameKey(keys.Local) {
		out, err := newSRTPContext(keys.Local)
		if err != nil {
			s.srtpBroken.Store(true)
			return fmt.Errorf("set SRTP: sending key: %w", err)
		}
		s.srtpOut = out
	}
	if s.srtpIn.Load() == nil || !s.srtpKeys.Remote.sameKey(keys.Remote) {
		in, err := newSRTPContext(keys.Remote, srtp.SRTPReplayProtection(srtpReplayWindow))
		if err != nil {
			s.srtpBroken.Store(true)
			return fmt.Errorf("set SRTP: receiving key: %w", err)
		}
		s.srtpIn.Store(in)
	}
	s.srtpKeys = *keys
	s.srtpBroken.Store(false)
	return nil
}

// SRTP reports whether the session encrypts its RTP.
func (s *Session) SRTP() bool {
	return s.srtpIn.Load() != nil || s.srtpBroken.Load()
}

// decryptInPlace authenticates and decrypts an SRTP datagram into its own
// buffer and returns the plain RTP packet, which is srtpTagSize bytes
// shorter. It returns false for a packet that fails authentication or the
// replay check, or for any datagram while SRTP is broken. It allocates
// nothing. Only the receive goroutine calls it.
func (s *Session) decryptInPlace(datagram []byte) ([]byte, bool) {
	if s.srtpBroken.Load() {
		return nil, false
	}
	in := s.srtpIn.Load()
	if in == nil {
		return datagram, true
	}
	if len(datagram) < rtpHeaderSize+srtpTagSize || datagram[0]>>6 != rtpVersion {
		return nil, false
	}
	plain, err := in.DecryptRTP(datagram, datagram, &s.srtpHeader)
	if err != nil {
		return nil, false
	}
	return plain, true
}

// protectInPlace encrypts the marshalled packet at the start of buf and
// appends its tag, in buf, when the session uses SRTP. buf must have room
// for srtpTagSize more bytes. The caller holds outMu.
func (s *Session) protectInPlace(buf []byte, size int) ([]byte, error) {
	if s.srtpOut == nil {
		if s.srtpBroken.Load() {
			return nil, errSRTPUnavailable
		}
		return buf[:size], nil
	}
	return s.srtpOut.EncryptRTP(buf[:size], buf[:size], &s.out.srtpHeader)
}

// Renegotiate answers a new offer on an established session, as
// Negotiate does, with one difference for SRTP: once the session uses
// SRTP the offer must too (ErrSRTPRequired otherwise), and the answer
// keeps our key under the tag the new offer chose. Apply the result with
// SetSRTP.
func (s *Session) Renegotiate(offer *Description, supported []Codec) (*Negotiated, error) {
	if !s.SRTP() {
		return Negotiate(offer, supported)
	}
	negotiated, err := NegotiateSRTP(offer, supported)
	if err != nil {
		return nil, err
	}

	s.outMu.Lock()
	local := s.srtpKeys.Local
	s.outMu.Unlock()
	if local.Suite != "" {
		local.Tag = negotiated.SRTP.Remote.Tag
		negotiated.SRTP.Local = local
	}
	return negotiated, nil
}
