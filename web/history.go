package web

import (
	"context"
	"errors"
	"net/http"
	"time"

	"helpline/records"
)

// historyLimit is the number of earlier calls the history route returns.
const historyLimit = 20

// historyCallJSON is one earlier call of the caller.
type historyCallJSON struct {
	CallID     string    `json:"call_id"`
	StartedAt  time.Time `json:"started_at"`
	Outcome    string    `json:"outcome"`
	Risk       string    `json:"risk"`
	Summary    string    `json:"summary"`
	FollowUp   string    `json:"followup"`
	QueueWaitS float64   `json:"queue_wait_s"`
}

// historyJSON is the body of GET /api/v1/calls/{id}/history.
type historyJSON struct {
	Calls         []historyCallJSON `json:"calls"`
	OpenFollowUps []followUpJSON    `json:"open_followups"`
}

func newHistoryCallJSON(e records.HistoryEntry) historyCallJSON {
	j := historyCallJSON{
		CallID: e.CallID, StartedAt: e.StartedAt, Outcome: string(e.Outcome), Risk: string(e.Risk),
		Summary: e.Summary, FollowUp: string(e.FollowUp), QueueWaitS: e.QueueWait.Round(time.Millisecond).Seconds(),
	}
	if e.SummaryErr != nil {
		j.Summary = "undecryptable"
	}
	return j
}

// history returns the caller's earlier calls, newest first, and the open
// follow-up tasks of the caller's number. A withheld number has no
// history. The id may also be a callback task's, as the console names a
// callback in progress, and then means the call that asked for it.
func (h *followUpHandlers) history(w http.ResponseWriter, r *http.Request) {
	requested := r.PathValue("id")
	rec, err := h.recordOf(r.Context(), requested)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !h.mayView(w, r, rec, requested) {
		return
	}
	callID := rec.CallID

	body := historyJSON{Calls: []historyCallJSON{}, OpenFollowUps: []followUpJSON{}}
	if rec.CallerHash != "" {
		entries, err := h.deps.Store.History(r.Context(), rec.CallerHash, callID, historyLimit)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		for _, e := range entries {
			body.Calls = append(body.Calls, newHistoryCallJSON(e))
		}
		tasks, err := h.deps.Store.ListFollowUps(r.Context(), records.FollowUpFilter{CallerHash: rec.CallerHash, State: records.FollowUpOpen})
		if err != nil {
			h.fail(w, r, err)
			return
		}
		body.OpenFollowUps = newFollowUpList(tasks)
	}
	h.deps.Audit(r, AuditViewCall, callID, "history")
	WriteJSON(w, http.StatusOK, body)
}

// recordOf reads the record of a call id, or of the call that asked for
// a callback task id.
func (h *followUpHandlers) recordOf(ctx context.Context, id string) (records.Record, error) {
	rec, err := h.deps.Store.Get(ctx, id)
	if !errors.Is(err, records.ErrNotFound) {
		return rec, err
	}
	callID, cbErr := h.deps.Store.CallOfCallback(ctx, id)
	if cbErr != nil {
		return rec, err
	}
	return h.deps.Store.Get(ctx, callID)
}

// mayView reports whether the acting user may read the history of rec,
// asked for by the id requested: anyone who is not acting as a counselor,
// or the counselor who answered the call, is offered it (or its callback)
// now or talked on one of its callbacks. Otherwise it responds 403.
func (h *followUpHandlers) mayView(w http.ResponseWriter, r *http.Request, rec records.Record, requested string) bool {
	counselor, asCounselor := actingCounselor(r)
	if !asCounselor || (counselor != "" && rec.Counselor == counselor) {
		return true
	}
	if h.deps.CurrentCall != nil && counselor != "" {
		current, err := h.deps.CurrentCall(r.Context(), counselor)
		if err == nil && current != "" && (current == rec.CallID || current == requested) {
			return true
		}
	}
	if counselor != "" {
		if talked, err := h.deps.Store.TalkedOnCallback(r.Context(), rec.CallID, counselor); err == nil && talked {
			return true
		}
	}
	WriteError(w, http.StatusForbidden, "counselor "+counselor+" is not on call "+rec.CallID+": a counselor may read the history of their own call only")
	return false
}
