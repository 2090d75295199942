package e2e

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestDemoSettingsWarn(t *testing.T) {
	t.Parallel()
	srv := StartServer(t, ServerOptions{
		Env:    []string{RecordsKeyEnv + "="},
		Mutate: func(cfg map[string]any) { MustSetConfig(t, cfg, "records.allow_demo_key", true) },
	})
	srv.WaitLog(t, func(e map[string]any) bool {
		return e["level"] == "warn" && strings.Contains(e["message"].(string), "demo counselor passwords")
	}, logTimeout)
	srv.WaitLog(t, func(e map[string]any) bool {
		return e["level"] == "warn" && strings.Contains(e["message"].(string), "demo key")
	}, logTimeout)
}

// SIGTERM drains: new calls and OPTIONS probes get 503 with Retry-After, the call in progress
// may go on until the drain deadline, then it gets BYE, its record is
// written, and the server exits 0.
func TestDrainOnSIGTERM(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	srv := StartServer(t, ServerOptions{Mutate: func(cfg map[string]any) {
		MustSetConfig(t, cfg, "shutdown.drain_timeout", "4s")
		MustSetConfig(t, cfg, "shutdown.retry_after", "30s")
	}})
	caller := StartSipp(t, SippOptions{
		Scenario: "uac_ivr_talk.xml",
		Target:   srv.Addr(),
		Service:  "120",
		Vars:     map[string]string{"wait_bye": "1"},
		Timeout:  90 * time.Second,
	})
	srv.WaitLog(t, LogMessage("caller queued"), logTimeout)

	srv.proc.signal(syscall.SIGTERM)
	srv.WaitLog(t, LogMessage("draining: new calls get 503"), logTimeout)

	peer := ListenUDP(t)
	status, msg := finalStatus(t, peer, srv, "valid/invite.sip", map[string]string{"number": "120"})
	if status != 503 {
		t.Errorf("new call while draining got %d, want 503\n%s", status, msg)
	}
	if !strings.Contains(string(msg), "Retry-After: 30") {
		t.Errorf("503 lacks Retry-After: 30\n%s", msg)
	}
	// A front proxy's OPTIONS probe sees the node out of service and sends
	// new calls to the other nodes.
	if status, msg := finalStatus(t, peer, srv, "valid/options.sip", nil); status != 503 {
		t.Errorf("OPTIONS probe while draining got %d, want 503\n%s", status, msg)
	}

	if code := srv.Stop(t); code != 0 {
		t.Errorf("exit code = %d, want 0", code)
	}
	result := caller.Wait(t)
	if result.ExitCode != 0 {
		t.Errorf("caller did not get the server's BYE:\n%s", result.Report())
	}
	rec := srv.WaitRecord(t, RecordWithCallID(result.CallID), recordTimeout)
	wantRecord(t, rec, map[string]string{"outcome": "interrupted", "hangup_side": "server", "hangup_reason": "server shutdown"})

	// The call ended during the drain, and its last event still reached
	// the records store before it closed.
	ended := false
	for _, e := range callEvents(srv.Events(t), result.CallID) {
		if eventField(e, "type") == "call_ended" && eventData(e, "outcome") == "interrupted" {
			ended = true
		}
	}
	if !ended {
		t.Errorf("no call_ended event with outcome interrupted for the drained call")
	}
	stopped := srv.WaitLog(t, LogMessage("event persister stopped"), logTimeout)
	if stopped["lost"] != float64(0) {
		t.Errorf("event persister lost %v events at shutdown, want 0", stopped["lost"])
	}
}

// A call left open by a server that died is marked interrupted at the next start.
func TestRestartMarksOpenCallsInterrupted(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	dataDir := t.TempDir()
	first := StartServer(t, ServerOptions{Mutate: func(cfg map[string]any) {
		MustSetConfig(t, cfg, "records.data_dir", dataDir)
	}})
	StartSipp(t, SippOptions{
		Scenario:     "uac_abandon.xml",
		Target:       first.Addr(),
		Service:      "120",
		Vars:         map[string]string{"abandon_ms": "60000"},
		AllowFailure: true,
	})
	queued := first.WaitLog(t, LogMessage("caller queued"), logTimeout)
	callID, _ := queued["call_id"].(string)
	first.proc.signal(syscall.SIGKILL)
	first.Stop(t)

	second := StartServer(t, ServerOptions{
		Env: []string{RecordsKeyEnv + "=" + first.RecordsKey},
		Mutate: func(cfg map[string]any) {
			MustSetConfig(t, cfg, "records.data_dir", dataDir)
		},
	})
	second.WaitLog(t, LogMessage("calls left open by the last run marked interrupted"), logTimeout)
	rec := second.WaitRecord(t, RecordWithCallID(callID), recordTimeout)
	wantRecord(t, rec, map[string]string{"outcome": "interrupted", "digits": "51", "queue": "loneliness_ko"})
}

// Without an ACK the 200 is retransmitted, and after 64×T1 the server ends
// the call with BYE.
func TestMissingAckEndsCall(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	srv := StartServer(t, ServerOptions{})
	result := RunSipp(t, SippOptions{
		Scenario: "uac_no_ack.xml",
		Target:   srv.Addr(),
		Service:  "120",
		Args:     []string{"-nr"},
		Vars:     map[string]string{"min_retrans": "3"},
		Timeout:  90 * time.Second,
	})
	if result.Duration < 30*time.Second {
		t.Errorf("BYE came after %s, want about 64×T1 = 32 s", result.Duration)
	}
	rec := waitEndedRecord(t, srv, result.CallID)
	wantRecord(t, rec, map[string]string{"outcome": "failed", "hangup_side": "server"})
	if reason := recordField(rec, "hangup_reason"); !strings.Contains(reason, "ACK") {
		t.Errorf("hangup_reason = %q, want it to say the ACK never came", reason)
	}
}

// A counselor phone registered over TCP is called over that connection.
func TestCounselorOverTCP(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	RequireTool(t, "baresip")
	srv := StartServer(t, ServerOptions{})
	StartBaresip(t, Softphone{User: "1003", Password: "demo-1003", Server: srv.Addr(), Transport: "tcp", AutoAnswer: true})
	srv.LoginCounselor(t, "1003")

	result := RunSipp(t, SippOptions{
		Scenario: "uac_ivr_talk.xml",
		Target:   srv.Addr(),
		Service:  "120",
		Vars:     map[string]string{"queue_ms": "4000", "hold_ms": "1000"},
		Timeout:  90 * time.Second,
	})
	rec := waitEndedRecord(t, srv, result.CallID)
	wantRecord(t, rec, map[string]string{"outcome": "answered", "counselor": "1003"})
	srv.WaitLog(t, LogFields(map[string]any{"message": "binding added", "user": "1003", "transport": "tcp"}), logTimeout)
}

// records export masks numbers unless --reveal is given.
func TestExportRevealsOnlyOnRequest(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	srv := StartServer(t, ServerOptions{})
	result := RunSipp(t, SippOptions{Scenario: "uac_no_codec.xml", Target: srv.Addr(), Service: "120"})
	srv.WaitRecord(t, RecordWithCallID(result.CallID), recordTimeout)

	masked := srv.ExportRecords(t, ExportOptions{})
	revealed := srv.ExportRecords(t, ExportOptions{Reveal: true})
	if len(masked) != 1 || len(revealed) != 1 {
		t.Fatalf("got %d and %d records, want 1 each", len(masked), len(revealed))
	}
	if got := recordField(masked[0], "caller_number"); got != "010-****-5678" {
		t.Errorf("masked caller_number = %q, want 010-****-5678", got)
	}
	if got := recordField(revealed[0], "caller_number"); got != callerNumber {
		t.Errorf("revealed caller_number = %q, want %s", got, callerNumber)
	}
}

// A caller sent to the general service is transferred to
// trunk.general_service_uri and bridged there; the record says transferred.
func TestTransferToGeneralService(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	general := StartSipp(t, SippOptions{Scenario: "uas_verify_answer.xml", Timeout: 120 * time.Second})
	uri := "sip:general@" + general.Addr()
	srv := StartServer(t, ServerOptions{Mutate: func(cfg map[string]any) {
		MustSetConfig(t, cfg, "trunk.general_service_uri", uri)
		// Pressing 5 leads to the explanation and the transfer, so the
		// recorded key presses of the RFC 2833 captures reach that branch.
		MustSetConfig(t, cfg, "ivr.nodes.welcome.branches.5.next", "explain")
	}})

	result := RunSipp(t, SippOptions{
		Scenario: "uac_ivr_talk.xml",
		Target:   srv.Addr(),
		Service:  "120",
		Vars:     map[string]string{"queue_ms": "20000", "hold_ms": "500"},
		Timeout:  120 * time.Second,
	})
	if done := general.Wait(t); done.ExitCode != 0 {
		t.Errorf("the general service saw a wrong exchange:\n%s", done.Report())
	}

	rec := waitEndedRecord(t, srv, result.CallID)
	wantRecord(t, rec, map[string]string{"outcome": "transferred", "transfer_target": uri, "counselor": ""})

	list := srv.WaitEvents(t, func(list []map[string]any) bool { return hasEvent(list, result.CallID, "call_ended") }, eventTimeout)
	events := callEvents(list, result.CallID)
	requireSubsequence(t, "transferred call", eventTypes(events), []string{"transferred", "call_ended"})
	for _, e := range events {
		if eventField(e, "type") == "transferred" && eventData(e, "target_host") != Loopback {
			t.Errorf("transferred target_host = %q, want %q", eventData(e, "target_host"), Loopback)
		}
	}
}
