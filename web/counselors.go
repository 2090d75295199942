package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"unicode"
	"unicode/utf8"

	"helpline/counselor"
	"helpline/queue"
)

// maxReasonLength bounds a break reason, in characters.
const maxReasonLength = 200

// CounselorService is the state service behind the counselor routes.
// *counselor.Service implements it.
type CounselorService interface {
	List(ctx context.Context) ([]counselor.Status, error)
	Get(ctx context.Context, id string) (counselor.Status, error)
	SetState(ctx context.Context, id string, state queue.CounselorState, reason, source string) error
	EndWrapUp(ctx context.Context, id, source string) error
}

// stateRequest is the body of POST /api/v1/counselors/{id}/state.
type stateRequest struct {
	State  queue.CounselorState `json:"state"`
	Reason string               `json:"reason"`
}

// counselorList is the body of GET /api/v1/counselors.
type counselorList struct {
	Counselors []counselor.Status `json:"counselors"`
}

// RegisterCounselors adds the counselor routes to api:
//
//	GET  /api/v1/counselors                     every counselor's state
//	POST /api/v1/counselors/{id}/state          {"state": "available|break|logged_out", "reason": "..."}
//	POST /api/v1/counselors/{id}/wrap-up/end    end the wrap-up now
//
// A change responds 200 with the counselor's new status. Errors: 400 for a
// bad body or state, 403 for a counselor acting for another id, 404 for an
// unknown counselor, 409 for a change the counselor's state does not allow
// or a login without a registered phone.
//
// Supervisors and admins see and change every counselor. A counselor
// login sees only its own entry and changes only its own state.
func RegisterCounselors(api *API, svc CounselorService) {
	h := counselorHandlers{api: api, svc: svc}
	api.HandleRoles("GET /api/v1/counselors", []Role{RoleCounselor, RoleSupervisor}, h.list)
	api.HandleRoles("POST /api/v1/counselors/{id}/state", []Role{RoleCounselor, RoleSupervisor}, h.setState)
	api.HandleRoles("POST /api/v1/counselors/{id}/wrap-up/end", []Role{RoleCounselor, RoleSupervisor}, h.endWrapUp)
}

type counselorHandlers struct {
	api *API
	svc CounselorService
}

func (h counselorHandlers) list(w http.ResponseWriter, r *http.Request) {
	list, err := h.svc.List(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if p, _ := PrincipalFrom(r.Context()); p.Role == RoleCounselor {
		list = slices.DeleteFunc(list, func(s counselor.Status) bool { return s.ID != p.Counselor })
	}
	WriteJSON(w, http.StatusOK, counselorList{Counselors: list})
}

func (h counselorHandlers) setState(w http.ResponseWriter, r *http.Request) {
	if !actsForPathCounselor(w, r) {
		return
	}
	var body stateRequest
	if err := DecodeJSON(r, &body); err != nil {
		WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	if message, ok := checkStateRequest(body); !ok {
		WriteError(w, http.StatusBadRequest, message)
		return
	}

	id := r.PathValue("id")
	if err := h.svc.SetState(r.Context(), id, body.State, body.Reason, counselor.SourceAPI); err != nil {
		h.fail(w, r, err)
		return
	}
	h.writeStatus(w, r, id)
}

func (h counselorHandlers) endWrapUp(w http.ResponseWriter, r *http.Request) {
	if !actsForPathCounselor(w, r) {
		return
	}
	id := r.PathValue("id")
	if err := h.svc.EndWrapUp(r.Context(), id, counselor.SourceAPI); err != nil {
		h.fail(w, r, err)
		return
	}
	h.writeStatus(w, r, id)
}

// actsForPathCounselor answers 403 and returns false when the principal
// may not act for the counselor of the path's {id}.
func actsForPathCounselor(w http.ResponseWriter, r *http.Request) bool {
	p, _ := PrincipalFrom(r.Context())
	id := r.PathValue("id")
	if p.ActsFor(id) {
		return true
	}
	WriteError(w, http.StatusForbidden, fmt.Sprintf("role %s may not act for counselor %q: a counselor login acts only for its own id (%s)", p.Role, id, p.Counselor))
	return false
}

// checkStateRequest returns why body cannot be applied.
func checkStateRequest(body stateRequest) (string, bool) {
	switch body.State {
	case queue.StateAvailable, queue.StateBreak, queue.StateLoggedOut:
	case "":
		return `"state" is missing: use available, break or logged_out`, false
	default:
		return fmt.Sprintf("state %q cannot be set: use available, break or logged_out", body.State), false
	}
	if utf8.RuneCountInString(body.Reason) > maxReasonLength {
		return fmt.Sprintf(`"reason" is longer than %d characters: shorten it`, maxReasonLength), false
	}
	for _, r := range body.Reason {
		if unicode.IsControl(r) {
			return `"reason" contains a control character: use one line of text`, false
		}
	}
	return "", true
}

// writeStatus responds 200 with the counselor's current status.
func (h counselorHandlers) writeStatus(w http.ResponseWriter, r *http.Request, id string) {
	status, err := h.svc.Get(r.Context(), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, status)
}

// fail responds to err with the HTTP status of its kind.
func (h counselorHandlers) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, queue.ErrUnknownCounselor):
		WriteError(w, http.StatusNotFound, fmt.Sprintf("counselor %q is not configured: use an id from GET /api/v1/counselors", r.PathValue("id")))
	case errors.Is(err, queue.ErrInvalidTransition):
		WriteError(w, http.StatusConflict, err.Error()+": "+transitionHint(err))
	case errors.Is(err, counselor.ErrNotRegistered):
		WriteError(w, http.StatusConflict, err.Error())
	case errors.Is(err, counselor.ErrInvalidState):
		WriteError(w, http.StatusBadRequest, err.Error())
	default:
		h.api.log.Error().Err(err).Str("path", r.URL.Path).Msg("counselor request failed")
		WriteError(w, http.StatusInternalServerError, "internal error: see the server log")
	}
}

// transitionHint says what to do about a rejected state change.
func transitionHint(err error) string {
	var rejected *queue.TransitionError
	if !errors.As(err, &rejected) {
		return "check the counselor's state with GET /api/v1/counselors"
	}
	switch {
	case rejected.From == queue.StateLoggedOut:
		return "log the counselor in first (state available)"
	case rejected.From == queue.StateOffered || rejected.From == queue.StateOnCall:
		return "wait until the call ends; a logout is applied after the call"
	case rejected.To == queue.StateAvailable && rejected.From != queue.StateWrapUp:
		return "the counselor is not in wrap-up, so there is nothing to end"
	default:
		return "check the counselor's state with GET /api/v1/counselors"
	}
}
