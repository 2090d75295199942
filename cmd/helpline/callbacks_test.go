package main

import (
	"testing"
	"time"

	"helpline/callback"
	"helpline/config"
	"helpline/records"
	"helpline/sip"
)

func TestInterruptedCallbackRequests(t *testing.T) {
	cfg := &config.Config{Queues: []config.QueueDef{{Name: "first"}, {Name: "second"}}}
	started := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	queued := started.Add(40 * time.Second)

	cases := []struct {
		name         string
		rec          records.Record
		wantOK       bool
		wantQueue    string
		wantEnqueued time.Time
		wantPriority int
	}{
		{
			name:   "withheld number",
			rec:    records.Record{CallID: "a", CallerWithheld: true, StartedAt: started},
			wantOK: false,
		},
		{
			name:         "cut off in the IVR",
			rec:          records.Record{CallID: "b", CallerNumber: "01012345678", StartedAt: started},
			wantOK:       true,
			wantQueue:    "first",
			wantEnqueued: started,
		},
		{
			name:         "waiting in a queue",
			rec:          records.Record{CallID: "c", CallerNumber: "01012345678", StartedAt: started, Queue: "second", QueuedAt: queued},
			wantOK:       true,
			wantQueue:    "second",
			wantEnqueued: queued,
		},
		{
			name:         "high risk caller",
			rec:          records.Record{CallID: "d", CallerNumber: "01012345678", StartedAt: started, Queue: "second", QueuedAt: queued, Priority: "high_risk"},
			wantOK:       true,
			wantQueue:    "second",
			wantEnqueued: queued,
			wantPriority: sip.PriorityHighRisk,
		},
		{
			name:         "queue no longer configured",
			rec:          records.Record{CallID: "e", CallerNumber: "01012345678", StartedAt: started, Queue: "removed", QueuedAt: queued},
			wantOK:       true,
			wantQueue:    "first",
			wantEnqueued: queued,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, ok := interruptedCallback(cfg, tc.rec)
			if ok != tc.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tc.wantOK)
			}
			if !ok {
				return
			}
			if req.Queue != tc.wantQueue {
				t.Errorf("queue = %q, want %q", req.Queue, tc.wantQueue)
			}
			if !req.EnqueuedAt.Equal(tc.wantEnqueued) {
				t.Errorf("enqueued at %s, want %s", req.EnqueuedAt, tc.wantEnqueued)
			}
			if req.Priority != tc.wantPriority {
				t.Errorf("priority = %d, want %d", req.Priority, tc.wantPriority)
			}
			if req.Reason != callback.ReasonInterrupted || req.TaskID != callback.TaskIDForCall(tc.rec.CallID) {
				t.Errorf("reason %q, task id %q; want interrupted and the id derived from the call", req.Reason, req.TaskID)
			}
		})
	}
}
