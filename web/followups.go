package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"helpline/records"
)

// FollowUpStore is the part of the records store behind the wrap-up,
// history and follow-up routes. *records.Store implements it.
type FollowUpStore interface {
	Get(ctx context.Context, callID string) (records.Record, error)
	SaveWrapUp(ctx context.Context, w records.WrapUp, replace bool) (records.WrapUp, error)
	History(ctx context.Context, callerHash, excludeCallID string, limit int) ([]records.HistoryEntry, error)
	ListFollowUps(ctx context.Context, filter records.FollowUpFilter) ([]records.FollowUp, error)
	GetFollowUp(ctx context.Context, id string) (records.FollowUp, error)
	AssignFollowUp(ctx context.Context, id, owner string) (records.FollowUp, error)
	AddFollowUpNote(ctx context.Context, id, user, note string) (records.FollowUp, error)
	CloseFollowUp(ctx context.Context, id, outcome string) (records.FollowUp, error)
	RevealFollowUpNumber(ctx context.Context, id string) (string, error)
	TalkedOnCallback(ctx context.Context, callID, counselor string) (bool, error)
	CallOfCallback(ctx context.Context, taskID string) (string, error)
}

// FollowUpDeps are the dependencies of the wrap-up, history and follow-up
// routes.
type FollowUpDeps struct {
	Store FollowUpStore
	// EndWrapUp ends the wrap-up of counselorID when the counselor is in
	// wrap_up after callID, and does nothing otherwise. Nil never ends one.
	EndWrapUp func(ctx context.Context, counselorID, callID string) error
	// CurrentCall returns the call a counselor is offered or talks on, or
	// "", so that a counselor can read the history of a call that is
	// ringing. Nil lets a counselor read only the calls they answered.
	CurrentCall func(ctx context.Context, counselorID string) (string, error)
	// Audit writes one audit entry (view_call, reveal_number,
	// export_csv, wrap_up_saved, followup_changed). Nil writes none.
	Audit func(r *http.Request, action, target, detail string)
	// Events receives a followup_changed event for every change made
	// through these routes, and wakes the follow-up stream. Nil publishes
	// nothing, and the stream refreshes on its timer only.
	Events FollowUpEvents
	// Streams ends the follow-up streams at shutdown.
	Streams *Streams
	// Now is the clock of export file names. Nil means time.Now.
	Now func() time.Time
	Log zerolog.Logger
}

// actingUser returns the name of the user making r. Notes name their
// author with it.
func actingUser(r *http.Request) string {
	p, ok := PrincipalFrom(r.Context())
	if !ok {
		return TokenUser
	}
	return p.User
}

// actingCounselor reports whether r comes from a counselor login, and its
// counselor id. A counselor login without an id gets ok true and an empty
// id, which matches no call, so that it is never taken for a supervisor.
func actingCounselor(r *http.Request) (id string, ok bool) {
	p, _ := PrincipalFrom(r.Context())
	if p.Role != RoleCounselor {
		return "", false
	}
	return p.Counselor, true
}

// followUpHandlers serves the routes RegisterFollowUps adds.
type followUpHandlers struct {
	deps FollowUpDeps
}

// RegisterFollowUps adds the wrap-up, caller history and follow-up routes
// to api. The roles in brackets are those each route is meant for:
//
//	POST /api/v1/calls/{id}/wrap-up          save a wrap-up [counselor of the call, supervisor]
//	GET  /api/v1/calls/{id}/history          earlier calls of the caller [counselor of the call, supervisor, followup]
//	GET  /api/v1/followups                   list tasks [supervisor, followup]
//	GET  /api/v1/followups/export.csv        tasks as CSV [supervisor, followup, admin]
//	GET  /api/v1/followups/stream            the list as Server-Sent Events [supervisor, followup]
//	GET  /api/v1/followups/{id}              one task [supervisor, followup]
//	POST /api/v1/followups/{id}/assign       set the owner [supervisor, followup]
//	POST /api/v1/followups/{id}/notes        append a note [supervisor, followup]
//	POST /api/v1/followups/{id}/close        close with an outcome [supervisor, followup]
//	POST /api/v1/followups/{id}/reveal       the full number [supervisor, followup, admin]
//
// Admins, and the bearer token, may use every route.
func RegisterFollowUps(api *API, deps FollowUpDeps) {
	if deps.Audit == nil {
		deps.Audit = func(*http.Request, string, string, string) {}
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	h := &followUpHandlers{deps: deps}
	team := []Role{RoleSupervisor, RoleFollowUp}
	api.HandleRoles("POST /api/v1/calls/{id}/wrap-up", []Role{RoleCounselor, RoleSupervisor}, h.saveWrapUp)
	api.HandleRoles("GET /api/v1/calls/{id}/history", AllRoles, h.history)
	api.HandleRoles("GET /api/v1/followups", team, h.list)
	api.HandleRoles("GET /api/v1/followups/export.csv", team, h.exportCSV)
	api.HandleRoles("GET /api/v1/followups/stream", team, h.stream)
	api.HandleRoles("GET /api/v1/followups/{id}", team, h.get)
	api.HandleRoles("POST /api/v1/followups/{id}/assign", team, h.assign)
	api.HandleRoles("POST /api/v1/followups/{id}/notes", team, h.addNote)
	api.HandleRoles("POST /api/v1/followups/{id}/close", team, h.close)
	api.HandleRoles("POST /api/v1/followups/{id}/reveal", team, h.reveal)
}

// followUpJSON is one task as the API shows it, with the number masked.
type followUpJSON struct {
	ID        string     `json:"id"`
	CallID    string     `json:"call_id"`
	Kind      string     `json:"kind"`
	Origin    string     `json:"origin"`
	Risk      string     `json:"risk"`
	District  string     `json:"district"`
	DueDate   string     `json:"due_date"`
	Owner     string     `json:"owner"`
	State     string     `json:"state"`
	Outcome   string     `json:"outcome"`
	Notes     string     `json:"notes"`
	Number    string     `json:"number"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	ClosedAt  *time.Time `json:"closed_at"`
}

// newFollowUpJSON converts a task. Notes that do not decrypt show as
// "undecryptable", like the CSV export.
func newFollowUpJSON(task records.FollowUp) followUpJSON {
	j := followUpJSON{
		ID: task.ID, CallID: task.CallID, Kind: string(task.Kind), Origin: string(task.Origin), Risk: string(task.Risk),
		District: task.District, DueDate: task.DueDate, Owner: task.Owner, State: string(task.State),
		Outcome: task.Outcome, Notes: task.Notes, Number: records.FollowUpNumber(task, false),
		CreatedAt: task.CreatedAt, UpdatedAt: task.UpdatedAt,
	}
	if task.NotesErr != nil {
		j.Notes = "undecryptable"
	}
	if !task.ClosedAt.IsZero() {
		closed := task.ClosedAt
		j.ClosedAt = &closed
	}
	return j
}

// newFollowUpList converts tasks, never returning nil, so that an empty
// list is [] in JSON.
func newFollowUpList(tasks []records.FollowUp) []followUpJSON {
	list := make([]followUpJSON, 0, len(tasks))
	for _, task := range tasks {
		list = append(list, newFollowUpJSON(task))
	}
	return list
}

// followUpQueryKeys are the query parameters of the list and the export.
var followUpQueryKeys = []string{"state", "kind", "district", "risk", "due_before"}

// parseFollowUpFilter reads the filter of the list and export routes.
// Parameters outside allowed are rejected, so a misspelt filter does not
// silently return every task.
func parseFollowUpFilter(r *http.Request, allowed []string) (records.FollowUpFilter, error) {
	query := r.URL.Query()
	for key := range query {
		if !slices.Contains(allowed, key) {
			return records.FollowUpFilter{}, &records.FieldError{Field: key,
				Problem: "is not a filter: use " + strings.Join(allowed, ", ")}
		}
	}
	return records.FollowUpFilter{
		State:     records.FollowUpState(query.Get("state")),
		Kind:      records.FollowUpKind(query.Get("kind")),
		District:  query.Get("district"),
		Risk:      records.Risk(query.Get("risk")),
		DueBefore: query.Get("due_before"),
	}, nil
}

func (h *followUpHandlers) list(w http.ResponseWriter, r *http.Request) {
	filter, err := parseFollowUpFilter(r, followUpQueryKeys)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	tasks, err := h.deps.Store.ListFollowUps(r.Context(), filter)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{"followups": newFollowUpList(tasks)})
}

func (h *followUpHandlers) get(w http.ResponseWriter, r *http.Request) {
	task, err := h.deps.Store.GetFollowUp(r.Context(), r.PathValue("id"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, newFollowUpJSON(task))
}

// assignRequest, noteRequest and closeRequest are the bodies of the
// follow-up changes.
type assignRequest struct {
	Owner string `json:"owner"`
}

type noteRequest struct {
	Note string `json:"note"`
}

type closeRequest struct {
	Outcome string `json:"outcome"`
}

func (h *followUpHandlers) assign(w http.ResponseWriter, r *http.Request) {
	var body assignRequest
	if !decodeBody(w, r, &body) {
		return
	}
	task, err := h.deps.Store.AssignFollowUp(r.Context(), r.PathValue("id"), body.Owner)
	h.changed(w, r, task, err, FollowUpAssigned, "assigned to "+body.Owner)
}

func (h *followUpHandlers) addNote(w http.ResponseWriter, r *http.Request) {
	var body noteRequest
	if !decodeBody(w, r, &body) {
		return
	}
	user := actingUser(r)
	task, err := h.deps.Store.AddFollowUpNote(r.Context(), r.PathValue("id"), user, body.Note)
	h.changed(w, r, task, err, FollowUpNoted, "note added")
}

func (h *followUpHandlers) close(w http.ResponseWriter, r *http.Request) {
	var body closeRequest
	if !decodeBody(w, r, &body) {
		return
	}
	task, err := h.deps.Store.CloseFollowUp(r.Context(), r.PathValue("id"), body.Outcome)
	// The outcome is free text that may hold a phone number, so the
	// audit entry names the change only; the task stores the outcome.
	h.changed(w, r, task, err, FollowUpClosed, "closed")
}

// changed responds to a follow-up change with the task, audits it with
// detail and publishes it as change.
func (h *followUpHandlers) changed(w http.ResponseWriter, r *http.Request, task records.FollowUp, err error, change, detail string) {
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.deps.Audit(r, AuditFollowUpChanged, task.ID, detail)
	h.publish(task, change)
	WriteJSON(w, http.StatusOK, newFollowUpJSON(task))
}

func (h *followUpHandlers) reveal(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	number, err := h.deps.Store.RevealFollowUpNumber(r.Context(), id)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.deps.Audit(r, AuditRevealNumber, id, "")
	WriteJSON(w, http.StatusOK, map[string]string{"number": number, "formatted": records.FormatNumber(number)})
}

// exportQueryKeys are the list filters, reveal and lang.
var exportQueryKeys = append([]string{"reveal", "lang"}, followUpQueryKeys...)

func (h *followUpHandlers) exportCSV(w http.ResponseWriter, r *http.Request) {
	reveal, err := parseReveal(r.URL.Query().Get("reveal"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	opts, err := followUpCSVOptions(r.URL.Query().Get("lang"), reveal)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	filter, err := parseFollowUpFilter(r, exportQueryKeys)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	tasks, err := h.deps.Store.ListFollowUps(r.Context(), filter)
	if err != nil {
		h.fail(w, r, err)
		return
	}

	// The CSV is built first, so that a failure still gets a JSON error.
	var body bytes.Buffer
	if err := records.ExportFollowUpsCSV(&body, tasks, opts); err != nil {
		h.fail(w, r, err)
		return
	}
	h.deps.Audit(r, AuditExportCSV, "followups", fmt.Sprintf("rows=%d reveal=%t", len(tasks), reveal))
	name := followUpExportName(h.deps.Now(), reveal)
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body.Bytes())
}

// parseReveal reads reveal=0|1; empty means 0.
func parseReveal(value string) (bool, error) {
	switch value {
	case "", "0":
		return false, nil
	case "1":
		return true, nil
	default:
		return false, &records.FieldError{Field: "reveal", Problem: fmt.Sprintf("%q is not supported: use 0 for masked numbers or 1 for full numbers", value)}
	}
}

// decodeBody reads the JSON body into v, or responds 400 and returns false.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := DecodeJSON(r, v); err != nil {
		WriteError(w, http.StatusBadRequest, err.Error())
		return false
	}
	return true
}

// followUpErrorStatuses maps the records errors of these routes to HTTP
// statuses and hints. The first match wins; anything else is a 500.
var followUpErrorStatuses = []struct {
	err    error
	status int
	hint   string
}{
	{records.ErrFollowUpNotFound, http.StatusNotFound, "list tasks with GET /api/v1/followups"},
	{records.ErrFollowUpClosed, http.StatusConflict, "a closed task cannot change"},
	{records.ErrNoNumber, http.StatusNotFound, "the caller withheld the number, or the retention purge removed it"},
	{records.ErrNotFound, http.StatusNotFound, "use the call_id of the call records"},
	{records.ErrWrapUpExists, http.StatusConflict, "a supervisor may replace it with ?replace=1"},
}

// fail responds to err: 400 for a rejected value, the table's status for a
// known error, else 500 with the cause in the log.
func (h *followUpHandlers) fail(w http.ResponseWriter, r *http.Request, err error) {
	var fieldErr *records.FieldError
	if errors.As(err, &fieldErr) {
		WriteError(w, http.StatusBadRequest, fieldErr.Error())
		return
	}
	for _, entry := range followUpErrorStatuses {
		if errors.Is(err, entry.err) {
			WriteError(w, entry.status, entry.err.Error()+": "+entry.hint)
			return
		}
	}
	h.deps.Log.Error().Err(err).Str("path", r.URL.Path).Msg("follow-up request failed")
	WriteError(w, http.StatusInternalServerError, "internal error: see the server log")
}
