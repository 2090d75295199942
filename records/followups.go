package records

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Reporter is who made a call, as the counselor's wrap-up states it.
type Reporter string

// Reporters a wrap-up can name.
const (
	ReporterSelf      Reporter = "self"
	ReporterFamily    Reporter = "family"
	ReporterFriend    Reporter = "friend"
	ReporterNeighbour Reporter = "neighbour"
	ReporterOther     Reporter = "other"
)

// Risk is the risk a counselor judged a caller to be at.
type Risk string

// Risks from none to imminent danger. RiskUnknown marks a task the server
// made, which no counselor has judged.
const (
	RiskUnknown  Risk = ""
	RiskNone     Risk = "none"
	RiskLow      Risk = "low"
	RiskMedium   Risk = "medium"
	RiskHigh     Risk = "high"
	RiskImminent Risk = "imminent"
)

// FollowUpKind is the action a follow-up task requests of the team.
type FollowUpKind string

// Follow-up kinds. FollowUpNone is a wrap-up that needs no task.
// FollowUpInterrupted is made by the server for a call it cut off.
const (
	FollowUpNone        FollowUpKind = "none"
	FollowUpCallback    FollowUpKind = "callback"
	FollowUpCounseling  FollowUpKind = "counseling"
	FollowUpHomeVisit   FollowUpKind = "home_visit"
	FollowUpEmergency   FollowUpKind = "emergency"
	FollowUpInterrupted FollowUpKind = "interrupted"
)

// FollowUpOrigin is the source of a follow-up task.
type FollowUpOrigin string

// Follow-up origins.
const (
	// OriginWrapUp is a counselor's wrap-up whose follow-up is not none.
	OriginWrapUp FollowUpOrigin = "wrap_up"
	// OriginServerCallback is a callback task, which CreateCallback
	// mirrors as a follow-up task.
	OriginServerCallback FollowUpOrigin = "server_callback"
	// OriginInterrupted is a call with a caller number that
	// MarkInterrupted or MarkNodeInterrupted closed.
	OriginInterrupted FollowUpOrigin = "interrupted"
)

// FollowUpState is open or closed.
type FollowUpState string

// Follow-up states.
const (
	FollowUpOpen   FollowUpState = "open"
	FollowUpClosed FollowUpState = "closed"
)

// Outcomes the store writes when it closes a follow-up task itself.
const (
	OutcomeCallbackCompleted = "callback_completed"
	OutcomeCallbackCancelled = "callback_cancelled"
	// OutcomeWrapUpReplaced closes the task of a wrap-up that a supervisor
	// replaced.
	OutcomeWrapUpReplaced = "wrap_up_replaced"
)

// Limits of the text a wrap-up or follow-up takes, in characters.
const (
	MaxIsolationScore = 5
	MaxNotesLength    = 4000
	MaxDistrictLength = 100
	MaxOwnerLength    = 100
	MaxOutcomeLength  = 200
	// DateLayout is the layout of due dates: YYYY-MM-DD in local time.
	DateLayout = "2006-01-02"
)

// Vocabularies, in the order messages list them.
var (
	reporters     = []Reporter{ReporterSelf, ReporterFamily, ReporterFriend, ReporterNeighbour, ReporterOther}
	risks         = []Risk{RiskNone, RiskLow, RiskMedium, RiskHigh, RiskImminent}
	wrapUpKinds   = []FollowUpKind{FollowUpNone, FollowUpCallback, FollowUpCounseling, FollowUpHomeVisit, FollowUpEmergency}
	followUpKinds = []FollowUpKind{FollowUpCallback, FollowUpCounseling, FollowUpHomeVisit, FollowUpEmergency, FollowUpInterrupted}
)

var (
	// ErrWrapUpExists is returned by SaveWrapUp for a call that already
	// has a wrap-up, unless replace is set.
	ErrWrapUpExists = errors.New("wrap-up already saved for this call")
	// ErrWrapUpNotFound is returned by GetWrapUp for a call without one.
	ErrWrapUpNotFound = errors.New("wrap-up not found")
	// ErrFollowUpNotFound is returned for a follow-up id without a row.
	ErrFollowUpNotFound = errors.New("follow-up task not found")
	// ErrFollowUpClosed is returned for a change to a closed task.
	ErrFollowUpClosed = errors.New("follow-up task is closed")
	// ErrNoNumber is returned by RevealFollowUpNumber for a task whose
	// caller withheld the number, or whose number the retention purge
	// removed.
	ErrNoNumber = errors.New("follow-up task has no caller number")
)

// FieldError is one value of a wrap-up, follow-up change or filter that
// the store rejects before writing. Its message names the field, as the
// JSON API spells it, and the fix.
type FieldError struct {
	// Field is the JSON name of the value, such as "risk".
	Field string
	// Problem is what is wrong and what to send instead.
	Problem string
}

func (e *FieldError) Error() string { return fmt.Sprintf("%q %s", e.Field, e.Problem) }

// Unwrap returns ErrInvalidInput, so errors.Is(err, ErrInvalidInput) holds.
func (e *FieldError) Unwrap() error { return ErrInvalidInput }

// WrapUp is a counselor's summary of one call.
type WrapUp struct {
	CallID string
	// Counselor is the counselor who took the call. SaveWrapUp fills it
	// from the call record when empty.
	Counselor      string
	Reporter       Reporter
	IsolationScore int
	Risk           Risk
	// Notes is free text of at most MaxNotesLength characters, stored
	// sealed.
	Notes string
	// NotesErr is set when the stored notes do not decrypt.
	NotesErr error
	FollowUp FollowUpKind
	// DueDate (YYYY-MM-DD) and District are required when FollowUp is not
	// FollowUpNone.
	DueDate  string
	District string
	SavedAt  time.Time
	// FollowUpID is the task the wrap-up created, or empty.
	FollowUpID string
}

// FollowUp is one follow-up task.
type FollowUp struct {
	ID     string
	CallID string
	// CallbackID is the callback task of origin server_callback, else
	// empty.
	CallbackID string
	Kind       FollowUpKind
	Origin     FollowUpOrigin
	Risk       Risk
	District   string
	DueDate    string
	Owner      string
	State      FollowUpState
	Outcome    string
	// Notes are the task's notes, one "time user: note" line each.
	Notes    string
	NotesErr error
	// Number is the decrypted caller number of the task's callback or
	// call; empty when withheld, purged or undecryptable (then NumberErr
	// is set).
	Number         string
	NumberWithheld bool
	NumberErr      error
	CreatedAt      time.Time
	UpdatedAt      time.Time
	// ClosedAt is zero while the task is open.
	ClosedAt time.Time
}

// validate checks every field of w against the vocabularies and limits.
// today is the current date (YYYY-MM-DD) that due dates may not precede.
func (w WrapUp) validate(today string) error {
	if err := checkChoice("reporter", w.Reporter, reporters); err != nil {
		return err
	}
	if w.IsolationScore < 0 || w.IsolationScore > MaxIsolationScore {
		return &FieldError{Field: "isolation_score",
			Problem: fmt.Sprintf("is %d, out of range: send the number of yes answers, 0 to %d", w.IsolationScore, MaxIsolationScore)}
	}
	if err := checkChoice("risk", w.Risk, risks); err != nil {
		return err
	}
	if err := checkChoice("followup", w.FollowUp, wrapUpKinds); err != nil {
		return err
	}
	needsTask := w.FollowUp != FollowUpNone
	if err := checkDueDate(w.DueDate, today, needsTask); err != nil {
		return err
	}
	if err := checkLine("district", w.District, MaxDistrictLength, needsTask); err != nil {
		return err
	}
	return checkText("notes", w.Notes, MaxNotesLength, false)
}

// checkChoice checks that value is one of allowed.
func checkChoice[T ~string](field string, value T, allowed []T) error {
	for _, a := range allowed {
		if value == a {
			return nil
		}
	}
	words := make([]string, len(allowed))
	for i, a := range allowed {
		words[i] = string(a)
	}
	if value == "" {
		return &FieldError{Field: field, Problem: "is missing: use one of " + strings.Join(words, ", ")}
	}
	return &FieldError{Field: field, Problem: fmt.Sprintf("%q is unknown: use one of %s", string(value), strings.Join(words, ", "))}
}

// checkDueDate checks a YYYY-MM-DD date that is not before today. An
// empty date passes unless required.
func checkDueDate(date, today string, required bool) error {
	if date == "" {
		if required {
			return &FieldError{Field: "due_date", Problem: "is missing: a follow-up needs a due date as YYYY-MM-DD"}
		}
		return nil
	}
	if _, err := time.Parse(DateLayout, date); err != nil {
		return &FieldError{Field: "due_date", Problem: fmt.Sprintf("%q is not a date: use YYYY-MM-DD, such as 2026-12-07", date)}
	}
	// YYYY-MM-DD dates order as text.
	if date < today {
		return &FieldError{Field: "due_date", Problem: fmt.Sprintf("%s is in the past: use today (%s) or later", date, today)}
	}
	return nil
}

// checkLine checks one line of text of at most limit characters without
// control characters.
func checkLine(field, value string, limit int, required bool) error {
	if err := checkText(field, value, limit, required); err != nil {
		return err
	}
	if strings.IndexFunc(value, unicode.IsControl) >= 0 {
		return &FieldError{Field: field, Problem: "contains a control character: use one line of text"}
	}
	return nil
}

// checkText checks text of at most limit characters, which may span lines.
func checkText(field, value string, limit int, required bool) error {
	if required && strings.TrimSpace(value) == "" {
		return &FieldError{Field: field, Problem: "is missing: send a non-empty text"}
	}
	if !utf8.ValidString(value) {
		return &FieldError{Field: field, Problem: "is not valid UTF-8: send text"}
	}
	if n := utf8.RuneCountInString(value); n > limit {
		return &FieldError{Field: field, Problem: fmt.Sprintf("is %d characters long: shorten it to at most %d", n, limit)}
	}
	return nil
}

// FollowUpFilter selects the tasks ListFollowUps returns. Empty fields
// select all.
type FollowUpFilter struct {
	State    FollowUpState
	Kind     FollowUpKind
	District string
	Risk     Risk
	// DueBefore (YYYY-MM-DD) keeps tasks due before that day.
	DueBefore string
	// CallerHash keeps the tasks of calls from one number, by
	// Record.CallerHash.
	CallerHash string
}

// validate checks the filter's vocabularies and date.
func (f FollowUpFilter) validate() error {
	if f.State != "" {
		if err := checkChoice("state", f.State, []FollowUpState{FollowUpOpen, FollowUpClosed}); err != nil {
			return err
		}
	}
	if f.Kind != "" {
		if err := checkChoice("kind", f.Kind, followUpKinds); err != nil {
			return err
		}
	}
	if f.Risk != "" {
		if err := checkChoice("risk", f.Risk, risks); err != nil {
			return err
		}
	}
	if f.DueBefore != "" {
		if _, err := time.Parse(DateLayout, f.DueBefore); err != nil {
			return &FieldError{Field: "due_before", Problem: fmt.Sprintf("%q is not a date: use YYYY-MM-DD, such as 2026-12-07", f.DueBefore)}
		}
	}
	return checkLine("district", f.District, MaxDistrictLength, false)
}
