package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"helpline/callback"
	"helpline/counselor"
	"helpline/events"
	"helpline/ivr"
	"helpline/queue"
	"helpline/records"
	"helpline/sip"
)

// lastCallLookback bounds the search for the call a counselor wraps up:
// only calls started this long before now are read.
const lastCallLookback = 24 * time.Hour

// Phases of the call a console shows.
const (
	PhaseOffered = "offered"
	PhaseOnCall  = "on_call"
	PhaseWrapUp  = "wrap_up"
)

// ErrNoCounselorParameter is returned by consoleCounselor for a request
// that names no counselor.
var ErrNoCounselorParameter = errors.New(`"counselor" query parameter is missing: add ?counselor=<id> from GET /api/v1/counselors`)

// ConsoleRecords reads the call records behind the console.
// *records.Store implements it.
type ConsoleRecords interface {
	Get(ctx context.Context, callID string) (records.Record, error)
	LastAnsweredCall(ctx context.Context, counselor string, since time.Time) (records.Record, error)
	LastCallbackAnswer(ctx context.Context, counselor string, since time.Time) (records.CallbackAnswer, error)
	PendingWrapUps(ctx context.Context, counselor string, since time.Time, limit int) ([]records.PendingWrapUp, error)
}

// ConsoleDeps are the dependencies of the console routes.
type ConsoleDeps struct {
	// Labels are the display names of the queues, by queue name, sent in
	// every snapshot. Nil sends none, and the page shows queue names.
	Labels map[string]QueueLabel
	// Counselors gives the counselor's status. Required.
	Counselors CounselorService
	// Records gives the call's IVR choices. Required.
	Records ConsoleRecords
	// Callbacks gives the callback tasks a counselor is offered or
	// talks on. Nil shows such a call with its id alone.
	Callbacks CallbackLookup
	// Emergency is the outbound setup that decides whether a counselor
	// can call an emergency service into a call, and which ones.
	Emergency EmergencyOptions
	// EmergencyStates gives the emergency call of the counselor's call.
	// Nil shows none.
	EmergencyStates EmergencyStates
	// WrapUpSaved reports whether the wrap-up of a call is saved. Nil
	// reports false.
	WrapUpSaved func(ctx context.Context, callID string) (bool, error)
	// Events wakes the console stream. Nil sends a snapshot every 5
	// seconds only.
	Events EventSource
	// Streams ends the console streams at shutdown.
	Streams *Streams
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// Log receives failed snapshots.
	Log zerolog.Logger
}

// EmergencyOptions is the outbound setup behind the emergency button.
type EmergencyOptions struct {
	// Targets are the numbers a counselor may call into a call
	// (trunk.allowed_targets).
	Targets []string
	// OutboundRoute is set when trunk.outbound_uri names a gateway, without
	// which no target can be called.
	OutboundRoute bool
}

// EmergencyStates returns the state of the emergency call of a call in
// progress, and false when there is none. *sip.Server implements it.
type EmergencyStates interface {
	EmergencyState(callID string) (sip.EmergencyState, bool)
}

// consoleSnapshot is the body of GET /api/v1/console and of each console
// event.
type consoleSnapshot struct {
	Counselor counselor.Status `json:"counselor"`
	// Call is the call offered to the counselor, the call in progress or,
	// in wrap-up, the last call; nil when there is none.
	Call      *consoleCall     `json:"call,omitempty"`
	Emergency consoleEmergency `json:"emergency"`
	// QueueLabels are the queues' display names by queue name: label_ko
	// and label_en, each empty when not configured.
	QueueLabels map[string]queueLabelJSON `json:"queue_labels,omitempty"`
}

// queueLabelJSON is a queue's display name in both languages.
type queueLabelJSON struct {
	Ko string `json:"label_ko"`
	En string `json:"label_en"`
}

// queueLabelsJSON converts the configured labels for a snapshot.
func queueLabelsJSON(labels map[string]QueueLabel) map[string]queueLabelJSON {
	if len(labels) == 0 {
		return nil
	}
	out := make(map[string]queueLabelJSON, len(labels))
	for name, label := range labels {
		out[name] = queueLabelJSON(label)
	}
	return out
}

// consoleEmergency is the state of the console's emergency button.
type consoleEmergency struct {
	// Available is false without an outbound route or without targets.
	Available bool `json:"available"`
	// Targets are the configured targets, also when unavailable.
	Targets []string `json:"targets"`
	// Call is the emergency call of the counselor's connected call, nil
	// before the first one.
	Call *emergencyCall `json:"call,omitempty"`
}

// emergencyCall is the state of an emergency call, on the console and
// the board.
type emergencyCall struct {
	Target string `json:"target"`
	// Status is calling, joined, failed or left (the target hung up).
	Status string `json:"status"`
	// Reason is the cause of a failed call: timeout, busy, rejected,
	// unreachable, no_route or not_joined. While calling, it is the cause
	// of the failed attempt before, to the same target.
	Reason string `json:"reason,omitempty"`
	// SIPStatus is the gateway's final status of a failed call, when it
	// sent one.
	SIPStatus int `json:"sip_status,omitempty"`
	// At is when Status was reached.
	At time.Time `json:"at"`
}

// lookupEmergencyCall returns the emergency call of callID, or nil when
// there is none or states is nil.
func lookupEmergencyCall(states EmergencyStates, callID string) *emergencyCall {
	if states == nil || callID == "" {
		return nil
	}
	state, ok := states.EmergencyState(callID)
	if !ok {
		return nil
	}
	return &emergencyCall{Target: state.Target, Status: state.Status, Reason: state.Reason, SIPStatus: state.SIPStatus, At: state.At}
}

func newConsoleEmergency(options EmergencyOptions) consoleEmergency {
	targets := append([]string{}, options.Targets...)
	return consoleEmergency{Available: options.OutboundRoute && len(targets) > 0, Targets: targets}
}

// consoleCall is the screen pop of one call.
type consoleCall struct {
	CallID     string `json:"call_id"`
	Phase      string `json:"phase"`
	Queue      string `json:"queue"`
	Digits     string `json:"digits"`
	Language   string `json:"language"`
	CallerType string `json:"caller_type"`
	WaitedS    int    `json:"waited_s"`
	// WaitingSince is when the caller's wait began, set in phase offered
	// only, because the wait goes on while the phone rings.
	WaitingSince *time.Time `json:"waiting_since,omitempty"`
	HighRisk     bool       `json:"high_risk"`
	Kind         string     `json:"kind"`
	// WrapUpSaved is set in phase wrap_up only.
	WrapUpSaved *bool `json:"wrap_up_saved,omitempty"`
}

// RegisterConsole adds the counselor console routes to api:
//
//	GET /api/v1/console?counselor=ID         the console snapshot
//	GET /api/v1/console/stream?counselor=ID  the snapshot as Server-Sent Events "console"
//	GET /api/v1/console/pending-wrap-ups?counselor=ID  the calls without a saved wrap-up
//
// A counselor login gets its own console without the parameter. Errors:
// 400 without a counselor, 404 for an unknown counselor, 503 when a store
// fails.
func RegisterConsole(api *API, deps ConsoleDeps) {
	if deps.Now == nil {
		deps.Now = time.Now
	}
	c := consoleHandlers{deps: deps, audit: api.Audit}
	roles := []Role{RoleCounselor, RoleSupervisor}
	api.HandleRoles("GET /api/v1/console", roles, c.get)
	api.HandleRoles("GET /api/v1/console/stream", roles, c.stream)
	api.HandleRoles("GET /api/v1/console/pending-wrap-ups", roles, c.pendingWrapUps)
}

// consoleCounselor returns the id of the counselor whose console r
// requests: a counselor's own id, or the "counselor" parameter of a
// supervisor or admin.
func consoleCounselor(r *http.Request) (string, error) {
	id := r.URL.Query().Get("counselor")
	p, _ := PrincipalFrom(r.Context())
	if p.Role == RoleCounselor {
		if id != "" && id != p.Counselor {
			return "", fmt.Errorf("%w: counselor %s may open only their own console", errForbiddenConsole, p.Counselor)
		}
		return p.Counselor, nil
	}
	if id == "" {
		return "", ErrNoCounselorParameter
	}
	return id, nil
}

// errForbiddenConsole marks a counselor asking for another counselor's
// console.
var errForbiddenConsole = errors.New("forbidden")

// writeConsoleRequestError answers a consoleCounselor error: 403 for
// another counselor's console, 400 for a missing parameter.
func writeConsoleRequestError(w http.ResponseWriter, err error) {
	if errors.Is(err, errForbiddenConsole) {
		WriteError(w, http.StatusForbidden, err.Error()+": remove the counselor parameter")
		return
	}
	WriteError(w, http.StatusBadRequest, err.Error())
}

type consoleHandlers struct {
	deps ConsoleDeps
	// audit writes the view_call entry of a screen pop.
	audit func(r *http.Request, action, target, detail string)
}

// auditScreenPop writes a view_call audit entry for the call a console
// shows, because the screen pop shows the caller's IVR choices, risk
// included. It returns the call id it audited, or "" when the snapshot
// has no call.
func (c consoleHandlers) auditScreenPop(r *http.Request, counselorID string, snapshot consoleSnapshot) string {
	if snapshot.Call == nil {
		return ""
	}
	c.audit(r, AuditViewCall, snapshot.Call.CallID, "screen pop of counselor "+counselorID)
	return snapshot.Call.CallID
}

func (c consoleHandlers) get(w http.ResponseWriter, r *http.Request) {
	id, err := consoleCounselor(r)
	if err != nil {
		writeConsoleRequestError(w, err)
		return
	}
	snapshot, err := c.snapshot(r.Context(), id)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.auditScreenPop(r, id, snapshot)
	WriteJSON(w, http.StatusOK, snapshot)
}

func (c consoleHandlers) stream(w http.ResponseWriter, r *http.Request) {
	id, err := consoleCounselor(r)
	if err != nil {
		writeConsoleRequestError(w, err)
		return
	}

	// callID is the call of the last snapshot, and audited the last call
	// written to the audit log, so that a stream audits each call it
	// shows once. The stream's goroutine alone reads and writes them.
	var callID, audited string
	serveStream(w, r, streamSpec{
		event: "console",
		snapshot: func(ctx context.Context, _ time.Time) (any, error) {
			snapshot, err := c.snapshot(ctx, id)
			callID = ""
			if snapshot.Call != nil {
				callID = snapshot.Call.CallID
			}
			if err == nil && callID != "" && callID != audited {
				audited = c.auditScreenPop(r, id, snapshot)
			}
			return snapshot, err
		},
		relevant: func(e events.Event) bool {
			return e.CounselorID == id || (callID != "" && e.CallID == callID)
		},
		fail:    c.fail,
		source:  c.deps.Events,
		streams: c.deps.Streams,
		log:     c.deps.Log,
	})
}

// fail responds to a snapshot that failed: 404 for an unknown counselor, 503
// for a store that failed.
func (c consoleHandlers) fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, queue.ErrUnknownCounselor) {
		id, _ := consoleCounselor(r)
		WriteError(w, http.StatusNotFound, fmt.Sprintf("counselor %q is not configured: use an id from GET /api/v1/counselors", id))
		return
	}
	writeUnavailable(w, c.deps.Log, r, err)
}

// snapshot reads the counselor's status and the call of its state.
func (c consoleHandlers) snapshot(ctx context.Context, id string) (consoleSnapshot, error) {
	ctx, cancel := context.WithTimeout(ctx, snapshotTimeout)
	defer cancel()
	now := c.deps.Now()

	status, err := c.deps.Counselors.Get(ctx, id)
	if err != nil {
		return consoleSnapshot{}, fmt.Errorf("read counselor %s: %w", id, err)
	}
	snapshot := consoleSnapshot{Counselor: status, Emergency: newConsoleEmergency(c.deps.Emergency), QueueLabels: queueLabelsJSON(c.deps.Labels)}

	switch status.State {
	case queue.StateOffered:
		snapshot.Call, err = c.call(ctx, status.CallID, PhaseOffered, now)
	case queue.StateOnCall:
		snapshot.Call, err = c.call(ctx, status.CallID, PhaseOnCall, now)
		snapshot.Emergency.Call = lookupEmergencyCall(c.deps.EmergencyStates, status.CallID)
	case queue.StateWrapUp:
		snapshot.Call, err = c.lastCall(ctx, id, now)
	}
	if err != nil {
		return consoleSnapshot{}, err
	}
	return snapshot, nil
}

// call describes the call or callback task callID in phase.
func (c consoleHandlers) call(ctx context.Context, callID, phase string, now time.Time) (*consoleCall, error) {
	if callID == "" {
		return nil, nil
	}
	if c.deps.Callbacks != nil {
		if task, err := c.deps.Callbacks.Get(callID); err == nil {
			return c.callbackCall(ctx, task, phase, now)
		}
	}

	call := &consoleCall{CallID: callID, Phase: phase, Kind: string(queue.KindCall)}
	rec, err := c.deps.Records.Get(ctx, callID)
	switch {
	case errors.Is(err, records.ErrNotFound):
		return call, nil
	case err != nil:
		return nil, fmt.Errorf("read the record of call %s: %w", callID, err)
	}
	fillFromRecord(call, rec)
	call.WaitedS = recordWait(rec, phase, now)
	if phase == PhaseOffered && !rec.QueuedAt.IsZero() {
		call.WaitingSince = &rec.QueuedAt
	}
	return call, nil
}

// callbackCall describes a callback task, with the IVR choices of the
// call that asked for it.
func (c consoleHandlers) callbackCall(ctx context.Context, task callback.Task, phase string, now time.Time) (*consoleCall, error) {
	call := &consoleCall{
		CallID:     task.ID,
		Phase:      phase,
		Kind:       string(queue.KindCallback),
		Queue:      task.Queue,
		Language:   task.Attributes[ivr.AttributeLanguage],
		CallerType: task.Attributes[ivr.AttributeCallerType],
		WaitedS:    wholeSeconds(now.Sub(task.EnqueuedAt)),
		HighRisk:   task.Priority >= sip.PriorityHighRisk,
	}
	if phase == PhaseOffered {
		call.WaitingSince = &task.EnqueuedAt
	}
	rec, err := c.deps.Records.Get(ctx, task.CallID)
	switch {
	case errors.Is(err, records.ErrNotFound):
		return call, nil
	case err != nil:
		return nil, fmt.Errorf("read the record of call %s behind callback %s: %w", task.CallID, task.ID, err)
	}
	call.Digits = rec.Digits
	call.HighRisk = call.HighRisk || rec.Priority == ivr.PriorityHighRisk
	return call, nil
}

// lastCall describes the call a counselor in wrap-up talked on last, with
// whether its wrap-up is saved. That is the inbound call they answered
// last, or the callback they talked on after it. For a callback, call_id
// is the call that asked for it, because the wrap-up is saved there.
func (c consoleHandlers) lastCall(ctx context.Context, id string, now time.Time) (*consoleCall, error) {
	since := now.Add(-lastCallLookback)
	rec, err := c.deps.Records.LastAnsweredCall(ctx, id, since)
	switch {
	case errors.Is(err, records.ErrNotFound):
		rec = records.Record{}
	case err != nil:
		return nil, fmt.Errorf("read the last call of counselor %s: %w", id, err)
	}
	kind := queue.KindCall
	callback, found, err := c.laterCallback(ctx, id, since, rec)
	if err != nil {
		return nil, err
	}
	if found {
		rec, kind = callback, queue.KindCallback
	}
	if rec.CallID == "" {
		return nil, nil
	}

	call := &consoleCall{CallID: rec.CallID, Phase: PhaseWrapUp, Kind: string(kind), WaitedS: wholeSeconds(rec.QueueWait)}
	fillFromRecord(call, rec)
	saved := false
	if c.deps.WrapUpSaved != nil {
		if saved, err = c.deps.WrapUpSaved(ctx, rec.CallID); err != nil {
			return nil, fmt.Errorf("read the wrap-up of call %s: %w", rec.CallID, err)
		}
	}
	call.WrapUpSaved = &saved
	return call, nil
}

// laterCallback returns the record of the call behind the callback that
// counselor id talked on after answering inbound (empty when none), and
// whether there is one.
func (c consoleHandlers) laterCallback(ctx context.Context, id string, since time.Time, inbound records.Record) (records.Record, bool, error) {
	answer, err := c.deps.Records.LastCallbackAnswer(ctx, id, since)
	switch {
	case errors.Is(err, records.ErrNotFound):
		return records.Record{}, false, nil
	case err != nil:
		return records.Record{}, false, fmt.Errorf("read the last callback of counselor %s: %w", id, err)
	case inbound.CallID != "" && !answer.StartedAt.After(inbound.CounselorAnsweredAt):
		return records.Record{}, false, nil
	}
	rec, err := c.deps.Records.Get(ctx, answer.CallID)
	if errors.Is(err, records.ErrNotFound) {
		return records.Record{CallID: answer.CallID}, true, nil
	}
	if err != nil {
		return records.Record{}, false, fmt.Errorf("read the record of call %s behind callback %s: %w", answer.CallID, answer.TaskID, err)
	}
	return rec, true, nil
}

// fillFromRecord copies the IVR choices of rec into call.
func fillFromRecord(call *consoleCall, rec records.Record) {
	call.Queue = rec.Queue
	call.Digits = rec.Digits
	call.Language = rec.Language
	call.CallerType = rec.CallerType
	call.HighRisk = rec.Priority == ivr.PriorityHighRisk
}

// recordWait returns the caller's wait: until now while offered, else the
// wait the record stores.
func recordWait(rec records.Record, phase string, now time.Time) int {
	if phase == PhaseOffered && !rec.QueuedAt.IsZero() {
		return wholeSeconds(now.Sub(rec.QueuedAt))
	}
	return wholeSeconds(rec.QueueWait)
}
