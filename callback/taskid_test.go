package callback

import (
	"context"
	"strings"
	"testing"

	"helpline/events"
)

func TestTaskIDForCallIsStable(t *testing.T) {
	first := TaskIDForCall("a84b4c76e66710@pc33.example.com")
	second := TaskIDForCall("a84b4c76e66710@pc33.example.com")
	other := TaskIDForCall("b84b4c76e66710@pc33.example.com")

	if first != second {
		t.Errorf("TaskIDForCall gave %q then %q for one call", first, second)
	}
	if first == other {
		t.Errorf("TaskIDForCall gave %q for two calls", first)
	}
	if !strings.HasPrefix(first, idPrefix) || len(first) != len(newTaskID()) {
		t.Errorf("TaskIDForCall = %q, want the form of a random task ID such as %q", first, newTaskID())
	}
}

func TestCreateWithKnownTaskIDMakesOneTask(t *testing.T) {
	f := newFixture(t, 3)
	req := Request{
		TaskID: TaskIDForCall("call-1"), CallID: "call-1", Queue: "q", Number: "01012345678",
		Reason: ReasonInterrupted, EnqueuedAt: f.clock.Now(),
	}

	first, err := f.m.Create(context.Background(), req)
	if err != nil {
		t.Fatalf("first Create: %v", err)
	}
	second, err := f.m.Create(context.Background(), req)
	if err != nil {
		t.Fatalf("second Create: %v", err)
	}

	if first.ID != req.TaskID || second.ID != req.TaskID {
		t.Errorf("task IDs = %q and %q, want %q", first.ID, second.ID, req.TaskID)
	}
	if got := len(f.m.List()); got != 1 {
		t.Errorf("Manager has %d tasks, want 1", got)
	}
	if got := len(f.waiting(t)); got != 1 {
		t.Errorf("queue has %d entries, want 1", got)
	}
	if got := len(f.store.created); got != 1 {
		t.Errorf("stored tasks = %d, want 1", got)
	}
	if got := f.events.count(events.CallbackRequested); got != 1 {
		t.Errorf("callback_requested events = %d, want 1", got)
	}
}
