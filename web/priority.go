package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"helpline/queue"
)

// priorityHighRisk is the only priority a supervisor can give a waiting
// caller through the API.
const priorityHighRisk = "high_risk"

// priorityTimeout bounds one priority change.
const priorityTimeout = 5 * time.Second

// PriorityDeps are the dependencies of the priority route.
type PriorityDeps struct {
	// RaisePriority makes a waiting caller high risk while keeping their
	// wait, such as sip.Server.RaisePriority. It returns an error wrapping
	// queue.ErrNotWaiting when the call does not wait in a queue.
	RaisePriority func(ctx context.Context, callID string) error
}

// priorityRequest is the body of POST /api/v1/calls/{id}/priority.
type priorityRequest struct {
	Priority string `json:"priority"`
}

// priorityResponse is the body of a successful priority change.
type priorityResponse struct {
	CallID   string `json:"call_id"`
	Priority string `json:"priority"`
}

// RegisterPriority adds POST /api/v1/calls/{id}/priority, with which a
// supervisor marks a waiting caller high risk ({"priority": "high_risk"}).
// The caller moves ahead of every normal caller and keeps their wait.
// Supervisors and admins may use it. Responses: 200 with the call and its priority, 400 for another priority or
// a bad body, 404 when the call does not wait in a queue, 500 when the
// queue fails.
func RegisterPriority(api *API, deps PriorityDeps) {
	api.HandleRoles("POST /api/v1/calls/{id}/priority", []Role{RoleSupervisor}, func(w http.ResponseWriter, r *http.Request) {
		callID := r.PathValue("id")
		var body priorityRequest
		if err := DecodeJSON(r, &body); err != nil {
			WriteError(w, http.StatusBadRequest, err.Error())
			return
		}
		if body.Priority != priorityHighRisk {
			WriteError(w, http.StatusBadRequest, fmt.Sprintf("priority %q is not supported: send {\"priority\": %q}", body.Priority, priorityHighRisk))
			return
		}

		ctx, cancel := context.WithTimeout(r.Context(), priorityTimeout)
		defer cancel()
		err := deps.RaisePriority(ctx, callID)
		switch {
		case errors.Is(err, queue.ErrNotWaiting):
			WriteError(w, http.StatusNotFound, fmt.Sprintf("call %s is not waiting in a queue", callID))
		case err != nil:
			api.log.Error().Err(err).Str("call_id", callID).Msg("raising a caller's priority failed")
			WriteError(w, http.StatusInternalServerError, "raising the priority failed: try again")
		default:
			WriteJSON(w, http.StatusOK, priorityResponse{CallID: callID, Priority: priorityHighRisk})
		}
	})
}
