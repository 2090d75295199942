package media

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"
)

// maxPayloadType is the largest RTP payload type: the field has 7 bits
// (RFC 3550 section 5.1).
const maxPayloadType = 127

// Dynamic RTP payload types (RFC 3551 section 6).
const (
	minDynamicPayloadType = 96
	maxDynamicPayloadType = 127
)

// staticPayloadTypes maps the static payload types of RFC 3551 tables 4
// and 5 to their encoding, for m= lines that list them without a=rtpmap.
var staticPayloadTypes = map[uint8]Format{
	0:  {Name: "PCMU", ClockRate: 8000, Channels: 1},
	3:  {Name: "GSM", ClockRate: 8000, Channels: 1},
	4:  {Name: "G723", ClockRate: 8000, Channels: 1},
	5:  {Name: "DVI4", ClockRate: 8000, Channels: 1},
	6:  {Name: "DVI4", ClockRate: 16000, Channels: 1},
	7:  {Name: "LPC", ClockRate: 8000, Channels: 1},
	8:  {Name: "PCMA", ClockRate: 8000, Channels: 1},
	9:  {Name: "G722", ClockRate: 8000, Channels: 1},
	10: {Name: "L16", ClockRate: 44100, Channels: 2},
	11: {Name: "L16", ClockRate: 44100, Channels: 1},
	12: {Name: "QCELP", ClockRate: 8000, Channels: 1},
	13: {Name: "CN", ClockRate: 8000, Channels: 1},
	14: {Name: "MPA", ClockRate: 90000},
	15: {Name: "G728", ClockRate: 8000, Channels: 1},
	16: {Name: "DVI4", ClockRate: 11025, Channels: 1},
	17: {Name: "DVI4", ClockRate: 22050, Channels: 1},
	18: {Name: "G729", ClockRate: 8000, Channels: 1},
	25: {Name: "CelB", ClockRate: 90000},
	26: {Name: "JPEG", ClockRate: 90000},
	28: {Name: "nv", ClockRate: 90000},
	31: {Name: "H261", ClockRate: 90000},
	32: {Name: "MPV", ClockRate: 90000},
	33: {Name: "MP2T", ClockRate: 90000},
	34: {Name: "H263", ClockRate: 90000},
}

// telephoneEventName is the encoding name of RFC 4733 events.
const telephoneEventName = "telephone-event"

// telephoneEventRange is the a=fmtp value for the events we accept: the
// 16 DTMF keys (codes 0-15) and flash (16) of RFC 4733 section 3.2.
const telephoneEventRange = "0-16"

// parseFormats resolves the payload type numbers of an RTP m= line into
// Formats, using a=rtpmap and a=fmtp where present and the static table
// otherwise. A malformed a=rtpmap is ignored, like any unknown attribute.
func parseFormats(kind string, tokens []string, attributes []sdp.Attribute) ([]Format, error) {
	formats := make([]Format, 0, len(tokens))
	for _, token := range tokens {
		payloadType, err := strconv.ParseUint(token, 10, 8)
		if err != nil || payloadType > maxPayloadType {
			return nil, fmt.Errorf("RTP payload type %q is not a number from 0 to %d", token, maxPayloadType)
		}

		format := staticPayloadTypes[uint8(payloadType)]
		format.PayloadType = uint8(payloadType)
		formats = append(formats, format)
	}

	for _, attribute := range attributes {
		switch attribute.Key {
		case attributeRtpmap:
			applyRtpmap(formats, kind, attribute.Value)
		case attributeFmtp:
			applyFmtp(formats, attribute.Value)
		}
	}
	return formats, nil
}

// applyRtpmap sets the encoding of the format an a=rtpmap value names:
// "<payload type> <encoding name>/<clock rate>[/<channels>]".
func applyRtpmap(formats []Format, kind, value string) {
	payloadText, encoding, found := strings.Cut(strings.TrimSpace(value), " ")
	if !found {
		return
	}
	format := findFormat(formats, payloadText)
	if format == nil {
		return
	}

	parts := strings.Split(strings.TrimSpace(encoding), "/")
	if len(parts) < 2 || parts[0] == "" {
		return
	}
	clockRate, err := strconv.ParseUint(parts[1], 10, 32)
	if err != nil {
		return
	}
	channels := 0
	if kind == "audio" {
		channels = 1
	}
	if len(parts) > 2 {
		parsed, err := strconv.Atoi(parts[2])
		if err != nil || parsed < 1 {
			return
		}
		channels = parsed
	}

	format.Name = parts[0]
	format.ClockRate = uint32(clockRate)
	format.Channels = channels
}

// applyFmtp stores the parameters of an a=fmtp value,
// "<payload type> <parameters>", in the format it names.
func applyFmtp(formats []Format, value string) {
	payloadText, parameters, found := strings.Cut(strings.TrimSpace(value), " ")
	if !found {
		return
	}
	if format := findFormat(formats, payloadText); format != nil {
		format.Fmtp = strings.TrimSpace(parameters)
	}
}

// findFormat returns the format with the payload type written in text, or
// nil when the m= line does not list it.
func findFormat(formats []Format, text string) *Format {
	payloadType, err := strconv.ParseUint(text, 10, 8)
	if err != nil {
		return nil
	}
	for i := range formats {
		if uint64(formats[i].PayloadType) == payloadType {
			return &formats[i]
		}
	}
	return nil
}

// matchesCodec reports whether a format is the codec: same encoding name,
// same clock rate and one channel. Encoding names are media subtype
// names, which RFC 6838 section 4.2 makes case-insensitive.
func (f Format) matchesCodec(codec Codec) bool {
	return strings.EqualFold(f.Name, codec.Name) && f.ClockRate == codec.ClockRate && f.Channels <= 1
}

// isTelephoneEvent reports whether a format is RFC 4733 telephone-event
// at the G.711 clock rate, on a payload type that no static codec owns.
func (f Format) isTelephoneEvent() bool {
	_, static := staticPayloadTypes[f.PayloadType]
	return strings.EqualFold(f.Name, telephoneEventName) && f.ClockRate == G711ClockRate && !static
}

// describe returns a format as "NAME/rate (PT n)" for error messages.
func (f Format) describe() string {
	name := f.Name
	if name == "" {
		name = "unknown"
	}
	return fmt.Sprintf("%s/%d (PT %d)", name, f.ClockRate, f.PayloadType)
}
