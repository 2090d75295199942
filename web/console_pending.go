package web

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"helpline/records"
)

// pendingWrapUpLimit caps the calls GET /api/v1/console/pending-wrap-ups
// lists.
const pendingWrapUpLimit = 20

// pendingWrapUpJSON is one call without a saved wrap-up.
type pendingWrapUpJSON struct {
	CallID     string    `json:"call_id"`
	StartedAt  time.Time `json:"started_at"`
	Queue      string    `json:"queue"`
	Language   string    `json:"language"`
	CallerType string    `json:"caller_type"`
	// Kind is "call" for an answered inbound call, or "callback" for the
	// call behind a callback the counselor talked on.
	Kind string `json:"kind"`
	// TalkedAt is when the counselor answered the call or the callback.
	TalkedAt time.Time `json:"talked_at"`
}

// pendingWrapUpsJSON is the body of GET /api/v1/console/pending-wrap-ups.
type pendingWrapUpsJSON struct {
	Calls []pendingWrapUpJSON `json:"calls"`
}

// pendingWrapUps lists the calls the counselor talked on in the last 24
// hours whose wrap-up is not saved, newest first, so that a wrap-up
// the wrap-up time cut short can be written later. The list is not
// audited: it shows no caller data beyond the IVR choices, and opening a
// call's history is audited on its own.
func (c consoleHandlers) pendingWrapUps(w http.ResponseWriter, r *http.Request) {
	id, err := consoleCounselor(r)
	if err != nil {
		writeConsoleRequestError(w, err)
		return
	}
	calls, err := c.readPendingWrapUps(r.Context(), id)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, pendingWrapUpsJSON{Calls: calls})
}

// readPendingWrapUps checks that counselor id exists and reads their
// calls without a wrap-up.
func (c consoleHandlers) readPendingWrapUps(ctx context.Context, id string) ([]pendingWrapUpJSON, error) {
	ctx, cancel := context.WithTimeout(ctx, snapshotTimeout)
	defer cancel()

	if _, err := c.deps.Counselors.Get(ctx, id); err != nil {
		return nil, fmt.Errorf("read counselor %s: %w", id, err)
	}
	since := c.deps.Now().Add(-lastCallLookback)
	pending, err := c.deps.Records.PendingWrapUps(ctx, id, since, pendingWrapUpLimit)
	if err != nil {
		return nil, err
	}

	calls := make([]pendingWrapUpJSON, 0, len(pending))
	for _, p := range pending {
		calls = append(calls, newPendingWrapUpJSON(p))
	}
	return calls, nil
}

func newPendingWrapUpJSON(p records.PendingWrapUp) pendingWrapUpJSON {
	return pendingWrapUpJSON{
		CallID: p.CallID, StartedAt: p.StartedAt, Queue: p.Queue, Language: p.Language,
		CallerType: p.CallerType, Kind: p.Kind, TalkedAt: p.TalkedAt,
	}
}
