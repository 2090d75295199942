package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// fraudTarget is an outside number that trunk.allowed_targets does not
// list.
const fraudTarget = "01099998888"

// featureCodeStatus sends a feature code INVITE for code as user from a
// fresh socket on host, answers the 401 from another fresh socket with
// the digest of password, and returns the final status. Fresh sockets
// keep the retransmitted 401 of the first INVITE, which the test does
// not acknowledge, from reading as the answer to the second.
func featureCodeStatus(t *testing.T, srv *Server, host, code, user, password string) (int, []byte) {
	t.Helper()
	vars := map[string]string{"code": code, "user": user, "cseq": "1", "authorization": ""}
	status, msg := finalStatus(t, ListenUDPOn(t, host), srv, "valid/feature_invite.sip", vars)
	if status != 401 {
		return status, msg
	}
	vars["cseq"] = "2"
	vars["authorization"] = digestAuthorization(t, msg, "INVITE", "sip:"+code+"@"+srv.Addr(), user, password)
	return finalStatus(t, ListenUDPOn(t, host), srv, "valid/feature_invite.sip", vars)
}

// No request makes the server dial a number outside
// trunk.allowed_targets, nor dial anything for a source outside
// trunk.trusted_sources: the outbound gateway, a mock that records every
// INVITE, gets none in those cases. A counselor's emergency code for an
// allowed number reaches it, which shows that the gateway would have seen
// the others.
func TestTollFraudNeverDialsOut(t *testing.T) {
	t.Parallel()
	gateway := StartMockGateway(t)
	srv := StartServer(t, ServerOptions{Mutate: func(cfg map[string]any) {
		DirectQueue(cfg)
		trunkOnly(t, cfg)
		MustSetConfig(t, cfg, "trunk.outbound_uri", gateway.URI())
	}})

	// Outside any call.
	direct := []struct {
		name, host, number string
		want               int
	}{
		{"untrusted source to an allowed target", floodHost, "119", 403},
		{"untrusted source to an outside number", floodHost, fraudTarget, 403},
		{"trunk to an allowed target", Loopback, "119", 404},
		{"trunk to an outside number", Loopback, fraudTarget, 404},
	}
	for _, tt := range direct {
		t.Run(tt.name, func(t *testing.T) {
			if status, msg := finalStatus(t, ListenUDPOn(t, tt.host), srv, "valid/invite.sip", map[string]string{"number": tt.number}); status != tt.want {
				t.Errorf("INVITE to %s from %s: status %d, want %d\n%s", tt.number, tt.host, status, tt.want, msg)
			}
		})
	}
	codes := []struct{ name, code string }{
		{"emergency code with an outside number", "*9" + fraudTarget},
		{"emergency code with an allowed number", "*9119"},
	}
	for _, tt := range codes {
		t.Run("authenticated counselor dials "+tt.name, func(t *testing.T) {
			if status, msg := featureCodeStatus(t, srv, floodHost, tt.code, "1002", "demo-1002"); status != 404 {
				t.Errorf("feature code %s: status %d, want 404\n%s", tt.code, status, msg)
			}
		})
	}
	t.Run("counselor dials an outside number with credentials", func(t *testing.T) {
		// A challenge from a feature code gives a nonce, with which the
		// phone signs an INVITE to the outside number. Only feature codes
		// are authenticated, so the INVITE is a call from an untrusted
		// source whatever its credentials.
		vars := map[string]string{"code": "*21", "user": "1002", "cseq": "1", "authorization": ""}
		status, challenge := finalStatus(t, ListenUDPOn(t, floodHost), srv, "valid/feature_invite.sip", vars)
		if status != 401 {
			t.Fatalf("feature code without credentials: status %d, want 401\n%s", status, challenge)
		}
		vars["code"] = fraudTarget
		vars["authorization"] = digestAuthorization(t, challenge, "INVITE", "sip:"+fraudTarget+"@"+srv.Addr(), "1002", "demo-1002")
		if status, msg := finalStatus(t, ListenUDPOn(t, floodHost), srv, "valid/feature_invite.sip", vars); status != 403 {
			t.Errorf("signed INVITE to %s: status %d, want 403\n%s", fraudTarget, status, msg)
		}
	})
	if invites := gateway.Invites(); len(invites) != 0 {
		t.Fatalf("the gateway got INVITEs from calls outside any conversation: %v", invites)
	}

	// In a call: a counselor tries outside numbers by code, API and REFER.
	counselor := StartTonePhone(t, srv.Addr(), "1001", "demo-1001", CounselorToneHz, true)
	srv.LoginCounselor(t, "1001")
	caller := StartTonePhone(t, srv.Addr(), "7000", "", CallerToneHz, false)
	caller.Command(t, "dial", "sip:120@"+srv.Addr())
	counselor.WaitEvent(t, EventCallEstablished, phoneTimeout)
	bridged := srv.WaitLog(t, LogMessage("counselor answered, bridging"), logTimeout)
	callID, _ := bridged["call_id"].(string)

	counselor.Command(t, "sndcode", "*9"+fraudTarget+"#")
	srv.WaitLog(t, LogFields(map[string]any{"message": "emergency feature code rejected"}), logTimeout)
	if res := srv.API(t, http.MethodPost, "/api/v1/calls/"+callID+"/emergency", map[string]string{"target": fraudTarget}); res.Status != http.StatusForbidden {
		t.Errorf("emergency API with an outside number = %s, want 403", res)
	}

	// The positive control: an allowed number reaches the gateway, which
	// answers busy, and the call goes on.
	counselor.Command(t, "sndcode", "*9119#")
	gateway.WaitInvite(t, "119", logTimeout)
	srv.WaitLog(t, LogFields(map[string]any{"message": "emergency target not reached", "reason": "busy"}), logTimeout)

	// Last, because baresip hangs up when a transfer fails.
	counselor.Command(t, "transfer", "sip:"+fraudTarget+"@"+srv.Addr())
	srv.WaitLog(t, LogFields(map[string]any{"message": "REFER rejected", "status": 403}), logTimeout)
	caller.Hangup(t)
	waitEndedRecord(t, srv, callID)

	invites := gateway.Invites()
	if len(invites) != 1 || !strings.HasPrefix(invites[0].URI, "sip:119@") {
		t.Errorf("gateway INVITEs = %v, want the one to 119 alone", invites)
	}
	for _, line := range srv.OutputLines() {
		if strings.Contains(line, fraudTarget) {
			t.Errorf("a log line holds the outside number in full: %s", line)
		}
	}
}
