package e2e

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The counselor presses *9119# during a call: the server calls 119
// through the outbound gateway and mixes caller, counselor and target.
// A first try that the gateway answers busy fails with the reason busy.
// The gateway echoes what it receives, so each party hearing its own tone
// proves that its audio reached the target. When the target hangs up, the
// counselor stays with the caller. A code for a target not allowed gets an
// error tone and changes nothing.
func TestEmergencyThreeWayFromPhone(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	gatewayPort := FreePort(t)
	srv := StartServer(t, ServerOptions{Mutate: func(cfg map[string]any) {
		DirectQueue(cfg)
		MustSetConfig(t, cfg, "trunk.outbound_uri", "sip:gw@"+net.JoinHostPort(Loopback, strconv.Itoa(gatewayPort)))
	}})
	counselor := StartTonePhone(t, srv.Addr(), "1001", "demo-1001", CounselorToneHz, true)
	srv.LoginCounselor(t, "1001")
	caller := StartTonePhone(t, srv.Addr(), "7000", "", CallerToneHz, false)

	caller.Command(t, "dial", "sip:120@"+srv.Addr())
	caller.WaitEvent(t, EventCallEstablished, phoneTimeout)
	callerTimeline := Timeline{Established: time.Now()}
	counselorCall := counselor.WaitEvent(t, EventCallEstablished, phoneTimeout)
	counselorTimeline := Timeline{Established: time.Now()}
	srv.WaitLog(t, LogMessage("counselor answered, bridging"), logTimeout)
	bridged := time.Now()
	bridgeEnd := Measure(4 * time.Second)

	// A target that trunk.allowed_targets does not list: error tone.
	counselor.Command(t, "sndcode", "*9118#")
	srv.WaitLog(t, LogFields(map[string]any{"message": "emergency feature code rejected", "emergency_target": "****18"}), logTimeout)
	rejected := time.Now()

	// The gateway answers busy: the server reports the failure with its
	// reason, and the code may be typed again.
	busyGateway := StartSipp(t, SippOptions{Scenario: "uas_busy.xml", LocalPort: gatewayPort, Timeout: 60 * time.Second})
	counselor.Command(t, "sndcode", "*9119#")
	srv.WaitLog(t, LogFields(map[string]any{"message": "emergency target not reached", "emergency_target": "119", "reason": "busy"}), logTimeout)
	if result := busyGateway.Wait(t); result.ExitCode != 0 {
		t.Fatalf("busy gateway failed:\n%s", result.Report())
	}

	gateway := StartSipp(t, SippOptions{
		Scenario:  "uas_gateway.xml",
		LocalPort: gatewayPort,
		Vars:      map[string]string{"hold_ms": "9000"},
		Args:      []string{"-rtp_echo"},
		Timeout:   120 * time.Second,
	})
	counselor.Command(t, "sndcode", "*9119#")
	srv.WaitLog(t, LogMessage("emergency target joined the call"), logTimeout)
	joined := time.Now()

	// A second target while 119 is on the call: error tone through the mix.
	Measure(2 * time.Second)
	counselor.Command(t, "sndcode", "*9112#")
	srv.WaitLog(t, LogFields(map[string]any{"message": "emergency feature code rejected", "emergency_target": "112"}), logTimeout)
	rejectedInMix := time.Now()

	gatewayResult := gateway.Wait(t)
	if gatewayResult.ExitCode != 0 {
		t.Fatalf("gateway failed:\n%s", gatewayResult.Report())
	}
	srv.WaitLog(t, LogFields(map[string]any{"message": "third party left the call", "party": "emergency"}), logTimeout)
	left := time.Now()
	afterEnd := Measure(6 * time.Second)

	for _, event := range counselor.Events() {
		if event.Type == EventCallClosed {
			t.Fatalf("the counselor's call closed when the target hung up: %+v", event)
		}
	}
	caller.Hangup(t)
	caller.WaitEvent(t, EventCallClosed, phoneTimeout)
	counselor.WaitEvent(t, EventCallClosed, phoneTimeout)

	rec := srv.WaitRecord(t, func(r map[string]any) bool {
		return recordField(r, "counselor") == "1001" && recordField(r, "ended_at") != ""
	}, recordTimeout)
	wantRecord(t, rec, map[string]string{"outcome": "answered", "emergency_target": "119", "hangup_side": "caller"})
	if gatewayLog := gatewayResult.Log; !strings.Contains(gatewayLog, "gateway called for 119") {
		t.Errorf("gateway was not called for 119:\n%s", gatewayLog)
	}

	callerWAV := ReadRecording(t, caller, "caller")
	counselorWAV := ReadRecording(t, counselor, "counselor")
	callerTone := map[string]float64{"caller": CallerToneHz}
	counselorTone := map[string]float64{"counselor": CounselorToneHz}
	both := map[string]float64{"caller": CallerToneHz, "counselor": CounselorToneHz}

	CheckHears(t, "caller", "while bridged", callerTimeline.Segment(t, callerWAV, bridged, bridgeEnd), counselorTone, callerTone)
	CheckHears(t, "counselor", "while bridged", counselorTimeline.Segment(t, counselorWAV, bridged, bridgeEnd), callerTone, counselorTone)

	for when, at := range map[string]time.Time{"while bridged": rejected, "with the target": rejectedInMix} {
		errorTone := counselorTimeline.Segment(t, counselorWAV, at.Add(-SegmentMargin), at.Add(errorToneLength+SegmentMargin))
		if amplitude := GoertzelAmplitude(errorTone, ErrorToneHighHz); amplitude < HeardAmplitude/2 {
			t.Errorf("counselor %s heard the error tone's %d Hz at amplitude %.0f, want the tone after a rejected code", when, ErrorToneHighHz, amplitude)
		}
		callerHeard := callerTimeline.Segment(t, callerWAV, at.Add(-SegmentMargin), at.Add(errorToneLength+SegmentMargin))
		if amplitude := GoertzelAmplitude(callerHeard, ErrorToneHighHz); amplitude > UnheardAmplitude {
			t.Errorf("caller %s heard the counselor's error tone at amplitude %.0f", when, amplitude)
		}
	}

	CheckHears(t, "caller", "with the target", callerTimeline.Segment(t, callerWAV, joined, left), both, nil)
	CheckHears(t, "counselor", "with the target", counselorTimeline.Segment(t, counselorWAV, joined, left), both, nil)

	CheckHears(t, "caller", "after the target left", callerTimeline.Segment(t, callerWAV, left, afterEnd), counselorTone, callerTone)
	CheckHears(t, "counselor", "after the target left", counselorTimeline.Segment(t, counselorWAV, left, afterEnd), callerTone, counselorTone)

	if counselorCall.ID == "" {
		t.Errorf("counselor's established event has no call id")
	}
}

// errorToneLength is how long the server's error tone plays: three beeps
// of 250 ms with 250 ms pauses.
const errorToneLength = 1500 * time.Millisecond
