package web

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"helpline/callback"
	"helpline/ivr"
	"helpline/queue"
	"helpline/records"
	"helpline/routing"
	"helpline/sip"
)

// Defaults of the board settings.
const (
	// DefaultServiceLevel is the wait within which an answer counts for
	// the service level.
	DefaultServiceLevel = 20 * time.Second
	// DefaultWaitAlert is the wait above which a caller raises an alert.
	DefaultWaitAlert = 2 * time.Minute
)

const (
	// seriesBucket is the length of one point of the board's day series.
	seriesBucket = 15 * time.Minute
	// snapshotTimeout bounds the store reads of one snapshot.
	snapshotTimeout = 5 * time.Second
)

// Alert kinds of the board.
const (
	AlertHighRiskWaiting = "high_risk_waiting"
	AlertLongWait        = "long_wait"
	AlertNoCounselor     = "no_counselor"
	// AlertNoAvailable is callers waiting while counselors are logged in
	// but every one of them is on break, so no call can be offered.
	AlertNoAvailable = "no_available"
	AlertMissedPause = "missed_pause"
	// AlertEmergencyFailed is an emergency service that could not be
	// called into a call that goes on. It stays while the service is
	// called again, until it answers.
	AlertEmergencyFailed = "emergency_failed"
)

// BoardRecords reads the call records behind the board. *records.Store
// implements it.
type BoardRecords interface {
	Get(ctx context.Context, callID string) (records.Record, error)
	Figures(ctx context.Context, q records.FiguresQuery) (records.Figures, error)
	Series(ctx context.Context, q records.SeriesQuery) ([]records.SeriesPoint, error)
	AnsweredByCounselor(ctx context.Context, from, to time.Time) (map[string]int, error)
}

// CallbackLookup returns one callback task. *callback.Manager implements
// it.
type CallbackLookup interface {
	Get(id string) (callback.Task, error)
}

// BoardDeps are the dependencies of the board routes.
type BoardDeps struct {
	// Queue holds the waiting callers. Required.
	Queue queue.Store
	// Queues names the configured queues, in the order the board shows
	// them.
	Queues []string
	// Labels are the display names of the queues, by queue name. A queue
	// without one shows its name.
	Labels map[string]QueueLabel
	// Counselors gives every counselor's status. Required.
	Counselors CounselorService
	// Records gives the callers' numbers and the figures. Required.
	Records BoardRecords
	// Callbacks gives the numbers of waiting callback tasks. Nil shows
	// them without a number.
	Callbacks CallbackLookup
	// EmergencyStates gives the emergency calls of the counselors' calls.
	// Nil shows none.
	EmergencyStates EmergencyStates
	// Events wakes the board stream. Nil sends a snapshot every 5 seconds
	// only.
	Events EventSource
	// Streams ends the board streams at shutdown.
	Streams *Streams
	// ServiceLevel is the wait within which an answer counts for the
	// service level. Zero means DefaultServiceLevel.
	ServiceLevel time.Duration
	// WaitAlert is the wait above which a caller raises an alert. Zero
	// means DefaultWaitAlert.
	WaitAlert time.Duration
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
	// Location is the time zone whose midnight starts "today". Nil means
	// time.Local.
	Location *time.Location
	// Log receives failed snapshots.
	Log zerolog.Logger
}

// boardSnapshot is the body of GET /api/v1/board and of each board event.
type boardSnapshot struct {
	At            time.Time        `json:"at"`
	ServiceLevelS int              `json:"service_level_s"`
	WaitAlertS    int              `json:"wait_alert_s"`
	Queues        []boardQueue     `json:"queues"`
	Counselors    []boardCounselor `json:"counselors"`
	Today         boardFigures     `json:"today"`
	LastHour      boardFigures     `json:"last_hour"`
	Alerts        []boardAlert     `json:"alerts"`
	Series        []boardPoint     `json:"series"`
}

// QueueLabel is the name of a queue on the Korean and English pages.
// Empty fields fall back to the queue's name.
type QueueLabel struct {
	Ko string
	En string
}

// boardQueue is one configured queue and its callers in service order.
type boardQueue struct {
	Name         string          `json:"name"`
	LabelKo      string          `json:"label_ko"`
	LabelEn      string          `json:"label_en"`
	Waiting      []waitingCaller `json:"waiting"`
	LongestWaitS int             `json:"longest_wait_s"`
}

// waitingCaller is one entry of a queue. Number is masked, "withheld"
// when the caller sent none, and empty when no record holds it.
type waitingCaller struct {
	CallID     string    `json:"call_id"`
	Number     string    `json:"number"`
	WaitedS    int       `json:"waited_s"`
	EnqueuedAt time.Time `json:"enqueued_at"`
	Language   string    `json:"language"`
	CallerType string    `json:"caller_type"`
	HighRisk   bool      `json:"high_risk"`
	Kind       string    `json:"kind"`
	OfferedTo  string    `json:"offered_to"`
}

// boardCounselor is one counselor as the board shows it.
type boardCounselor struct {
	ID         string               `json:"id"`
	Name       string               `json:"name"`
	State      queue.CounselorState `json:"state"`
	Reason     string               `json:"reason"`
	Since      time.Time            `json:"since"`
	Registered bool                 `json:"registered"`
	CallID     string               `json:"call_id"`
	CallsToday int                  `json:"calls_today"`
	// CallStartedAt is when the counselor's call connected, only in
	// state on_call.
	CallStartedAt *time.Time `json:"call_started_at"`
	MissedPause   bool       `json:"missed_pause"`
	// Emergency is the emergency call of the counselor's call, only in
	// state on_call and once one was made.
	Emergency *emergencyCall `json:"emergency,omitempty"`
}

// boardFigures are the figures of one window. Ratios are shares from 0
// to 1, and a ratio or average without a call to measure is null.
type boardFigures struct {
	Offered          int      `json:"offered"`
	Answered         int      `json:"answered"`
	Abandoned        int      `json:"abandoned"`
	AbandonRate      *float64 `json:"abandon_rate"`
	ServiceLevel     *float64 `json:"service_level"`
	ASAS             *float64 `json:"asa_s"`
	AHTS             *float64 `json:"aht_s"`
	CallbacksPending int      `json:"callbacks_pending"`
}

// boardAlert is one condition a supervisor should act on.
type boardAlert struct {
	Kind      string `json:"kind"`
	Queue     string `json:"queue,omitempty"`
	CallID    string `json:"call_id,omitempty"`
	Counselor string `json:"counselor,omitempty"`
	// Target and Reason are set for emergency_failed: the emergency
	// number and why it was not reached.
	Target string     `json:"target,omitempty"`
	Reason string     `json:"reason,omitempty"`
	Since  *time.Time `json:"since,omitempty"`
}

// boardPoint is one 15-minute bucket of the day series.
type boardPoint struct {
	At           time.Time `json:"at"`
	Waiting      int       `json:"waiting"`
	ServiceLevel *float64  `json:"service_level"`
}

// RegisterBoard adds the supervisor board routes to api:
//
//	GET /api/v1/board         the board snapshot
//	GET /api/v1/board/stream  the snapshot as Server-Sent Events "board"
//
// A store that fails gives 503 with a message, never a partial board.
func RegisterBoard(api *API, deps BoardDeps) {
	b := newBoard(deps)
	roles := []Role{RoleSupervisor}
	api.HandleRoles("GET /api/v1/board", roles, b.get)
	api.HandleRoles("GET /api/v1/board/stream", roles, b.stream)
}

// board builds board snapshots and shares them among the streams.
type board struct {
	deps BoardDeps

	// mu guards builtAt and last, and is held during a build, so that
	// streams woken by one event share one build.
	mu sync.Mutex
	// builtAt is when the build of last started, by the wall clock.
	builtAt time.Time
	last    boardSnapshot
}

func newBoard(deps BoardDeps) *board {
	if deps.ServiceLevel <= 0 {
		deps.ServiceLevel = DefaultServiceLevel
	}
	if deps.WaitAlert <= 0 {
		deps.WaitAlert = DefaultWaitAlert
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.Location == nil {
		deps.Location = time.Local
	}
	return &board{deps: deps}
}

func (b *board) get(w http.ResponseWriter, r *http.Request) {
	snapshot, err := b.snapshot(r.Context(), time.Now())
	if err != nil {
		writeUnavailable(w, b.deps.Log, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, snapshot)
}

func (b *board) stream(w http.ResponseWriter, r *http.Request) {
	serveStream(w, r, streamSpec{
		event:    "board",
		snapshot: func(ctx context.Context, notBefore time.Time) (any, error) { return b.snapshot(ctx, notBefore) },
		source:   b.deps.Events,
		streams:  b.deps.Streams,
		log:      b.deps.Log,
	})
}

// snapshot returns the last snapshot when its build started at or after
// notBefore, else builds a new one.
func (b *board) snapshot(ctx context.Context, notBefore time.Time) (boardSnapshot, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.builtAt.IsZero() && !b.builtAt.Before(notBefore) {
		return b.last, nil
	}

	started := time.Now()
	ctx, cancel := context.WithTimeout(ctx, snapshotTimeout)
	defer cancel()
	snapshot, err := b.build(ctx)
	if err != nil {
		return boardSnapshot{}, err
	}
	b.builtAt, b.last = started, snapshot
	return snapshot, nil
}

// build reads the queues, the counselors and the records into one
// snapshot.
func (b *board) build(ctx context.Context) (boardSnapshot, error) {
	now := b.deps.Now()
	dayStart := localMidnight(now, b.deps.Location)
	s := boardSnapshot{
		At:            now,
		ServiceLevelS: int(b.deps.ServiceLevel / time.Second),
		WaitAlertS:    int(b.deps.WaitAlert / time.Second),
		Alerts:        []boardAlert{},
	}

	var err error
	if s.Queues, err = b.queues(ctx, now); err != nil {
		return boardSnapshot{}, err
	}
	if s.Counselors, err = b.counselors(ctx, dayStart, now); err != nil {
		return boardSnapshot{}, err
	}
	if s.Today, err = b.figures(ctx, dayStart, now); err != nil {
		return boardSnapshot{}, err
	}
	if s.LastHour, err = b.figures(ctx, now.Add(-time.Hour), now); err != nil {
		return boardSnapshot{}, err
	}
	if s.Series, err = b.series(ctx, dayStart, now); err != nil {
		return boardSnapshot{}, err
	}
	s.Alerts = b.alerts(s)
	return s, nil
}

// queues reads the callers of every configured queue.
func (b *board) queues(ctx context.Context, now time.Time) ([]boardQueue, error) {
	list := make([]boardQueue, 0, len(b.deps.Queues))
	for _, name := range b.deps.Queues {
		callers, err := b.deps.Queue.Waiting(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("read the callers of queue %s: %w", name, err)
		}
		label := b.deps.Labels[name]
		q := boardQueue{Name: name, LabelKo: label.Ko, LabelEn: label.En, Waiting: make([]waitingCaller, 0, len(callers))}
		for _, c := range callers {
			entry, err := b.waitingCaller(ctx, c, now)
			if err != nil {
				return nil, err
			}
			q.Waiting = append(q.Waiting, entry)
			q.LongestWaitS = max(q.LongestWaitS, entry.WaitedS)
		}
		list = append(list, q)
	}
	return list, nil
}

// waitingCaller describes one queue entry, with the number from its
// record or callback task.
func (b *board) waitingCaller(ctx context.Context, c queue.Caller, now time.Time) (waitingCaller, error) {
	entry := waitingCaller{
		CallID:     c.CallID,
		WaitedS:    wholeSeconds(now.Sub(c.EnqueuedAt)),
		EnqueuedAt: c.EnqueuedAt,
		Language:   c.Attributes[ivr.AttributeLanguage],
		CallerType: c.Attributes[ivr.AttributeCallerType],
		HighRisk:   highRiskCaller(c),
		Kind:       callerKind(c),
		OfferedTo:  c.OfferedTo,
	}
	if c.IsCallback() {
		// NOTE: in shared mode a task that another node created is unknown
		// to this node's Callbacks, so its entry shows no number.
		if b.deps.Callbacks != nil {
			if task, err := b.deps.Callbacks.Get(c.CallID); err == nil {
				entry.Number = task.MaskedNumber()
			}
		}
		return entry, nil
	}

	rec, err := b.deps.Records.Get(ctx, c.CallID)
	switch {
	case errors.Is(err, records.ErrNotFound):
		return entry, nil
	case err != nil:
		return waitingCaller{}, fmt.Errorf("read the record of waiting call %s: %w", c.CallID, err)
	}
	entry.Number = maskedRecordNumber(rec)
	entry.HighRisk = entry.HighRisk || rec.Priority == ivr.PriorityHighRisk
	if entry.Language == "" {
		entry.Language = rec.Language
	}
	if entry.CallerType == "" {
		entry.CallerType = rec.CallerType
	}
	return entry, nil
}

// counselors reads every counselor's status and calls answered today.
func (b *board) counselors(ctx context.Context, dayStart, now time.Time) ([]boardCounselor, error) {
	statuses, err := b.deps.Counselors.List(ctx)
	if err != nil {
		return nil, err
	}
	answered, err := b.deps.Records.AnsweredByCounselor(ctx, dayStart, now)
	if err != nil {
		return nil, fmt.Errorf("count today's calls by counselor: %w", err)
	}

	list := make([]boardCounselor, 0, len(statuses))
	for _, st := range statuses {
		c := boardCounselor{
			ID: st.ID, Name: st.Name, State: st.State, Reason: st.Reason, Since: st.Since,
			Registered: st.Registered, CallID: st.CallID, CallsToday: answered[st.ID],
			MissedPause: st.State == queue.StateBreak && st.Reason == routing.MissedCallsReason,
		}
		if st.State == queue.StateOnCall {
			since := st.Since
			c.CallStartedAt = &since
			c.Emergency = lookupEmergencyCall(b.deps.EmergencyStates, st.CallID)
		}
		list = append(list, c)
	}
	return list, nil
}

// figures reads the figures of [from, to).
func (b *board) figures(ctx context.Context, from, to time.Time) (boardFigures, error) {
	f, err := b.deps.Records.Figures(ctx, records.FiguresQuery{From: from, To: to, Now: to, ServiceLevel: b.deps.ServiceLevel})
	if err != nil {
		return boardFigures{}, err
	}
	out := boardFigures{Offered: f.Offered, Answered: f.Answered, Abandoned: f.Abandoned, CallbacksPending: f.CallbacksPending}
	if rate, ok := f.AbandonRate(); ok {
		out.AbandonRate = roundedShare(rate)
	}
	if share, ok := f.ServiceLevelShare(); ok {
		out.ServiceLevel = roundedShare(share)
	}
	if f.Answered > 0 {
		out.ASAS = roundedSeconds(f.AvgSpeedOfAnswer)
	}
	if f.Handled > 0 {
		out.AHTS = roundedSeconds(f.AvgHandleTime)
	}
	return out, nil
}

// series reads the day so far in 15-minute buckets.
func (b *board) series(ctx context.Context, dayStart, now time.Time) ([]boardPoint, error) {
	points, err := b.deps.Records.Series(ctx, records.SeriesQuery{
		From: dayStart, Now: now, Bucket: seriesBucket, ServiceLevel: b.deps.ServiceLevel,
	})
	if err != nil {
		return nil, err
	}
	list := make([]boardPoint, 0, len(points))
	for _, p := range points {
		point := boardPoint{At: p.At, Waiting: p.Waiting}
		if share, ok := p.ServiceLevelShare(); ok {
			point.ServiceLevel = roundedShare(share)
		}
		list = append(list, point)
	}
	return list, nil
}

// alerts lists, in this order, the calls whose emergency call failed (also
// while it is tried again), the
// high-risk callers waiting, the callers waiting longer than WaitAlert, a
// line without a logged-in counselor or with waiting callers and every
// logged-in counselor on break, and the counselors paused for missed calls.
func (b *board) alerts(s boardSnapshot) []boardAlert {
	alerts := []boardAlert{}
	for _, c := range s.Counselors {
		if e := c.Emergency; e != nil && e.Reason != "" {
			alerts = append(alerts, boardAlert{Kind: AlertEmergencyFailed, CallID: c.CallID, Counselor: c.ID,
				Target: e.Target, Reason: e.Reason, Since: timePointer(e.At)})
		}
	}
	for _, q := range s.Queues {
		for _, c := range q.Waiting {
			if c.HighRisk {
				alerts = append(alerts, boardAlert{Kind: AlertHighRiskWaiting, Queue: q.Name, CallID: c.CallID, Since: timePointer(c.EnqueuedAt)})
			}
		}
	}
	alertAfter := wholeSeconds(b.deps.WaitAlert)
	for _, q := range s.Queues {
		for _, c := range q.Waiting {
			if c.WaitedS > alertAfter {
				alerts = append(alerts, boardAlert{Kind: AlertLongWait, Queue: q.Name, CallID: c.CallID, Since: timePointer(c.EnqueuedAt)})
			}
		}
	}
	switch {
	case !anyLoggedIn(s.Counselors):
		alerts = append(alerts, boardAlert{Kind: AlertNoCounselor})
	case anyWaiting(s.Queues) && !anyWorking(s.Counselors):
		alerts = append(alerts, boardAlert{Kind: AlertNoAvailable})
	}
	for _, c := range s.Counselors {
		if c.MissedPause {
			alerts = append(alerts, boardAlert{Kind: AlertMissedPause, Counselor: c.ID, Since: timePointer(c.Since)})
		}
	}
	return alerts
}

func anyLoggedIn(counselors []boardCounselor) bool {
	for _, c := range counselors {
		if c.State != queue.StateLoggedOut {
			return true
		}
	}
	return false
}

// anyWorking reports whether a counselor is available, ringing, on a call
// or in wrap-up: in a state that leads to the next offer without a
// supervisor or the counselor acting.
func anyWorking(counselors []boardCounselor) bool {
	for _, c := range counselors {
		switch c.State {
		case queue.StateAvailable, queue.StateOffered, queue.StateOnCall, queue.StateWrapUp:
			return true
		}
	}
	return false
}

func anyWaiting(queues []boardQueue) bool {
	for _, q := range queues {
		if len(q.Waiting) > 0 {
			return true
		}
	}
	return false
}

// highRiskCaller reports whether the queue marks c as a caller in danger:
// the IVR's high-risk priority, or a supervisor who raised it.
func highRiskCaller(c queue.Caller) bool {
	return c.Priority >= sip.PriorityHighRisk || c.Attributes[ivr.AttributePriority] == ivr.PriorityHighRisk
}

// callerKind returns "call" or "callback".
func callerKind(c queue.Caller) string {
	if c.IsCallback() {
		return string(queue.KindCallback)
	}
	return string(queue.KindCall)
}

// maskedRecordNumber returns the record's number masked, "withheld" when
// the caller sent none, or "" when it does not decrypt.
func maskedRecordNumber(rec records.Record) string {
	if rec.CallerNumberErr != nil {
		return ""
	}
	return records.MaskNumber(rec.CallerNumber)
}

// localMidnight returns the start of t's day in loc.
func localMidnight(t time.Time, loc *time.Location) time.Time {
	local := t.In(loc)
	return time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc)
}

// wholeSeconds returns d in whole seconds, never below zero.
func wholeSeconds(d time.Duration) int {
	return int(max(d, 0) / time.Second)
}

// roundedShare returns share rounded to three decimals.
func roundedShare(share float64) *float64 {
	rounded := math.Round(share*1000) / 1000
	return &rounded
}

// roundedSeconds returns d in seconds, rounded to one decimal.
func roundedSeconds(d time.Duration) *float64 {
	seconds := math.Round(d.Seconds()*10) / 10
	return &seconds
}

func timePointer(t time.Time) *time.Time {
	return &t
}
