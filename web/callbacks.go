package web

import (
	"context"
	"errors"
	"net/http"
	"time"

	"helpline/callback"
)

// CallbackTasks lists and cancels callback tasks. *callback.Manager
// implements it.
type CallbackTasks interface {
	List() []callback.Task
	Cancel(ctx context.Context, id, by string) (callback.Task, error)
}

// CallbackDeps are the dependencies of the callback routes.
type CallbackDeps struct {
	Tasks CallbackTasks
}

// callbackJSON is one task as the API shows it. The number is masked.
type callbackJSON struct {
	ID            string     `json:"id"`
	Kind          string     `json:"kind"`
	CallID        string     `json:"call_id"`
	Queue         string     `json:"queue"`
	Reason        string     `json:"reason"`
	State         string     `json:"state"`
	Number        string     `json:"number"`
	Priority      int        `json:"priority"`
	EnqueuedAt    time.Time  `json:"enqueued_at"`
	CreatedAt     time.Time  `json:"created_at"`
	Attempts      int        `json:"attempts"`
	MaxAttempts   int        `json:"max_attempts"`
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	Counselor     string     `json:"counselor,omitempty"`
	EndReason     string     `json:"end_reason,omitempty"`
}

// callbackKind is the kind every task shows, as queue entries name it.
const callbackKind = "callback"

func newCallbackJSON(t callback.Task) callbackJSON {
	j := callbackJSON{
		ID: t.ID, Kind: callbackKind, CallID: t.CallID, Queue: t.Queue, Reason: t.Reason, State: string(t.State),
		Number: t.MaskedNumber(), Priority: t.Priority, EnqueuedAt: t.EnqueuedAt, CreatedAt: t.CreatedAt,
		Attempts: t.Attempts, MaxAttempts: t.MaxAttempts, Counselor: t.Counselor, EndReason: t.EndReason,
	}
	if !t.NextAttemptAt.IsZero() {
		next := t.NextAttemptAt
		j.NextAttemptAt = &next
	}
	return j
}

// RegisterCallbacks adds the callback routes to api:
//
//	GET  /api/v1/callbacks              every task, oldest first
//	POST /api/v1/callbacks/{id}/cancel  cancel a task: 404 unknown, 409 done
//
// Supervisors, follow-up staff and admins may list; supervisors and admins
// may cancel.
func RegisterCallbacks(api *API, deps CallbackDeps) {
	api.HandleRoles("GET /api/v1/callbacks", []Role{RoleSupervisor, RoleFollowUp}, func(w http.ResponseWriter, _ *http.Request) {
		tasks := deps.Tasks.List()
		list := make([]callbackJSON, 0, len(tasks))
		for _, t := range tasks {
			list = append(list, newCallbackJSON(t))
		}
		WriteJSON(w, http.StatusOK, map[string]any{"callbacks": list})
	})

	api.HandleRoles("POST /api/v1/callbacks/{id}/cancel", []Role{RoleSupervisor}, func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		task, err := deps.Tasks.Cancel(r.Context(), id, "api")
		switch {
		case errors.Is(err, callback.ErrUnknownTask):
			WriteError(w, http.StatusNotFound, "callback "+id+" not found: list tasks with GET /api/v1/callbacks")
		case errors.Is(err, callback.ErrTaskDone):
			WriteError(w, http.StatusConflict, "callback "+id+" is already "+string(task.State)+": only pending or dialling tasks can be cancelled")
		case err != nil:
			api.log.Error().Err(err).Str("callback_id", id).Msg("cancelling a callback failed")
			WriteError(w, http.StatusInternalServerError, "cancelling callback "+id+" failed: see the server log")
		default:
			WriteJSON(w, http.StatusOK, newCallbackJSON(task))
		}
	})
}
