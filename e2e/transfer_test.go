package e2e

import (
	"strings"
	"testing"
	"time"
)

// transferTarget is an allowed transfer number of the example
// configuration (trunk.allowed_targets).
const transferTarget = "119"

// transferCall is one caller talking to counselor 1001, with a SIPp UAS on
// loopback as the outbound gateway.
type transferCall struct {
	srv     *Server
	phone   *Phone
	caller  *SippProcess
	gateway *SippProcess
}

// transferSetup starts the gateway scenario (when not empty), the server
// routing outside calls to it, counselor 1001 and a caller who talks for
// about voicePlays × 7 s, and waits until the counselor answered.
func transferSetup(t *testing.T, gatewayScenario string, gatewayMedia int, voicePlays string) *transferCall {
	t.Helper()
	RequireTool(t, "sipp")

	tc := &transferCall{}
	if gatewayScenario != "" {
		tc.gateway = StartSipp(t, SippOptions{Scenario: gatewayScenario, MediaPort: gatewayMedia, Timeout: 120 * time.Second})
	}
	tc.srv = StartServer(t, ServerOptions{Mutate: func(cfg map[string]any) {
		fastQueue("1s")(cfg)
		if tc.gateway != nil {
			MustSetConfig(t, cfg, "trunk.outbound_uri", "sip:gw@"+tc.gateway.Addr())
		}
	}})
	tc.phone = counselorPhone(t, tc.srv, "1001", true)
	return tc
}

// startCaller starts a SIPp caller through the IVR to the queue.
func (tc *transferCall) startCaller(t *testing.T, mediaPort int, voicePlays string) {
	t.Helper()
	tc.caller = StartSipp(t, SippOptions{
		Scenario:  "uac_ivr_talk.xml",
		Target:    tc.srv.Addr(),
		Service:   "120",
		MediaPort: mediaPort,
		Vars:      map[string]string{"queue_ms": "3000", "voice_plays": voicePlays, "hold_ms": "1000"},
		Timeout:   120 * time.Second,
	})
	tc.phone.WaitEvent(t, EventCallEstablished, phoneTimeout)
}

// transfer makes the counselor's phone send REFER to number.
func (tc *transferCall) transfer(t *testing.T, number string) {
	t.Helper()
	tc.phone.Command(t, "transfer", "sip:"+number+"@"+tc.srv.Addr())
}

func TestReferTransferAnswered(t *testing.T) {
	callerMedia := FreeMediaPort(t)
	gatewayMedia := FreeMediaPort(t)
	tc := transferSetup(t, "uas_verify_answer.xml", gatewayMedia, "3")
	toTarget := Capture(t, gatewayMedia)
	toCaller := Capture(t, callerMedia)
	tc.startCaller(t, callerMedia, "3")

	tc.transfer(t, transferTarget)
	transferred := tc.srv.WaitLog(t, LogMessage("caller transferred"), logTimeout)
	tc.srv.WaitLog(t, LogFields(map[string]any{"message": "transfer NOTIFY answered", "status": 200}), logTimeout)
	// baresip 1.0.0 closes its call when the NOTIFY reports 200, with
	// "Call transfered" as the reason, and sends BYE itself.
	closed := tc.phone.WaitEvent(t, EventCallClosed, phoneTimeout)
	if !strings.Contains(closed.Param, "transfer") {
		t.Errorf("counselor's call closed with %q, want the transfer as the reason", closed.Param)
	}

	result := tc.caller.Wait(t)
	tc.gateway.Wait(t)
	toTarget.Stop(t)
	toCaller.Stop(t)

	rec := waitEndedRecord(t, tc.srv, result.CallID)
	wantRecord(t, rec, map[string]string{
		"outcome":         "transferred",
		"transfer_target": transferTarget,
		"counselor":       "1001",
		"hangup_side":     "caller",
	})

	// Log times have whole seconds: count from the next second.
	at := logTime(t, transferred).Add(time.Second)
	fromCaller := toTarget.Packets(t).To(gatewayMedia).Filter(afterTime(at))
	fromTarget := toTarget.Packets(t).From(gatewayMedia).Filter(afterTime(at))
	atCaller := toCaller.Packets(t).To(callerMedia).Filter(afterTime(at))
	if len(fromCaller) < 100 {
		t.Errorf("target got %d RTP packets after the transfer, want the caller's voice (100 or more)", len(fromCaller))
	}
	if len(fromTarget) < 100 {
		t.Errorf("target sent %d RTP packets after the transfer, want its voice (100 or more)", len(fromTarget))
	}
	if len(atCaller) < 100 {
		t.Errorf("caller got %d RTP packets after the transfer, want the target's voice (100 or more)", len(atCaller))
	}
	if err := CheckContinuous(toCaller.Packets(t).To(callerMedia)); err != nil {
		t.Errorf("stream to the caller is not one continuous stream across the transfer: %v", err)
	}

	// The counselor is free again after wrap-up: a second caller reaches
	// the same phone.
	second := RunSipp(t, SippOptions{
		Scenario: "uac_ivr_talk.xml", Target: tc.srv.Addr(), Service: "120",
		Vars:    map[string]string{"queue_ms": "3000", "voice_plays": "1", "hold_ms": "1000"},
		Timeout: 90 * time.Second,
	})
	wantRecord(t, waitEndedRecord(t, tc.srv, second.CallID), map[string]string{"outcome": "answered", "counselor": "1001"})
	noFullNumberInLogs(t, tc.srv)
}

// logTime returns the time of a server log entry.
func logTime(t *testing.T, entry map[string]any) time.Time {
	t.Helper()
	text, _ := entry["time"].(string)
	at, err := time.Parse(time.RFC3339Nano, text)
	if err != nil {
		t.Fatalf("log entry time %q: %v", text, err)
	}
	return at
}

// afterTime keeps packets captured after at.
func afterTime(at time.Time) func(RTPPacket) bool {
	return func(p RTPPacket) bool { return p.Time.After(at) }
}
