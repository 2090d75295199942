package e2e

import (
	"maps"
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

// transferSetup starts the gateway scenario, the server routing outside
// calls to it, and baresip as counselor 1001.
func transferSetup(t *testing.T, gatewayScenario string, gatewayMedia int) *transferCall {
	t.Helper()
	RequireTool(t, "sipp")

	tc := &transferCall{}
	tc.gateway = StartSipp(t, SippOptions{Scenario: gatewayScenario, MediaPort: gatewayMedia, Timeout: 120 * time.Second})
	tc.srv = StartServer(t, ServerOptions{Mutate: func(cfg map[string]any) {
		fastQueue("1s")(cfg)
		MustSetConfig(t, cfg, "trunk.outbound_uri", "sip:gw@"+tc.gateway.Addr())
	}})
	tc.phone = counselorPhone(t, tc.srv, "1001", true)
	return tc
}

// startCaller starts a SIPp caller who talks for about voicePlays × 7 s,
// and waits until the server bridged the counselor.
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
	// The phone may see its call established a moment before the server
	// bridges it; a REFER in between is rejected.
	tc.srv.WaitLog(t, LogMessage("counselor answered, bridging"), logTimeout)
}

// transfer makes the counselor's phone send REFER to number.
func (tc *transferCall) transfer(t *testing.T, number string) {
	t.Helper()
	tc.phone.Command(t, "transfer", "sip:"+number+"@"+tc.srv.Addr())
}

func TestReferTransferAnswered(t *testing.T) {
	t.Parallel()
	callerMedia := FreeMediaPort(t)
	gatewayMedia := FreeMediaPort(t)
	tc := transferSetup(t, "uas_verify_answer.xml", gatewayMedia)
	toTarget := Capture(t, gatewayMedia)
	toCaller := Capture(t, callerMedia)
	tc.startCaller(t, callerMedia, "3")

	tc.transfer(t, transferTarget)
	transferred := tc.srv.WaitLog(t, LogMessage("caller transferred"), logTimeout)
	tc.srv.WaitLog(t, LogFields(map[string]any{"message": "transfer NOTIFY sent", "status": 200}), logTimeout)
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

// referCase is a transfer that a SIPp counselor (uas_counselor_refer.xml)
// asks for. baresip 1.0.0 cannot show these cases, because it hangs up
// by itself when a transfer fails.
type referCase struct {
	name string
	// gateway is the SIPp scenario of the outbound gateway; "" leaves
	// trunk.outbound_uri empty.
	gateway string
	target  string
	// phoneLog are lines the counselor scenario must log, in order.
	phoneLog       []string
	outcome        string
	transferTarget string
	// decided is the server log entry after which the caller must hear a
	// voice: the target's or, after a failure, the counselor's.
	decided map[string]any
	// config are server settings by dotted path.
	config map[string]any
	// serverLog, when set, is a message the server must log.
	serverLog string
	// counselorVars and gatewayVars are -set values of the two scenarios.
	counselorVars map[string]string
	gatewayVars   map[string]string
}

// notifySent matches the server's log of a final NOTIFY with status.
func notifySent(status int) map[string]any {
	return map[string]any{"message": "transfer NOTIFY sent", "status": status}
}

func TestReferTransferFromSippCounselor(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	tests := []referCase{
		{
			name: "answered, server hangs up the counselor", gateway: "uas_verify_answer.xml", target: transferTarget,
			phoneLog: []string{"REFER answered 202", "NOTIFY SIP/2.0 100 Trying", "final NOTIFY SIP/2.0 200 OK", "BYE received"},
			outcome:  "transferred", transferTarget: transferTarget, decided: notifySent(200),
		},
		{
			name: "target busy", gateway: "uas_busy.xml", target: transferTarget,
			phoneLog: []string{"REFER answered 202", "NOTIFY SIP/2.0 100 Trying", "final NOTIFY SIP/2.0 486 Busy Here", "BYE received"},
			outcome:  "answered", decided: notifySent(486),
		},
		{
			// The target rings for twice queue.ring_timeout, then gets CANCEL.
			name: "target does not answer", gateway: "uas_ring_forever.xml", target: transferTarget,
			config:   map[string]any{"queue.ring_timeout": "3s"},
			phoneLog: []string{"REFER answered 202", "NOTIFY SIP/2.0 100 Trying", "final NOTIFY SIP/2.0 408 Request Timeout", "BYE received"},
			outcome:  "answered", decided: notifySent(408),
		},
		{
			name: "no outbound route", target: transferTarget,
			phoneLog: []string{"REFER answered 202", "NOTIFY SIP/2.0 100 Trying", "final NOTIFY SIP/2.0 503 Service Unavailable", "BYE received"},
			outcome:  "answered", decided: notifySent(503),
		},
		{
			name: "target not allowed", target: "01099998888",
			phoneLog: []string{"REFER answered 403", "trunk.allowed_targets", "BYE received"},
			outcome:  "answered",
			decided:  map[string]any{"message": "REFER rejected", "status": 403},
		},
		{
			name: "counselor leaves while the target rings", gateway: "uas_answer_late.xml", target: transferTarget,
			gatewayVars:   map[string]string{"answer_ms": "4000"},
			counselorVars: map[string]string{"leave": "1"},
			serverLog:     "counselor hung up after asking for the transfer",
			phoneLog:      []string{"REFER answered 202", "NOTIFY SIP/2.0 100 Trying", "counselor left during the transfer"},
			outcome:       "transferred", transferTarget: transferTarget,
			decided: map[string]any{"message": "caller transferred"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			runReferCase(t, tt)
		})
	}
}

func runReferCase(t *testing.T, tt referCase) {
	callerMedia := FreeMediaPort(t)
	var gateway *SippProcess
	if tt.gateway != "" {
		gateway = StartSipp(t, SippOptions{Scenario: tt.gateway, Timeout: 120 * time.Second, Vars: tt.gatewayVars})
	}
	srv := StartServer(t, ServerOptions{Mutate: func(cfg map[string]any) {
		if gateway != nil {
			MustSetConfig(t, cfg, "trunk.outbound_uri", "sip:gw@"+gateway.Addr())
		}
		for path, value := range tt.config {
			MustSetConfig(t, cfg, path, value)
		}
	}})
	phone := sippReferCounselor(t, srv, "1001", tt.target, tt.counselorVars)
	toCaller := Capture(t, callerMedia)

	result := RunSipp(t, SippOptions{
		Scenario: "uac_ivr_talk.xml", Target: srv.Addr(), Service: "120", MediaPort: callerMedia,
		Vars:    map[string]string{"queue_ms": "3000", "voice_plays": "2", "hold_ms": "1000"},
		Timeout: 120 * time.Second,
	})
	phoneResult := phone.Wait(t)
	if gateway != nil {
		gateway.Wait(t)
	}
	toCaller.Stop(t)

	if phoneResult.ExitCode != 0 {
		t.Errorf("counselor phone saw a wrong exchange:\n%s", phoneResult.Report())
	}
	assertLinesInOrder(t, phoneResult.Log, tt.phoneLog)

	rec := waitEndedRecord(t, srv, result.CallID)
	wantRecord(t, rec, map[string]string{
		"outcome":         tt.outcome,
		"transfer_target": tt.transferTarget,
		"counselor":       "1001",
		"hangup_side":     "caller",
	})

	// After the transfer's result the caller hears a voice: the target's
	// after a transfer, the counselor's after a failure.
	if tt.serverLog != "" {
		srv.WaitLog(t, LogMessage(tt.serverLog), logTimeout)
	}
	decided := srv.WaitLog(t, LogFields(tt.decided), logTimeout)
	at := logTime(t, decided).Add(time.Second)
	if got := toCaller.Packets(t).To(callerMedia).Filter(afterTime(at)); len(got) < 100 {
		t.Errorf("caller got %d RTP packets after the transfer's result, want a voice (100 or more)", len(got))
	}
	for _, line := range srv.OutputLines() {
		if strings.Contains(line, "01099998888") {
			t.Errorf("a log line holds the rejected target's full number: %s", line)
		}
	}
	noFullNumberInLogs(t, srv)
}

// sippReferCounselor registers user from a SIPp port and runs
// uas_counselor_refer.xml there, transferring to target, with further
// -set values from vars.
func sippReferCounselor(t *testing.T, srv *Server, user, target string, vars map[string]string) *SippProcess {
	t.Helper()
	port := loginSippCounselor(t, srv, user)
	scenarioVars := map[string]string{"target": target}
	maps.Copy(scenarioVars, vars)
	return StartSipp(t, SippOptions{
		Scenario: "uas_counselor_refer.xml", LocalPort: port, Timeout: 120 * time.Second,
		Vars: scenarioVars,
	})
}

// assertLinesInOrder checks that log contains each of want, in order.
func assertLinesInOrder(t *testing.T, log string, want []string) {
	t.Helper()
	rest := log
	for _, line := range want {
		i := strings.Index(rest, line)
		if i < 0 {
			t.Errorf("counselor log lacks %q after the earlier lines:\n%s", line, log)
			return
		}
		rest = rest[i+len(line):]
	}
}
