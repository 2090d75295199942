package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// featureTimeout bounds a feature code call: INVITE, 401, INVITE, 200,
// prompt of a few seconds, BYE.
const featureTimeout = 30 * time.Second

// dialFeature dials a feature code from the phone and waits until the
// server answered, played its prompt and hung up. It returns the RMS level
// of what the phone heard.
func dialFeature(t *testing.T, phone *Phone, code string) float64 {
	t.Helper()
	dialFeatureCall(t, phone, code)

	heard, err := ReadWAV(phone.RecordedWAV(t))
	if err != nil {
		t.Fatalf("reading what the phone heard after %s: %v", code, err)
	}
	return heard.RMS()
}

// dialFeatureCall dials a feature code and waits until the server hung
// up, without reading the recording, which is useful when another call
// starts meanwhile.
func dialFeatureCall(t *testing.T, phone *Phone, code string) {
	t.Helper()
	phone.Command(t, "dial", code)
	phone.WaitEvent(t, EventCallEstablished, featureTimeout)
	phone.WaitEvent(t, EventCallClosed, featureTimeout)
}

// ringCount returns how often the server rang counselor id.
func ringCount(srv *Server, id string) int {
	rings := 0
	for _, entry := range srv.Logs() {
		if entry["message"] == "ringing counselor" && entry["counselor"] == id {
			rings++
		}
	}
	return rings
}

// waitingCaller places a caller who hangs up after abandonMS in the queue
// and returns the ended record.
func waitingCaller(t *testing.T, srv *Server, abandonMS string) map[string]any {
	t.Helper()
	result := RunSipp(t, SippOptions{
		Scenario: "uac_abandon.xml",
		Target:   srv.Addr(),
		Service:  "120",
		Vars:     map[string]string{"abandon_ms": abandonMS},
	})
	return waitEndedRecord(t, srv, result.CallID)
}

// talkingCaller places a caller who talks to a counselor and returns the
// ended record.
func talkingCaller(t *testing.T, srv *Server) map[string]any {
	t.Helper()
	result := RunSipp(t, SippOptions{
		Scenario: "uac_ivr_talk.xml",
		Target:   srv.Addr(),
		Service:  "120",
		Vars:     map[string]string{"queue_ms": "4000", "hold_ms": "1000"},
		Timeout:  90 * time.Second,
	})
	return waitEndedRecord(t, srv, result.CallID)
}

// A registered phone makes the counselor reachable, not available: a
// logged-out counselor gets no call.
func TestRegisteredLoggedOutGetsNoCall(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	srv := StartServer(t, ServerOptions{})
	registeredPhone(t, srv, "1001", true)
	srv.WaitLog(t, LogFields(map[string]any{"message": "binding added", "user": "1001"}), logTimeout)

	status := srv.CounselorStatus(t, "1001")
	if status["state"] != "logged_out" || status["registered"] != true {
		t.Fatalf("counselor 1001 = %v, want logged_out and registered", status)
	}

	rec := waitingCaller(t, srv, "6000")
	wantRecord(t, rec, map[string]string{"outcome": "abandoned_in_queue", "counselor": ""})
	if rings := ringCount(srv, "1001"); rings != 0 {
		t.Errorf("logged-out counselor 1001 was rung %d times, want never", rings)
	}
}

// *21 from the softphone logs the counselor in, and the next caller is
// offered to that phone.
func TestFeatureLoginThenCall(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	srv := StartServer(t, ServerOptions{})
	phone := registeredPhone(t, srv, "1001", true)

	if level := dialFeature(t, phone, "*21"); level < silenceRMS {
		t.Errorf("phone heard RMS %.0f after *21, want the confirmation prompt (above %d)", level, silenceRMS)
	}
	srv.WaitLog(t, LogFields(map[string]any{"message": "counselor state changed", "counselor": "1001",
		"from": "logged_out", "to": "available", "source": "phone"}), logTimeout)
	if status := srv.CounselorStatus(t, "1001"); status["state"] != "available" {
		t.Fatalf("counselor 1001 is %v after *21, want available", status["state"])
	}

	rec := talkingCaller(t, srv)
	wantRecord(t, rec, map[string]string{"outcome": "answered", "counselor": "1001"})
}

// A feature code needs the counselor's password: the server challenges
// the INVITE, and an unknown code gets 404.
func TestFeatureCodeChallengeAndUnknownCode(t *testing.T) {
	t.Parallel()
	srv := StartServer(t, ServerOptions{})
	peer := ListenUDP(t)

	status, msg := finalStatus(t, peer, srv, "valid/invite.sip", map[string]string{"number": "*21"})
	if status != 401 || !strings.Contains(string(msg), "WWW-Authenticate: Digest") {
		t.Errorf("feature code without credentials got %d, want 401 with a digest challenge\n%s", status, msg)
	}

	phone := registeredPhone(t, srv, "1001", true)
	phone.Command(t, "dial", "*99")
	phone.WaitEvent(t, EventCallClosed, featureTimeout)
	srv.WaitLog(t, LogFields(map[string]any{"message": "feature code rejected", "counselor": "1001"}), logTimeout)
	phone.WaitLog(t, "404 Not Found", featureTimeout)
	if status := srv.CounselorStatus(t, "1001"); status["state"] != "logged_out" {
		t.Errorf("counselor 1001 is %v after an unknown code, want logged_out", status["state"])
	}
}

// *23 puts the counselor on break, so a caller is not offered; *24 brings
// the counselor back, and the next caller is.
func TestFeatureBreakAndBack(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	srv := StartServer(t, ServerOptions{})
	phone := counselorPhone(t, srv, "1001", true)

	dialFeature(t, phone, "*23")
	status := srv.CounselorStatus(t, "1001")
	if status["state"] != "break" || status["reason"] != "break" {
		t.Fatalf("counselor 1001 = %v after *23, want break with reason break", status)
	}
	rec := waitingCaller(t, srv, "6000")
	wantRecord(t, rec, map[string]string{"outcome": "abandoned_in_queue", "counselor": ""})
	if rings := ringCount(srv, "1001"); rings != 0 {
		t.Fatalf("counselor 1001 on break was rung %d times, want never", rings)
	}

	dialFeature(t, phone, "*24")
	if status := srv.CounselorStatus(t, "1001"); status["state"] != "available" {
		t.Fatalf("counselor 1001 is %v after *24, want available", status["state"])
	}
	rec = talkingCaller(t, srv)
	wantRecord(t, rec, map[string]string{"outcome": "answered", "counselor": "1001"})
}

// *25 ends a long wrap-up at once, and a caller who waits meanwhile is
// offered right away. Before that, *25 outside wrap-up plays the error
// prompt and changes nothing.
func TestFeatureEndWrapUp(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	srv := StartServer(t, ServerOptions{Mutate: func(cfg map[string]any) {
		MustSetConfig(t, cfg, "queue.wrap_up", "0s")
		counselors, _ := ConfigValue(cfg, "counselors").([]any)
		first, _ := counselors[0].(map[string]any)
		first["wrap_up"] = "4m"
	}})
	phone := counselorPhone(t, srv, "1001", true)

	dialFeature(t, phone, "*25")
	srv.WaitLog(t, LogFields(map[string]any{"message": "feature code not possible now", "counselor": "1001"}), logTimeout)
	if status := srv.CounselorStatus(t, "1001"); status["state"] != "available" {
		t.Fatalf("counselor 1001 is %v after *25 outside wrap-up, want available", status["state"])
	}

	first := talkingCaller(t, srv)
	wantRecord(t, first, map[string]string{"outcome": "answered", "counselor": "1001"})
	phone.WaitEvent(t, EventCallEstablished, phoneTimeout)
	phone.WaitEvent(t, EventCallClosed, phoneTimeout)
	status := srv.WaitCounselorState(t, "1001", "wrap_up", logTimeout)
	until, err := time.Parse(time.RFC3339Nano, status["wrap_up_until"].(string))
	if err != nil || time.Until(until) < 3*time.Minute {
		t.Fatalf("wrap_up_until = %v, want about 4 minutes ahead (counselors[].wrap_up)", status["wrap_up_until"])
	}

	second := StartSipp(t, SippOptions{
		Scenario: "uac_ivr_talk.xml",
		Target:   srv.Addr(),
		Service:  "120",
		Vars:     map[string]string{"queue_ms": "15000", "hold_ms": "1000"},
		Timeout:  90 * time.Second,
	})
	srv.WaitLog(t, LogMessage("caller queued"), logTimeout)
	rings := ringCount(srv, "1001")
	dialFeatureCall(t, phone, "*25")
	srv.WaitLog(t, LogFields(map[string]any{"message": "counselor state changed", "counselor": "1001",
		"from": "wrap_up", "to": "available"}), logTimeout)

	result := second.Wait(t)
	rec := waitEndedRecord(t, srv, result.CallID)
	wantRecord(t, rec, map[string]string{"outcome": "answered", "counselor": "1001"})
	if got := ringCount(srv, "1001"); got != rings+1 {
		t.Errorf("counselor 1001 was rung %d times after *25, want once", got-rings)
	}
}

// The API changes a counselor's state only with the token.
func TestAPIStateChange(t *testing.T) {
	t.Parallel()
	srv := StartServer(t, ServerOptions{})
	path := "/api/v1/counselors/1001/state"

	noToken := srv.API(t, http.MethodPost, path, map[string]string{"state": "logged_out"}, "")
	if noToken.Status != http.StatusUnauthorized {
		t.Errorf("without a token: %s, want 401", noToken)
	}
	wrongToken := srv.API(t, http.MethodGet, "/api/v1/counselors", nil, "not-the-token")
	if wrongToken.Status != http.StatusUnauthorized {
		t.Errorf("with a wrong token: %s, want 401", wrongToken)
	}

	notRegistered := srv.SetCounselorState(t, "1001", "available", "")
	if notRegistered.Status != http.StatusConflict {
		t.Errorf("login without a registered phone: %s, want 409", notRegistered)
	}
	registeredPhone(t, srv, "1001", true)
	srv.LoginCounselor(t, "1001")

	onBreak := srv.SetCounselorState(t, "1001", "break", "team meeting")
	if onBreak.Status != http.StatusOK || onBreak.Body["state"] != "break" || onBreak.Body["reason"] != "team meeting" {
		t.Errorf("break: %s, want 200 with state break and the reason", onBreak)
	}
	srv.WaitLog(t, LogFields(map[string]any{"message": "counselor state changed", "counselor": "1001",
		"to": "break", "reason": "team meeting", "source": "api"}), logTimeout)

	if answer := srv.SetCounselorState(t, "9999", "available", ""); answer.Status != http.StatusNotFound {
		t.Errorf("unknown counselor: %s, want 404", answer)
	}
	if answer := srv.API(t, http.MethodPost, path, "not an object", srv.APIToken); answer.Status != http.StatusBadRequest {
		t.Errorf("bad body: %s, want 400", answer)
	}
	if answer := srv.API(t, http.MethodPost, "/api/v1/counselors/1001/wrap-up/end", nil); answer.Status != http.StatusConflict {
		t.Errorf("end wrap-up on break: %s, want 409", answer)
	}
}

// A phone that rings past the ring timeout is cancelled and the next
// counselor takes the caller. After two misses in a row the counselor is
// put on break with a reason supervisors see, and comes back by request:
// no counselor is removed for good.
func TestMissedCallsPauseCounselor(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	srv := StartServer(t, ServerOptions{Mutate: func(cfg map[string]any) {
		fastQueue("0s")(cfg)
		MustSetConfig(t, cfg, "queue.ring_timeout", "3s")
		MustSetConfig(t, cfg, "queue.max_missed", 2)
	}})
	// 1002 logs in first, so it has been idle longest and is rung first.
	slow := sippCounselorCalls(t, srv, "1002", "uas_ring_forever.xml", 2)
	counselorPhone(t, srv, "1001", true)

	for call := 1; call <= 2; call++ {
		result := RunSipp(t, SippOptions{
			Scenario: "uac_ivr_talk.xml",
			Target:   srv.Addr(),
			Service:  "120",
			Vars:     map[string]string{"queue_ms": "8000", "hold_ms": "1000"},
			Timeout:  90 * time.Second,
		})
		rec := waitEndedRecord(t, srv, result.CallID)
		wantRecord(t, rec, map[string]string{"outcome": "answered", "counselor": "1001"})
		if call == 1 {
			if status := srv.CounselorStatus(t, "1002"); status["state"] != "available" {
				t.Fatalf("counselor 1002 is %v after one miss, want available", status["state"])
			}
		}
	}
	if phone := slow.Wait(t); phone.ExitCode != 0 {
		t.Errorf("counselor 1002's phone saw a wrong exchange:\n%s", phone.Report())
	}

	srv.WaitLog(t, LogFields(map[string]any{"message": "counselor put on break after missed offers in a row",
		"counselor_id": "1002", "reason": "missed calls"}), logTimeout)
	status := srv.CounselorStatus(t, "1002")
	if status["state"] != "break" || status["reason"] != "missed calls" {
		t.Fatalf("counselor 1002 = %v, want break with reason \"missed calls\"", status)
	}
	if rings := ringCount(srv, "1002"); rings != 2 {
		t.Errorf("counselor 1002 was rung %d times, want 2", rings)
	}

	if answer := srv.SetCounselorState(t, "1002", "available", ""); answer.Status != http.StatusOK {
		t.Errorf("bringing 1002 back: %s, want 200", answer)
	}
}

// A phone that answers 486 Busy Here is skipped at once, and for the next
// caller too while queue.busy_skip lasts; a busy answer is no miss.
func TestBusyPhoneSkippedForEveryCaller(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	srv := StartServer(t, ServerOptions{Mutate: func(cfg map[string]any) {
		fastQueue("0s")(cfg)
		MustSetConfig(t, cfg, "queue.max_missed", 1)
		MustSetConfig(t, cfg, "queue.busy_skip", "2m")
	}})
	busy := sippCounselor(t, srv, "1002", "uas_busy.xml")
	counselorPhone(t, srv, "1001", true)

	for range 2 {
		rec := talkingCaller(t, srv)
		wantRecord(t, rec, map[string]string{"outcome": "answered", "counselor": "1001"})
	}
	if phone := busy.Wait(t); phone.ExitCode != 0 {
		t.Errorf("counselor 1002's phone saw a wrong exchange:\n%s", phone.Report())
	}

	if rings := ringCount(srv, "1002"); rings != 1 {
		t.Errorf("busy counselor 1002 was rung %d times, want once: skipped for the second caller", rings)
	}
	if status := srv.CounselorStatus(t, "1002"); status["state"] != "available" {
		t.Errorf("counselor 1002 is %v, want available: a busy answer is no miss", status["state"])
	}
}
