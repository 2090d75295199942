package main

import (
	"context"
	"testing"

	"helpline/counselor"
	"helpline/queue"
	"helpline/records"
)

// fakeStates is a counselor service whose one counselor is in state.
type fakeStates struct {
	state queue.CounselorState
	ended []string
}

func (f *fakeStates) List(context.Context) ([]counselor.Status, error) { return nil, nil }

func (f *fakeStates) Get(_ context.Context, id string) (counselor.Status, error) {
	if id != "1001" {
		return counselor.Status{}, queue.ErrUnknownCounselor
	}
	return counselor.Status{ID: id, State: f.state}, nil
}

func (f *fakeStates) SetState(context.Context, string, queue.CounselorState, string, string) error {
	return nil
}

func (f *fakeStates) EndWrapUp(_ context.Context, id, _ string) error {
	f.ended = append(f.ended, id)
	return nil
}

// fakeLatest answers LatestCallOf with one call id, or ErrNotFound.
type fakeLatest struct{ callID string }

func (f fakeLatest) LatestCallOf(context.Context, string) (records.Record, error) {
	if f.callID == "" {
		return records.Record{}, records.ErrNotFound
	}
	return records.Record{CallID: f.callID}, nil
}

func TestEndWrapUpAfterSavedWrapUp(t *testing.T) {
	tests := []struct {
		name      string
		state     queue.CounselorState
		latest    string
		counselor string
		wantEnded bool
	}{
		{"wrap-up of that call", queue.StateWrapUp, "call-1", "1001", true},
		{"wrap-up of a later call", queue.StateWrapUp, "call-2", "1001", false},
		{"no answered call", queue.StateWrapUp, "", "1001", false},
		{"available", queue.StateAvailable, "call-1", "1001", false},
		{"on a new call", queue.StateOnCall, "call-1", "1001", false},
		{"unknown counselor", queue.StateWrapUp, "call-1", "1009", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			states := &fakeStates{state: tt.state}
			end := endWrapUpAfter(states, fakeLatest{callID: tt.latest})
			if err := end(context.Background(), tt.counselor, "call-1"); err != nil {
				t.Fatalf("end wrap-up: %v", err)
			}
			if ended := len(states.ended) == 1; ended != tt.wantEnded {
				t.Errorf("wrap-up ended = %v, want %v", ended, tt.wantEnded)
			}
		})
	}
}
