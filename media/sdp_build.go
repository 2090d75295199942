package media

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// Fields of the session descriptions this server writes.
const (
	// sdpUsername is the o= user name of our offers and answers.
	sdpUsername = "helpline"
	// sdpSessionName is the s= line; RFC 8866 section 5.3 requires one.
	sdpSessionName = "helpline"
	// sdpPtimeMilliseconds is the packet duration we send, in
	// milliseconds: 160 G.711 samples at 8000 Hz.
	sdpPtimeMilliseconds = 20
	// sdpNetworkType is the only network type of RFC 8866: Internet.
	sdpNetworkType = "IN"
)

// BuildAnswer writes the SDP answer to offer for the stream n describes
// (RFC 3264 section 6). The answer has one m= line per offered m= line,
// in the same order. The accepted line carries local's port, the chosen
// codec and, when offered, telephone-event with the offer's payload
// types, a=rtpmap for each, a=fmtp with the events 0-16, a=ptime:20,
// n.Direction and, for SRTP, a=crypto with our key. Every other line is rejected with port 0 and the offered
// formats. The c= line carries local's address.
//
// BuildAnswer returns ErrAddressFamily when the accepted line's address
// is IPv6 and local is IPv4, or the reverse.
func BuildAnswer(offer *Description, n *Negotiated, local netip.AddrPort, sessionID, version uint64) ([]byte, error) {
	if offer == nil || n == nil {
		return nil, errors.New("build SDP answer: offer and negotiation result are required")
	}
	if n.MediaIndex < 0 || n.MediaIndex >= len(offer.Media) {
		return nil, fmt.Errorf("build SDP answer: accepted m= line %d is out of range for an offer with %d m= lines", n.MediaIndex, len(offer.Media))
	}
	local, err := checkLocalAddr(local)
	if err != nil {
		return nil, fmt.Errorf("build SDP answer: %w", err)
	}

	remote := offer.MediaAddr(n.MediaIndex)
	if remote.IsValid() && remote.Is4() != local.Addr().Is4() {
		return nil, fmt.Errorf("build SDP answer: %w: the offer's audio address is %s but ours is %s; configure a local media address of the same family",
			ErrAddressFamily, remote, local.Addr())
	}

	session := newSession(local.Addr(), sessionID, version)
	for i, line := range offer.Media {
		if i == n.MediaIndex {
			session.MediaDescriptions = append(session.MediaDescriptions, acceptedAudio(line.Proto, local.Port(), n))
			continue
		}
		session.MediaDescriptions = append(session.MediaDescriptions, rejectedMedia(line))
	}
	return marshalSession(session, "build SDP answer")
}

// BuildEmptyAnswer writes an answer without m= lines, for an offer
// without m= lines: RFC 3264 section 6 requires one answer m= line per
// offered m= line. Some peers send such an offer in a re-INVITE.
func BuildEmptyAnswer(local netip.Addr, sessionID, version uint64) ([]byte, error) {
	if !local.IsValid() {
		return nil, errors.New("build SDP answer: local media address is not set")
	}
	session := newSession(local.Unmap(), sessionID, version)
	return marshalSession(session, "build SDP answer")
}

// BuildOffer writes our SDP offer for a call to a counselor's phone: one
// sendrecv audio m= line on local with codecs in order of preference and,
// when telephoneEvent is not 0, telephone-event/8000 on that dynamic
// payload type (96-127).
func BuildOffer(local netip.AddrPort, codecs []Codec, telephoneEvent uint8, sessionID, version uint64) ([]byte, error) {
	return buildOffer(local, codecs, telephoneEvent, sessionID, version, nil)
}

// BuildSRTPOffer is BuildOffer for SRTP: the m= line is RTP/SAVP and
// carries crypto, our key, as its one a=crypto line.
func BuildSRTPOffer(local netip.AddrPort, codecs []Codec, telephoneEvent uint8, sessionID, version uint64, crypto CryptoAttribute) ([]byte, error) {
	return buildOffer(local, codecs, telephoneEvent, sessionID, version, &crypto)
}

func buildOffer(local netip.AddrPort, codecs []Codec, telephoneEvent uint8, sessionID, version uint64, crypto *CryptoAttribute) ([]byte, error) {
	local, err := checkLocalAddr(local)
	if err != nil {
		return nil, fmt.Errorf("build SDP offer: %w", err)
	}
	if err := checkOfferedPayloadTypes(codecs, telephoneEvent); err != nil {
		return nil, fmt.Errorf("build SDP offer: %w", err)
	}

	media := &sdp.MediaDescription{
		MediaName: sdp.MediaName{
			Media:  "audio",
			Port:   sdp.RangedPort{Value: int(local.Port())},
			Protos: []string{"RTP", "AVP"},
		},
	}
	for _, codec := range codecs {
		media.MediaName.Formats = append(media.MediaName.Formats, formatToken(codec.PayloadType))
		media.Attributes = append(media.Attributes, rtpmapAttribute(codec.PayloadType, codec.Name, codec.ClockRate))
	}
	if telephoneEvent != 0 {
		media.MediaName.Formats = append(media.MediaName.Formats, formatToken(telephoneEvent))
		media.Attributes = append(media.Attributes, telephoneEventAttributes(telephoneEvent)...)
	}
	media.Attributes = append(media.Attributes,
		sdp.NewAttribute(attributePtime, strconv.Itoa(sdpPtimeMilliseconds)),
		sdp.NewPropertyAttribute(DirectionSendRecv),
	)
	if crypto != nil {
		media.MediaName.Protos = strings.Split(protoSRTP, "/")
		media.Attributes = append(media.Attributes, sdp.NewAttribute(attributeCrypto, crypto.Value()))
	}

	session := newSession(local.Addr(), sessionID, version)
	session.MediaDescriptions = []*sdp.MediaDescription{media}
	return marshalSession(session, "build SDP offer")
}

// checkLocalAddr returns local with an IPv4-mapped address unmapped, or
// an error when the address is missing, unspecified or zoned, or the port
// is 0.
func checkLocalAddr(local netip.AddrPort) (netip.AddrPort, error) {
	if !local.Addr().IsValid() || local.Addr().IsUnspecified() {
		return netip.AddrPort{}, fmt.Errorf("local media address %q is not a unicast IP address", local)
	}
	if local.Addr().Zone() != "" {
		return netip.AddrPort{}, fmt.Errorf("local media address %s has an IPv6 zone, which SDP cannot carry", local)
	}
	if local.Port() == 0 {
		return netip.AddrPort{}, fmt.Errorf("local media address %s has no RTP port", local)
	}
	return netip.AddrPortFrom(local.Addr().Unmap(), local.Port()), nil
}

// checkOfferedPayloadTypes rejects codec lists that cannot be written as
// one m= line: empty, payload types above 127, duplicates, or a
// telephone-event payload type outside the dynamic range.
func checkOfferedPayloadTypes(codecs []Codec, telephoneEvent uint8) error {
	if len(codecs) == 0 {
		return errors.New("no codecs to offer")
	}

	seen := make(map[uint8]bool, len(codecs)+1)
	for _, codec := range codecs {
		if codec.PayloadType > maxPayloadType {
			return fmt.Errorf("codec %s has payload type %d, above %d", codec.Name, codec.PayloadType, maxPayloadType)
		}
		if codec.Name == "" || codec.ClockRate == 0 {
			return fmt.Errorf("codec with payload type %d has no name or clock rate", codec.PayloadType)
		}
		if seen[codec.PayloadType] {
			return fmt.Errorf("payload type %d is offered twice", codec.PayloadType)
		}
		seen[codec.PayloadType] = true
	}

	if telephoneEvent == 0 {
		return nil
	}
	if telephoneEvent < minDynamicPayloadType || telephoneEvent > maxDynamicPayloadType {
		return fmt.Errorf("telephone-event payload type %d is outside the dynamic range %d-%d", telephoneEvent, minDynamicPayloadType, maxDynamicPayloadType)
	}
	if seen[telephoneEvent] {
		return fmt.Errorf("telephone-event payload type %d is also a codec's", telephoneEvent)
	}
	return nil
}

// newSession returns the session-level part of our descriptions.
func newSession(local netip.Addr, sessionID, version uint64) *sdp.SessionDescription {
	addressType := addressTypeOf(local)
	return &sdp.SessionDescription{
		Version: 0,
		Origin: sdp.Origin{
			Username:       sdpUsername,
			SessionID:      sessionID,
			SessionVersion: version,
			NetworkType:    sdpNetworkType,
			AddressType:    addressType,
			UnicastAddress: local.String(),
		},
		SessionName: sdpSessionName,
		ConnectionInformation: &sdp.ConnectionInformation{
			NetworkType: sdpNetworkType,
			AddressType: addressType,
			Address:     &sdp.Address{Address: local.String()},
		},
		TimeDescriptions: []sdp.TimeDescription{{}},
	}
}

// acceptedAudio returns the answer's m= line for the accepted stream.
func acceptedAudio(proto string, port uint16, n *Negotiated) *sdp.MediaDescription {
	media := &sdp.MediaDescription{
		MediaName: sdp.MediaName{
			Media:   "audio",
			Port:    sdp.RangedPort{Value: int(port)},
			Protos:  strings.Split(proto, "/"),
			Formats: []string{formatToken(n.Codec.PayloadType)},
		},
		Attributes: []sdp.Attribute{rtpmapAttribute(n.Codec.PayloadType, n.Codec.Name, n.Codec.ClockRate)},
	}
	if n.TelephoneEvent != 0 {
		media.MediaName.Formats = append(media.MediaName.Formats, formatToken(n.TelephoneEvent))
		media.Attributes = append(media.Attributes, telephoneEventAttributes(n.TelephoneEvent)...)
	}

	direction := n.Direction
	if direction == "" {
		direction = DirectionSendRecv
	}
	media.Attributes = append(media.Attributes,
		sdp.NewAttribute(attributePtime, strconv.Itoa(sdpPtimeMilliseconds)),
		sdp.NewPropertyAttribute(direction),
	)
	if n.SRTP != nil {
		media.Attributes = append(media.Attributes, sdp.NewAttribute(attributeCrypto, n.SRTP.Local.Value()))
	}
	return media
}

// rejectedMedia returns the answer's m= line for a stream we do not take:
// port 0 with the offered formats (RFC 3264 section 6).
func rejectedMedia(line MediaLine) *sdp.MediaDescription {
	return &sdp.MediaDescription{
		MediaName: sdp.MediaName{
			Media:   line.Kind,
			Port:    sdp.RangedPort{Value: 0},
			Protos:  strings.Split(line.Proto, "/"),
			Formats: line.FormatTokens,
		},
	}
}

// telephoneEventAttributes returns a=rtpmap and a=fmtp for RFC 4733
// events on payloadType.
func telephoneEventAttributes(payloadType uint8) []sdp.Attribute {
	return []sdp.Attribute{
		rtpmapAttribute(payloadType, telephoneEventName, G711ClockRate),
		sdp.NewAttribute(attributeFmtp, formatToken(payloadType)+" "+telephoneEventRange),
	}
}

// rtpmapAttribute returns "a=rtpmap:<pt> <name>/<rate>".
func rtpmapAttribute(payloadType uint8, name string, clockRate uint32) sdp.Attribute {
	value := formatToken(payloadType) + " " + name + "/" + strconv.FormatUint(uint64(clockRate), 10)
	return sdp.NewAttribute(attributeRtpmap, value)
}

// formatToken returns a payload type as an m= line writes it.
func formatToken(payloadType uint8) string {
	return strconv.Itoa(int(payloadType))
}

// addressTypeOf returns the SDP address type of addr: IP4 or IP6.
func addressTypeOf(addr netip.Addr) string {
	if addr.Is4() {
		return "IP4"
	}
	return "IP6"
}

// marshalSession writes a session description, wrapping an error with
// what the caller was doing.
func marshalSession(session *sdp.SessionDescription, doing string) ([]byte, error) {
	body, err := session.Marshal()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", doing, err)
	}
	return body, nil
}
