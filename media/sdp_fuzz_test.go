package media

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// addSDPSeeds adds every session description in testdata/sdp to the
// fuzz corpus.
func addSDPSeeds(f *testing.F) {
	f.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "sdp", "*.sdp"))
	if err != nil || len(paths) == 0 {
		f.Fatalf("no SDP seeds in testdata/sdp: %v", err)
	}
	for _, path := range paths {
		body, err := os.ReadFile(path)
		if err != nil {
			f.Fatalf("read SDP seed: %v", err)
		}
		f.Add(body)
	}
}

// FuzzParseSDP checks, for any body, that ParseSDP either fails with
// ErrInvalidSDP or returns a description that negotiation and the answer
// builder handle: the answer parses again, has one m= line per offered
// line in the same order, and reads back as the same negotiated stream.
func FuzzParseSDP(f *testing.F) {
	addSDPSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		offer, err := ParseSDP(body)
		if err != nil {
			if !errors.Is(err, ErrInvalidSDP) {
				t.Fatalf("ParseSDP error %v does not wrap ErrInvalidSDP", err)
			}
			return
		}
		checkDescription(t, offer)

		negotiated, err := Negotiate(offer, g711)
		if err != nil {
			if !errors.Is(err, ErrNoCommonCodec) && !errors.Is(err, ErrNoCommonCrypto) {
				t.Fatalf("Negotiate error %v wraps neither ErrNoCommonCodec nor ErrNoCommonCrypto", err)
			}
			return
		}
		checkNegotiated(t, offer, negotiated)

		local := netip.MustParseAddrPort("192.0.2.200:40000")
		if offer.MediaAddr(negotiated.MediaIndex).Is6() {
			local = netip.MustParseAddrPort("[2001:db8::200]:40000")
		}
		answer, err := BuildAnswer(offer, negotiated, local, 1, 1)
		if err != nil {
			t.Fatalf("BuildAnswer: %v", err)
		}
		checkAnswer(t, offer, negotiated, local, answer)

		reread, err := rereadAnswer(answer, negotiated)
		if err != nil {
			t.Fatalf("ParseAnswer of our answer: %v\n%s", err, answer)
		}
		if reread.MediaIndex != negotiated.MediaIndex || reread.Codec != negotiated.Codec ||
			reread.TelephoneEvent != negotiated.TelephoneEvent || reread.Remote != local {
			t.Fatalf("ParseAnswer of our answer = %+v, negotiated %+v", reread, negotiated)
		}
	})
}

// checkDescription verifies what ParseSDP promises about a description.
func checkDescription(t *testing.T, desc *Description) {
	t.Helper()
	for i, line := range desc.Media {
		if line.Port != 0 && !desc.MediaAddr(i).IsValid() {
			t.Fatalf("m= line %d has port %d and no address", i, line.Port)
		}
		if len(line.FormatTokens) == 0 {
			t.Fatalf("m= line %d has no formats", i)
		}
		if isRTPProto(line.Proto) && len(line.Formats) != len(line.FormatTokens) {
			t.Fatalf("m= line %d has %d formats for %d tokens", i, len(line.Formats), len(line.FormatTokens))
		}
		switch line.Direction {
		case DirectionSendRecv, DirectionSendOnly, DirectionRecvOnly, DirectionInactive:
		default:
			t.Fatalf("m= line %d has direction %q", i, line.Direction)
		}
	}
}

// checkNegotiated verifies that a negotiation result points at an
// acceptable line of the offer and uses only its payload types.
func checkNegotiated(t *testing.T, offer *Description, negotiated *Negotiated) {
	t.Helper()
	if negotiated.MediaIndex < 0 || negotiated.MediaIndex >= len(offer.Media) {
		t.Fatalf("MediaIndex %d out of range", negotiated.MediaIndex)
	}
	line := offer.Media[negotiated.MediaIndex]
	if line.Kind != "audio" || line.Port == 0 || !(isPlainRTPProto(line.Proto) || isSRTPProto(line.Proto)) {
		t.Fatalf("accepted m= line %+v is not active RTP or SRTP audio", line)
	}
	if (negotiated.SRTP != nil) != isSRTPProto(line.Proto) {
		t.Fatalf("accepted m= line %s with SRTP keys %v", line.Proto, negotiated.SRTP)
	}
	if !slices.ContainsFunc(g711, func(codec Codec) bool { return codec.Name == negotiated.Codec.Name }) {
		t.Fatalf("codec %+v is not supported", negotiated.Codec)
	}

	offered := make([]uint8, 0, len(line.Formats))
	for _, format := range line.Formats {
		offered = append(offered, format.PayloadType)
	}
	if !slices.Contains(offered, negotiated.Codec.PayloadType) {
		t.Fatalf("codec payload type %d is not offered in %v", negotiated.Codec.PayloadType, offered)
	}
	if negotiated.TelephoneEvent != 0 && !slices.Contains(offered, negotiated.TelephoneEvent) {
		t.Fatalf("telephone-event payload type %d is not offered in %v", negotiated.TelephoneEvent, offered)
	}
	if negotiated.TelephoneEvent != 0 && negotiated.TelephoneEvent == negotiated.Codec.PayloadType {
		t.Fatalf("telephone-event and codec share payload type %d", negotiated.TelephoneEvent)
	}
}

// rereadAnswer parses our answer as the offerer would: with its own key
// for an SRTP stream, and then checks that it read our key.
func rereadAnswer(answer []byte, negotiated *Negotiated) (*Negotiated, error) {
	if negotiated.SRTP == nil {
		return ParseAnswer(answer, g711, negotiated.TelephoneEvent)
	}
	reread, err := ParseSRTPAnswer(answer, g711, negotiated.TelephoneEvent, negotiated.SRTP.Remote)
	if err != nil {
		return nil, err
	}
	if !reread.SRTP.Remote.sameKey(negotiated.SRTP.Local) {
		return nil, errors.New("the answer does not carry our key")
	}
	return reread, nil
}
