package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/rs/zerolog"

	"helpline/counselor"
	"helpline/queue"
	"helpline/sip"
)

// CallControl is the part of the SIP server that the call routes drive.
// *sip.Server implements it.
type CallControl interface {
	// CallEmergency calls target into the call, through the outbound
	// gateway, in the background.
	CallEmergency(callID, target string) error
	// MonitorCall calls the supervisor into the call in mode, or changes
	// the mode of a supervisor already on it.
	MonitorCall(callID, supervisorID string, mode sip.MonitorMode) error
}

// CounselorLookup returns one counselor's status. *counselor.Service
// implements it.
type CounselorLookup interface {
	Get(ctx context.Context, id string) (counselor.Status, error)
}

// CallsDeps contains the dependencies of the call routes.
type CallsDeps struct {
	Calls CallControl
	// Counselors returns the call a counselor login is connected to, so
	// that it may call an emergency service into that call only. Nil
	// rejects emergency requests of counselor logins.
	Counselors CounselorLookup
	Log        zerolog.Logger
}

// emergencyRequest is the body of POST /api/v1/calls/{call_id}/emergency.
type emergencyRequest struct {
	// Target is the number to call in, one of trunk.allowed_targets.
	Target string `json:"target"`
}

// monitorRequest is the body of POST /api/v1/calls/{call_id}/monitor.
type monitorRequest struct {
	Supervisor string `json:"supervisor"`
	Mode       string `json:"mode"`
}

// callActionResponse is the body of an accepted call action.
type callActionResponse struct {
	CallID     string `json:"call_id"`
	Status     string `json:"status"`
	Target     string `json:"target,omitempty"`
	Supervisor string `json:"supervisor,omitempty"`
	Mode       string `json:"mode,omitempty"`
}

// RegisterCalls adds the routes that act on a call in progress:
//
//   - POST /api/v1/calls/{call_id}/emergency {"target":"119"} calls an
//     emergency service into the call; caller, counselor and target then
//     hear each other.
//   - POST /api/v1/calls/{call_id}/monitor {"supervisor":"1003",
//     "mode":"listen|whisper|barge"} calls a supervisor into the call, or
//     changes the mode of the supervisor already on it.
//
// Both answer 202 Accepted once the request is checked: the call to the
// target or the supervisor's phone goes on in the background, and its
// result shows in the events (emergency_calling, emergency_joined,
// emergency_failed, monitor_started) and the logs. The call id is the caller's SIP Call-ID, as in the records.
//
// Supervisors and admins may use both. A counselor login may call an
// emergency service only into the call it is connected to.
func RegisterCalls(api *API, deps CallsDeps) {
	h := &callHandlers{calls: deps.Calls, counselors: deps.Counselors, log: deps.Log}
	api.HandleRoles("POST /api/v1/calls/{call_id}/emergency", []Role{RoleCounselor, RoleSupervisor}, h.emergency)
	api.HandleRoles("POST /api/v1/calls/{call_id}/monitor", []Role{RoleSupervisor}, h.monitor)
}

type callHandlers struct {
	calls      CallControl
	counselors CounselorLookup
	log        zerolog.Logger
}

func (h *callHandlers) emergency(w http.ResponseWriter, r *http.Request) {
	callID := r.PathValue("call_id")
	if !h.ownsConnectedCall(w, r, callID) {
		return
	}
	var req emergencyRequest
	if err := DecodeJSON(r, &req); err != nil {
		WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	if req.Target == "" {
		WriteError(w, http.StatusUnprocessableEntity, `target is missing: send {"target":"119"} with a number from trunk.allowed_targets`)
		return
	}

	if err := h.calls.CallEmergency(callID, req.Target); err != nil {
		h.writeCallError(w, err, callID)
		return
	}
	h.log.Info().Str("call_id", callID).Str("emergency_target", req.Target).Msg("emergency call requested by API")
	WriteJSON(w, http.StatusAccepted, callActionResponse{CallID: callID, Status: "calling", Target: req.Target})
}

// ownsConnectedCall answers 403 and returns false when a counselor login
// is not connected to callID. Other roles pass.
func (h *callHandlers) ownsConnectedCall(w http.ResponseWriter, r *http.Request, callID string) bool {
	p, _ := PrincipalFrom(r.Context())
	if p.Role != RoleCounselor {
		return true
	}
	if h.counselors != nil {
		status, err := h.counselors.Get(r.Context(), p.Counselor)
		if err == nil && status.State == queue.StateOnCall && status.CallID == callID {
			return true
		}
		if err != nil {
			h.log.Warn().Err(err).Str("counselor", p.Counselor).Msg("looking up a counselor's call failed")
		}
	}
	WriteError(w, http.StatusForbidden, fmt.Sprintf("role counselor may not act on call %s: a counselor acts only on the call they are connected to", callID))
	return false
}

func (h *callHandlers) monitor(w http.ResponseWriter, r *http.Request) {
	callID := r.PathValue("call_id")
	var req monitorRequest
	if err := DecodeJSON(r, &req); err != nil {
		WriteError(w, http.StatusBadRequest, err.Error())
		return
	}
	if req.Supervisor == "" {
		WriteError(w, http.StatusUnprocessableEntity, `supervisor is missing: send {"supervisor":"<counselor id>","mode":"listen"}`)
		return
	}
	mode, err := sip.ParseMonitorMode(req.Mode)
	if err != nil {
		WriteError(w, http.StatusUnprocessableEntity, "mode: "+err.Error())
		return
	}

	if err := h.calls.MonitorCall(callID, req.Supervisor, mode); err != nil {
		h.writeCallError(w, err, callID)
		return
	}
	h.log.Info().Str("call_id", callID).Str("supervisor", req.Supervisor).Str("mode", string(mode)).Msg("monitoring requested by API")
	WriteJSON(w, http.StatusAccepted, callActionResponse{CallID: callID, Status: "accepted", Supervisor: req.Supervisor, Mode: string(mode)})
}

// callErrorStatuses maps the SIP server's errors to HTTP statuses. The
// first match wins; anything else is a 500.
var callErrorStatuses = []struct {
	err    error
	status int
}{
	{sip.ErrCallNotFound, http.StatusNotFound},
	{sip.ErrTargetNotAllowed, http.StatusForbidden},
	{sip.ErrNotSupervisor, http.StatusForbidden},
	{sip.ErrNoOutboundRoute, http.StatusUnprocessableEntity},
	{sip.ErrInvalidMonitorMode, http.StatusUnprocessableEntity},
	{sip.ErrMonitorOwnCall, http.StatusUnprocessableEntity},
	{sip.ErrCallNotTalking, http.StatusConflict},
	{sip.ErrPartyBusy, http.StatusConflict},
	{sip.ErrSupervisorNotRegistered, http.StatusConflict},
}

// callErrorStatus returns the HTTP status for an error of a call action.
func callErrorStatus(err error) int {
	for _, entry := range callErrorStatuses {
		if errors.Is(err, entry.err) {
			return entry.status
		}
	}
	return http.StatusInternalServerError
}

// writeCallError answers a call action that the SIP server rejected.
func (h *callHandlers) writeCallError(w http.ResponseWriter, err error, callID string) {
	status := callErrorStatus(err)
	event := h.log.Warn()
	if status == http.StatusInternalServerError {
		event = h.log.Error()
	}
	event.Err(err).Str("call_id", callID).Int("status", status).Msg("call action rejected")
	WriteError(w, status, err.Error())
}
