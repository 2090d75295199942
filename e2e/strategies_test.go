package e2e

import (
	"testing"
	"time"
)

// strategyQueue sets the strategy of the Korean queue, which the callers
// of these tests reach, and ends wrap-up at once.
func strategyQueue(strategy string) func(cfg map[string]any) {
	return func(cfg map[string]any) {
		fastQueue("0s")(cfg)
		queues := ConfigValue(cfg, "queues").([]any)
		queues[0].(map[string]any)["strategy"] = strategy
	}
}

// talkCall places one trunk call that reaches a counselor, talks briefly
// and hangs up, and returns the ended record.
func talkCall(t *testing.T, srv *Server) map[string]any {
	t.Helper()
	result := RunSipp(t, SippOptions{
		Scenario: "uac_ivr_talk.xml",
		Target:   srv.Addr(),
		Service:  "120",
		Vars:     map[string]string{"queue_ms": "6000", "hold_ms": "1000"},
		Timeout:  90 * time.Second,
	})
	return waitEndedRecord(t, srv, result.CallID)
}

// Under round_robin the first caller goes to the lowest id, although the
// counselor who logged in first has been idle longest.
func TestRoundRobinStartsAtLowestID(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	srv := StartServer(t, ServerOptions{Mutate: strategyQueue("round_robin")})
	for _, user := range []string{"1003", "1002", "1001"} {
		counselorPhone(t, srv, user, true)
	}

	rec := talkCall(t, srv)

	wantRecord(t, rec, map[string]string{"outcome": "answered", "counselor": "1001", "queue": "loneliness_ko"})
}

// Under fewest_calls a counselor who has answered no call today takes the
// caller, although the one who answered a call has been idle longer.
func TestFewestCallsPrefersCounselorWithoutCalls(t *testing.T) {
	t.Parallel()
	RequireTool(t, "sipp")
	srv := StartServer(t, ServerOptions{Mutate: strategyQueue("fewest_calls")})
	counselorPhone(t, srv, "1001", true)
	first := talkCall(t, srv)
	wantRecord(t, first, map[string]string{"outcome": "answered", "counselor": "1001"})

	counselorPhone(t, srv, "1002", true)
	second := talkCall(t, srv)

	wantRecord(t, second, map[string]string{"outcome": "answered", "counselor": "1002"})
}
