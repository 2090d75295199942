package e2e

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rawTimeout bounds the wait for the answer to one raw datagram.
const rawTimeout = 10 * time.Second

// finalStatus sends one raw request and returns the status code of the
// first final response (1xx skipped), or 0 when none came.
func finalStatus(t *testing.T, peer *UDPPeer, srv *Server, name string, vars map[string]string) (int, []byte) {
	t.Helper()
	peer.Send(t, srv.Addr(), RawSIP(t, name, srv.Addr(), peer.Addr(), vars))
	deadline := time.Now().Add(rawTimeout)
	for time.Now().Before(deadline) {
		msg, ok := peer.Receive(t, time.Until(deadline))
		if !ok {
			return 0, nil
		}
		status := statusOf(msg)
		if status >= 200 {
			return status, msg
		}
	}
	return 0, nil
}

// statusOf reads the status code of a SIP response, or 0 for a request.
func statusOf(msg []byte) int {
	line, _, _ := bytes.Cut(msg, []byte("\r\n"))
	fields := strings.Fields(string(line))
	if len(fields) < 2 || fields[0] != "SIP/2.0" {
		return 0
	}
	code, _ := strconv.Atoi(fields[1])
	return code
}

func TestTrunkAdmission(t *testing.T) {
	t.Parallel()
	srv := StartServer(t, ServerOptions{})
	tests := []struct {
		name    string
		message string
		vars    map[string]string
		want    int
	}{
		{"OPTIONS gets 200", "valid/options.sip", nil, 200},
		{"unknown number gets 404", "valid/invite.sip", map[string]string{"number": "119"}, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			peer := ListenUDP(t)
			if got, msg := finalStatus(t, peer, srv, tt.message, tt.vars); got != tt.want {
				t.Errorf("status = %d, want %d\n%s", got, tt.want, msg)
			}
		})
	}

	rec := srv.WaitRecord(t, func(r map[string]any) bool { return recordField(r, "called_number") == "119" }, recordTimeout)
	wantRecord(t, rec, map[string]string{"outcome": "rejected", "hangup_side": "server"})
}

func TestUntrustedSourceForbidden(t *testing.T) {
	t.Parallel()
	srv := StartServer(t, ServerOptions{Mutate: func(cfg map[string]any) {
		MustSetConfig(t, cfg, "trunk.trusted_sources", []any{"127.0.0.2/32"})
	}})
	peer := ListenUDP(t)

	got, msg := finalStatus(t, peer, srv, "valid/invite.sip", map[string]string{"number": "120"})
	if got != 403 {
		t.Fatalf("status = %d, want 403 for a source outside trunk.trusted_sources\n%s", got, msg)
	}
	for _, rec := range srv.Records(t) {
		t.Errorf("an untrusted call left a record: %v", rec)
	}
}

// In-dialog requests whose Call-ID and tags match no dialog get 481.
func TestRequestsOutsideDialog(t *testing.T) {
	t.Parallel()
	srv := StartServer(t, ServerOptions{})
	for _, name := range []string{"bye_unknown_dialog.sip", "refer_unknown_dialog.sip", "refer_outside_dialog.sip", "valid/info_unknown_dialog.sip", "valid/reinvite_unknown_dialog.sip", "valid/cancel_unknown.sip"} {
		t.Run(name, func(t *testing.T) {
			peer := ListenUDP(t)
			if got, msg := finalStatus(t, peer, srv, name, nil); got != 481 {
				t.Errorf("status = %d, want 481 Call/Transaction Does Not Exist\n%s", got, msg)
			}
		})
	}
}

// Malformed requests get 400 or silence, never a crash: the server still
// answers OPTIONS after each one.
func TestMalformedRequestsKeepServerUp(t *testing.T) {
	t.Parallel()
	srv := StartServer(t, ServerOptions{})
	for _, name := range RawSIPNames(t) {
		t.Run(name, func(t *testing.T) {
			peer := ListenUDP(t)
			peer.Send(t, srv.Addr(), RawSIP(t, name, srv.Addr(), peer.Addr(), nil))
			if msg, ok := peer.Receive(t, 500*time.Millisecond); ok {
				if status := statusOf(msg); status >= 500 {
					t.Errorf("answered %d, want 400 or another 4xx\n%s", status, msg)
				}
			}

			probe := ListenUDP(t)
			if got, msg := finalStatus(t, probe, srv, "valid/options.sip", nil); got != 200 {
				t.Fatalf("after %s the server answered OPTIONS with %d, want 200\n%s", name, got, msg)
			}
		})
	}
	if srv.Exited() {
		t.Fatal("server exited")
	}
}

// A CANCEL before the 200 gets 200 and the INVITE 487, and the caller
// leaves the IVR. The server answers quickly, so the 200 may win: then the
// scenario hangs up with BYE and the caller still leaves the IVR.
func TestCancelDuringSetup(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	srv := StartServer(t, ServerOptions{})
	result := RunSipp(t, SippOptions{Scenario: "uac_cancel.xml", Target: srv.Addr(), Service: "120"})

	rec := waitEndedRecord(t, srv, result.CallID)
	wantRecord(t, rec, map[string]string{"outcome": "abandoned_in_ivr", "hangup_side": "caller"})
}

// A CANCEL that crosses the 200 changes nothing; the BYE after it ends the call.
func TestCancelCrossingAnswer(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	srv := StartServer(t, ServerOptions{})
	result := RunSipp(t, SippOptions{Scenario: "uac_cancel_after_200.xml", Target: srv.Addr(), Service: "120"})

	rec := waitEndedRecord(t, srv, result.CallID)
	wantRecord(t, rec, map[string]string{"outcome": "abandoned_in_ivr", "hangup_side": "caller", "hangup_reason": "caller sent BYE"})
	if recordField(rec, "answered_at") == "" {
		t.Error("record has no answer time: the CANCEL undid the 200")
	}
}

// A BYE before the ACK gets 200 and ends the call.
func TestByeBeforeAck(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	srv := StartServer(t, ServerOptions{})
	result := RunSipp(t, SippOptions{Scenario: "uac_bye_before_ack.xml", Target: srv.Addr(), Service: "120"})

	rec := waitEndedRecord(t, srv, result.CallID)
	wantRecord(t, rec, map[string]string{"hangup_side": "caller", "hangup_reason": "caller sent BYE"})
}

// SIP INFO digits (application/dtmf-relay and application/dtmf) drive the
// IVR like RFC 4733 events; another body type gets 415.
func TestInfoDigits(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	srv := StartServer(t, ServerOptions{})
	result := RunSipp(t, SippOptions{
		Scenario: "uac_info_digits.xml",
		Target:   srv.Addr(),
		Service:  "120",
		Vars:     map[string]string{"hold_ms": "8000"},
	})

	rec := waitEndedRecord(t, srv, result.CallID)
	wantRecord(t, rec, map[string]string{"digits": "51", "caller_type": "self", "outcome": "abandoned_in_queue"})
}

// A caller whose number is withheld is served in full and recorded as withheld.
func TestWithheldCallerServed(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	srv := StartServer(t, ServerOptions{})
	result := RunSipp(t, SippOptions{
		Scenario: "uac_abandon.xml",
		Target:   srv.Addr(),
		Service:  "120",
		Vars:     map[string]string{"caller": "anonymous", "abandon_ms": "7000"},
	})

	rec := waitEndedRecord(t, srv, result.CallID)
	wantRecord(t, rec, map[string]string{"outcome": "abandoned_in_queue", "digits": "51", "caller_number": "withheld"})
	if rec["caller_withheld"] != true {
		t.Errorf("caller_withheld = %v, want true", rec["caller_withheld"])
	}
}

// Three INVITEs within a few milliseconds and one idle counselor: that
// counselor gets exactly one offer, the other callers wait.
func TestSimultaneousCallersOneCounselor(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	srv := StartServer(t, ServerOptions{})
	counselorPhone(t, srv, "1001", true)

	result := RunSipp(t, SippOptions{
		Scenario: "uac_ivr_talk.xml",
		Target:   srv.Addr(),
		Service:  "120",
		Vars:     map[string]string{"queue_ms": "3000", "hold_ms": "1000"},
		Calls:    3,
		// 200 calls per second: the three INVITEs leave 5 ms apart.
		Args:    []string{"-r", "200", "-l", "3"},
		Timeout: 90 * time.Second,
	})

	deadline := time.Now().Add(recordTimeout)
	outcomes := map[string]int{}
	for time.Now().Before(deadline) {
		outcomes = map[string]int{}
		ended := 0
		for _, rec := range srv.Records(t) {
			if recordField(rec, "ended_at") != "" {
				ended++
				outcomes[recordField(rec, "outcome")]++
			}
		}
		if ended == 3 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if outcomes["answered"] != 1 || outcomes["abandoned_in_queue"] != 2 {
		t.Errorf("outcomes = %v, want 1 answered and 2 abandoned_in_queue\n%s", outcomes, result.Report())
	}

	offers := 0
	for _, entry := range srv.Logs() {
		if entry["message"] == "ringing counselor" {
			offers++
		}
	}
	if offers != 1 {
		t.Errorf("counselor 1001 was rung %d times, want once: one counselor, one offer at a time, then wrap-up", offers)
	}
}

// sippCounselor registers a SIPp stand-in for a counselor phone as user,
// from the port where the UAS scenario will then answer, so that the
// server's INVITE reaches it (requests go to the REGISTER's source).
func sippCounselor(t *testing.T, srv *Server, user, scenario string) *SippProcess {
	t.Helper()
	return sippCounselorCalls(t, srv, user, scenario, 1)
}

// sippCounselorCalls is sippCounselor for a phone that takes calls offers
// before its scenario ends.
func sippCounselorCalls(t *testing.T, srv *Server, user, scenario string, calls int) *SippProcess {
	t.Helper()
	port := loginSippCounselor(t, srv, user)
	return StartSipp(t, SippOptions{Scenario: scenario, LocalPort: port, Calls: calls, Timeout: 90 * time.Second})
}

// loginSippCounselor registers user with SIPp from a free port, logs the
// counselor in and returns the port, where a UAS scenario then answers
// the server's INVITEs.
func loginSippCounselor(t *testing.T, srv *Server, user string) int {
	t.Helper()
	port := FreePort(t)
	RunSipp(t, SippOptions{
		Scenario:  "uac_register.xml",
		Target:    srv.Addr(),
		Service:   user,
		LocalPort: port,
		Args:      []string{"-au", user, "-ap", "demo-" + user},
	})
	srv.WaitLog(t, LogFields(map[string]any{"message": "binding added", "user": user}), logTimeout)
	srv.LoginCounselor(t, user)
	return port
}

// A phone that rings past the ring timeout is cancelled and the next
// counselor gets the caller. A 200 that crosses the CANCEL is acknowledged
// and ended with BYE, and a busy phone (486) is skipped at once.
func TestUnansweredCounselorIsSkipped(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	tests := []struct {
		name     string
		scenario string
		outcome  string
		// event is the type of the event that reports the failed offer.
		event string
	}{
		{"ring timeout", "uas_ring_forever.xml", "no_answer", "ring_no_answer"},
		{"answer crossing the CANCEL", "uas_answer_on_cancel.xml", "no_answer", "ring_no_answer"},
		{"busy", "uas_busy.xml", "busy", "offer_rejected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := StartServer(t, ServerOptions{Mutate: func(cfg map[string]any) {
				MustSetConfig(t, cfg, "queue.ring_timeout", "3s")
			}})
			// 1002 registers first, so it has been idle longest and is rung first.
			slow := sippCounselor(t, srv, "1002", tt.scenario)
			counselorPhone(t, srv, "1001", true)

			result := RunSipp(t, SippOptions{
				Scenario: "uac_ivr_talk.xml",
				Target:   srv.Addr(),
				Service:  "120",
				Vars:     map[string]string{"queue_ms": "8000", "hold_ms": "1000"},
				Timeout:  90 * time.Second,
			})
			if phone := slow.Wait(t); phone.ExitCode != 0 {
				t.Errorf("counselor 1002's phone saw a wrong exchange:\n%s", phone.Report())
			}

			rec := waitEndedRecord(t, srv, result.CallID)
			wantRecord(t, rec, map[string]string{"outcome": "answered", "counselor": "1001"})
			srv.WaitLog(t, LogFields(map[string]any{"message": "offer not taken", "counselor": "1002", "outcome": tt.outcome}), logTimeout)

			list := srv.WaitEvents(t, func(list []map[string]any) bool { return hasEvent(list, result.CallID, "call_ended") }, eventTimeout)
			events := callEvents(list, result.CallID)
			requireSubsequence(t, "call", eventTypes(events), []string{"offered", tt.event, "offered", "connected", "call_ended"})
			for _, e := range events {
				if eventField(e, "type") == tt.event && (eventField(e, "counselor_id") != "1002" || eventData(e, "outcome") != tt.outcome) {
					t.Errorf("%s event = %v, want counselor 1002 with outcome %s", tt.event, e, tt.outcome)
				}
			}
		})
	}
}

// A trunk that reuses a Call-ID gets a second record, not an overwritten one.
func TestReusedCallIDKeepsBothRecords(t *testing.T) {
	t.Parallel()
	srv := StartServer(t, ServerOptions{})
	callID := randomID(t) + "@" + Loopback
	for range 2 {
		peer := ListenUDP(t)
		if got, msg := finalStatus(t, peer, srv, "valid/invite.sip", map[string]string{"number": "119", "call_id": callID}); got != 404 {
			t.Fatalf("status = %d, want 404\n%s", got, msg)
		}
	}
	srv.WaitRecord(t, RecordWithCallID(callID), recordTimeout)
	srv.WaitRecord(t, RecordWithCallID(callID+"~2"), recordTimeout)
}
