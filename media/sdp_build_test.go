package media

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// sdpPtime is the a=ptime our offers and answers carry.
const sdpPtime = sdpPtimeMilliseconds * time.Millisecond

// checkAnswer verifies the RFC 3264 shape of an answer: it parses, has
// as many m= lines as the offer with the same media types and transports,
// accepts only the negotiated line on local's port with the chosen codec
// and event, and rejects every other line with port 0 and the offered
// formats. It returns the parsed answer.
func checkAnswer(t testing.TB, offer *Description, negotiated *Negotiated, local netip.AddrPort, body []byte) *Description {
	t.Helper()
	answer, err := ParseSDP(body)
	if err != nil {
		t.Fatalf("answer does not parse: %v\n%s", err, body)
	}
	if len(answer.Media) != len(offer.Media) {
		t.Fatalf("answer has %d m= lines, offer has %d", len(answer.Media), len(offer.Media))
	}
	if answer.Origin.Username != sdpUsername {
		t.Errorf("o= user = %q, want %q", answer.Origin.Username, sdpUsername)
	}
	if answer.Conn != local.Addr() {
		t.Errorf("session c= = %v, want %v", answer.Conn, local.Addr())
	}

	for i, line := range answer.Media {
		offered := offer.Media[i]
		if line.Kind != offered.Kind || line.Proto != offered.Proto {
			t.Errorf("m= line %d = %s %s, offer has %s %s", i, line.Kind, line.Proto, offered.Kind, offered.Proto)
		}
		if i != negotiated.MediaIndex {
			if line.Port != 0 {
				t.Errorf("m= line %d port = %d, want 0 for a rejected stream", i, line.Port)
			}
			if !slices.Equal(line.FormatTokens, offered.FormatTokens) {
				t.Errorf("m= line %d formats = %v, want the offered %v", i, line.FormatTokens, offered.FormatTokens)
			}
			continue
		}

		if line.Port != int(local.Port()) {
			t.Errorf("accepted m= line port = %d, want %d", line.Port, local.Port())
		}
		want := []Format{{PayloadType: negotiated.Codec.PayloadType, Name: negotiated.Codec.Name, ClockRate: negotiated.Codec.ClockRate, Channels: 1}}
		if negotiated.TelephoneEvent != 0 {
			want = append(want, Format{PayloadType: negotiated.TelephoneEvent, Name: telephoneEventName, ClockRate: G711ClockRate, Channels: 1, Fmtp: telephoneEventRange})
		}
		if !slices.Equal(line.Formats, want) {
			t.Errorf("accepted formats = %+v, want %+v", line.Formats, want)
		}
		if line.Direction != negotiated.Direction {
			t.Errorf("accepted direction = %q, want %q", line.Direction, negotiated.Direction)
		}
		if line.Ptime != sdpPtime {
			t.Errorf("accepted ptime = %v, want 20ms", line.Ptime)
		}
	}
	return answer
}

// negotiateFile parses a seed offer and negotiates it with G.711.
func negotiateFile(t testing.TB, name string) (*Description, *Negotiated) {
	t.Helper()
	offer := mustParseSDP(t, readSDP(t, name))
	negotiated, err := Negotiate(offer, g711)
	if err != nil {
		t.Fatalf("Negotiate %s: %v", name, err)
	}
	return offer, negotiated
}

func TestBuildAnswer(t *testing.T) {
	local4 := netip.MustParseAddrPort("192.0.2.200:40000")
	local6 := netip.MustParseAddrPort("[2001:db8::200]:40000")
	tests := []struct {
		name  string
		file  string
		local netip.AddrPort
		check func(t *testing.T, answer *Description, body string)
	}{
		{
			name:  "SRTP line accepted and the others rejected in order",
			file:  "srtp_rtp_video_offer.sdp",
			local: local4,
			check: func(t *testing.T, answer *Description, body string) {
				for _, want := range []string{
					"m=audio 40000 RTP/SAVP 0 101\r\n",
					"m=audio 0 RTP/AVP 0 101\r\n",
					"m=video 0 RTP/AVP 96\r\n",
				} {
					if !strings.Contains(body, want) {
						t.Errorf("answer lacks %q:\n%s", want, body)
					}
				}
				if strings.Count(body, "a=crypto:1 "+SuiteAES128SHA1_80+" inline:") != 1 {
					t.Errorf("answer lacks one a=crypto line of tag 1 with our key:\n%s", body)
				}
				if strings.Contains(body, "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz") {
					t.Errorf("answer repeats the offer's key instead of its own:\n%s", body)
				}
			},
		},
		{
			name:  "T.38 fax line is rejected",
			file:  "gateway_audio_t38_offer.sdp",
			local: local4,
			check: func(t *testing.T, answer *Description, body string) {
				if !strings.Contains(body, "m=audio 40000 RTP/AVP 8 101\r\n") || !strings.Contains(body, "m=image 0 udptl t38\r\n") {
					t.Errorf("answer does not accept audio and reject fax:\n%s", body)
				}
			},
		},
		{
			name:  "sendonly offer without final line end",
			file:  "hold_sendonly.sdp",
			local: local4,
			check: func(t *testing.T, answer *Description, body string) {
				if got := answer.Media[0].Direction; got != DirectionRecvOnly {
					t.Errorf("direction = %q, want recvonly", got)
				}
			},
		},
		{
			name:  "inactive offer",
			file:  "inactive.sdp",
			local: local4,
			check: func(t *testing.T, answer *Description, body string) {
				if got := answer.Media[0].Direction; got != DirectionInactive {
					t.Errorf("direction = %q, want inactive", got)
				}
			},
		},
		{
			name:  "hold with 0.0.0.0 gets our address",
			file:  "hold_old_style.sdp",
			local: local4,
			check: func(t *testing.T, answer *Description, body string) {
				if !strings.Contains(body, "c=IN IP4 192.0.2.200\r\n") {
					t.Errorf("answer lacks our c= line:\n%s", body)
				}
			},
		},
		{
			name:  "IPv6 offer with IPv6 address",
			file:  "ipv6_offer.sdp",
			local: local6,
			check: func(t *testing.T, answer *Description, body string) {
				if !strings.Contains(body, "c=IN IP6 2001:db8::200\r\n") {
					t.Errorf("answer lacks an IP6 c= line:\n%s", body)
				}
			},
		},
		{
			name:  "origin line",
			file:  "sipp_uac_offer.sdp",
			local: local4,
			check: func(t *testing.T, answer *Description, body string) {
				if !strings.HasPrefix(body, "v=0\r\no=helpline 424242 3 IN IP4 192.0.2.200\r\n") {
					t.Errorf("answer starts %q", body[:min(len(body), 60)])
				}
			},
		},
		{
			name:  "rtpmap for a static payload type",
			file:  "sipp_uac_offer.sdp",
			local: local4,
			check: func(t *testing.T, answer *Description, body string) {
				if !strings.Contains(body, "a=rtpmap:0 PCMU/8000\r\n") {
					t.Errorf("answer lacks a=rtpmap for PCMU:\n%s", body)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			offer, negotiated := negotiateFile(t, tt.file)
			body, err := BuildAnswer(offer, negotiated, tt.local, 424242, 3)
			if err != nil {
				t.Fatalf("BuildAnswer: %v", err)
			}
			answer := checkAnswer(t, offer, negotiated, tt.local, body)
			tt.check(t, answer, string(body))
		})
	}
}

func TestBuildAnswerAddressFamily(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		local netip.AddrPort
	}{
		{name: "IPv6 offer with IPv4 address", file: "ipv6_offer.sdp", local: netip.MustParseAddrPort("192.0.2.200:40000")},
		{name: "IPv4 offer with IPv6 address", file: "sipp_uac_offer.sdp", local: netip.MustParseAddrPort("[2001:db8::200]:40000")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			offer, negotiated := negotiateFile(t, tt.file)
			body, err := BuildAnswer(offer, negotiated, tt.local, 1, 1)
			if !errors.Is(err, ErrAddressFamily) {
				t.Fatalf("BuildAnswer = %q, %v; want ErrAddressFamily", body, err)
			}
		})
	}
}

func TestBuildAnswerRejectsBadInput(t *testing.T) {
	offer, negotiated := negotiateFile(t, "sipp_uac_offer.sdp")
	outOfRange := *negotiated
	outOfRange.MediaIndex = 3
	local := netip.MustParseAddrPort("192.0.2.200:40000")
	tests := []struct {
		name       string
		offer      *Description
		negotiated *Negotiated
		local      netip.AddrPort
	}{
		{name: "no offer", offer: nil, negotiated: negotiated, local: local},
		{name: "no negotiation result", offer: offer, negotiated: nil, local: local},
		{name: "media index out of range", offer: offer, negotiated: &outOfRange, local: local},
		{name: "no local address", offer: offer, negotiated: negotiated, local: netip.AddrPort{}},
		{name: "unspecified local address", offer: offer, negotiated: negotiated, local: netip.MustParseAddrPort("0.0.0.0:40000")},
		{name: "local port 0", offer: offer, negotiated: negotiated, local: netip.MustParseAddrPort("192.0.2.200:0")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, err := BuildAnswer(tt.offer, tt.negotiated, tt.local, 1, 1)
			if err == nil {
				t.Fatalf("BuildAnswer = %q, want an error", body)
			}
		})
	}
}

func TestBuildEmptyAnswer(t *testing.T) {
	body, err := BuildEmptyAnswer(netip.MustParseAddr("192.0.2.200"), 9, 10)
	if err != nil {
		t.Fatalf("BuildEmptyAnswer: %v", err)
	}
	answer := mustParseSDP(t, body)
	if len(answer.Media) != 0 {
		t.Errorf("m= lines = %d, want 0", len(answer.Media))
	}
	want := Origin{Username: sdpUsername, SessionID: 9, SessionVersion: 10, Address: "192.0.2.200"}
	if answer.Origin != want {
		t.Errorf("origin = %+v, want %+v", answer.Origin, want)
	}

	if _, err := BuildEmptyAnswer(netip.Addr{}, 9, 10); err == nil {
		t.Error("BuildEmptyAnswer without an address succeeded")
	}
}

func TestBuildOffer(t *testing.T) {
	local := netip.MustParseAddrPort("127.0.0.1:40002")
	body, err := BuildOffer(local, g711, 101, 77, 1)
	if err != nil {
		t.Fatalf("BuildOffer: %v", err)
	}

	offer := mustParseSDP(t, body)
	if len(offer.Media) != 1 {
		t.Fatalf("m= lines = %d, want 1", len(offer.Media))
	}
	line := offer.Media[0]
	if got, want := line.FormatTokens, []string{"0", "8", "101"}; !slices.Equal(got, want) {
		t.Errorf("formats = %v, want %v", got, want)
	}
	if line.Direction != DirectionSendRecv || line.Port != 40002 || line.Proto != "RTP/AVP" {
		t.Errorf("m= line = %+v, want sendrecv RTP/AVP on port 40002", line)
	}

	negotiated, err := Negotiate(offer, g711)
	if err != nil {
		t.Fatalf("Negotiate of our own offer: %v", err)
	}
	want := Negotiated{Remote: local, Codec: PCMU, TelephoneEvent: 101, Direction: DirectionSendRecv, Ptime: sdpPtime}
	if *negotiated != want {
		t.Errorf("Negotiate of our own offer = %+v, want %+v", *negotiated, want)
	}
}

func TestBuildOfferWithoutEvents(t *testing.T) {
	body, err := BuildOffer(netip.MustParseAddrPort("[::1]:40002"), []Codec{PCMA}, 0, 1, 1)
	if err != nil {
		t.Fatalf("BuildOffer: %v", err)
	}
	text := string(body)
	if !strings.Contains(text, "m=audio 40002 RTP/AVP 8\r\n") || strings.Contains(text, "telephone-event") {
		t.Errorf("offer without events:\n%s", text)
	}
	if !strings.Contains(text, "c=IN IP6 ::1\r\n") {
		t.Errorf("offer lacks an IP6 c= line:\n%s", text)
	}
}

func TestBuildOfferRejectsBadInput(t *testing.T) {
	local := netip.MustParseAddrPort("127.0.0.1:40002")
	tests := []struct {
		name   string
		local  netip.AddrPort
		codecs []Codec
		event  uint8
	}{
		{name: "no codecs", local: local, codecs: nil, event: 101},
		{name: "event payload type is static", local: local, codecs: g711, event: 13},
		{name: "event payload type collides with a codec", local: local, codecs: []Codec{{Name: "PCMU", PayloadType: 101, ClockRate: 8000}}, event: 101},
		{name: "codec payload type above 127", local: local, codecs: []Codec{{Name: "PCMU", PayloadType: 200, ClockRate: 8000}}},
		{name: "codec listed twice", local: local, codecs: []Codec{PCMU, PCMU}},
		{name: "codec without name", local: local, codecs: []Codec{{PayloadType: 0, ClockRate: 8000}}},
		{name: "local port 0", local: netip.MustParseAddrPort("127.0.0.1:0"), codecs: g711},
		{name: "local address with zone", local: netip.MustParseAddrPort("[fe80::1%eth0]:40002"), codecs: g711},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, err := BuildOffer(tt.local, tt.codecs, tt.event, 1, 1)
			if err == nil {
				t.Fatalf("BuildOffer = %q, want an error", body)
			}
		})
	}
}

func TestSeedOffersAnswerInvariants(t *testing.T) {
	for _, name := range []string{
		"baresip_offer.sdp", "linphone_offer.sdp", "sipp_uac_offer.sdp", "trunk_offer_pcma_pt102.sdp",
		"srtp_rtp_video_offer.sdp", "gateway_audio_t38_offer.sdp", "hold_sendonly.sdp", "hold_old_style.sdp", "inactive.sdp", "lf_only_offer.sdp",
	} {
		t.Run(name, func(t *testing.T) {
			offer, negotiated := negotiateFile(t, name)
			local := netip.MustParseAddrPort("192.0.2.200:40000")
			body, err := BuildAnswer(offer, negotiated, local, 1, 2)
			if err != nil {
				t.Fatalf("BuildAnswer: %v", err)
			}
			checkAnswer(t, offer, negotiated, local, body)

			reread, err := rereadAnswer(body, negotiated)
			if err != nil {
				t.Fatalf("ParseAnswer of our answer: %v", err)
			}
			if reread.Codec != negotiated.Codec || reread.TelephoneEvent != negotiated.TelephoneEvent || reread.Remote != local {
				t.Errorf("ParseAnswer of our answer = %+v, negotiated %+v", reread, negotiated)
			}
			want := offer.Media[negotiated.MediaIndex].Direction
			if offer.MediaAddr(negotiated.MediaIndex).IsUnspecified() {
				// A peer at 0.0.0.0 receives nothing, so we never send.
				want = mirrorDirection(answerDirection(want, offer.MediaAddr(negotiated.MediaIndex)))
			}
			if reread.Direction != want {
				t.Errorf("answer's direction mirrored = %q, want %q", reread.Direction, want)
			}
		})
	}
}
