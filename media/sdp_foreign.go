package media

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/pion/sdp/v3"
)

// pion/sdp v3.0.20 rejects a whole session description when an m= line
// has a media type or transport outside its lists, such as a T.38 fax
// stream "m=image 0 udptl t38" (RFC 6466 registers "image"). RFC 3264
// section 6 lets an answer reject one stream with port 0, so an unknown
// stream should not fail the whole offer. ParseSDP therefore gives pion a
// stand-in m= line and restores the media type and transport afterwards.

// pionMediaTypes and pionProtoTokens are the values pion/sdp v3.0.20
// accepts in an m= line's <media> field and in each '/'-separated part
// of its <proto> field.
var (
	pionMediaTypes  = []string{"audio", "video", "text", "application", "message"}
	pionProtoTokens = []string{
		"UDP", "RTP", "AVP", "SAVP", "SAVPF", "TLS", "DTLS", "SCTP", "AVPF",
		"TCP", "MSRP", "BFCP", "UDT", "IX", "MRCPv2", "FEC",
	}
)

// Media type and transport of the stand-in for a foreign m= line. Its
// formats are not payload types, so ParseSDP does not read them as RTP
// formats.
const (
	standInMediaType = "application"
	standInProto     = "UDP"
)

// foreignMedia is the media type and transport of an m= line that pion
// cannot parse.
type foreignMedia struct {
	kind  string
	proto string
}

// maskForeignMedia returns body with every foreign m= line replaced by a
// stand-in, and the replaced lines' media type and transport by m= line
// index. Lines that are too short to be m= lines are left for pion to
// reject.
func maskForeignMedia(body []byte) ([]byte, map[int]foreignMedia) {
	var foreign map[int]foreignMedia
	lines := bytes.Split(body, []byte("\n"))
	mediaIndex := -1
	for i, line := range lines {
		if !bytes.HasPrefix(line, []byte("m=")) {
			continue
		}
		mediaIndex++

		fields := strings.Fields(string(line[len("m="):]))
		if len(fields) < 3 || isPionMedia(fields[0], fields[2]) {
			continue
		}
		if foreign == nil {
			foreign = make(map[int]foreignMedia)
		}
		foreign[mediaIndex] = foreignMedia{kind: fields[0], proto: fields[2]}
		standIn := append([]string{"m=" + standInMediaType, fields[1], standInProto}, fields[3:]...)
		lines[i] = []byte(strings.Join(standIn, " "))
	}
	if foreign == nil {
		return body, nil
	}
	return bytes.Join(lines, []byte("\n")), foreign
}

// isPionMedia reports whether pion/sdp parses an m= line with this media
// type and transport.
func isPionMedia(kind, proto string) bool {
	if !slices.Contains(pionMediaTypes, kind) {
		return false
	}
	for token := range strings.SplitSeq(proto, "/") {
		if !slices.Contains(pionProtoTokens, token) {
			return false
		}
	}
	return true
}

// restoreForeignMedia puts the media type and transport of foreign m=
// lines back into the parsed session. It fails when an m= line index does
// not hold a stand-in, which means pion counted m= lines differently.
func restoreForeignMedia(session *sdp.SessionDescription, foreign map[int]foreignMedia) error {
	for index, media := range foreign {
		if index >= len(session.MediaDescriptions) {
			return fmt.Errorf("m= line %d (%s %s) was not parsed", index, media.kind, media.proto)
		}
		name := &session.MediaDescriptions[index].MediaName
		if name.Media != standInMediaType || !slices.Equal(name.Protos, []string{standInProto}) {
			return fmt.Errorf("m= line %d (%s %s) was not parsed", index, media.kind, media.proto)
		}
		name.Media = media.kind
		name.Protos = strings.Split(media.proto, "/")
	}
	return nil
}
