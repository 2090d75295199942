package media

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Negotiated is the outcome of SDP offer/answer for the one audio stream
// this server relays.
type Negotiated struct {
	// MediaIndex is the index of the accepted audio m= line.
	MediaIndex int
	// Remote is the RTP destination: the m= line's c= address, else the
	// session's, with the m= port. It is invalid when the address is
	// 0.0.0.0 or :: (hold in the style of RFC 2543) or the port is 0.
	Remote netip.AddrPort
	// Codec is the chosen codec with the payload type the peer uses.
	Codec Codec
	// TelephoneEvent is the payload type of RFC 4733 telephone-event/8000,
	// 0 when the peer does not send events.
	TelephoneEvent uint8
	// Direction is our direction for the stream: sendrecv, sendonly,
	// recvonly or inactive.
	Direction string
	// Ptime is the packet duration the peer asked for, 0 when it did not.
	Ptime time.Duration
	// SRTP holds the SDES keys when the stream is SRTP, nil for plain RTP.
	SRTP *SRTPKeys
}

// Negotiate chooses the audio stream and codec to answer an offer with
// (RFC 3264 section 6). It accepts the first audio m= line that has a
// non-zero port, a supported codec and either plain RTP (RTP/AVP or
// RTP/AVPF) or SRTP (RTP/SAVP) with an a=crypto line of
// SuiteAES128SHA1_80. The codec is the first of the offer's formats that
// matches one in supported by name and clock rate, with the offer's
// payload type. For an SRTP line, SRTP holds the offer's key and a fresh
// key of ours under the same tag. Other lines are rejected in the answer,
// not reported as errors.
//
// Negotiate returns ErrNoCommonCodec, with the offered audio formats in
// the message, when no line qualifies, or ErrNoCommonCrypto when the only
// lines with a common codec are SRTP lines without a usable a=crypto line.
// An offer without m= lines gets ErrNoCommonCodec too, but the SIP layer
// answers a re-INVITE with such an offer by BuildEmptyAnswer rather than
// 488, so the call stays up.
func Negotiate(offer *Description, supported []Codec) (*Negotiated, error) {
	return negotiate(offer, supported, false)
}

// NegotiateSRTP is Negotiate for a leg that must use SRTP: only RTP/SAVP
// lines qualify, and an offer without one gets ErrSRTPRequired.
func NegotiateSRTP(offer *Description, supported []Codec) (*Negotiated, error) {
	return negotiate(offer, supported, true)
}

func negotiate(offer *Description, supported []Codec, requireSRTP bool) (*Negotiated, error) {
	if offer == nil {
		return nil, fmt.Errorf("negotiate SDP offer: %w: no offer", ErrInvalidSDP)
	}

	var cryptoErr error
	for i, line := range offer.Media {
		secure := isSRTPProto(line.Proto)
		if line.Kind != "audio" || line.Port == 0 || (!secure && (requireSRTP || !isPlainRTPProto(line.Proto))) {
			continue
		}
		codec, found := chooseCodec(line.Formats, supported)
		if !found {
			continue
		}
		negotiated := &Negotiated{
			MediaIndex:     i,
			Remote:         remoteAddrPort(offer.MediaAddr(i), line.Port),
			Codec:          codec,
			TelephoneEvent: findTelephoneEvent(line.Formats),
			Direction:      answerDirection(line.Direction, offer.MediaAddr(i)),
			Ptime:          line.Ptime,
		}
		if secure {
			keys, err := answerKeys(line.Crypto)
			if err != nil {
				cryptoErr = err
				continue
			}
			negotiated.SRTP = keys
		}
		return negotiated, nil
	}

	switch {
	case cryptoErr != nil:
		return nil, fmt.Errorf("negotiate SDP offer: %w", cryptoErr)
	case requireSRTP:
		return nil, fmt.Errorf("negotiate SDP offer: %w: %s; this leg must offer RTP/SAVP with %s and %s",
			ErrSRTPRequired, describeOfferedAudio(offer), SuiteAES128SHA1_80, describeCodecs(supported))
	}
	return nil, fmt.Errorf("negotiate SDP offer: %w: %s; this server supports %s over RTP/AVP or RTP/SAVP",
		ErrNoCommonCodec, describeOfferedAudio(offer), describeCodecs(supported))
}

// answerKeys chooses the offer's key and makes ours under its tag.
func answerKeys(offered []string) (*SRTPKeys, error) {
	remote, err := chooseCrypto(offered)
	if err != nil {
		return nil, err
	}
	local, err := NewCryptoAttribute(remote.Tag)
	if err != nil {
		return nil, err
	}
	return &SRTPKeys{Local: local, Remote: remote}, nil
}

// ParseAnswer parses a peer's answer to an offer from BuildOffer and
// returns the stream it accepted (RFC 3264 section 7): the first audio m=
// line with a non-zero port. The codec is the first format of that line
// that matches one of offered, with the answer's payload type.
// TelephoneEvent is set only when offeredEvent is not 0 and the answer
// keeps telephone-event/8000. Direction is our direction, the mirror of
// the answer's.
//
// Errors: ErrInvalidSDP when the body does not parse, has no audio m=
// line or answers with a transport other than plain RTP;
// ErrNoCommonCodec when the answer rejects the stream (port 0) or keeps
// none of the offered codecs.
func ParseAnswer(body []byte, offered []Codec, offeredEvent uint8) (*Negotiated, error) {
	return parseAnswer(body, offered, offeredEvent, nil)
}

// ParseSRTPAnswer is ParseAnswer for an offer from BuildSRTPOffer with
// the key local: the answer must accept with RTP/SAVP and an a=crypto line
// of local's tag and suite, whose key becomes SRTP.Remote. A missing or
// unusable line gets ErrNoCommonCrypto.
func ParseSRTPAnswer(body []byte, offered []Codec, offeredEvent uint8, local CryptoAttribute) (*Negotiated, error) {
	return parseAnswer(body, offered, offeredEvent, &local)
}

func parseAnswer(body []byte, offered []Codec, offeredEvent uint8, local *CryptoAttribute) (*Negotiated, error) {
	answer, err := ParseSDP(body)
	if err != nil {
		return nil, fmt.Errorf("parse SDP answer: %w", err)
	}

	index, err := findAnsweredAudio(answer)
	if err != nil {
		return nil, fmt.Errorf("parse SDP answer: %w", err)
	}
	line := answer.Media[index]
	offeredProto := "RTP/AVP"
	if local != nil {
		offeredProto = protoSRTP
	}
	if (local == nil && !isPlainRTPProto(line.Proto)) || (local != nil && !isSRTPProto(line.Proto)) {
		return nil, fmt.Errorf("parse SDP answer: %w: the answer uses %s, but the offer was %s", ErrInvalidSDP, line.Proto, offeredProto)
	}

	codec, found := chooseCodec(line.Formats, offered)
	if !found {
		return nil, fmt.Errorf("parse SDP answer: %w: the answer lists %s; we offered %s",
			ErrNoCommonCodec, describeFormats(line.Formats), describeCodecs(offered))
	}

	negotiated := &Negotiated{
		MediaIndex: index,
		Remote:     remoteAddrPort(answer.MediaAddr(index), line.Port),
		Codec:      codec,
		Direction:  mirrorDirection(line.Direction),
		Ptime:      line.Ptime,
	}
	if offeredEvent != 0 {
		negotiated.TelephoneEvent = findTelephoneEvent(line.Formats)
	}
	if local != nil {
		remote, err := answeredKey(line.Crypto, *local)
		if err != nil {
			return nil, fmt.Errorf("parse SDP answer: %w", err)
		}
		negotiated.SRTP = &SRTPKeys{Local: *local, Remote: remote}
	}
	return negotiated, nil
}

// answeredKey returns the answer's key for the offered line local: the
// a=crypto line with local's tag (RFC 4568 section 7.1.2).
func answeredKey(values []string, local CryptoAttribute) (CryptoAttribute, error) {
	for _, value := range values {
		remote, err := ParseCryptoAttribute(value)
		if err != nil {
			return CryptoAttribute{}, fmt.Errorf("%w: %w", ErrNoCommonCrypto, err)
		}
		if remote.Tag == local.Tag {
			return remote, nil
		}
	}
	return CryptoAttribute{}, fmt.Errorf("%w: the answer has no a=crypto line with the offered tag %d", ErrNoCommonCrypto, local.Tag)
}

// chooseCodec returns the first format, in the given order, that matches
// a supported codec, carrying the format's payload type.
func chooseCodec(formats []Format, supported []Codec) (Codec, bool) {
	for _, format := range formats {
		for _, codec := range supported {
			if format.matchesCodec(codec) {
				codec.PayloadType = format.PayloadType
				return codec, true
			}
		}
	}
	return Codec{}, false
}

// findTelephoneEvent returns the payload type of telephone-event/8000, or
// 0 when the formats do not include it. Offers often list the event at
// several clock rates (8000, 16000, 48000), one per audio codec rate.
func findTelephoneEvent(formats []Format) uint8 {
	for _, format := range formats {
		if format.isTelephoneEvent() {
			return format.PayloadType
		}
	}
	return 0
}

// mirrorDirection returns our direction for a peer's direction (RFC 3264
// section 6.1): a peer that only sends gets recvonly, a peer that only
// receives gets sendonly.
func mirrorDirection(peer string) string {
	switch peer {
	case DirectionSendOnly:
		return DirectionRecvOnly
	case DirectionRecvOnly:
		return DirectionSendOnly
	case DirectionInactive:
		return DirectionInactive
	default:
		return DirectionSendRecv
	}
}

// answerDirection returns our direction for an offered line: the mirror of
// the peer's, without sending when the peer's address is 0.0.0.0 or ::.
// That address is the hold of RFC 2543, which RFC 3264 section 8.4 still
// asks answerers to understand: the peer receives nothing, whatever its
// direction attribute says.
func answerDirection(peer string, addr netip.Addr) string {
	direction := mirrorDirection(peer)
	if !addr.IsUnspecified() {
		return direction
	}
	switch direction {
	case DirectionSendRecv:
		return DirectionRecvOnly
	case DirectionSendOnly:
		return DirectionInactive
	default:
		return direction
	}
}

// Sends reports whether our direction lets us send RTP to the peer:
// sendrecv or sendonly. It is false while the peer holds the call.
func (n *Negotiated) Sends() bool {
	return n.Direction == DirectionSendRecv || n.Direction == DirectionSendOnly || n.Direction == ""
}

// remoteAddrPort returns where to send media, or the zero AddrPort when
// the address is missing or unspecified (0.0.0.0 or ::, which RFC 3264
// section 8.4 allows as hold) or the port is 0.
func remoteAddrPort(addr netip.Addr, port int) netip.AddrPort {
	if !addr.IsValid() || addr.IsUnspecified() || port <= 0 || port > maxPort {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(addr, uint16(port))
}

// maxPort is the largest UDP port number.
const maxPort = 65535

// findAnsweredAudio returns the index of the first audio m= line with a
// non-zero port. It returns ErrInvalidSDP when the answer has no audio
// line and ErrNoCommonCodec when every audio line is rejected.
func findAnsweredAudio(answer *Description) (int, error) {
	hasAudio := false
	for i, line := range answer.Media {
		if line.Kind != "audio" {
			continue
		}
		if line.Port != 0 {
			return i, nil
		}
		hasAudio = true
	}
	if hasAudio {
		return 0, fmt.Errorf("%w: the peer rejected the audio stream with port 0", ErrNoCommonCodec)
	}
	return 0, fmt.Errorf("%w: no audio m= line", ErrInvalidSDP)
}

// describeOfferedAudio lists the audio m= lines of an offer for the
// ErrNoCommonCodec message, so that an operator can see what the peer
// sent without a packet capture.
func describeOfferedAudio(offer *Description) string {
	var lines []string
	for i, line := range offer.Media {
		if line.Kind != "audio" {
			continue
		}
		text := fmt.Sprintf("m= line %d %s %s", i, line.Proto, describeFormats(line.Formats))
		switch {
		case line.Port == 0:
			text += " (disabled with port 0)"
		case !isPlainRTPProto(line.Proto) && !isSRTPProto(line.Proto):
			text += " (transport not supported)"
		}
		lines = append(lines, text)
	}
	if len(lines) == 0 {
		return "the offer has no audio m= line"
	}
	return "offered " + strings.Join(lines, "; ")
}

// describeFormats lists formats as "NAME/rate (PT n), ...".
func describeFormats(formats []Format) string {
	if len(formats) == 0 {
		return "no RTP formats"
	}
	names := make([]string, 0, len(formats))
	for _, format := range formats {
		names = append(names, format.describe())
	}
	return strings.Join(names, ", ")
}

// describeCodecs lists codecs as "NAME/rate, ...".
func describeCodecs(codecs []Codec) string {
	if len(codecs) == 0 {
		return "no codecs"
	}
	names := make([]string, 0, len(codecs))
	for _, codec := range codecs {
		names = append(names, fmt.Sprintf("%s/%d", codec.Name, codec.ClockRate))
	}
	return strings.Join(names, ", ")
}
