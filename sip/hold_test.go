package sip

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"helpline/media"
)

// testCall is a call in the IVR with a caller session and an answered
// counselor leg, enough for reoffer; nothing is bridged.
func testCall(t *testing.T) (*call, *outboundLeg) {
	t.Helper()
	open := func() *net.UDPConn {
		conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatalf("opening an RTP socket: %v", err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	t.Cleanup(func() { cancel(nil) })

	c := &call{
		srv:        &Server{codecs: []media.Codec{media.PCMU, media.PCMA}},
		log:        zerolog.Nop(),
		ctx:        ctx,
		end:        cancel,
		caller:     &inboundLeg{},
		sdpSession: 1111,
		callerMedia: media.NewSession(media.SessionConfig{Conn: open(), Codec: media.PCMU,
			TelephoneEvent: 101, Logger: zerolog.Nop()}),
	}
	c.sdpVersion.Store(1)
	leg := &outboundLeg{sdpSession: 2222, media: media.NewSession(media.SessionConfig{Conn: open(), Codec: media.PCMU,
		TelephoneEvent: 101, Logger: zerolog.Nop()})}
	leg.sdpVersion.Store(1)
	c.peer = leg
	return c, leg
}

const (
	offerPCMAOnly = "v=0\r\no=phone 7 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio 40000 RTP/AVP 8 96\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:96 telephone-event/8000\r\na=sendrecv\r\n"
	offerG729Only = "v=0\r\no=phone 7 3 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		"m=audio 40000 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n"
	offerNoMedia  = "v=0\r\no=phone 7 4 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
	offerOldHold  = "v=0\r\no=trunk 7 5 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=sendrecv"
	offerSendOnly = "v=0\r\no=trunk 7 6 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=sendonly"
	offerResume   = "v=0\r\no=trunk 7 7 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=sendrecv\r\n"
)

// S3 on the counselor leg: a phone that re-offers PCMA only is switched to
// PCMA, answered PT 8 in the leg's own o= session, and a later offer with
// no usable codec fails with the PCMA session kept.
func TestReofferCounselorCodecChange(t *testing.T) {
	c, leg := testCall(t)

	answer, err := c.reoffer(leg, []byte(offerPCMAOnly))
	if err != nil {
		t.Fatalf("reoffer(PCMA only): %v", err)
	}
	desc, err := media.ParseSDP(answer)
	if err != nil {
		t.Fatalf("parsing the answer: %v", err)
	}
	if desc.Origin.SessionID != 2222 || desc.Origin.SessionVersion != 2 {
		t.Errorf("answer o= session %d version %d, want the leg's session 2222, version 2", desc.Origin.SessionID, desc.Origin.SessionVersion)
	}
	if !strings.Contains(string(answer), "m=audio") || !strings.Contains(string(answer), "RTP/AVP 8 96") {
		t.Errorf("answer does not accept PT 8 with telephone-event 96:\n%s", answer)
	}
	if got := leg.media.Codec(); got.Name != "PCMA" {
		t.Errorf("counselor session codec = %s, want PCMA", got.Name)
	}
	if got := c.callerMedia.Codec(); got.Name != "PCMU" {
		t.Errorf("caller session codec = %s, want PCMU kept: the bridge transcodes", got.Name)
	}

	if _, err := c.reoffer(leg, []byte(offerG729Only)); !errors.Is(err, media.ErrNoCommonCodec) {
		t.Errorf("reoffer(G.729 only) = %v, want ErrNoCommonCodec (488)", err)
	}
	if got := leg.media.Codec(); got.Name != "PCMA" {
		t.Errorf("counselor session codec = %s after the rejected offer, want PCMA kept", got.Name)
	}
	if got := leg.sdpVersion.Load(); got != 2 {
		t.Errorf("SDP version = %d after the rejected offer, want 2 unchanged", got)
	}
}

// S2 on either leg: an offer without m= lines gets an answer without any,
// stops sending to that party and counts as hold.
func TestReofferWithoutMedia(t *testing.T) {
	c, leg := testCall(t)
	for _, tt := range []struct {
		name    string
		leg     any
		session *media.Session
	}{{"caller", c.caller, c.callerMedia}, {"counselor", leg, leg.media}} {
		t.Run(tt.name, func(t *testing.T) {
			answer, err := c.reoffer(tt.leg, []byte(offerNoMedia))
			if err != nil {
				t.Fatalf("reoffer: %v", err)
			}
			if strings.Contains(string(answer), "m=") {
				t.Errorf("answer has an m= line:\n%s", answer)
			}
			if tt.session.Sending() {
				t.Error("session still sends after an offer without media")
			}
			if c.expectsRTP(tt.leg) {
				t.Error("the media timeout still expects RTP from a party without a stream")
			}

			if _, err := c.reoffer(tt.leg, []byte(offerResume)); err != nil {
				t.Fatalf("reoffer(resume): %v", err)
			}
			if !tt.session.Sending() || !c.expectsRTP(tt.leg) {
				t.Error("a later offer did not bring the media back")
			}
		})
	}
}

// S1: sendonly and the old c=0.0.0.0 both hold; our answer is recvonly
// and the caller's session sends nothing until the resume.
func TestReofferHoldAndResume(t *testing.T) {
	c, _ := testCall(t)
	for _, offer := range []string{offerSendOnly, offerOldHold} {
		answer, err := c.reoffer(c.caller, []byte(offer))
		if err != nil {
			t.Fatalf("reoffer(%q): %v", offer, err)
		}
		if !strings.Contains(string(answer), "a=recvonly") || !strings.Contains(string(answer), "c=IN IP4 127.0.0.1") {
			t.Errorf("hold answer is not recvonly at 127.0.0.1:\n%s", answer)
		}
		if c.callerMedia.Sending() || !c.callerHolds {
			t.Errorf("caller not on hold after %q", offer)
		}
	}
	if _, err := c.reoffer(c.caller, []byte(offerResume)); err != nil {
		t.Fatalf("reoffer(resume): %v", err)
	}
	if !c.callerMedia.Sending() || c.callerHolds {
		t.Error("caller still on hold after a=sendrecv")
	}
}
