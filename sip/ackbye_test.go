package sip

import (
	"context"
	"net/netip"
	"testing"

	sipmsg "github.com/emiago/sipgo/sip"
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

// A BYE for an INVITE still in progress finds the leg whatever the
// phone's tag, until the dial ends.
func TestDiallingLegTakesEarlyBye(t *testing.T) {
	table := newDialogTable()
	key := dialogKey{callID: "call-1", localTag: "ours"}
	leg := &outboundLeg{}
	table.addDialling(key, leg)

	bye := byeFrom(key.callID, key.localTag, "theirs")
	if _, found := table.lookup(bye); found {
		t.Error("lookup found a dialog that was never confirmed")
	}
	got, found := table.lookupDialling(bye)
	if !found || got != inDialogHandler(leg) {
		t.Fatalf("lookupDialling = %v, %v, expected the dialling leg", got, found)
	}
	if _, found := table.lookupDialling(byeFrom(key.callID, "other", "theirs")); found {
		t.Error("lookupDialling matched a BYE with another To tag")
	}

	table.removeDialling(key)
	if _, found := table.lookupDialling(bye); found {
		t.Error("lookupDialling found the leg after the dial ended")
	}
}

// byeFrom builds a BYE that a phone sends in dialog callID, with our tag
// in To and its own in From.
func byeFrom(callID, localTag, remoteTag string) *sipmsg.Request {
	req := sipmsg.NewRequest(sipmsg.BYE, sipmsg.Uri{Scheme: "sip", Host: "127.0.0.1"})
	from := &sipmsg.FromHeader{Address: sipmsg.Uri{Scheme: "sip", User: "phone", Host: "127.0.0.1"}, Params: sipmsg.NewParams()}
	from.Params.Add("tag", remoteTag)
	to := &sipmsg.ToHeader{Address: sipmsg.Uri{Scheme: "sip", User: "helpline", Host: "127.0.0.1"}, Params: sipmsg.NewParams()}
	to.Params.Add("tag", localTag)
	id := sipmsg.CallIDHeader(callID)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&id)
	return req
}
