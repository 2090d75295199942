package media

import (
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"testing"

	"github.com/pion/sdp/v3"
)

// fuzzCodecSets are the codec lists FuzzNegotiateAnswer picks from, as a
// server configured for PCMU only, PCMA only or both would pass them.
var fuzzCodecSets = [][]Codec{{PCMU, PCMA}, {PCMA, PCMU}, {PCMU}, {PCMA}}

// FuzzNegotiateAnswer answers any offer as the SIP layer does, with a
// chosen codec list and local address family, and checks the answer with
// pion/sdp: it parses, has one m= line per offered line, accepts
// exactly the negotiated line on the local port with a codec the offer
// listed and the server supports, and rejects every other line with port
// 0. An offer without m= lines gets an answer without m= lines.
func FuzzNegotiateAnswer(f *testing.F) {
	addSDPSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		offer, err := ParseSDP(body)
		if err != nil {
			return
		}
		choice := fuzzChoice(body)
		supported := fuzzCodecSets[choice%len(fuzzCodecSets)]
		local := netip.MustParseAddrPort("192.0.2.200:40000")
		if choice&4 != 0 {
			local = netip.MustParseAddrPort("[2001:db8::200]:40000")
		}

		if len(offer.Media) == 0 {
			answer, err := BuildEmptyAnswer(local.Addr(), 1, 1)
			if err != nil {
				t.Fatalf("BuildEmptyAnswer: %v", err)
			}
			if parsed := unmarshalPion(t, answer); len(parsed.MediaDescriptions) != 0 {
				t.Fatalf("answer to an offer without m= lines has %d m= lines", len(parsed.MediaDescriptions))
			}
			return
		}

		negotiated, err := Negotiate(offer, supported)
		if err != nil {
			// Both errors become 488 Not Acceptable Here.
			if !errors.Is(err, ErrNoCommonCodec) && !errors.Is(err, ErrNoCommonCrypto) {
				t.Fatalf("Negotiate error %v wraps neither ErrNoCommonCodec nor ErrNoCommonCrypto", err)
			}
			return
		}
		answer, err := BuildAnswer(offer, negotiated, local, 1, 1)
		if errors.Is(err, ErrAddressFamily) {
			if remote := offer.MediaAddr(negotiated.MediaIndex); remote.Is4() == local.Addr().Is4() {
				t.Fatalf("ErrAddressFamily for offer address %s and local %s", remote, local.Addr())
			}
			return
		}
		if err != nil {
			t.Fatalf("BuildAnswer: %v", err)
		}
		checkPionAnswer(t, offer, negotiated, supported, local, unmarshalPion(t, answer))
	})
}

// fuzzChoice derives the codec list and address family from the offer, so
// that the fuzzer explores them without a second argument that the SDP
// seed files would have to carry.
func fuzzChoice(body []byte) int {
	sum := 0
	for _, b := range body {
		sum += int(b)
	}
	return sum
}

// unmarshalPion parses an answer with pion/sdp. A rejected m= line of a
// media type or transport outside pion's lists, such as "m=image 0 udptl
// t38", is valid SDP (RFC 8866 section 9 allows any token) that pion
// v3.0.20 refuses, so such lines get the stand-in ParseSDP gives pion.
func unmarshalPion(t *testing.T, answer []byte) *sdp.SessionDescription {
	t.Helper()
	masked, _ := maskForeignMedia(answer)
	var parsed sdp.SessionDescription
	if err := parsed.Unmarshal(masked); err != nil {
		t.Fatalf("pion/sdp cannot parse our answer: %v\n%s", err, answer)
	}
	return &parsed
}

// checkPionAnswer verifies an answer's m= lines against the offer.
func checkPionAnswer(t *testing.T, offer *Description, negotiated *Negotiated, supported []Codec, local netip.AddrPort, answer *sdp.SessionDescription) {
	t.Helper()
	if len(answer.MediaDescriptions) != len(offer.Media) {
		t.Fatalf("answer has %d m= lines, offer has %d", len(answer.MediaDescriptions), len(offer.Media))
	}
	for i, media := range answer.MediaDescriptions {
		port := media.MediaName.Port.Value
		if i != negotiated.MediaIndex {
			if port != 0 {
				t.Errorf("rejected m= line %d has port %d, want 0", i, port)
			}
			continue
		}
		if port != int(local.Port()) {
			t.Errorf("accepted m= line %d has port %d, want %d", i, port, local.Port())
		}
		checkAcceptedCodec(t, offer.Media[i], media, supported)
	}
}

// checkAcceptedCodec verifies that the first format of the accepted line
// is a codec the offer listed under that payload type and the server
// supports, and that every other format is telephone-event.
func checkAcceptedCodec(t *testing.T, offered MediaLine, media *sdp.MediaDescription, supported []Codec) {
	t.Helper()
	formats := media.MediaName.Formats
	if len(formats) == 0 {
		t.Fatal("accepted m= line has no formats")
	}
	for i, token := range formats {
		payloadType, err := strconv.ParseUint(token, 10, 8)
		if err != nil {
			t.Fatalf("answer format %q is not a payload type", token)
		}
		index := slices.IndexFunc(offered.Formats, func(f Format) bool { return uint64(f.PayloadType) == payloadType })
		if index < 0 {
			t.Fatalf("answer payload type %d is not in the offer", payloadType)
		}
		format := offered.Formats[index]
		if i > 0 {
			if !format.isTelephoneEvent() {
				t.Errorf("answer format %d (%s) is neither the codec nor telephone-event", payloadType, format.describe())
			}
			continue
		}
		if !slices.ContainsFunc(supported, format.matchesCodec) {
			t.Errorf("answer codec %s is not among the supported %s", format.describe(), describeCodecs(supported))
		}
	}
}
