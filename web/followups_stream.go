package web

import (
	"context"
	"net/http"
	"time"

	"helpline/events"
	"helpline/records"
)

// followUpRefresh is the time after which the follow-up stream reads the
// list again without an event. It catches tasks that the records store
// makes or closes without an event of their own, such as the tasks of
// calls that a restart cut off.
const followUpRefresh = 10 * time.Second

// FollowUpEvents publishes the followup_changed events of the follow-up
// routes and wakes the follow-up stream. *events.Bus implements it.
type FollowUpEvents interface {
	EventSource
	events.Publisher
}

// Changes a followup_changed event names in Data["change"].
const (
	FollowUpCreated  = "created"
	FollowUpAssigned = "assigned"
	FollowUpNoted    = "noted"
	FollowUpClosed   = "closed"
)

// followUpWakers are the event types after which the follow-up list may
// differ: changes made through the API, and the callback steps that make
// or close a task in the records store.
var followUpWakers = map[events.Type]bool{
	events.FollowUpChanged:   true,
	events.CallbackRequested: true,
	events.CallbackCompleted: true,
	events.CallbackCancelled: true,
	events.NodeStopped:       true,
}

// followUpSnapshot is the data of each "followups" stream event.
type followUpSnapshot struct {
	At        time.Time      `json:"at"`
	FollowUps []followUpJSON `json:"followups"`
}

// stream serves GET /api/v1/followups/stream: the list that the query's
// filters select as Server-Sent Events "followups", at connect, after a
// follow-up or callback change, and every followUpRefresh.
func (h *followUpHandlers) stream(w http.ResponseWriter, r *http.Request) {
	filter, err := parseFollowUpFilter(r, followUpQueryKeys)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var source EventSource
	if h.deps.Events != nil {
		source = h.deps.Events
	}
	serveStream(w, r, streamSpec{
		event: "followups",
		snapshot: func(ctx context.Context, _ time.Time) (any, error) {
			ctx, cancel := context.WithTimeout(ctx, snapshotTimeout)
			defer cancel()
			tasks, err := h.deps.Store.ListFollowUps(ctx, filter)
			if err != nil {
				return nil, err
			}
			return followUpSnapshot{At: h.deps.Now(), FollowUps: newFollowUpList(tasks)}, nil
		},
		relevant: func(e events.Event) bool { return followUpWakers[e.Type] },
		// A filter value the store rejects fails the first snapshot, and
		// gets 400 with the field's name.
		fail:    h.fail,
		refresh: followUpRefresh,
		source:  source,
		streams: h.deps.Streams,
		log:     h.deps.Log,
	})
}

// publish sends a followup_changed event for task. The event names the
// task, its call, its kind and the change, and never its notes or number.
func (h *followUpHandlers) publish(task records.FollowUp, change string) {
	if h.deps.Events == nil {
		return
	}
	h.deps.Events.Publish(events.Event{
		Type:   events.FollowUpChanged,
		CallID: task.CallID,
		Data:   map[string]string{"followup_id": task.ID, "kind": string(task.Kind), "change": change},
	})
}
