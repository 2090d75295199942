package main

import (
	"net/netip"
	"testing"
)

func TestOfferedAudio(t *testing.T) {
	offer := "v=0\r\no=bench 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio 6000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\n"

	got, err := offeredAudio([]byte(offer))
	if err != nil {
		t.Fatalf("offeredAudio: %v", err)
	}
	if want := netip.MustParseAddrPort("127.0.0.1:6000"); got != want {
		t.Errorf("offeredAudio = %v, want %v", got, want)
	}
}

func TestOfferedAudioRejectsBadOffer(t *testing.T) {
	cases := []struct {
		name  string
		offer string
	}{
		{name: "empty", offer: ""},
		{name: "not SDP", offer: "hello"},
		{name: "no audio", offer: "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=video 6000 RTP/AVP 96\r\n"},
		{name: "no connection", offer: "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n"},
		{name: "host name", offer: "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 pbx.example\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := offeredAudio([]byte(c.offer)); err == nil {
				t.Error("offeredAudio returned no error")
			}
		})
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	if err := run("localhost", 0); err == nil {
		t.Error("run with -listen localhost returned no error")
	}
	if err := run("127.0.0.1:0", -1); err == nil {
		t.Error("run with a negative -play returned no error")
	}
}
