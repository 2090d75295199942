package e2e

import (
	"strings"
	"testing"
	"time"
)

// oneRTPPort gives the server a range of two ports with a single even
// one, the smallest range the configuration accepts. The caller's leg
// takes it, so no offer to a counselor gets a port.
func oneRTPPort(t *testing.T) func(cfg map[string]any) {
	return func(cfg map[string]any) {
		low, ok := ConfigValue(cfg, "rtp.port_min").(int)
		if !ok {
			t.Fatalf("rtp.port_min is %v, want a number", ConfigValue(cfg, "rtp.port_min"))
		}
		MustSetConfig(t, cfg, "rtp.port_max", low+low%2+1)
	}
}

// When the server has no RTP port for the counselor's leg, the failed
// offers are not the counselor's misses. The counselor stays available
// with queue.max_missed 1, and the caller stays queued until it hangs up.
// The server logs one error that names the port range and the fix.
func TestRTPPortShortageIsNoMiss(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	srv := StartServer(t, ServerOptions{Mutate: func(cfg map[string]any) {
		fastQueue("0s")(cfg)
		MustSetConfig(t, cfg, "queue.max_missed", 1)
		oneRTPPort(t)(cfg)
	}})
	// No INVITE ever reaches the phone, so only its binding is needed.
	loginSippCounselor(t, srv, "1002")

	caller := StartSipp(t, SippOptions{
		Scenario: "uac_ivr_talk.xml",
		Target:   srv.Addr(),
		Service:  "120",
		Vars:     map[string]string{"queue_ms": "4000", "hold_ms": "500"},
		Timeout:  90 * time.Second,
	})
	srv.WaitLog(t, LogFields(map[string]any{"level": "error", "port_min": srv.RTP.Min}), logTimeout)
	srv.WaitLog(t, LogFields(map[string]any{"counselor_id": "1002", "outcome": "server_error"}), logTimeout)

	result := caller.Wait(t)
	if result.ExitCode != 0 {
		t.Fatalf("caller saw a wrong exchange:\n%s", result.Report())
	}
	rec := waitEndedRecord(t, srv, result.CallID)
	wantRecord(t, rec, map[string]string{"outcome": "abandoned_in_queue", "counselor": "", "hangup_side": "caller"})

	if status := srv.CounselorStatus(t, "1002"); status["state"] != "available" {
		t.Errorf("counselor 1002 is %v, want available: a server-side port shortage is no miss", status)
	}
	shortages, serverErrors := 0, 0
	for _, entry := range srv.Logs() {
		message, _ := entry["message"].(string)
		switch {
		case strings.HasPrefix(message, "no free RTP port in rtp.port_min..rtp.port_max"):
			shortages++
			if !strings.Contains(message, "widen the range or reduce the load") {
				t.Errorf("port shortage message %q does not say the fix", message)
			}
		case entry["outcome"] == "server_error":
			serverErrors++
		case message == "counselor put on break after missed offers in a row":
			t.Errorf("counselor put on break for a server-side failure: %v", entry)
		}
	}
	if shortages != 1 {
		t.Errorf("logged the port shortage %d times for %d failed offers, want once per minute", shortages, serverErrors)
	}
}
