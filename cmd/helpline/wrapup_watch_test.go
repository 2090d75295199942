package main

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"helpline/events"
	"helpline/queue"
	"helpline/records"
)

// answeredCall stores a call that counselor 1001 answered and that ended.
func answeredCall(t *testing.T, store *records.Store, callID string) {
	t.Helper()
	ctx := context.Background()
	started := time.Now().Add(-5 * time.Minute)
	if err := store.Start(ctx, records.StartInfo{CallID: callID, CallerNumber: "01012345678", StartedAt: started}); err != nil {
		t.Fatalf("Start: %v", err)
	}
	answered, ended := started.Add(time.Minute), started.Add(4*time.Minute)
	patch := records.Patch{Counselor: new("1001"), CounselorAnsweredAt: &answered, EndedAt: &ended, Outcome: new(records.OutcomeAnswered)}
	if err := store.Update(ctx, callID, patch); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func newWatchStore(t *testing.T) *records.Store {
	t.Helper()
	store, err := records.Open(context.Background(), filepath.Join(t.TempDir(), "records.db"), records.DemoKey())
	if err != nil {
		t.Fatalf("records.Open: %v", err)
	}
	t.Cleanup(func() { _ = store.Close() })
	return store
}

func TestSavedWrapUpEndsWrapUpTime(t *testing.T) {
	tests := []struct {
		name      string
		saved     bool
		wantEnded bool
	}{
		{"wrap-up saved during the call", true, true},
		{"no wrap-up saved", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newWatchStore(t)
			answeredCall(t, store, "call-1")
			if tt.saved {
				wrapUp := records.WrapUp{CallID: "call-1", Counselor: "1001", Reporter: records.Reporter("self"),
					IsolationScore: 1, Risk: records.Risk("low"), FollowUp: records.FollowUpKind("none")}
				if _, err := store.SaveWrapUp(context.Background(), wrapUp, false); err != nil {
					t.Fatalf("SaveWrapUp: %v", err)
				}
			}
			states := &fakeStates{state: queue.StateWrapUp}
			w := newSavedWrapUps(events.NewBus(), states, store, zerolog.Nop())
			defer w.sub.Close()

			w.check(context.Background(), "1001")
			if ended := len(states.ended) == 1; ended != tt.wantEnded {
				t.Errorf("wrap-up ended = %v, want %v", ended, tt.wantEnded)
			}
		})
	}
}

func TestEnteredWrapUp(t *testing.T) {
	tests := []struct {
		name string
		e    events.Event
		want bool
	}{
		{"call end into wrap-up", events.Event{Type: events.CounselorState, Data: map[string]string{"to": "wrap_up"}}, true},
		{"break", events.Event{Type: events.CounselorState, Data: map[string]string{"to": "break"}}, false},
		{"other event", events.Event{Type: events.CallEnded, Data: map[string]string{"to": "wrap_up"}}, false},
	}
	for _, tt := range tests {
		if got := enteredWrapUp(tt.e); got != tt.want {
			t.Errorf("%s: enteredWrapUp = %v, want %v", tt.name, got, tt.want)
		}
	}
}
