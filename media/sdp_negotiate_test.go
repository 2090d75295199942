package media

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// g711 is the codec list the server supports, µ-law first.
var g711 = []Codec{PCMU, PCMA}

// offerWithEvent returns an offer whose audio line lists PCMA, PCMU and
// telephone-event on eventPT.
func offerWithEvent(eventPT uint8) []byte {
	return []byte(fmt.Sprintf("v=0\r\no=- 7 7 IN IP4 203.0.113.9\r\ns=-\r\nc=IN IP4 203.0.113.9\r\nt=0 0\r\n"+
		"m=audio 30000 RTP/AVP 8 0 %[1]d\r\na=rtpmap:%[1]d telephone-event/8000\r\na=fmtp:%[1]d 0-15\r\na=sendrecv\r\n", eventPT))
}

func TestNegotiate(t *testing.T) {
	tests := []struct {
		name      string
		body      []byte
		supported []Codec
		wantSRTP  bool
		want      Negotiated
	}{
		{
			name:      "SIPp offer with PCMU only",
			body:      readSDP(t, "sipp_uac_offer.sdp"),
			supported: g711,
			want: Negotiated{
				Remote:    netip.MustParseAddrPort("127.0.0.1:6000"),
				Codec:     PCMU,
				Direction: DirectionSendRecv,
			},
		},
		{
			name:      "first supported codec in offer order",
			body:      readSDP(t, "baresip_offer.sdp"),
			supported: g711,
			want: Negotiated{
				Remote:         netip.MustParseAddrPort("192.0.2.41:10254"),
				Codec:          PCMU,
				TelephoneEvent: 101,
				Direction:      DirectionSendRecv,
			},
		},
		{
			name:      "offer order wins over our order",
			body:      readSDP(t, "trunk_offer_pcma_pt102.sdp"),
			supported: g711,
			want: Negotiated{
				Remote:         netip.MustParseAddrPort("203.0.113.70:31642"),
				Codec:          PCMA,
				TelephoneEvent: 102,
				Direction:      DirectionSendRecv,
				Ptime:          20 * time.Millisecond,
			},
		},
		{
			name:      "telephone-event 8000 Hz among three rates",
			body:      readSDP(t, "linphone_offer.sdp"),
			supported: g711,
			want: Negotiated{
				Remote:         netip.MustParseAddrPort("198.51.100.23:7078"),
				Codec:          PCMU,
				TelephoneEvent: 100,
				Direction:      DirectionSendRecv,
			},
		},
		{
			name: "dynamic payload type for PCMU",
			body: []byte("v=0\r\no=- 1 1 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\n" +
				"m=audio 5004 RTP/AVP 97 98\r\na=rtpmap:97 pcmu/8000\r\na=rtpmap:98 telephone-event/8000\r\n"),
			supported: g711,
			want: Negotiated{
				Remote:         netip.MustParseAddrPort("192.0.2.5:5004"),
				Codec:          Codec{Name: "PCMU", PayloadType: 97, ClockRate: 8000},
				TelephoneEvent: 98,
				Direction:      DirectionSendRecv,
			},
		},
		{
			name:      "SRTP audio line is taken first",
			body:      readSDP(t, "srtp_rtp_video_offer.sdp"),
			supported: g711,
			wantSRTP:  true,
			want: Negotiated{
				MediaIndex:     0,
				Remote:         netip.MustParseAddrPort("192.0.2.88:40012"),
				Codec:          PCMU,
				TelephoneEvent: 101,
				Direction:      DirectionSendRecv,
			},
		},
		{
			name: "disabled audio line is skipped",
			body: []byte("v=0\r\no=- 1 1 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\n" +
				"m=audio 0 RTP/AVP 0\r\nm=audio 5006 RTP/AVPF 8\r\n"),
			supported: g711,
			want: Negotiated{
				MediaIndex: 1,
				Remote:     netip.MustParseAddrPort("192.0.2.5:5006"),
				Codec:      PCMA,
				Direction:  DirectionSendRecv,
			},
		},
		{
			name:      "hold with sendonly is answered recvonly",
			body:      readSDP(t, "hold_sendonly.sdp"),
			supported: g711,
			want: Negotiated{
				Remote:         netip.MustParseAddrPort("192.0.2.41:10254"),
				Codec:          PCMU,
				TelephoneEvent: 101,
				Direction:      DirectionRecvOnly,
			},
		},
		{
			name:      "hold with 0.0.0.0 has no remote and is answered recvonly",
			body:      readSDP(t, "hold_old_style.sdp"),
			supported: g711,
			want: Negotiated{
				Codec:          PCMA,
				TelephoneEvent: 102,
				Direction:      DirectionRecvOnly,
				Ptime:          20 * time.Millisecond,
			},
		},
		{
			name:      "inactive offer is answered inactive",
			body:      readSDP(t, "inactive.sdp"),
			supported: g711,
			want: Negotiated{
				Remote:         netip.MustParseAddrPort("198.51.100.23:7078"),
				Codec:          PCMU,
				TelephoneEvent: 100,
				Direction:      DirectionInactive,
			},
		},
		{
			name: "recvonly offer is answered sendonly",
			body: []byte("v=0\r\no=- 1 1 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\n" +
				"m=audio 5004 RTP/AVP 0\r\na=recvonly\r\n"),
			supported: g711,
			want: Negotiated{
				Remote:    netip.MustParseAddrPort("192.0.2.5:5004"),
				Codec:     PCMU,
				Direction: DirectionSendOnly,
			},
		},
		{
			name:      "IPv6 offer",
			body:      readSDP(t, "ipv6_offer.sdp"),
			supported: g711,
			want: Negotiated{
				Remote:         netip.MustParseAddrPort("[2001:db8::41]:10254"),
				Codec:          PCMU,
				TelephoneEvent: 96,
				Direction:      DirectionSendRecv,
				Ptime:          20 * time.Millisecond,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Negotiate(mustParseSDP(t, tt.body), tt.supported)
			if err != nil {
				t.Fatalf("Negotiate: %v", err)
			}
			if (got.SRTP != nil) != tt.wantSRTP {
				t.Errorf("Negotiate SRTP = %v, expected SRTP %v", got.SRTP, tt.wantSRTP)
			}
			got.SRTP = nil
			if *got != tt.want {
				t.Errorf("Negotiate = %+v\nwant       %+v", *got, tt.want)
			}
		})
	}
}

func TestNegotiateTelephoneEventPayloadType(t *testing.T) {
	for _, eventPT := range []uint8{96, 100, 101, 102, 127} {
		t.Run(fmt.Sprintf("PT %d", eventPT), func(t *testing.T) {
			offer := mustParseSDP(t, offerWithEvent(eventPT))
			negotiated, err := Negotiate(offer, g711)
			if err != nil {
				t.Fatalf("Negotiate: %v", err)
			}
			if negotiated.TelephoneEvent != eventPT {
				t.Errorf("TelephoneEvent = %d, want %d", negotiated.TelephoneEvent, eventPT)
			}
			if negotiated.Codec != PCMA {
				t.Errorf("Codec = %+v, want PCMA: telephone-event must not be taken for a codec", negotiated.Codec)
			}

			body, err := BuildAnswer(offer, negotiated, netip.MustParseAddrPort("192.0.2.200:40000"), 1, 1)
			if err != nil {
				t.Fatalf("BuildAnswer: %v", err)
			}
			text := string(body)
			for _, want := range []string{
				fmt.Sprintf("m=audio 40000 RTP/AVP 8 %d\r\n", eventPT),
				fmt.Sprintf("a=rtpmap:%d telephone-event/8000\r\n", eventPT),
				fmt.Sprintf("a=fmtp:%d 0-16\r\n", eventPT),
			} {
				if !strings.Contains(text, want) {
					t.Errorf("answer lacks %q:\n%s", want, text)
				}
			}

			answered, err := ParseAnswer(body, g711, eventPT)
			if err != nil {
				t.Fatalf("ParseAnswer of our answer: %v", err)
			}
			if answered.TelephoneEvent != eventPT || answered.Codec != PCMA {
				t.Errorf("answer re-read = %+v, want PCMA with event PT %d", answered, eventPT)
			}
		})
	}
}

func TestNegotiateNoCommonCodec(t *testing.T) {
	tests := []struct {
		name        string
		body        []byte
		supported   []Codec
		wantMessage []string
	}{
		{
			name:        "only G729 and G722 offered",
			body:        readSDP(t, "g729_g722_only.sdp"),
			supported:   g711,
			wantMessage: []string{"G729/8000 (PT 18)", "G722/8000 (PT 9)", "PCMU/8000, PCMA/8000"},
		},
		{
			name:        "no m= lines",
			body:        readSDP(t, "no_media.sdp"),
			supported:   g711,
			wantMessage: []string{"no audio m= line"},
		},
		{
			name:        "re-INVITE to T.38 fax",
			body:        readSDP(t, "t38_reinvite.sdp"),
			supported:   g711,
			wantMessage: []string{"no audio m= line"},
		},
		{
			name: "only DTLS audio",
			body: []byte("v=0\r\no=- 1 1 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\n" +
				"m=audio 5004 UDP/TLS/RTP/SAVPF 0\r\n"),
			supported:   g711,
			wantMessage: []string{"UDP/TLS/RTP/SAVPF", "transport not supported"},
		},
		{
			name: "only video",
			body: []byte("v=0\r\no=- 1 1 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\n" +
				"m=video 5004 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"),
			supported:   g711,
			wantMessage: []string{"no audio m= line"},
		},
		{
			name: "audio disabled with port 0",
			body: []byte("v=0\r\no=- 1 1 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\n" +
				"m=audio 0 RTP/AVP 0\r\n"),
			supported:   g711,
			wantMessage: []string{"disabled with port 0"},
		},
		{
			name:        "telephone-event is not a codec",
			body:        []byte("v=0\r\no=- 1 1 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\nm=audio 5004 RTP/AVP 101\r\na=rtpmap:101 telephone-event/8000\r\n"),
			supported:   g711,
			wantMessage: []string{"telephone-event/8000 (PT 101)"},
		},
		{
			name:        "PCMU at another clock rate",
			body:        []byte("v=0\r\no=- 1 1 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\nm=audio 5004 RTP/AVP 97\r\na=rtpmap:97 PCMU/16000\r\n"),
			supported:   g711,
			wantMessage: []string{"PCMU/16000 (PT 97)"},
		},
		{
			name:        "we support nothing",
			body:        readSDP(t, "sipp_uac_offer.sdp"),
			supported:   nil,
			wantMessage: []string{"supports no codecs"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			negotiated, err := Negotiate(mustParseSDP(t, tt.body), tt.supported)
			if !errors.Is(err, ErrNoCommonCodec) {
				t.Fatalf("Negotiate = %+v, %v; want ErrNoCommonCodec", negotiated, err)
			}
			for _, want := range tt.wantMessage {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}

func TestNegotiateNilOffer(t *testing.T) {
	if _, err := Negotiate(nil, g711); !errors.Is(err, ErrInvalidSDP) {
		t.Errorf("Negotiate(nil) error = %v, want ErrInvalidSDP", err)
	}
}

func TestParseAnswer(t *testing.T) {
	const head = "v=0\r\no=phone 5 6 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n"
	tests := []struct {
		name         string
		body         []byte
		offeredEvent uint8
		want         Negotiated
	}{
		{
			name:         "phone accepts PCMA and events",
			body:         readSDP(t, "phone_answer_pcma.sdp"),
			offeredEvent: 101,
			want: Negotiated{
				Remote:         netip.MustParseAddrPort("198.51.100.23:7078"),
				Codec:          PCMA,
				TelephoneEvent: 101,
				Direction:      DirectionSendRecv,
				Ptime:          20 * time.Millisecond,
			},
		},
		{
			name:         "events not offered are ignored",
			body:         readSDP(t, "phone_answer_pcma.sdp"),
			offeredEvent: 0,
			want: Negotiated{
				Remote:    netip.MustParseAddrPort("198.51.100.23:7078"),
				Codec:     PCMA,
				Direction: DirectionSendRecv,
				Ptime:     20 * time.Millisecond,
			},
		},
		{
			name:         "answer payload type is kept",
			body:         []byte(head + "m=audio 9000 RTP/AVP 112 0\r\na=rtpmap:112 PCMU/8000\r\n"),
			offeredEvent: 101,
			want: Negotiated{
				Remote:    netip.MustParseAddrPort("198.51.100.7:9000"),
				Codec:     Codec{Name: "PCMU", PayloadType: 112, ClockRate: 8000},
				Direction: DirectionSendRecv,
			},
		},
		{
			name:         "sendonly answer makes us recvonly",
			body:         []byte(head + "m=audio 9000 RTP/AVP 0\r\na=sendonly\r\n"),
			offeredEvent: 101,
			want: Negotiated{
				Remote:    netip.MustParseAddrPort("198.51.100.7:9000"),
				Codec:     PCMU,
				Direction: DirectionRecvOnly,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAnswer(tt.body, g711, tt.offeredEvent)
			if err != nil {
				t.Fatalf("ParseAnswer: %v", err)
			}
			if *got != tt.want {
				t.Errorf("ParseAnswer = %+v\nwant          %+v", *got, tt.want)
			}
		})
	}
}

func TestParseAnswerErrors(t *testing.T) {
	const head = "v=0\r\no=phone 5 6 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n"
	tests := []struct {
		name string
		body string
		want error
	}{
		{name: "not SDP", body: "SIP/2.0 200 OK\r\n", want: ErrInvalidSDP},
		{name: "no m= line", body: head, want: ErrInvalidSDP},
		{name: "video only", body: head + "m=video 9000 RTP/AVP 96\r\n", want: ErrInvalidSDP},
		{name: "encrypted transport", body: head + "m=audio 9000 RTP/SAVP 0\r\n", want: ErrInvalidSDP},
		{name: "stream rejected with port 0", body: head + "m=audio 0 RTP/AVP 0\r\n", want: ErrNoCommonCodec},
		{name: "codec we did not offer", body: head + "m=audio 9000 RTP/AVP 18\r\n", want: ErrNoCommonCodec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAnswer([]byte(tt.body), g711, 101)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ParseAnswer = %+v, %v; want %v", got, err, tt.want)
			}
		})
	}
}
