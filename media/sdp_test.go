package media

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// readSDP returns a session description from testdata/sdp.
func readSDP(t testing.TB, name string) []byte {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata", "sdp", name))
	if err != nil {
		t.Fatalf("read SDP seed: %v", err)
	}
	return body
}

// mustParseSDP parses body and fails the test on error.
func mustParseSDP(t testing.TB, body []byte) *Description {
	t.Helper()
	desc, err := ParseSDP(body)
	if err != nil {
		t.Fatalf("ParseSDP: %v\n%s", err, body)
	}
	return desc
}

func TestParseSDP(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		check func(t *testing.T, desc *Description)
	}{
		{
			name: "baresip offer",
			file: "baresip_offer.sdp",
			check: func(t *testing.T, desc *Description) {
				if got, want := desc.Conn, netip.MustParseAddr("192.0.2.41"); got != want {
					t.Errorf("session c= = %v, want %v", got, want)
				}
				if len(desc.Media) != 1 {
					t.Fatalf("m= lines = %d, want 1", len(desc.Media))
				}
				line := desc.Media[0]
				if line.Kind != "audio" || line.Port != 10254 || line.Proto != "RTP/AVP" {
					t.Errorf("m= line = %s %d %s, want audio 10254 RTP/AVP", line.Kind, line.Port, line.Proto)
				}
				wantOpus := Format{PayloadType: 96, Name: "opus", ClockRate: 48000, Channels: 2, Fmtp: "stereo=1;sprop-stereo=1"}
				if line.Formats[0] != wantOpus {
					t.Errorf("first format = %+v, want %+v", line.Formats[0], wantOpus)
				}
				if line.Direction != DirectionSendRecv {
					t.Errorf("direction = %q, want sendrecv", line.Direction)
				}
			},
		},
		{
			name: "static payload type without rtpmap",
			file: "linphone_offer.sdp",
			check: func(t *testing.T, desc *Description) {
				want := Format{PayloadType: 18, Name: "G729", ClockRate: 8000, Channels: 1, Fmtp: "annexb=yes"}
				if got := desc.Media[0].Formats[5]; got != want {
					t.Errorf("format 5 = %+v, want %+v", got, want)
				}
			},
		},
		{
			name: "origin fields",
			file: "linphone_offer.sdp",
			check: func(t *testing.T, desc *Description) {
				want := Origin{Username: "counselor7", SessionID: 2210, SessionVersion: 3476, Address: "198.51.100.23"}
				if desc.Origin != want {
					t.Errorf("origin = %+v, want %+v", desc.Origin, want)
				}
			},
		},
		{
			name: "sendonly without final line end",
			file: "hold_sendonly.sdp",
			check: func(t *testing.T, desc *Description) {
				if got := desc.Media[0].Direction; got != DirectionSendOnly {
					t.Errorf("direction = %q, want sendonly", got)
				}
			},
		},
		{
			name: "LF line ends and media-level c=",
			file: "lf_only_offer.sdp",
			check: func(t *testing.T, desc *Description) {
				if desc.Conn.IsValid() {
					t.Errorf("session c= = %v, want none", desc.Conn)
				}
				if got, want := desc.MediaAddr(0), netip.MustParseAddr("192.0.2.77"); got != want {
					t.Errorf("media address = %v, want %v", got, want)
				}
				if got := desc.Media[0].Ptime; got != 30*time.Millisecond {
					t.Errorf("ptime = %v, want 30ms", got)
				}
			},
		},
		{
			name: "session without m= lines",
			file: "no_media.sdp",
			check: func(t *testing.T, desc *Description) {
				if len(desc.Media) != 0 {
					t.Errorf("m= lines = %d, want 0", len(desc.Media))
				}
			},
		},
		{
			name: "encrypted audio, plain audio and video",
			file: "srtp_rtp_video_offer.sdp",
			check: func(t *testing.T, desc *Description) {
				var got []string
				for _, line := range desc.Media {
					got = append(got, line.Kind+" "+line.Proto)
				}
				want := "audio RTP/SAVP,audio RTP/AVP,video RTP/AVP"
				if strings.Join(got, ",") != want {
					t.Errorf("m= lines = %v, want %s", got, want)
				}
			},
		},
		{
			name: "T.38 fax line",
			file: "gateway_audio_t38_offer.sdp",
			check: func(t *testing.T, desc *Description) {
				if len(desc.Media) != 2 {
					t.Fatalf("m= lines = %d, want 2", len(desc.Media))
				}
				fax := desc.Media[1]
				if fax.Kind != "image" || fax.Proto != "udptl" || fax.Port != 16386 {
					t.Errorf("fax m= line = %s %d %s, want image 16386 udptl", fax.Kind, fax.Port, fax.Proto)
				}
				if !slices.Equal(fax.FormatTokens, []string{"t38"}) || len(fax.Formats) != 0 {
					t.Errorf("fax formats = %v %v, want token t38 and no RTP formats", fax.FormatTokens, fax.Formats)
				}
			},
		},
		{
			name: "IPv6 connection address",
			file: "ipv6_offer.sdp",
			check: func(t *testing.T, desc *Description) {
				if got, want := desc.Conn, netip.MustParseAddr("2001:db8::41"); got != want {
					t.Errorf("session c= = %v, want %v", got, want)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, mustParseSDP(t, readSDP(t, tt.file)))
		})
	}
}

func TestParseSDPTolerance(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		check func(t *testing.T, desc *Description)
	}{
		{
			name: "unknown attributes",
			body: "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\na=x-vendor-flag\r\n" +
				"m=audio 4000 RTP/AVP 0\r\na=x-nat:2\r\na=rtcp:4001\r\na=zrtp-hash:1.10 abcdef\r\n",
			check: func(t *testing.T, desc *Description) {
				if len(desc.Media[0].Formats) != 1 {
					t.Errorf("formats = %v, want one", desc.Media[0].Formats)
				}
			},
		},
		{
			name: "malformed ptime is ignored",
			body: "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\na=ptime:twenty\r\n",
			check: func(t *testing.T, desc *Description) {
				if desc.Media[0].Ptime != 0 {
					t.Errorf("ptime = %v, want 0", desc.Media[0].Ptime)
				}
			},
		},
		{
			name: "malformed rtpmap keeps the static encoding",
			body: "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 8\r\na=rtpmap:8 PCMA\r\n",
			check: func(t *testing.T, desc *Description) {
				if got := desc.Media[0].Formats[0].Name; got != "PCMA" {
					t.Errorf("format name = %q, want PCMA", got)
				}
			},
		},
		{
			name: "session-level direction applies to media",
			body: "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\na=sendonly\r\nm=audio 4000 RTP/AVP 0\r\n",
			check: func(t *testing.T, desc *Description) {
				if got := desc.Media[0].Direction; got != DirectionSendOnly {
					t.Errorf("direction = %q, want sendonly", got)
				}
			},
		},
		{
			name: "media-level direction overrides session-level",
			body: "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\na=sendonly\r\nm=audio 4000 RTP/AVP 0\r\na=inactive\r\n",
			check: func(t *testing.T, desc *Description) {
				if got := desc.Media[0].Direction; got != DirectionInactive {
					t.Errorf("direction = %q, want inactive", got)
				}
			},
		},
		{
			name: "IPv4-mapped IPv6 address is unmapped",
			body: "v=0\r\no=- 1 1 IN IP6 ::ffff:192.0.2.1\r\ns=-\r\nc=IN IP6 ::ffff:192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
			check: func(t *testing.T, desc *Description) {
				if got, want := desc.Conn, netip.MustParseAddr("192.0.2.1"); got != want {
					t.Errorf("session c= = %v, want %v", got, want)
				}
			},
		},
		{
			name: "trailing blank lines",
			body: "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n\r\n\r\n  ",
			check: func(t *testing.T, desc *Description) {
				if len(desc.Media) != 1 {
					t.Errorf("m= lines = %d, want 1", len(desc.Media))
				}
			},
		},
		{
			name: "rejected stream without c= line",
			body: "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\nm=audio 4000 RTP/AVP 0\r\nc=IN IP4 192.0.2.1\r\n",
			check: func(t *testing.T, desc *Description) {
				if len(desc.Media) != 2 {
					t.Errorf("m= lines = %d, want 2", len(desc.Media))
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, mustParseSDP(t, []byte(tt.body)))
		})
	}
}

func TestParseSDPRejects(t *testing.T) {
	const head = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n"
	tests := []struct {
		name string
		body string
	}{
		{name: "empty body", body: ""},
		{name: "not SDP", body: "hello world\r\n"},
		{name: "version line only", body: "v=0\r\n"},
		{name: "unsupported version", body: "v=1\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\n"},
		{name: "payload type not a number", body: head + "c=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP PCMU\r\n"},
		{name: "payload type above 127", body: head + "c=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 200\r\n"},
		{name: "m= line without formats", body: head + "c=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP\r\n"},
		{name: "host name in c= line", body: head + "c=IN IP4 media.example.com\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"},
		{name: "IPv6 address with type IP4", body: head + "c=IN IP4 2001:db8::1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"},
		{name: "IPv4 address with type IP6", body: head + "c=IN IP6 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"},
		{name: "active stream without c= line", body: head + "t=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"},
		{name: "port out of range", body: head + "c=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 70000 RTP/AVP 0\r\n"},
		{name: "body above size limit", body: head + "c=IN IP4 192.0.2.1\r\nt=0 0\r\n" + strings.Repeat("a=x-padding\r\n", maxSDPSize/10)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			desc, err := ParseSDP([]byte(tt.body))
			if !errors.Is(err, ErrInvalidSDP) {
				t.Fatalf("ParseSDP error = %v, want ErrInvalidSDP", err)
			}
			if desc != nil {
				t.Errorf("ParseSDP returned %+v with the error", desc)
			}
		})
	}
}
