package e2e

import (
	"strings"
	"testing"
	"time"
)

// keysCaller starts a SIPp caller that presses keys (two or three) as SIP
// INFO, and waits for the server's BYE unless holdMS is set.
func keysCaller(t *testing.T, srv *Server, keys []string, holdMS string) *SippProcess {
	t.Helper()
	RequireTool(t, "sipp")
	vars := map[string]string{"key1": keys[0], "key2": keys[1]}
	if len(keys) > 2 {
		vars["key3"] = keys[2]
	}
	if holdMS == "" {
		vars["wait_bye"] = "1"
	} else {
		vars["hold_ms"] = holdMS
	}
	return StartSipp(t, SippOptions{
		Scenario: "uac_keys.xml",
		Target:   srv.Addr(),
		Service:  "120",
		Vars:     vars,
		Timeout:  150 * time.Second,
	})
}

// waitCallerDone waits for a SIPp caller and fails the test when its
// exchange went wrong.
func waitCallerDone(t *testing.T, caller *SippProcess) SippResult {
	t.Helper()
	result := caller.Wait(t)
	if result.ExitCode != 0 {
		t.Errorf("caller's exchange failed:\n%s", result.Report())
	}
	return result
}

// An English caller (9, 5, 1) waits in the English queue and reaches the
// counselor with the English skill, although a Korean-only counselor has
// been free for longer.
func TestEnglishCallerReachesEnglishCounselor(t *testing.T) {
	t.Parallel()
	srv := StartServer(t, ServerOptions{})
	korean := counselorPhone(t, srv, "1001", true)
	counselorPhone(t, srv, "1003", true)

	caller := keysCaller(t, srv, []string{"9", "5", "1"}, "6000")
	result := waitCallerDone(t, caller)

	rec := waitEndedRecord(t, srv, result.CallID)
	wantRecord(t, rec, map[string]string{
		"outcome":     "answered",
		"digits":      "951",
		"language":    "en",
		"caller_type": "self",
		"queue":       "loneliness_en",
		"counselor":   "1003",
	})
	for _, event := range korean.Events() {
		if event.Type == EventCallIncoming {
			t.Errorf("the Korean-only counselor 1001 was rung: %+v", event)
		}
	}
}

// In a ring_all queue both phones ring. baresip answers first; the SIPp
// phone gets CANCEL with the Reason header, or, when its 200 crosses that
// CANCEL, ACK and BYE.
func TestRingAllFirstAnswerWins(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	tests := []struct {
		name    string
		vars    map[string]string
		wantLog string
	}{
		{name: "loser cancelled", wantLog: `CANCEL with Reason SIP;cause=200;text="Call completed elsewhere"`},
		{name: "crossing answer ended", vars: map[string]string{"answer_on_cancel": "1"}, wantLog: "BYE after the crossing 200"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := StartServer(t, ServerOptions{Mutate: func(cfg map[string]any) {
				queues := ConfigValue(cfg, "queues").([]any)
				queues[0].(map[string]any)["strategy"] = "ring_all"
			}})
			loser := sippCounselorWith(t, srv, "1002", "uas_ring_all_loser.xml", tt.vars)
			counselorPhone(t, srv, "1001", true)

			result := RunSipp(t, SippOptions{
				Scenario: "uac_ivr_talk.xml",
				Target:   srv.Addr(),
				Service:  "120",
				Vars:     map[string]string{"queue_ms": "8000", "hold_ms": "1000"},
				Timeout:  90 * time.Second,
			})

			phone := loser.Wait(t)
			if phone.ExitCode != 0 {
				t.Errorf("counselor 1002's phone saw a wrong exchange:\n%s", phone.Report())
			}
			if !strings.Contains(phone.Log, tt.wantLog) {
				t.Errorf("counselor 1002's phone log lacks %q:\n%s", tt.wantLog, phone.Log)
			}
			rec := waitEndedRecord(t, srv, result.CallID)
			wantRecord(t, rec, map[string]string{"outcome": "answered", "counselor": "1001", "queue": "loneliness_ko"})
			srv.WaitLog(t, LogFields(map[string]any{"message": "ringing every counselor at once"}), logTimeout)
		})
	}
}

// sippCounselorWith is sippCounselor with -set variables for the phone's
// scenario.
func sippCounselorWith(t *testing.T, srv *Server, user, scenario string, vars map[string]string) *SippProcess {
	t.Helper()
	port := loginSippCounselor(t, srv, user)
	return StartSipp(t, SippOptions{Scenario: scenario, LocalPort: port, Vars: vars, Timeout: 90 * time.Second})
}

// A caller who presses 0 (in danger right now) after a normal caller is
// connected first, supervisors get a high_risk_waiting event at once, and
// the record says high_risk.
func TestHighRiskCallerServedFirst(t *testing.T) {
	t.Parallel()
	srv := StartServer(t, ServerOptions{Mutate: fastQueue("1s")})

	normal := keysCaller(t, srv, []string{"5", "1"}, "")
	srv.WaitLog(t, LogFields(map[string]any{"message": "caller queued", "queue": "loneliness_ko"}), logTimeout)
	urgent := keysCaller(t, srv, []string{"5", "0"}, "")
	srv.WaitLog(t, LogFields(map[string]any{
		"message": "high-risk caller waiting", "event": "high_risk_waiting", "queue": "loneliness_ko",
	}), logTimeout)

	// The phone answers at once on registering, before its control
	// connection may be up, so the test follows its output lines.
	phone := counselorPhone(t, srv, "1001", true)
	next := waitPhoneLine(t, phone, 0, "Call established")
	phone.Hangup(t)
	next = waitPhoneLine(t, phone, next, "terminate")
	next = waitPhoneLine(t, phone, next, "Call established")
	phone.Hangup(t)
	waitPhoneLine(t, phone, next, "terminate")

	urgentResult := waitCallerDone(t, urgent)
	normalResult := waitCallerDone(t, normal)
	urgentRec := waitEndedRecord(t, srv, urgentResult.CallID)
	normalRec := waitEndedRecord(t, srv, normalResult.CallID)
	wantRecord(t, urgentRec, map[string]string{"outcome": "answered", "counselor": "1001", "digits": "50", "priority": "high_risk"})
	wantRecord(t, normalRec, map[string]string{"outcome": "answered", "counselor": "1001", "digits": "51", "priority": ""})

	urgentAt, normalAt := recordField(urgentRec, "counselor_answered_at"), recordField(normalRec, "counselor_answered_at")
	if urgentAt == "" || normalAt == "" || urgentAt >= normalAt {
		t.Errorf("counselor answered the high-risk caller at %q and the earlier normal caller at %q, want the high-risk caller first", urgentAt, normalAt)
	}
	if recordField(urgentRec, "queued_at") <= recordField(normalRec, "queued_at") {
		t.Errorf("high-risk caller queued at %q, not after the normal caller at %q", recordField(urgentRec, "queued_at"), recordField(normalRec, "queued_at"))
	}
}

// waitPhoneLine waits for an output line of phone containing substring,
// from line index start on, and returns the index after it.
func waitPhoneLine(t *testing.T, phone *Phone, start int, substring string) int {
	t.Helper()
	contains := func(line string) bool { return strings.Contains(line, substring) }
	_, next, err := phone.lines.wait(start, contains, phoneTimeout, phone.proc.exited)
	if err != nil {
		t.Fatalf("waiting for baresip %s to print %q: %v", phone.spec.User, substring, err)
	}
	return next
}

// An English caller first waits for a counselor with the best English
// level. Once the caller waited widen_after, a Korean-only counselor, free
// the whole time, gets the call.
func TestEnglishQueueWidensAfterWait(t *testing.T) {
	t.Parallel()
	const widenAfter = 6 * time.Second
	srv := StartServer(t, ServerOptions{Mutate: func(cfg map[string]any) {
		queues := ConfigValue(cfg, "queues").([]any)
		queues[1].(map[string]any)["widen_after"] = widenAfter.String()
	}})
	phone := counselorPhone(t, srv, "1001", true)

	caller := keysCaller(t, srv, []string{"9", "5", "1"}, "")
	queued := srv.WaitLog(t, LogFields(map[string]any{"message": "caller queued", "queue": "loneliness_en"}), logTimeout)
	offered := srv.WaitLog(t, LogFields(map[string]any{"message": "offering caller to counselor", "queue": "loneliness_en", "counselor_id": "1001"}), logTimeout)
	waitPhoneLine(t, phone, 0, "Call established")
	phone.Hangup(t)

	result := waitCallerDone(t, caller)
	rec := waitEndedRecord(t, srv, result.CallID)
	wantRecord(t, rec, map[string]string{"outcome": "answered", "counselor": "1001", "queue": "loneliness_en", "language": "en"})
	if wait, _ := rec["queue_wait_seconds"].(float64); wait < widenAfter.Seconds() {
		t.Errorf("queue wait = %.1f s, want at least widen_after %s", wait, widenAfter)
	}
	// Log times have whole seconds.
	queuedAt, offeredAt := logTime(t, queued), logTime(t, offered)
	if gap := offeredAt.Sub(queuedAt); gap < widenAfter-time.Second {
		t.Errorf("offered %s after queueing, want at least widen_after %s", gap, widenAfter)
	}
}

// Counselor 1002 serves both the Korean queue and the concerned-others
// queue. With a caller waiting in each, the phone gets one call at a time:
// the second caller is offered only after the first call and its wrap-up
// ended, although that caller waits in the other queue.
func TestCounselorOfTwoQueuesGetsOneCallAtATime(t *testing.T) {
	t.Parallel()
	srv := StartServer(t, ServerOptions{Mutate: fastQueue(twoQueueWrapUp.String())})

	korean := keysCaller(t, srv, []string{"5", "1"}, "")
	srv.WaitLog(t, LogFields(map[string]any{"message": "caller queued", "queue": "loneliness_ko"}), logTimeout)
	concerned := keysCaller(t, srv, []string{"5", "2"}, "")
	srv.WaitLog(t, LogFields(map[string]any{"message": "caller queued", "queue": "concerned_others"}), logTimeout)

	phone := counselorPhone(t, srv, "1002", true)
	next := waitPhoneLine(t, phone, 0, "Call established")
	if offers := countLogs(srv, "offering caller to counselor", "1002"); offers != 1 {
		t.Errorf("offers to 1002 during its first call = %d, want 1", offers)
	}
	phone.Hangup(t)
	next = waitPhoneLine(t, phone, next, "terminate")
	next = waitPhoneLine(t, phone, next, "Call established")
	phone.Hangup(t)
	waitPhoneLine(t, phone, next, "terminate")

	koreanRec := waitEndedRecord(t, srv, waitCallerDone(t, korean).CallID)
	concernedRec := waitEndedRecord(t, srv, waitCallerDone(t, concerned).CallID)
	wantRecord(t, koreanRec, map[string]string{"outcome": "answered", "counselor": "1002", "queue": "loneliness_ko"})
	wantRecord(t, concernedRec, map[string]string{"outcome": "answered", "counselor": "1002", "queue": "concerned_others", "caller_type": "someone_else"})

	first, second := koreanRec, concernedRec
	if recordField(second, "counselor_answered_at") < recordField(first, "counselor_answered_at") {
		first, second = second, first
	}
	ended := recordTime(t, first, "ended_at")
	answered := recordTime(t, second, "counselor_answered_at")
	// The wrap-up starts a moment before ended_at is written, hence the
	// margin; without the wrap-up the second offer follows within a second.
	if gap := answered.Sub(ended); gap < twoQueueWrapUp-wrapUpMargin {
		t.Errorf("second call answered %s after the first ended, want at least the %s wrap-up of the other queue's call", gap, twoQueueWrapUp)
	}
}

// twoQueueWrapUp and wrapUpMargin are the wrap-up of the counselor serving
// two queues and the tolerance when comparing it with record times.
const (
	twoQueueWrapUp = 4 * time.Second
	wrapUpMargin   = 500 * time.Millisecond
)

// recordTime parses a time field of a call record.
func recordTime(t *testing.T, rec map[string]any, key string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339Nano, recordField(rec, key))
	if err != nil {
		t.Fatalf("record field %s = %q: %v", key, recordField(rec, key), err)
	}
	return at
}

// countLogs counts the server log lines with message for counselorID.
func countLogs(srv *Server, message, counselorID string) int {
	count := 0
	for _, entry := range srv.Logs() {
		if entry["message"] == message && entry["counselor_id"] == counselorID {
			count++
		}
	}
	return count
}
