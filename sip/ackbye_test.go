package sip

import (
	"context"
	"net/netip"
	"testing"

	"github.com/rs/zerolog"

	"helpline/media"
	"helpline/routing"
)

// phoneAnswerPCMU is a phone's SDP answer that takes the PCMU offer.
const phoneAnswerPCMU = "v=0\r\n" +
	"o=phone 1 1 IN IP4 127.0.0.1\r\n" +
	"s=-\r\n" +
	"c=IN IP4 127.0.0.1\r\n" +
	"t=0 0\r\n" +
	"m=audio 40998 RTP/AVP 0\r\n" +
	"a=rtpmap:0 PCMU/8000\r\n" +
	"a=sendrecv\r\n"

// hangupRecorder is a legEvents that reports each BYE's leg.
type hangupRecorder struct {
	hangups chan any
}

func (r *hangupRecorder) legHangup(leg any, _ string)            { r.hangups <- leg }
func (r *hangupRecorder) legDigit(any, rune)                     {}
func (r *hangupRecorder) legReoffer(any, []byte) ([]byte, error) { return nil, nil }

// A phone that sends BYE the moment it gets the ACK of its 200 finds the
// dialog: the BYE gets 200, not 481, and the leg's events see the hangup.
func TestByeRightAfterAckFindsDialog(t *testing.T) {
	srv := startTestNode(t, testNodeSetup{
		listeners: []Listener{{Network: "udp", Address: netip.MustParseAddrPort("127.0.0.1:0")}},
	})
	listener, ok := srv.listenerFor("udp")
	if !ok {
		t.Fatal("server has no UDP listener")
	}
	phone := startRelayPhone(t, relayPhoneMode{answerSDP: phoneAnswerPCMU})
	registerRelayPhone(t, phone.relayPeer, listener.Address)
	binding, ok := srv.registrar.Lookup(testUser)
	if !ok {
		t.Fatal("no binding after REGISTER")
	}

	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	events := &hangupRecorder{hangups: make(chan any, 1)}
	dr := dialRequest{toUser: testUser, codec: media.PCMU, ringTimeout: testWait, events: events, log: zerolog.Nop()}
	if err := dr.reach(binding); err != nil {
		t.Fatalf("reach: %v", err)
	}
	dialed := make(chan dialOutcome, 1)
	go func() { dialed <- srv.dial(ctx, dr) }()

	// Respond returned, so the phone has the ACK: hang up at once.
	session := receive(t, phone.answered, "the phone's answer")
	byeErr := session.Bye(ctx)

	result := receive(t, dialed, "the dial result")
	if result.outcome != routing.Answered {
		t.Fatalf("outcome = %v (status %d, %v), expected answered", result.outcome, result.status, result.err)
	}
	t.Cleanup(result.leg.release)
	if byeErr != nil {
		t.Fatalf("BYE right after the ACK failed: %v", byeErr)
	}
	if got := receive(t, events.hangups, "the BYE on the leg"); got != any(result.leg) {
		t.Errorf("hangup reported for %v, expected the answered leg", got)
	}
}
