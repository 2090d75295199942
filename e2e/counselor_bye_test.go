package e2e

import (
	"testing"
	"time"
)

// A counselor phone that sends BYE the moment it gets the ACK of its
// 200 OK ends the call, and its BYE gets 200. The caller gets the
// server's BYE, the record names the counselor as the side that hung up,
// and the counselor goes to wrap-up.
func TestCounselorByeRightAfterAck(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	srv := StartServer(t, ServerOptions{Mutate: func(cfg map[string]any) {
		MustSetConfig(t, cfg, "queue.wrap_up", "60s")
	}})
	phone := sippCounselorWith(t, srv, "1002", "uas_verify_hangup.xml", map[string]string{"hangup_ms": "0"})

	caller := StartSipp(t, SippOptions{
		Scenario: "uac_ivr_talk.xml",
		Target:   srv.Addr(),
		Service:  "120",
		Vars:     map[string]string{"wait_bye": "1"},
		Timeout:  90 * time.Second,
	})
	if result := phone.Wait(t); result.ExitCode != 0 {
		t.Errorf("counselor 1002's BYE right after the ACK did not get 200:\n%s", result.Report())
	}
	result := caller.Wait(t)
	if result.ExitCode != 0 {
		t.Fatalf("caller did not get the server's BYE:\n%s", result.Report())
	}

	rec := waitEndedRecord(t, srv, result.CallID)
	wantRecord(t, rec, map[string]string{"outcome": "answered", "counselor": "1002", "hangup_side": "counselor"})
	srv.WaitCounselorState(t, "1002", "wrap_up", recordTimeout)
}
