package web_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"helpline/events"
	"helpline/queue"
	"helpline/records"
)

// screenPops returns the view_call audit entries of call callID.
func (f *boardFixture) screenPops(callID string) int {
	f.audit.mu.Lock()
	defer f.audit.mu.Unlock()
	n := 0
	for _, e := range f.audit.audit {
		if e.Action == "view_call" && e.Target == callID {
			n++
		}
	}
	return n
}

func TestConsoleAuditsScreenPopOncePerStream(t *testing.T) {
	f := newBoardFixture(t, time.Time{})
	f.recordQueuedCall(t, "call-1", 40*time.Second, records.Patch{})
	f.enqueue(t, queue.Caller{CallID: "call-1", EnqueuedAt: time.Now().Add(-40 * time.Second)})
	f.connect(t, "call-1", false)

	var c console
	if status := f.get(t, "/api/v1/console?counselor=1001", &c); status != http.StatusOK {
		t.Fatalf("GET console = %d, want 200", status)
	}
	if got := f.screenPops("call-1"); got != 1 {
		t.Errorf("view_call entries after GET = %d, want 1", got)
	}

	blocks := f.openStream(t, "/api/v1/console/stream?counselor=1001")
	nextEvent(t, blocks, "console", eventDeadline)
	f.bus.Publish(events.Event{Type: events.CounselorState, CounselorID: "1001"})
	nextEvent(t, blocks, "console", eventDeadline)
	if got := f.screenPops("call-1"); got != 2 {
		t.Errorf("view_call entries after two stream snapshots = %d, want 2 (one per GET or stream)", got)
	}
}

func TestConsoleWrapUpAfterCallback(t *testing.T) {
	f := newBoardFixture(t, time.Time{})
	ctx := context.Background()
	answered := time.Now().Add(-10 * time.Minute)
	f.recordQueuedCall(t, "inbound", 11*time.Minute, records.Patch{CounselorAnsweredAt: &answered, Counselor: ptr("1001")})
	f.recordQueuedCall(t, "asked", 20*time.Minute, records.Patch{})

	started := time.Now().Add(-2 * time.Minute)
	cb := records.Callback{TaskID: "cb-1", CallID: "asked", Queue: boardQueue, Reason: "requested",
		State: records.CallbackCompleted, Number: "01012345678", EnqueuedAt: started, CreatedAt: started}
	if err := f.records.CreateCallback(ctx, cb); err != nil {
		t.Fatalf("CreateCallback: %v", err)
	}
	attempt := records.CallbackAttempt{TaskID: "cb-1", Attempt: 1, Counselor: "1001", StartedAt: started}
	if err := f.records.StartCallbackAttempt(ctx, attempt); err != nil {
		t.Fatalf("StartCallbackAttempt: %v", err)
	}
	attempt.EndedAt, attempt.SIPStatus, attempt.Outcome = time.Now(), 200, "answered"
	if err := f.records.FinishCallbackAttempt(ctx, attempt); err != nil {
		t.Fatalf("FinishCallbackAttempt: %v", err)
	}
	f.enqueue(t, queue.Caller{CallID: "cb-1", EnqueuedAt: started})
	f.connect(t, "cb-1", true)
	if err := f.queue.FinishCall(ctx, "1001", time.Now().Add(time.Hour), time.Now()); err != nil {
		t.Fatalf("FinishCall: %v", err)
	}

	var c console
	if status := f.get(t, "/api/v1/console?counselor=1001", &c); status != http.StatusOK {
		t.Fatalf("GET console = %d, want 200", status)
	}
	if c.Call["call_id"] != "asked" || c.Call["kind"] != "callback" || c.Call["phase"] != "wrap_up" {
		t.Errorf("call = %v, want the call behind the callback, kind callback, in wrap_up", c.Call)
	}
}
