package e2e

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"helpline/records"
)

// callbackTimeout bounds the wait for a callback task to reach a state.
const callbackTimeout = 90 * time.Second

// callbackConfig turns callbacks on with the gateway at gatewayPort and
// short timings for tests.
func callbackConfig(gatewayPort int, extra func(cfg map[string]any)) func(cfg map[string]any) {
	return func(cfg map[string]any) {
		fastQueue("1s")(cfg)
		_ = SetConfig(cfg, "trunk.outbound_uri", "sip:gw@"+Loopback+":"+strconv.Itoa(gatewayPort))
		_ = SetConfig(cfg, "callbacks.interval", "2s")
		if extra != nil {
			extra(cfg)
		}
	}
}

// callbackTasks reads every callback task from the server's records file.
func callbackTasks(t *testing.T, srv *Server) []records.Callback {
	t.Helper()
	key, _, err := records.LoadKey(records.KeySource{Env: RecordsKeyEnv}, []string{RecordsKeyEnv + "=" + srv.RecordsKey})
	if err != nil {
		t.Fatalf("loading the records key: %v", err)
	}
	ctx, stop := context.WithTimeout(context.Background(), 30*time.Second)
	defer stop()
	store, err := records.Open(ctx, filepath.Join(srv.DataDir, "records.db"), key)
	if err != nil {
		t.Fatalf("opening the server's records: %v", err)
	}
	defer func() { _ = store.Close() }()
	list, err := store.ListCallbacks(ctx)
	if err != nil {
		t.Fatalf("listing callback tasks: %v", err)
	}
	return list
}

// waitCallback polls the records until a task matches, up to timeout.
func waitCallback(t *testing.T, srv *Server, what string, match func(records.Callback) bool) records.Callback {
	t.Helper()
	deadline := time.Now().Add(callbackTimeout)
	var last []records.Callback
	for time.Now().Before(deadline) {
		last = callbackTasks(t, srv)
		for _, cb := range last {
			if match(cb) {
				return cb
			}
		}
		time.Sleep(300 * time.Millisecond)
	}
	t.Fatalf("no callback task %s within %s; tasks: %+v", what, callbackTimeout, last)
	return records.Callback{}
}

// exportCallbackLines runs "helpline records callbacks" against the
// server's configuration and returns its JSON lines.
func exportCallbackLines(t *testing.T, srv *Server) []map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), exportTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, srv.binary, "records", "callbacks", "--config", srv.ConfigPath)
	cmd.Env = srv.env
	cmd.WaitDelay = waitDelay
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("helpline records callbacks: %v\nstderr:\n%s", err, stderr.String())
	}
	lines, err := parseJSONLines(stdout.Bytes())
	if err != nil {
		t.Fatalf("reading the callbacks output: %v", err)
	}
	return lines
}

// logIndex returns the position of the first log line with message, or -1.
func logIndex(srv *Server, message string) int {
	for i, entry := range srv.Logs() {
		if entry["message"] == message {
			return i
		}
	}
	return -1
}

// A waiting caller presses star: the call ends with a confirmation, the
// counselor is rung first, then the gateway is dialled and both are bridged.
func TestCallbackKeyRingsCounselorThenCaller(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	gatewayPort := FreePort(t)
	srv := StartServer(t, ServerOptions{Mutate: callbackConfig(gatewayPort, nil)})
	phone := counselorPhone(t, srv, "1001", false)
	gateway := StartSipp(t, SippOptions{
		Scenario: "uas_verify_hangup.xml", LocalPort: gatewayPort,
		Vars: map[string]string{"hangup_ms": "4000"}, Timeout: 120 * time.Second,
	})

	caller := RunSipp(t, SippOptions{
		Scenario: "uac_callback_key.xml", Target: srv.Addr(), Service: "120",
		// About 4 s of "connecting" prompt, then star while the phone rings.
		Vars: map[string]string{"key_ms": "7000"}, Timeout: 90 * time.Second,
	})
	rec := waitEndedRecord(t, srv, caller.CallID)
	wantRecord(t, rec, map[string]string{"outcome": "callback_requested", "hangup_side": "server", "counselor": ""})

	srv.WaitLog(t, LogMessage("ringing counselor for a callback"), logTimeout)
	// The first offer, for the caller on the line, was cancelled; the
	// second rings for the callback.
	phone.WaitEvent(t, EventCallIncoming, phoneTimeout)
	phone.WaitEvent(t, EventCallClosed, phoneTimeout)
	phone.WaitEvent(t, EventCallIncoming, phoneTimeout)
	phone.Answer(t)
	phone.WaitEvent(t, EventCallEstablished, phoneTimeout)

	if done := gateway.Wait(t); done.ExitCode != 0 {
		t.Fatalf("gateway failed:\n%s", done.Report())
	}
	phone.WaitEvent(t, EventCallClosed, phoneTimeout)
	srv.WaitLog(t, LogMessage("callback connected"), logTimeout)

	ringing, dialling := logIndex(srv, "ringing counselor for a callback"), logIndex(srv, "dialling the caller back")
	if ringing < 0 || dialling < 0 || ringing > dialling {
		t.Errorf("log order: counselor rung at line %d, caller dialled at line %d, want the counselor first", ringing, dialling)
	}

	task := waitCallback(t, srv, "completed", func(cb records.Callback) bool {
		return cb.CallID == caller.CallID && cb.State == records.CallbackCompleted
	})
	if task.Reason != "requested" || task.Number != callerNumber {
		t.Errorf("task reason %q number %q, want requested with the caller's number", task.Reason, task.Number)
	}
	if len(task.Attempts) != 1 || task.Attempts[0].SIPStatus != 200 || task.Attempts[0].Outcome != "answered" ||
		task.Attempts[0].Counselor != "1001" || task.Attempts[0].EndedAt.IsZero() {
		t.Errorf("attempts = %+v, want one answered with 200 by 1001", task.Attempts)
	}
	noFullNumberInLogs(t, srv)
}

// A caller hangs up after the threshold with no counselor logged in: a
// task is created. The gateway answers busy to every attempt, so the task
// fails after the configured attempts, spaced by the interval.
func TestCallbackAfterAbandonFailsWhenBusy(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	gatewayPort := FreePort(t)
	srv := StartServer(t, ServerOptions{Mutate: callbackConfig(gatewayPort, func(cfg map[string]any) {
		_ = SetConfig(cfg, "callbacks.after_abandon_wait", "2s")
		_ = SetConfig(cfg, "callbacks.attempts", 3)
	})})
	gateway := StartSipp(t, SippOptions{Scenario: "uas_busy.xml", LocalPort: gatewayPort, Calls: 3, Timeout: 150 * time.Second})

	caller := RunSipp(t, SippOptions{
		Scenario: "uac_abandon.xml", Target: srv.Addr(), Service: "120",
		// About 4 s of "connecting" prompt, then about 4 s in the queue.
		Vars: map[string]string{"abandon_ms": "8000"},
	})
	rec := waitEndedRecord(t, srv, caller.CallID)
	wantRecord(t, rec, map[string]string{"outcome": "abandoned_in_queue", "hangup_side": "caller"})
	waitCallback(t, srv, "pending after the abandon", func(cb records.Callback) bool {
		return cb.CallID == caller.CallID && cb.State == records.CallbackPending && cb.Reason == "abandoned"
	})

	counselorPhone(t, srv, "1001", true)
	if done := gateway.Wait(t); done.ExitCode != 0 {
		t.Fatalf("gateway failed:\n%s", done.Report())
	}
	task := waitCallback(t, srv, "failed", func(cb records.Callback) bool {
		return cb.CallID == caller.CallID && cb.State == records.CallbackFailed
	})
	if task.EndReason != "attempts_used" {
		t.Errorf("end reason = %q, want attempts_used", task.EndReason)
	}
	if len(task.Attempts) != 3 {
		t.Fatalf("attempts = %+v, want 3", task.Attempts)
	}
	for i, a := range task.Attempts {
		if a.SIPStatus != 486 || a.Outcome != "busy" || a.EndedAt.IsZero() {
			t.Errorf("attempt %d = %+v, want busy with 486", i+1, a)
		}
		if i > 0 {
			if gap := a.StartedAt.Sub(task.Attempts[i-1].EndedAt); gap < 2*time.Second {
				t.Errorf("attempt %d started %s after the previous ended, want the 2s interval", i+1, gap)
			}
		}
	}
	srv.WaitLog(t, LogMessage("callback failed: every attempt used"), logTimeout)

	lines := exportCallbackLines(t, srv)
	if len(lines) != 1 {
		t.Fatalf("records callbacks printed %d tasks, want 1: %v", len(lines), lines)
	}
	if got := lines[0]["number"]; got != "010-****-5678" {
		t.Errorf("exported number = %v, want the masked 010-****-5678", got)
	}
	if got := lines[0]["state"]; got != "failed" {
		t.Errorf("exported state = %v, want failed", got)
	}
	if attempts, _ := lines[0]["attempts"].([]any); len(attempts) != 3 {
		t.Errorf("exported attempts = %v, want 3", lines[0]["attempts"])
	}
}

// overflowQueue sets the overflow rule of the Korean queue, which the
// callers of these tests reach.
func overflowQueue(overflow map[string]any) func(cfg map[string]any) {
	return func(cfg map[string]any) {
		queues, _ := cfg["queues"].([]any)
		for _, entry := range queues {
			if q, ok := entry.(map[string]any); ok && q["name"] == "loneliness_ko" {
				q["overflow"] = overflow
			}
		}
	}
}

// With no counselor logged in, the overflow rule "callback" ends the call
// with a callback task at the caller's place.
func TestOverflowNoCounselorCallback(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	srv := StartServer(t, ServerOptions{Mutate: callbackConfig(FreePort(t), overflowQueue(map[string]any{"action": "callback"}))})

	caller := RunSipp(t, SippOptions{
		Scenario: "uac_ivr_talk.xml", Target: srv.Addr(), Service: "120",
		Vars: map[string]string{"wait_bye": "1"}, Timeout: 90 * time.Second,
	})
	rec := waitEndedRecord(t, srv, caller.CallID)
	wantRecord(t, rec, map[string]string{"outcome": "overflow_callback", "hangup_side": "server"})
	srv.WaitLog(t, LogFields(map[string]any{"message": "queue overflow", "trigger": "no_counselor", "action": "callback"}), logTimeout)
	waitCallback(t, srv, "pending after the overflow", func(cb records.Callback) bool {
		return cb.CallID == caller.CallID && cb.State == records.CallbackPending && cb.Reason == "overflow"
	})
}

// With no counselor logged in, the overflow rule "transfer" connects the
// caller to the target URI.
func TestOverflowNoCounselorTransfer(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	targetPort := FreePort(t)
	target := "sip:overflow@" + Loopback + ":" + strconv.Itoa(targetPort)
	srv := StartServer(t, ServerOptions{Mutate: overflowQueue(map[string]any{"action": "transfer", "target": target})})
	peer := StartSipp(t, SippOptions{
		Scenario: "uas_verify_hangup.xml", LocalPort: targetPort,
		Vars: map[string]string{"hangup_ms": "2000"}, Timeout: 90 * time.Second,
	})

	caller := RunSipp(t, SippOptions{
		Scenario: "uac_ivr_talk.xml", Target: srv.Addr(), Service: "120",
		Vars: map[string]string{"wait_bye": "1"}, Timeout: 90 * time.Second,
	})
	if done := peer.Wait(t); done.ExitCode != 0 {
		t.Fatalf("transfer target failed:\n%s", done.Report())
	}
	rec := waitEndedRecord(t, srv, caller.CallID)
	wantRecord(t, rec, map[string]string{"outcome": "overflow_transferred", "transfer_target": target})
}

// A caller with a withheld number hangs up after the threshold: the task
// is stored as failed with the reason, nothing is dialled, nothing breaks.
func TestCallbackWithheldNumberRecorded(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	srv := StartServer(t, ServerOptions{Mutate: callbackConfig(FreePort(t), func(cfg map[string]any) {
		_ = SetConfig(cfg, "callbacks.after_abandon_wait", "1s")
	})})

	caller := RunSipp(t, SippOptions{
		Scenario: "uac_abandon.xml", Target: srv.Addr(), Service: "120",
		Vars: map[string]string{"abandon_ms": "7000", "caller": "anonymous"},
	})
	rec := waitEndedRecord(t, srv, caller.CallID)
	wantRecord(t, rec, map[string]string{"outcome": "abandoned_in_queue", "hangup_side": "caller"})
	task := waitCallback(t, srv, "failed for the withheld number", func(cb records.Callback) bool {
		return cb.CallID == caller.CallID && cb.State == records.CallbackFailed
	})
	if task.EndReason != "number_withheld" || !task.NumberWithheld || task.Number != "" || len(task.Attempts) != 0 {
		t.Errorf("task = %+v, want failed with number_withheld, no number and no attempt", task)
	}
	srv.WaitLog(t, LogMessage("caller number withheld, callback not possible"), logTimeout)
	// The example's rule keeps the caller waiting when no counselor is
	// logged in, and says so once.
	srv.WaitLog(t, LogFields(map[string]any{"message": "queue overflow", "trigger": "no_counselor", "action": "keep_waiting"}), logTimeout)
}

// A caller waits past the queue's max_wait while the only counselor does
// not answer: the overflow rule ends the call with a callback task.
func TestOverflowMaxWaitCallback(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	srv := StartServer(t, ServerOptions{Mutate: callbackConfig(FreePort(t), func(cfg map[string]any) {
		overflowQueue(map[string]any{"action": "callback"})(cfg)
		cfg["queues"].([]any)[0].(map[string]any)["max_wait"] = "3s"
	})})
	counselorPhone(t, srv, "1001", false)

	caller := RunSipp(t, SippOptions{
		Scenario: "uac_ivr_talk.xml", Target: srv.Addr(), Service: "120",
		Vars: map[string]string{"wait_bye": "1"}, Timeout: 90 * time.Second,
	})
	rec := waitEndedRecord(t, srv, caller.CallID)
	wantRecord(t, rec, map[string]string{"outcome": "overflow_callback", "hangup_side": "server", "counselor": ""})
	srv.WaitLog(t, LogFields(map[string]any{"message": "queue overflow", "trigger": "max_wait", "action": "callback"}), logTimeout)
	if wait, _ := rec["queue_wait_seconds"].(float64); wait < 3 {
		t.Errorf("queue_wait_seconds = %v, want at least the 3 s max_wait", rec["queue_wait_seconds"])
	}
	waitCallback(t, srv, "for the overflow", func(cb records.Callback) bool {
		return cb.CallID == caller.CallID && cb.Reason == "overflow"
	})
}

// The overflow transfer target may be a number of trunk.allowed_targets,
// dialled through the outbound gateway.
func TestOverflowTransferToAllowedNumber(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	gatewayPort := FreePort(t)
	srv := StartServer(t, ServerOptions{Mutate: callbackConfig(gatewayPort, overflowQueue(map[string]any{"action": "transfer", "target": "109"}))})
	gateway := StartSipp(t, SippOptions{
		Scenario: "uas_verify_hangup.xml", LocalPort: gatewayPort,
		Vars: map[string]string{"hangup_ms": "2000"}, Timeout: 90 * time.Second,
	})

	caller := RunSipp(t, SippOptions{
		Scenario: "uac_ivr_talk.xml", Target: srv.Addr(), Service: "120",
		Vars: map[string]string{"wait_bye": "1"}, Timeout: 90 * time.Second,
	})
	done := gateway.Wait(t)
	if done.ExitCode != 0 {
		t.Fatalf("gateway failed:\n%s", done.Report())
	}
	if !strings.Contains(done.Messages, "INVITE sip:109@") {
		t.Errorf("gateway did not get an INVITE for 109:\n%s", done.Messages)
	}
	rec := waitEndedRecord(t, srv, caller.CallID)
	wantRecord(t, rec, map[string]string{"outcome": "overflow_transferred"})
}

// A supervisor sees a waiting callback in the API with its own kind and
// cancels it: the task ends cancelled in the records, and a second cancel
// answers 409.
func TestSupervisorCancelsCallback(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	srv := StartServer(t, ServerOptions{Mutate: callbackConfig(FreePort(t), nil)})

	caller := RunSipp(t, SippOptions{
		Scenario: "uac_callback_key.xml", Target: srv.Addr(), Service: "120",
		Vars: map[string]string{"key_ms": "7000"}, Timeout: 90 * time.Second,
	})
	waitEndedRecord(t, srv, caller.CallID)
	task := waitCallback(t, srv, "pending", func(cb records.Callback) bool {
		return cb.CallID == caller.CallID && cb.State == records.CallbackPending
	})

	listed := srv.API(t, "GET", "/api/v1/callbacks", nil)
	entries, _ := listed.Body["callbacks"].([]any)
	if listed.Status != 200 || len(entries) != 1 {
		t.Fatalf("GET /api/v1/callbacks = %d %s, want 200 with one task", listed.Status, listed.Raw)
	}
	entry, _ := entries[0].(map[string]any)
	if entry["id"] != task.TaskID || entry["kind"] != "callback" || entry["state"] != "pending" {
		t.Errorf("listed task = %v, want id %s, kind callback, state pending", entry, task.TaskID)
	}
	if entry["number"] == callerNumber {
		t.Errorf("listed number %v is the full number, want it masked", entry["number"])
	}

	cancelled := srv.API(t, "POST", "/api/v1/callbacks/"+task.TaskID+"/cancel", nil)
	if cancelled.Status != 200 {
		t.Fatalf("cancel = %d %s, want 200", cancelled.Status, cancelled.Raw)
	}
	waitCallback(t, srv, "cancelled", func(cb records.Callback) bool {
		return cb.TaskID == task.TaskID && cb.State == records.CallbackCancelled
	})
	again := srv.API(t, "POST", "/api/v1/callbacks/"+task.TaskID+"/cancel", nil)
	if again.Status != 409 {
		t.Errorf("second cancel = %d %s, want 409", again.Status, again.Raw)
	}
}
