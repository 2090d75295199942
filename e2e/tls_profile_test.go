package e2e

import (
	"testing"
	"time"
)

// With sip.secure_counselors left at its default (off), a counselor who
// registers over TLS still takes calls whatever the phone's media setting:
// a phone that requires SRTP (mediaenc=srtp-mand) gets an SRTP offer and
// answers it, and a phone without SRTP rejects that offer with 488 and
// answers the plain RTP offer the server sends at once. Both hear the
// caller and are heard, and the call is recorded as answered.
func TestCounselorOverTLSWithoutSwitch(t *testing.T) {
	t.Parallel()
	RequireTool(t, "baresip")
	tests := []struct {
		name            string
		mediaEncryption string
		wantSRTP        bool
	}{
		{name: "phone requires srtp", mediaEncryption: "srtp-mand", wantSRTP: true},
		{name: "phone without srtp"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			listener, withTLS := WithTLS(t)
			srv := StartServer(t, ServerOptions{Mutate: func(cfg map[string]any) {
				DirectQueue(cfg)
				withTLS(cfg)
			}})
			counselor := StartBaresip(t, Softphone{
				User: "1001", Password: "demo-1001", Server: listener.Addr(), Transport: "tls",
				CAFile: listener.Certificate.CertFile, MediaEncryption: tc.mediaEncryption,
				AutoAnswer: true, SourceWAV: ToneSource(t, "1001", CounselorToneHz), RTPPorts: 2,
			})
			srv.WaitLog(t, LogFields(map[string]any{"message": "binding added", "user": "1001", "transport": "tls"}), logTimeout)
			capture := Capture(t, counselor.RTP.Min)
			srv.LoginCounselor(t, "1001")
			caller := StartTonePhone(t, srv.Addr(), "7000", "", CallerToneHz, false)

			callerTimeline, counselorTimeline, bridged := callThroughTrunk(t, srv, caller, counselor)
			bridgeEnd := Measure(4 * time.Second)
			caller.Hangup(t)
			caller.WaitEvent(t, EventCallClosed, phoneTimeout)
			counselor.WaitEvent(t, EventCallClosed, phoneTimeout)
			rec := srv.WaitRecord(t, func(r map[string]any) bool {
				return recordField(r, "counselor") == "1001" && recordField(r, "ended_at") != ""
			}, recordTimeout)
			wantRecord(t, rec, map[string]string{"outcome": "answered", "hangup_side": "caller"})

			callerTone := map[string]float64{"caller": CallerToneHz}
			counselorTone := map[string]float64{"counselor": CounselorToneHz}
			CheckHears(t, "caller", "while bridged", callerTimeline.Segment(t, ReadRecording(t, caller, "caller"), bridged, bridgeEnd), counselorTone, callerTone)
			CheckHears(t, "counselor", "while bridged", counselorTimeline.Segment(t, ReadRecording(t, counselor, "counselor"), bridged, bridgeEnd), callerTone, counselorTone)

			if tc.wantSRTP {
				checkSRTPOnWire(t, capture, counselor.RTP.Min)
				checkPhoneUsedSRTP(t, counselor, 1)
				checkNoKeysLogged(t, srv)
				return
			}
			srv.WaitLog(t, LogFields(map[string]any{"counselor": "1001", "rejected": "SRTP", "offering": "plain RTP"}), logTimeout)
		})
	}
}
