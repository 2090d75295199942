package web

import (
	"fmt"
	"net/http"
	"time"

	"helpline/records"
)

// wrapUpRequest is the body of POST /api/v1/calls/{id}/wrap-up.
// IsolationScore is a pointer so that a missing score differs from 0.
type wrapUpRequest struct {
	Reporter       string `json:"reporter"`
	IsolationScore *int   `json:"isolation_score"`
	Risk           string `json:"risk"`
	Notes          string `json:"notes"`
	FollowUp       string `json:"followup"`
	DueDate        string `json:"due_date"`
	District       string `json:"district"`
}

// wrapUpJSON is a saved wrap-up as the API shows it.
type wrapUpJSON struct {
	CallID         string    `json:"call_id"`
	Counselor      string    `json:"counselor"`
	Reporter       string    `json:"reporter"`
	IsolationScore int       `json:"isolation_score"`
	Risk           string    `json:"risk"`
	Notes          string    `json:"notes"`
	FollowUp       string    `json:"followup"`
	DueDate        string    `json:"due_date"`
	District       string    `json:"district"`
	SavedAt        time.Time `json:"saved_at"`
	// FollowUpID is the task the wrap-up created, or empty.
	FollowUpID string `json:"followup_id"`
}

func newWrapUpJSON(w records.WrapUp) wrapUpJSON {
	return wrapUpJSON{
		CallID: w.CallID, Counselor: w.Counselor, Reporter: string(w.Reporter), IsolationScore: w.IsolationScore,
		Risk: string(w.Risk), Notes: w.Notes, FollowUp: string(w.FollowUp), DueDate: w.DueDate, District: w.District,
		SavedAt: w.SavedAt, FollowUpID: w.FollowUpID,
	}
}

// saveWrapUp stores the wrap-up of a call and its follow-up task, then
// ends the counselor's wrap-up time when the counselor is still in it for
// this call.
func (h *followUpHandlers) saveWrapUp(w http.ResponseWriter, r *http.Request) {
	callID := r.PathValue("id")
	var body wrapUpRequest
	if !decodeBody(w, r, &body) {
		return
	}
	if body.IsolationScore == nil {
		WriteError(w, http.StatusBadRequest, fmt.Sprintf(`"isolation_score" is missing: send the number of yes answers, 0 to %d`, records.MaxIsolationScore))
		return
	}
	replace, err := parseReplace(r.URL.Query().Get("replace"))
	if err != nil {
		h.fail(w, r, err)
		return
	}

	rec, err := h.deps.Store.Get(r.Context(), callID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	counselor, asCounselor := actingCounselor(r)
	if asCounselor && replace {
		WriteError(w, http.StatusForbidden, "replace=1 is for supervisors: a counselor saves a call's wrap-up once")
		return
	}
	author := rec.Counselor
	if asCounselor {
		if !h.tookCall(w, r, rec, counselor) {
			return
		}
		author = counselor
	}

	saved, err := h.deps.Store.SaveWrapUp(r.Context(), records.WrapUp{
		CallID: callID, Counselor: author, Reporter: records.Reporter(body.Reporter),
		IsolationScore: *body.IsolationScore, Risk: records.Risk(body.Risk), Notes: body.Notes,
		FollowUp: records.FollowUpKind(body.FollowUp), DueDate: body.DueDate, District: body.District,
	}, replace)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.deps.Audit(r, AuditWrapUpSaved, callID, fmt.Sprintf("risk=%s followup=%s replace=%t", saved.Risk, saved.FollowUp, replace))
	if saved.FollowUpID != "" {
		h.publish(records.FollowUp{ID: saved.FollowUpID, CallID: callID, Kind: saved.FollowUp}, FollowUpCreated)
	}
	h.endWrapUp(r, saved)
	WriteJSON(w, http.StatusCreated, newWrapUpJSON(saved))
}

// tookCall reports whether counselor answered rec's call or talked on one
// of its callbacks. Otherwise it responds 403, or 500 when the records
// fail.
func (h *followUpHandlers) tookCall(w http.ResponseWriter, r *http.Request, rec records.Record, counselor string) bool {
	if counselor != "" && rec.Counselor == counselor {
		return true
	}
	if counselor != "" {
		talked, err := h.deps.Store.TalkedOnCallback(r.Context(), rec.CallID, counselor)
		if err != nil {
			h.fail(w, r, err)
			return false
		}
		if talked {
			return true
		}
	}
	WriteError(w, http.StatusForbidden, "counselor "+counselor+" did not take call "+rec.CallID+
		" or its callback: only its counselor or a supervisor may save its wrap-up")
	return false
}

// endWrapUp ends the counselor's wrap-up after a saved wrap-up. A failure
// only logs, because the wrap-up is saved and the time ends by itself.
func (h *followUpHandlers) endWrapUp(r *http.Request, saved records.WrapUp) {
	if h.deps.EndWrapUp == nil || saved.Counselor == "" {
		return
	}
	if err := h.deps.EndWrapUp(r.Context(), saved.Counselor, saved.CallID); err != nil {
		h.deps.Log.Warn().Err(err).Str("call_id", saved.CallID).Str("counselor", saved.Counselor).
			Msg("ending the counselor's wrap-up after the saved wrap-up failed")
	}
}

// parseReplace reads replace=0|1; empty means 0.
func parseReplace(value string) (bool, error) {
	switch value {
	case "", "0":
		return false, nil
	case "1":
		return true, nil
	default:
		return false, &records.FieldError{Field: "replace", Problem: fmt.Sprintf("%q is not supported: use 1 to replace the saved wrap-up", value)}
	}
}
