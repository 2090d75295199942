package e2e

import (
	"net/http"
	"testing"
	"time"
)

// testMediaTimeout is the rtp.media_timeout of the media timeout tests.
const testMediaTimeout = "3s"

// silentLegEndLimit bounds the time from the moment a leg goes silent to
// the end of the call in its record: the media timeout, a check interval
// and slack for a busy machine. It stays under the 32 s a BYE to a gone
// phone takes to time out, so the record must not wait for that BYE.
const silentLegEndLimit = 20 * time.Second

// mediaTimeoutServer starts a server whose calls end after 3 s without RTP
// from a leg, with a wrap-up long enough to observe.
func mediaTimeoutServer(t *testing.T) *Server {
	t.Helper()
	return StartServer(t, ServerOptions{Mutate: func(cfg map[string]any) {
		MustSetConfig(t, cfg, "rtp.media_timeout", testMediaTimeout)
		MustSetConfig(t, cfg, "queue.wrap_up", "60s")
	}})
}

// counselorStateChanges returns "from>to source reason" for each
// counselor_state event of id, in order.
func counselorStateChanges(list []map[string]any, id string) []string {
	var changes []string
	for _, e := range list {
		if eventField(e, "type") != "counselor_state" || eventField(e, "counselor_id") != id {
			continue
		}
		changes = append(changes, eventData(e, "from")+">"+eventData(e, "to")+" "+eventData(e, "source")+" "+eventData(e, "reason"))
	}
	return changes
}

// bridgedAudioPackets is how many RTP packets the caller must receive
// after the bridge started before a test takes the audio as flowing: half
// a second of 20 ms packets.
const bridgedAudioPackets = 25

// waitBridgedAudio waits until the caller of a bridged call has received
// half a second of RTP from then on. The bridge relays only what the
// counselor's phone sends, so this shows the phone's audio flowing.
func waitBridgedAudio(t *testing.T, call *RawCall) {
	t.Helper()
	from := time.Now()
	deadline := from.Add(logTimeout)
	for len(call.ReceivedRTP(from, time.Now())) < bridgedAudioPackets {
		if time.Now().After(deadline) {
			t.Fatalf("caller received %d RTP packets in %s after the bridge, want the counselor's audio (%d or more)",
				len(call.ReceivedRTP(from, time.Now())), logTimeout, bridgedAudioPackets)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// wantEndedWithin fails when the record's end came later than limit after
// since.
func wantEndedWithin(t *testing.T, rec map[string]any, since time.Time, limit time.Duration) {
	t.Helper()
	ended, err := time.Parse(time.RFC3339Nano, recordField(rec, "ended_at"))
	if err != nil {
		t.Fatalf("parsing ended_at: %v", err)
	}
	if took := ended.Sub(since); took > limit {
		t.Errorf("call ended %s after the leg went silent, want under %s", took.Round(time.Millisecond), limit)
	}
}

// The counselor's softphone vanishes mid-call (SIGKILL: no BYE, no RTP).
// After rtp.media_timeout the caller gets BYE, the record names the media
// timeout, and the counselor goes to wrap-up and then on break, so that
// no caller is offered to the dead phone.
func TestCounselorPhoneVanishesMidCall(t *testing.T) {
	t.Parallel()
	srv := mediaTimeoutServer(t)
	call, phone, _ := bridgedCall(t, srv, "1001")
	srv.WaitCounselorState(t, "1001", "on_call", logTimeout)
	waitBridgedAudio(t, call)

	killedAt := time.Now()
	phone.Kill(t)

	call.WaitRequest(t, "BYE", logTimeout)
	rec := waitEndedRecord(t, srv, call.CallID())
	wantRecord(t, rec, map[string]string{
		"outcome":       "answered",
		"counselor":     "1001",
		"hangup_side":   "server",
		"hangup_reason": "media timeout: no RTP from the counselor for " + testMediaTimeout,
	})
	wantEndedWithin(t, rec, killedAt, silentLegEndLimit)

	list := srv.WaitEvents(t, func(list []map[string]any) bool {
		return hasEvent(list, call.CallID(), "call_ended") && len(counselorStateChanges(list, "1001")) >= 3
	}, eventTimeout)
	for _, e := range callEvents(list, call.CallID()) {
		if eventField(e, "type") == "call_ended" && (eventData(e, "outcome") != "answered" ||
			eventData(e, "hangup_side") != "server" || eventData(e, "silent") != "counselor") {
			t.Errorf("call_ended event data = %v, want outcome answered, hangup_side server, silent counselor", e["data"])
		}
	}
	requireSubsequence(t, "counselor 1001", counselorStateChanges(list, "1001"), []string{
		"on_call>wrap_up call_end ",
		"wrap_up>break media_timeout media timeout",
	})

	status := srv.CounselorStatus(t, "1001")
	if status["state"] != "break" || status["reason"] != "media timeout" {
		t.Errorf("counselor 1001 = %v, want break with reason \"media timeout\"", status)
	}
	if answer := srv.SetCounselorState(t, "1001", "available", ""); answer.Status != http.StatusOK {
		t.Errorf("bringing 1001 back while its registration lasts: %s, want 200", answer)
	}
}

// The caller's media stops (the trunk leg goes silent without BYE): the
// counselor's phone gets BYE, the record names the caller's silence, and
// the counselor goes to the usual wrap-up, not on break.
func TestCallerMediaStopsMidCall(t *testing.T) {
	t.Parallel()
	srv := mediaTimeoutServer(t)
	call, phone, _ := bridgedCall(t, srv, "1002")
	srv.WaitCounselorState(t, "1002", "on_call", logTimeout)
	waitBridgedAudio(t, call)

	silentAt := time.Now()
	call.StopRTP()

	phone.WaitEvent(t, EventCallClosed, logTimeout)
	call.WaitRequest(t, "BYE", logTimeout)
	rec := waitEndedRecord(t, srv, call.CallID())
	wantRecord(t, rec, map[string]string{
		"outcome":       "answered",
		"counselor":     "1002",
		"hangup_side":   "server",
		"hangup_reason": "media timeout: no RTP from the caller for " + testMediaTimeout,
	})
	wantEndedWithin(t, rec, silentAt, silentLegEndLimit)
	status := srv.WaitCounselorState(t, "1002", "wrap_up", logTimeout)
	if status["reason"] != nil {
		t.Errorf("counselor 1002 = %v, want wrap-up without a break reason", status)
	}
}

// While rtp.hold_timeout is off (the default), a caller who holds the call
// (a=sendonly) and sends no RTP is not timed out, however long the hold
// lasts. After the resume the usual timeout applies again.
func TestHeldCallerWithoutRTPNotTimedOut(t *testing.T) {
	t.Parallel()
	srv := mediaTimeoutServer(t)
	call, _, _ := bridgedCall(t, srv, "1003")

	call.StopRTP()
	hold := sdpOffer(Loopback, call.RTPPort(), "0 101", pcmuAttributes("sendonly"), false)
	wantStatus(t, "re-INVITE with a=sendonly", call.Reinvite(nil, hold), 200)
	srv.WaitLog(t, LogFields(map[string]any{"message": "call held", "by": "caller", "call_id": call.CallID()}), logTimeout)

	// The window under test: three media timeouts without RTP while held.
	time.Sleep(3 * 3 * time.Second)
	if got := call.Requests(); len(got) != 0 {
		t.Fatalf("server sent %v to the held caller, want nothing", got)
	}
	wantStatus(t, "INFO during the hold", call.Request("INFO", nil, "application/dtmf-relay", "Signal=5\r\nDuration=160\r\n"), 200)

	resumedAt := time.Now()
	wantStatus(t, "resume re-INVITE", call.Reinvite(nil, callerOffer(call, "sendrecv")), 200)
	call.WaitRequest(t, "BYE", logTimeout)
	rec := waitEndedRecord(t, srv, call.CallID())
	wantRecord(t, rec, map[string]string{
		"hangup_side":   "server",
		"hangup_reason": "media timeout: no RTP from the caller for " + testMediaTimeout,
	})
	wantEndedWithin(t, rec, resumedAt, silentLegEndLimit)
	ended, _ := time.Parse(time.RFC3339Nano, recordField(rec, "ended_at"))
	if took := ended.Sub(resumedAt); took < 3*time.Second {
		t.Errorf("call ended %s after the resume, want a whole media timeout (%s) counted from the resume", took, testMediaTimeout)
	}
}

// With rtp.hold_timeout set, a caller who holds the call and sends no RTP
// for that long is timed out too, and the record's reason names the hold.
func TestHeldCallerEndsAfterHoldTimeout(t *testing.T) {
	t.Parallel()
	srv := StartServer(t, ServerOptions{Mutate: func(cfg map[string]any) {
		MustSetConfig(t, cfg, "rtp.media_timeout", testMediaTimeout)
		MustSetConfig(t, cfg, "rtp.hold_timeout", "6s")
		MustSetConfig(t, cfg, "queue.wrap_up", "60s")
	}})
	call, _, _ := bridgedCall(t, srv, "1001")

	call.StopRTP()
	heldAt := time.Now()
	hold := sdpOffer(Loopback, call.RTPPort(), "0 101", pcmuAttributes("inactive"), false)
	wantStatus(t, "re-INVITE with a=inactive", call.Reinvite(nil, hold), 200)

	call.WaitRequest(t, "BYE", logTimeout)
	rec := waitEndedRecord(t, srv, call.CallID())
	wantRecord(t, rec, map[string]string{
		"outcome":       "answered",
		"hangup_side":   "server",
		"hangup_reason": "media timeout: no RTP from the caller for 6s on hold",
	})
	wantEndedWithin(t, rec, heldAt, silentLegEndLimit)
	srv.WaitCounselorState(t, "1001", "wrap_up", logTimeout)
}
