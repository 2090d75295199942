package media

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/pion/sdp/v3"
)

// Sentinel errors of SDP parsing and offer/answer negotiation.
var (
	// ErrInvalidSDP means a body is not a usable session description
	// (RFC 8866): a syntax error, a missing o= line, or an m= line that
	// cannot carry media. The SIP layer responds 400 Bad Request.
	ErrInvalidSDP = errors.New("invalid SDP")

	// ErrNoCommonCodec means no offered plain-RTP audio stream carries a
	// codec we support. The SIP layer responds 488 Not Acceptable Here.
	ErrNoCommonCodec = errors.New("no common audio codec")

	// ErrAddressFamily means the peer's media address is IPv4 and ours
	// IPv6, or the reverse, so we cannot relay audio to it. The SIP layer
	// responds 488 Not Acceptable Here.
	ErrAddressFamily = errors.New("media address family mismatch")
)

// Direction attribute values (RFC 3264 section 5.1).
const (
	DirectionSendRecv = "sendrecv"
	DirectionSendOnly = "sendonly"
	DirectionRecvOnly = "recvonly"
	DirectionInactive = "inactive"
)

// maxSDPSize is the largest body ParseSDP accepts, about the largest UDP
// datagram. The seeds in testdata/sdp are all under 1 KiB.
const maxSDPSize = 64 << 10

// Attribute names this package reads or writes.
const (
	attributeRtpmap = "rtpmap"
	attributeFmtp   = "fmtp"
	attributePtime  = "ptime"
)

// Description is a parsed session description: the o= line, the
// session-level c= address and the media descriptions in order.
type Description struct {
	// Origin is the o= line.
	Origin Origin
	// Conn is the session-level c= address, invalid when the session has
	// no c= line.
	Conn netip.Addr
	// Media contains one entry per m= line, in the order of the body.
	Media []MediaLine
}

// Origin is the o= line of a session description (RFC 8866 section 5.2).
// A peer that changes its session description increments SessionVersion
// and keeps SessionID (RFC 3264 section 8).
type Origin struct {
	Username       string
	SessionID      uint64
	SessionVersion uint64
	// Address is the unicast address as written, which may be a host name.
	Address string
}

// MediaLine is one m= line with its attributes.
type MediaLine struct {
	// Kind is the media type: "audio", "video", "application", ...
	Kind string
	// Port is the transport port; 0 marks a rejected or disabled stream.
	Port int
	// Proto is the transport protocol, such as "RTP/AVP" or "RTP/SAVP".
	Proto string
	// Formats contains the payload formats of an RTP line in the order of
	// the m= line, which is the sender's order of preference. It is empty
	// for transports other than RTP.
	Formats []Format
	// FormatTokens contains the m= line's <fmt> fields as written, which
	// a rejected line in an answer repeats.
	FormatTokens []string
	// Direction is the effective direction: the media-level attribute,
	// else the session-level one, else sendrecv.
	Direction string
	// Conn is the media-level c= address, invalid when the line has none.
	Conn netip.Addr
	// Ptime is the a=ptime packet duration, 0 when absent.
	Ptime time.Duration
	// Crypto contains the values of the line's a=crypto attributes (SDES,
	// RFC 4568) as written, in the offer's order of preference.
	Crypto []string
}

// Format is one RTP payload format of an m= line.
type Format struct {
	PayloadType uint8
	// Name is the encoding name from a=rtpmap, or from the static payload
	// type table of RFC 3551 when the line has no a=rtpmap for it. It is
	// empty for an unknown dynamic payload type.
	Name      string
	ClockRate uint32
	// Channels is the number of audio channels: 1 when an audio line's
	// a=rtpmap omits it, 0 on video lines.
	Channels int
	// Fmtp contains the a=fmtp parameters, empty when absent.
	Fmtp string
}

// MediaAddr returns the address of an m= line's media: its own c=
// address, else the session-level one. The result is invalid when the
// index is out of range or neither c= line exists.
func (d *Description) MediaAddr(index int) netip.Addr {
	if index < 0 || index >= len(d.Media) {
		return netip.Addr{}
	}
	if d.Media[index].Conn.IsValid() {
		return d.Media[index].Conn
	}
	return d.Conn
}

// ParseSDP parses a session description (RFC 8866, formerly RFC 4566).
// It accepts LF-only line ends, a missing final line end, unknown
// attributes, and m= lines of media types or transports that pion/sdp
// does not list, such as T.38 fax. Every error wraps ErrInvalidSDP and
// the cause.
//
// A body without m= lines is valid: RFC 3264 section 5 allows an offer
// that establishes no streams.
func ParseSDP(body []byte) (*Description, error) {
	if len(body) > maxSDPSize {
		return nil, fmt.Errorf("%w: body of %d bytes exceeds the limit of %d bytes", ErrInvalidSDP, len(body), maxSDPSize)
	}

	masked, foreign := maskForeignMedia(normalizeLineEnds(body))
	var session sdp.SessionDescription
	if err := session.Unmarshal(masked); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSDP, err)
	}
	if session.Origin.NetworkType == "" {
		return nil, fmt.Errorf("%w: missing o= line", ErrInvalidSDP)
	}

	if err := restoreForeignMedia(&session, foreign); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSDP, err)
	}

	desc, err := describeSession(&session)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidSDP, err)
	}
	return desc, nil
}

// normalizeLineEnds trims trailing white space and ends the body with
// CRLF, because pion/sdp v3.0.20 fails with io.EOF on a last line without
// a line end.
func normalizeLineEnds(body []byte) []byte {
	trimmed := bytes.TrimRight(body, " \t\r\n")
	normalized := make([]byte, 0, len(trimmed)+len("\r\n"))
	normalized = append(normalized, trimmed...)
	return append(normalized, "\r\n"...)
}

// describeSession converts pion's session description into a Description
// and checks what pion does not: that c= addresses are IP addresses, that
// RTP payload types are numbers and that every active stream has an
// address.
func describeSession(session *sdp.SessionDescription) (*Description, error) {
	desc := &Description{
		Origin: Origin{
			Username:       session.Origin.Username,
			SessionID:      session.Origin.SessionID,
			SessionVersion: session.Origin.SessionVersion,
			Address:        session.Origin.UnicastAddress,
		},
	}

	conn, err := parseConnection(session.ConnectionInformation)
	if err != nil {
		return nil, fmt.Errorf("session c= line: %w", err)
	}
	desc.Conn = conn

	sessionDirection := findDirection(session.Attributes)
	for i, media := range session.MediaDescriptions {
		line, err := describeMedia(media, sessionDirection)
		if err != nil {
			return nil, fmt.Errorf("m= line %d: %w", i, err)
		}
		if line.Port != 0 && !line.Conn.IsValid() && !desc.Conn.IsValid() {
			return nil, fmt.Errorf("m= line %d: no c= line at media or session level", i)
		}
		desc.Media = append(desc.Media, line)
	}
	return desc, nil
}

// describeMedia converts one pion media description into a MediaLine.
func describeMedia(media *sdp.MediaDescription, sessionDirection string) (MediaLine, error) {
	name := media.MediaName
	line := MediaLine{
		Kind:         name.Media,
		Port:         name.Port.Value,
		Proto:        strings.Join(name.Protos, "/"),
		FormatTokens: name.Formats,
		Direction:    findDirection(media.Attributes),
	}
	if len(line.FormatTokens) == 0 {
		return MediaLine{}, errors.New("no formats listed")
	}
	if line.Direction == "" {
		line.Direction = sessionDirection
	}
	if line.Direction == "" {
		line.Direction = DirectionSendRecv
	}

	conn, err := parseConnection(media.ConnectionInformation)
	if err != nil {
		return MediaLine{}, fmt.Errorf("c= line: %w", err)
	}
	line.Conn = conn
	line.Ptime = findPtime(media.Attributes)
	line.Crypto = findCrypto(media.Attributes)

	if isRTPProto(line.Proto) {
		formats, err := parseFormats(line.Kind, line.FormatTokens, media.Attributes)
		if err != nil {
			return MediaLine{}, err
		}
		line.Formats = formats
	}
	return line, nil
}

// parseConnection returns the IP address of a c= line, or the zero Addr
// when the line is absent. IPv4-mapped IPv6 addresses are unmapped. A
// TTL or address count suffix ("/127") is dropped.
func parseConnection(conn *sdp.ConnectionInformation) (netip.Addr, error) {
	if conn == nil {
		return netip.Addr{}, nil
	}
	if conn.Address == nil {
		return netip.Addr{}, errors.New("missing connection address")
	}

	text, _, _ := strings.Cut(conn.Address.Address, "/")
	addr, err := netip.ParseAddr(text)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("connection address %q is not an IP address", conn.Address.Address)
	}
	if addr.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("connection address %q has a zone", conn.Address.Address)
	}

	if (conn.AddressType == "IP4") != addr.Is4() {
		return netip.Addr{}, fmt.Errorf("connection address %q does not match address type %s", conn.Address.Address, conn.AddressType)
	}
	return addr.Unmap(), nil
}

// findDirection returns the first direction attribute, or "" when there
// is none.
func findDirection(attributes []sdp.Attribute) string {
	for _, attribute := range attributes {
		switch attribute.Key {
		case DirectionSendRecv, DirectionSendOnly, DirectionRecvOnly, DirectionInactive:
			return attribute.Key
		}
	}
	return ""
}

// maxPtimeMilliseconds bounds a=ptime: longer packets are not telephony
// audio, so a larger value is treated as absent.
const maxPtimeMilliseconds = 1000

// findPtime returns the a=ptime duration, or 0 when the attribute is
// absent or not a whole number of milliseconds in range.
func findPtime(attributes []sdp.Attribute) time.Duration {
	for _, attribute := range attributes {
		if attribute.Key != attributePtime {
			continue
		}
		milliseconds, err := strconv.Atoi(strings.TrimSpace(attribute.Value))
		if err != nil || milliseconds <= 0 || milliseconds > maxPtimeMilliseconds {
			return 0
		}
		return time.Duration(milliseconds) * time.Millisecond
	}
	return 0
}

// findCrypto returns the values of the a=crypto attributes.
func findCrypto(attributes []sdp.Attribute) []string {
	var values []string
	for _, attribute := range attributes {
		if attribute.Key == attributeCrypto {
			values = append(values, attribute.Value)
		}
	}
	return values
}

// isRTPProto reports whether an m= line's protocol carries RTP, plain or
// secure, so that its formats are payload type numbers.
func isRTPProto(proto string) bool {
	return strings.Contains(proto, "RTP/")
}

// isPlainRTPProto reports whether an m= line's protocol is unencrypted RTP.
func isPlainRTPProto(proto string) bool {
	return proto == "RTP/AVP" || proto == "RTP/AVPF"
}

// protoSRTP is the m= line protocol of SRTP keyed by SDES (RFC 3711
// section 12, RFC 4568).
const protoSRTP = "RTP/SAVP"

// isSRTPProto reports whether an m= line's protocol is SRTP this server
// can key by SDES. RTP/SAVPF with DTLS (WebRTC) is not supported.
func isSRTPProto(proto string) bool {
	return proto == protoSRTP
}
