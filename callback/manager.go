package callback

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"helpline/events"
	"helpline/queue"
	"helpline/records"
)

// Reasons a task is created for.
const (
	// ReasonRequested: the waiting caller pressed the callback key.
	ReasonRequested = "requested"
	// ReasonAbandoned: the caller hung up after a long wait.
	ReasonAbandoned = "abandoned"
	// ReasonHighRisk: a high-risk caller hung up while waiting.
	ReasonHighRisk = "high_risk"
	// ReasonOverflow: the queue's overflow rule ended the call.
	ReasonOverflow = "overflow"
	// ReasonInterrupted: the node holding the waiting caller's call
	// stopped, which cut the call off.
	ReasonInterrupted = "interrupted"
)

// Attempt outcomes besides the routing outcome names (answered, busy,
// no_answer, declined, unavailable).
const (
	// OutcomeNoRoute: trunk.outbound_uri is empty or the number is unusable.
	OutcomeNoRoute = "no_route"
	// OutcomeCounselorGone: the counselor hung up before the caller
	// answered. Such an attempt does not count against the limit.
	OutcomeCounselorGone = "counselor_gone"
	// OutcomeAnswered: the caller answered and was bridged.
	OutcomeAnswered = "answered"
)

// End reasons of failed or cancelled tasks.
const (
	endNumberWithheld = "number_withheld"
	endAttemptsUsed   = "attempts_used"
	endCancelled      = "cancelled_by_supervisor"
)

// idPrefix starts every task ID, so that a queue entry's ID shows a task
// apart from a SIP Call-ID.
const idPrefix = "cb-"

// idBytes is the random part of a task ID.
const idBytes = 8

var (
	// ErrUnknownTask is returned for a task ID the Manager does not know.
	ErrUnknownTask = errors.New("callback task not found")
	// ErrTaskDone is returned for a task that is completed, failed or
	// cancelled already.
	ErrTaskDone = errors.New("callback task already done")
	// ErrNumberWithheld is returned by Create for a caller without a
	// number to call. The task is stored as failed.
	ErrNumberWithheld = errors.New("caller number withheld: cannot call back")
	// ErrTaskBusy is returned by StartAttempt for a task that is not
	// pending, such as one with an attempt already running.
	ErrTaskBusy = errors.New("callback task is not waiting for an attempt")
)

// Store persists tasks and attempts. *records.Store implements it.
type Store interface {
	CreateCallback(ctx context.Context, cb records.Callback) error
	SetCallbackState(ctx context.Context, taskID string, state records.CallbackState, reason string, at time.Time) error
	StartCallbackAttempt(ctx context.Context, a records.CallbackAttempt) error
	FinishCallbackAttempt(ctx context.Context, a records.CallbackAttempt) error
}

// Config are the Manager's settings.
type Config struct {
	// Attempts is how many attempts a task gets before it fails.
	Attempts int
	// Interval is the pause after a failed attempt before the task
	// re-enters the queue.
	Interval time.Duration
}

// Request describes the caller of a new task.
type Request struct {
	// TaskID, when set, is the task's ID in place of a random one. Use
	// TaskIDForCall, so that creating the task of one call twice makes one
	// task.
	TaskID string
	// CallID is the Call-ID of the caller's call.
	CallID string
	Queue  string
	// Number is the number to dial; empty or Withheld means none.
	Number   string
	Withheld bool
	Reason   string
	// Priority and EnqueuedAt are the caller's place in the queue.
	Priority   int
	EnqueuedAt time.Time
	// Attributes are the call's IVR attributes, such as language.
	Attributes map[string]string
}

// Task is a copy of one task's state.
type Task struct {
	ID         string
	CallID     string
	Queue      string
	Reason     string
	State      records.CallbackState
	Withheld   bool
	Priority   int
	EnqueuedAt time.Time
	CreatedAt  time.Time
	// Attempts counts the attempts that count against the limit.
	Attempts    int
	MaxAttempts int
	// NextAttemptAt is when a task between attempts re-enters the queue,
	// else zero.
	NextAttemptAt time.Time
	// Counselor is the counselor of the running attempt, else "".
	Counselor  string
	Attributes map[string]string
	EndReason  string

	// number is the number to dial; never shown outside the package.
	number string
}

// MaskedNumber returns the number to dial with most digits hidden.
func (t Task) MaskedNumber() string { return records.MaskNumber(t.number) }

// Attempt is one running attempt, returned by StartAttempt.
type Attempt struct {
	// TaskID and Number identify the task and the number to dial.
	TaskID string
	Number string
	// N numbers the attempt from 1.
	N int
	// Queue and Attributes are the task's, for prompts and events.
	Queue      string
	Attributes map[string]string
	// Ctx ends when a supervisor cancels the task during the attempt.
	Ctx context.Context
}

// task is the Manager's state of one task.
type task struct {
	Task
	// tries numbers every attempt, counted or not, for the store.
	tries int
	// cancelAttempt ends the running attempt's context.
	cancelAttempt context.CancelFunc
}

// Manager owns the callback tasks of one process.
type Manager struct {
	cfg    Config
	queue  queue.Store
	store  Store
	events events.Publisher
	log    zerolog.Logger
	now    func() time.Time
	// wake carries wake-ups of Run's loop; buffer 1 merges them.
	wake chan struct{}

	notifyMu sync.Mutex
	// notify wakes the routing distributors; guarded by notifyMu.
	notify func()

	// mu guards tasks.
	mu    sync.Mutex
	tasks map[string]*task
}

// Option configures a Manager.
type Option func(*Manager)

// WithClock sets the clock. The default is time.Now.
func WithClock(now func() time.Time) Option { return func(m *Manager) { m.now = now } }

// WithLogger sets the logger. The default discards everything.
func WithLogger(log zerolog.Logger) Option { return func(m *Manager) { m.log = log } }

// WithEvents sets the event publisher. The default drops events.
func WithEvents(p events.Publisher) Option { return func(m *Manager) { m.events = p } }

// NewManager returns a Manager that queues tasks in q and stores them in
// store. A nil store keeps tasks in memory only.
func NewManager(cfg Config, q queue.Store, store Store, opts ...Option) *Manager {
	m := &Manager{
		cfg:    cfg,
		queue:  q,
		store:  store,
		events: events.Nop{},
		log:    zerolog.Nop(),
		now:    time.Now,
		wake:   make(chan struct{}, 1),
		tasks:  make(map[string]*task),
	}
	for _, opt := range opts {
		opt(m)
	}
	if m.cfg.Attempts < 1 {
		m.cfg.Attempts = 1
	}
	return m
}

// SetNotifier sets the function that wakes the routing distributors after
// a task joins the queue.
func (m *Manager) SetNotifier(notify func()) {
	m.notifyMu.Lock()
	m.notify = notify
	m.notifyMu.Unlock()
}

func (m *Manager) notifyDistributors() {
	m.notifyMu.Lock()
	notify := m.notify
	m.notifyMu.Unlock()
	if notify != nil {
		notify()
	}
}

// Owns reports whether id is a task of this Manager.
func (m *Manager) Owns(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.tasks[id]
	return ok
}

// Get returns a copy of one task.
func (m *Manager) Get(id string) (Task, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tasks[id]
	if !ok {
		return Task{}, fmt.Errorf("read callback %s: %w", id, ErrUnknownTask)
	}
	return t.copy(), nil
}

// List returns a copy of every task, oldest first.
func (m *Manager) List() []Task {
	m.mu.Lock()
	list := make([]Task, 0, len(m.tasks))
	for _, t := range m.tasks {
		list = append(list, t.copy())
	}
	m.mu.Unlock()
	slices.SortFunc(list, func(a, b Task) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return cmpString(a.ID, b.ID)
	})
	return list
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (t *task) copy() Task {
	c := t.Task
	c.Attributes = maps.Clone(t.Attributes)
	return c
}

// newTaskID returns a random task ID.
func newTaskID() string {
	var b [idBytes]byte
	_, _ = rand.Read(b[:])
	return idPrefix + hex.EncodeToString(b[:])
}

// TaskIDForCall returns the task ID derived from a call's Call-ID: the
// task prefix and the first idBytes of the Call-ID's SHA-256, in hex. It
// has the form of a random task ID and the same for the same call on every
// node.
func TaskIDForCall(callID string) string {
	sum := sha256.Sum256([]byte(callID))
	return idPrefix + hex.EncodeToString(sum[:idBytes])
}

// publish sends one event about t.
func (m *Manager) publish(kind events.Type, t Task, data map[string]string) {
	if data == nil {
		data = map[string]string{}
	}
	data["call_id"] = t.CallID
	data["reason"] = t.Reason
	data["state"] = string(t.State)
	data["attempts"] = strconv.Itoa(t.Attempts)
	m.events.Publish(events.Event{Type: kind, CallID: t.ID, CounselorID: t.Counselor, Queue: t.Queue, Data: data})
}

// storeContext bounds one write to the store.
func storeContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), storeTimeout)
}

// storeTimeout bounds one store or queue call.
const storeTimeout = 5 * time.Second
