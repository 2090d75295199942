package e2e

import (
	"strings"
	"testing"
	"time"
)

// Timeouts of the call tests. Generous: CI machines are shared and slow.
const (
	recordTimeout = 60 * time.Second
	logTimeout    = 60 * time.Second
	phoneTimeout  = 60 * time.Second
)

// callerNumber is the number the SIPp scenarios send in From.
const callerNumber = "01012345678"

// Audio levels that tell speech or a tone from silence in a 16-bit WAV.
const silenceRMS = 200

// fastQueue shortens wrap-up so that tests can offer a counselor again.
func fastQueue(wrapUp string) func(cfg map[string]any) {
	return func(cfg map[string]any) {
		_ = SetConfig(cfg, "queue.wrap_up", wrapUp)
		_ = SetConfig(cfg, "queue.retry_delay", "1s")
	}
}

// counselorPhone registers baresip as a counselor on srv and logs the
// counselor in through the API, so that callers are offered to it.
func counselorPhone(t *testing.T, srv *Server, user string, autoAnswer bool) *Phone {
	t.Helper()
	phone := registeredPhone(t, srv, user, autoAnswer)
	srv.LoginCounselor(t, user)
	return phone
}

// registeredPhone registers baresip as a counselor on srv without logging
// the counselor in.
func registeredPhone(t *testing.T, srv *Server, user string, autoAnswer bool) *Phone {
	t.Helper()
	RequireTool(t, "baresip")
	return StartBaresip(t, Softphone{
		User:       user,
		Password:   "demo-" + user,
		Server:     srv.Addr(),
		AutoAnswer: autoAnswer,
	})
}

// waitEndedRecord waits for the record of callID to show the call's end.
func waitEndedRecord(t *testing.T, srv *Server, callID string) map[string]any {
	t.Helper()
	return srv.WaitRecord(t, func(r map[string]any) bool {
		return recordField(r, "call_id") == callID && recordField(r, "ended_at") != ""
	}, recordTimeout)
}

// recordField returns a record's field as text.
func recordField(rec map[string]any, key string) string {
	v, _ := rec[key].(string)
	return v
}

// wantRecord checks text fields of a call record.
func wantRecord(t *testing.T, rec map[string]any, want map[string]string) {
	t.Helper()
	for key, value := range want {
		if got := recordField(rec, key); got != value {
			t.Errorf("record %s = %q, want %q", key, got, value)
		}
	}
}

// noFullNumberInLogs fails when any server log line holds the caller's
// whole number.
func noFullNumberInLogs(t *testing.T, srv *Server) {
	t.Helper()
	for _, line := range srv.OutputLines() {
		if strings.Contains(line, callerNumber) {
			t.Errorf("a log line holds the caller's full number: %s", line)
		}
	}
}

func TestCallAnsweredByCounselor(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	srv := StartServer(t, ServerOptions{})
	phone := counselorPhone(t, srv, "1001", true)

	mediaPort := FreeMediaPort(t)
	capture := Capture(t, mediaPort)
	result := RunSipp(t, SippOptions{
		Scenario:  "uac_ivr_talk.xml",
		Target:    srv.Addr(),
		Service:   "120",
		MediaPort: mediaPort,
		Vars:      map[string]string{"queue_ms": "4000", "voice_plays": "1", "hold_ms": "2000"},
		Timeout:   90 * time.Second,
	})
	capture.Stop(t)

	rec := waitEndedRecord(t, srv, result.CallID)
	wantRecord(t, rec, map[string]string{
		"outcome":     "answered",
		"digits":      "51",
		"counselor":   "1001",
		"language":    "ko",
		"caller_type": "self",
		"queue":       "loneliness_ko",
		"hangup_side": "caller",
	})
	if wait, ok := rec["queue_wait_seconds"].(float64); !ok || wait < 0 {
		t.Errorf("record queue_wait_seconds = %v, want a number of seconds", rec["queue_wait_seconds"])
	}
	if recordField(rec, "queued_at") == "" || recordField(rec, "counselor_answered_at") == "" {
		t.Errorf("record lacks queue or counselor answer times: %v", rec)
	}
	if got := recordField(rec, "caller_number"); got != "010-****-5678" {
		t.Errorf("exported caller_number = %q, want the masked 010-****-5678", got)
	}

	heard, err := ReadWAV(phone.RecordedWAV(t))
	if err != nil {
		t.Fatalf("reading what the counselor heard: %v", err)
	}
	if heard.RMS() < silenceRMS {
		t.Errorf("counselor heard RMS %.0f, want the caller's speech (above %d)", heard.RMS(), silenceRMS)
	}

	toCaller := capture.Packets(t).To(mediaPort)
	if err := CheckContinuous(toCaller); err != nil {
		t.Errorf("stream to the caller is not one continuous stream: %v", err)
	}
	answeredAt, err := time.Parse(time.RFC3339Nano, recordField(rec, "counselor_answered_at"))
	if err != nil {
		t.Fatalf("parsing counselor_answered_at: %v", err)
	}
	bridged := toCaller.Filter(func(p RTPPacket) bool { return p.Time.After(answeredAt) })
	if len(bridged) < 100 {
		t.Errorf("caller got %d RTP packets after the counselor answered, want the counselor's audio (100 or more)", len(bridged))
	}

	noFullNumberInLogs(t, srv)
}

func TestCallerHangsUpWhileQueued(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	srv := StartServer(t, ServerOptions{})

	mediaPort := FreeMediaPort(t)
	capture := Capture(t, mediaPort)
	result := RunSipp(t, SippOptions{
		Scenario:  "uac_abandon.xml",
		Target:    srv.Addr(),
		Service:   "120",
		MediaPort: mediaPort,
		// The "connecting" prompt plays for about 4 s before the queue.
		Vars: map[string]string{"abandon_ms": "8000"},
	})
	capture.Stop(t)

	rec := waitEndedRecord(t, srv, result.CallID)
	wantRecord(t, rec, map[string]string{
		"outcome":     "abandoned_in_queue",
		"digits":      "51",
		"hangup_side": "caller",
		"counselor":   "",
	})
	if wait, _ := rec["queue_wait_seconds"].(float64); wait < 2 {
		t.Errorf("record queue_wait_seconds = %v, want the seconds the caller waited before hanging up", rec["queue_wait_seconds"])
	}

	// While queued the caller hears the comfort message and music: audio
	// keeps flowing, 50 packets a second, on the same stream as the menu.
	queuedAt, err := time.Parse(time.RFC3339Nano, recordField(rec, "queued_at"))
	if err != nil {
		t.Fatalf("parsing queued_at: %v", err)
	}
	toCaller := capture.Packets(t).To(mediaPort)
	if err := CheckContinuous(toCaller); err != nil {
		t.Errorf("stream to the caller is not one continuous stream: %v", err)
	}
	held := toCaller.Filter(func(p RTPPacket) bool { return p.Time.After(queuedAt) })
	if len(held) < 50 {
		t.Errorf("caller got %d RTP packets while queued, want hold audio (50 or more)", len(held))
	}
	noFullNumberInLogs(t, srv)
}

// The caller hangs up while the counselor's phone rings: the phone's leg
// is cancelled and the counselor takes the next caller normally.
func TestCallerHangsUpWhileCounselorRings(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	srv := StartServer(t, ServerOptions{Mutate: fastQueue("1s")})
	phone := counselorPhone(t, srv, "1001", false)

	caller := StartSipp(t, SippOptions{
		Scenario: "uac_abandon.xml",
		Target:   srv.Addr(),
		Service:  "120",
		// About 4 s of "connecting" prompt, then the phone rings for about 5 s.
		Vars: map[string]string{"abandon_ms": "9000"},
	})
	incoming := phone.WaitEvent(t, EventCallIncoming, phoneTimeout)
	first := caller.Wait(t)
	if first.ExitCode != 0 {
		t.Fatalf("first caller failed:\n%s", first.Report())
	}
	closed := phone.WaitEvent(t, EventCallClosed, phoneTimeout)
	if closed.ID != incoming.ID {
		t.Errorf("closed call %q, want the ringing call %q", closed.ID, incoming.ID)
	}
	srv.WaitLog(t, LogFields(map[string]any{"message": "offer not taken", "outcome": "caller_gone"}), logTimeout)

	rec := waitEndedRecord(t, srv, first.CallID)
	wantRecord(t, rec, map[string]string{"outcome": "abandoned_in_queue", "counselor": ""})

	second := StartSipp(t, SippOptions{
		Scenario: "uac_ivr_talk.xml",
		Target:   srv.Addr(),
		Service:  "120",
		Vars:     map[string]string{"queue_ms": "6000", "hold_ms": "500"},
		Timeout:  90 * time.Second,
	})
	phone.WaitEvent(t, EventCallIncoming, phoneTimeout)
	phone.Answer(t)
	done := second.Wait(t)
	if done.ExitCode != 0 {
		t.Fatalf("second caller failed:\n%s", done.Report())
	}
	rec = waitEndedRecord(t, srv, done.CallID)
	wantRecord(t, rec, map[string]string{"outcome": "answered", "counselor": "1001"})
}

func TestNoCommonCodec(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	srv := StartServer(t, ServerOptions{})

	result := RunSipp(t, SippOptions{Scenario: "uac_no_codec.xml", Target: srv.Addr(), Service: "120"})

	rec := srv.WaitRecord(t, RecordWithCallID(result.CallID), recordTimeout)
	wantRecord(t, rec, map[string]string{"outcome": "no_common_codec", "digits": "", "queued_at": ""})
	if reason := recordField(rec, "hangup_reason"); !strings.Contains(reason, "codec") {
		t.Errorf("hangup_reason = %q, want it to name the missing codec", reason)
	}
	if !strings.Contains(result.Messages, "SIP/2.0 488") {
		t.Errorf("caller did not get 488:\n%s", result.Messages)
	}
}

func TestRegisterWrongPasswordCreatesNoBinding(t *testing.T) {
	t.Parallel()
	RequireTool(t, "baresip")
	srv := StartServer(t, ServerOptions{})
	StartBaresip(t, Softphone{
		User:                 "1001",
		Password:             "not-the-password",
		Server:               srv.Addr(),
		SkipRegistrationWait: true,
	})

	srv.WaitLog(t, LogFields(map[string]any{"message": "register authentication failed", "user": "1001"}), logTimeout)
	for _, entry := range srv.Logs() {
		if entry["message"] == "binding added" {
			t.Fatalf("a wrong password created a binding: %v", entry)
		}
	}
	for _, line := range srv.OutputLines() {
		if strings.Contains(line, "not-the-password") {
			t.Errorf("a log line holds the wrong password: %s", line)
		}
	}
}

// A BYE from the counselor ends both legs: the caller gets BYE too.
func TestCounselorHangsUp(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	srv := StartServer(t, ServerOptions{})
	phone := counselorPhone(t, srv, "1002", true)

	caller := StartSipp(t, SippOptions{
		Scenario: "uac_ivr_talk.xml",
		Target:   srv.Addr(),
		Service:  "120",
		Vars:     map[string]string{"wait_bye": "1"},
		Timeout:  90 * time.Second,
	})
	phone.WaitEvent(t, EventCallEstablished, phoneTimeout)
	srv.WaitLog(t, LogMessage("counselor answered, bridging"), logTimeout)
	phone.Hangup(t)

	result := caller.Wait(t)
	if result.ExitCode != 0 {
		t.Fatalf("caller did not get the server's BYE:\n%s", result.Report())
	}
	rec := waitEndedRecord(t, srv, result.CallID)
	wantRecord(t, rec, map[string]string{"outcome": "answered", "counselor": "1002", "hangup_side": "counselor"})
}
