package callback

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"helpline/events"
	"helpline/queue"
	"helpline/records"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// fakeStore keeps what the Manager writes.
type fakeStore struct {
	mu       sync.Mutex
	created  []records.Callback
	states   []records.CallbackState
	started  []records.CallbackAttempt
	finished []records.CallbackAttempt
}

func (s *fakeStore) CreateCallback(_ context.Context, cb records.Callback) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.created = append(s.created, cb)
	return nil
}

func (s *fakeStore) SetCallbackState(_ context.Context, _ string, state records.CallbackState, _ string, _ time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.states = append(s.states, state)
	return nil
}

func (s *fakeStore) StartCallbackAttempt(_ context.Context, a records.CallbackAttempt) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.started = append(s.started, a)
	return nil
}

func (s *fakeStore) FinishCallbackAttempt(_ context.Context, a records.CallbackAttempt) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.finished = append(s.finished, a)
	return nil
}

// eventLog keeps the published event types in order.
type eventLog struct {
	mu    sync.Mutex
	types []events.Type
}

func (l *eventLog) Publish(e events.Event) {
	l.mu.Lock()
	l.types = append(l.types, e.Type)
	l.mu.Unlock()
}

func (l *eventLog) count(t events.Type) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, got := range l.types {
		if got == t {
			n++
		}
	}
	return n
}

type fixture struct {
	clock  *fakeClock
	queue  *queue.MemoryStore
	store  *fakeStore
	events *eventLog
	m      *Manager
}

const testInterval = 5 * time.Minute

func newFixture(t *testing.T, attempts int) *fixture {
	t.Helper()
	f := &fixture{
		clock:  &fakeClock{now: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)},
		queue:  queue.NewMemoryStore(),
		store:  &fakeStore{},
		events: &eventLog{},
	}
	f.m = NewManager(Config{Attempts: attempts, Interval: testInterval}, f.queue, f.store,
		WithClock(f.clock.Now), WithEvents(f.events))
	return f
}

func (f *fixture) create(t *testing.T, enqueuedAt time.Time) Task {
	t.Helper()
	task, err := f.m.Create(context.Background(), Request{
		CallID: "call-1", Queue: "q", Number: "01012345678", Reason: ReasonRequested,
		Priority: 2, EnqueuedAt: enqueuedAt, Attributes: map[string]string{"language": "en"},
	})
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return task
}

// waiting returns the entries of queue q.
func (f *fixture) waiting(t *testing.T) []queue.Caller {
	t.Helper()
	list, err := f.queue.Waiting(context.Background(), "q")
	if err != nil {
		t.Fatalf("Waiting: %v", err)
	}
	return list
}

// attempt takes the task out of the queue as Connect would, and starts an
// attempt.
func (f *fixture) attempt(t *testing.T, id string) Attempt {
	t.Helper()
	if _, err := f.queue.Leave(context.Background(), id); err != nil {
		t.Fatalf("taking the task out of the queue: %v", err)
	}
	a, err := f.m.StartAttempt(id, "1001")
	if err != nil {
		t.Fatalf("StartAttempt: %v", err)
	}
	return a
}

func TestCreateQueuesTaskAtCallersPlace(t *testing.T) {
	f := newFixture(t, 3)
	joined := f.clock.Now().Add(-time.Minute)
	task := f.create(t, joined)

	waiting := f.waiting(t)
	if len(waiting) != 1 {
		t.Fatalf("queue has %d entries, want 1", len(waiting))
	}
	entry := waiting[0]
	if entry.CallID != task.ID || entry.Kind != queue.KindCallback {
		t.Errorf("entry = %s kind %q, want %s kind callback", entry.CallID, entry.Kind, task.ID)
	}
	if !entry.EnqueuedAt.Equal(joined) || entry.Priority != 2 {
		t.Errorf("entry place = priority %d at %s, want 2 at %s", entry.Priority, entry.EnqueuedAt, joined)
	}
	if got := f.events.count(events.CallbackRequested); got != 1 {
		t.Errorf("callback_requested events = %d, want 1", got)
	}
	if len(f.store.created) != 1 || f.store.created[0].Number != "01012345678" {
		t.Errorf("stored tasks = %+v, want one with the number", f.store.created)
	}
}

func TestFailedAttemptsRetryAfterIntervalThenFail(t *testing.T) {
	f := newFixture(t, 3)
	joined := f.clock.Now()
	task := f.create(t, joined)
	ctx := context.Background()

	for n := 1; n <= 3; n++ {
		a := f.attempt(t, task.ID)
		if a.N != n || a.Number != "01012345678" {
			t.Fatalf("attempt %d = N %d number %q", n, a.N, a.Number)
		}
		f.m.FinishAttempt(ctx, a, Result{Outcome: "busy", SIPStatus: 486})
		if n == 3 {
			break
		}

		f.clock.Advance(testInterval - time.Second)
		next := f.m.Tick(ctx)
		if len(f.waiting(t)) != 0 {
			t.Fatalf("after attempt %d the task is back before the interval", n)
		}
		if want := f.clock.Now().Add(time.Second); !next.Equal(want) {
			t.Errorf("Tick next = %s, want %s", next, want)
		}

		f.clock.Advance(time.Second)
		f.m.Tick(ctx)
		waiting := f.waiting(t)
		if len(waiting) != 1 || !waiting[0].EnqueuedAt.Equal(joined) {
			t.Fatalf("after the interval queue = %+v, want the task at its original place %s", waiting, joined)
		}
	}

	got, err := f.m.Get(task.ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if got.State != records.CallbackFailed || got.Attempts != 3 {
		t.Errorf("task = state %s attempts %d, want failed after 3", got.State, got.Attempts)
	}
	if len(f.waiting(t)) != 0 {
		t.Error("a failed task is still in the queue")
	}
	if got := f.events.count(events.CallbackAttempted); got != 3 {
		t.Errorf("callback_attempted events = %d, want 3", got)
	}
	if got := f.events.count(events.CallbackFailed); got != 1 {
		t.Errorf("callback_failed events = %d, want 1", got)
	}
	if len(f.store.finished) != 3 || f.store.finished[2].SIPStatus != 486 || f.store.finished[2].Outcome != "busy" {
		t.Errorf("stored attempt results = %+v, want 3 busy with 486", f.store.finished)
	}
}

func TestAnsweredAttemptCompletes(t *testing.T) {
	f := newFixture(t, 3)
	task := f.create(t, f.clock.Now())
	a := f.attempt(t, task.ID)
	f.m.FinishAttempt(context.Background(), a, Result{Outcome: OutcomeAnswered, SIPStatus: 200})

	got, _ := f.m.Get(task.ID)
	if got.State != records.CallbackCompleted {
		t.Errorf("state = %s, want completed", got.State)
	}
	if got := f.events.count(events.CallbackCompleted); got != 1 {
		t.Errorf("callback_completed events = %d, want 1", got)
	}
}

func TestCounselorGoneDoesNotCount(t *testing.T) {
	f := newFixture(t, 1)
	task := f.create(t, f.clock.Now())
	a := f.attempt(t, task.ID)
	f.m.FinishAttempt(context.Background(), a, Result{Outcome: OutcomeCounselorGone})
	f.m.Tick(context.Background())

	got, _ := f.m.Get(task.ID)
	if got.State != records.CallbackPending || got.Attempts != 0 {
		t.Errorf("task = state %s attempts %d, want pending with 0", got.State, got.Attempts)
	}
	if len(f.waiting(t)) != 1 {
		t.Error("the task is not back in the queue at once")
	}
}

func TestWithheldNumberFailsAtOnce(t *testing.T) {
	f := newFixture(t, 3)
	task, err := f.m.Create(context.Background(), Request{CallID: "call-2", Queue: "q", Withheld: true, Reason: ReasonAbandoned})
	if !errors.Is(err, ErrNumberWithheld) {
		t.Fatalf("Create error = %v, want ErrNumberWithheld", err)
	}
	if task.State != records.CallbackFailed || task.EndReason != endNumberWithheld {
		t.Errorf("task = state %s reason %q, want failed, %s", task.State, task.EndReason, endNumberWithheld)
	}
	if len(f.waiting(t)) != 0 {
		t.Error("a withheld task is in the queue")
	}
	if len(f.store.created) != 1 || f.store.created[0].State != records.CallbackFailed || !f.store.created[0].NumberWithheld {
		t.Errorf("stored = %+v, want one failed withheld task", f.store.created)
	}
	if got := f.events.count(events.CallbackFailed); got != 1 {
		t.Errorf("callback_failed events = %d, want 1", got)
	}
}

func TestCancel(t *testing.T) {
	f := newFixture(t, 3)
	ctx := context.Background()
	task := f.create(t, f.clock.Now())

	if _, err := f.m.Cancel(ctx, "cb-unknown", "test"); !errors.Is(err, ErrUnknownTask) {
		t.Errorf("Cancel unknown error = %v, want ErrUnknownTask", err)
	}
	got, err := f.m.Cancel(ctx, task.ID, "test")
	if err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	if got.State != records.CallbackCancelled {
		t.Errorf("state = %s, want cancelled", got.State)
	}
	if len(f.waiting(t)) != 0 {
		t.Error("the cancelled task is still in the queue")
	}
	if _, err := f.m.Cancel(ctx, task.ID, "test"); !errors.Is(err, ErrTaskDone) {
		t.Errorf("second Cancel error = %v, want ErrTaskDone", err)
	}
	if got := f.events.count(events.CallbackCancelled); got != 1 {
		t.Errorf("callback_cancelled events = %d, want 1", got)
	}
}

func TestCancelEndsRunningAttempt(t *testing.T) {
	f := newFixture(t, 3)
	ctx := context.Background()
	task := f.create(t, f.clock.Now())
	a := f.attempt(t, task.ID)

	if _, err := f.m.Cancel(ctx, task.ID, "test"); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	select {
	case <-a.Ctx.Done():
	default:
		t.Fatal("the running attempt's context did not end")
	}
	f.m.FinishAttempt(ctx, a, Result{Outcome: "no_answer"})
	got, _ := f.m.Get(task.ID)
	if got.State != records.CallbackCancelled {
		t.Errorf("state after the attempt ended = %s, want cancelled", got.State)
	}
	f.clock.Advance(testInterval)
	f.m.Tick(ctx)
	if len(f.waiting(t)) != 0 {
		t.Error("a cancelled task came back to the queue")
	}
}

func TestRestoreQueuesOpenTasksAgain(t *testing.T) {
	f := newFixture(t, 3)
	joined := f.clock.Now().Add(-time.Hour)
	stored := []records.Callback{
		{TaskID: "cb-open", CallID: "call-1", Queue: "q", Reason: ReasonRequested, State: records.CallbackDialling,
			Number: "01012345678", EnqueuedAt: joined, CreatedAt: joined,
			Attempts: []records.CallbackAttempt{
				{TaskID: "cb-open", Attempt: 1, Outcome: "busy", EndedAt: joined},
				{TaskID: "cb-open", Attempt: 2, StartedAt: joined},
			}},
		{TaskID: "cb-done", CallID: "call-2", Queue: "q", State: records.CallbackCompleted, Number: "01011112222"},
	}

	if n := f.m.Restore(context.Background(), stored); n != 1 {
		t.Fatalf("Restore = %d, want 1", n)
	}
	waiting := f.waiting(t)
	if len(waiting) != 1 || waiting[0].CallID != "cb-open" || !waiting[0].EnqueuedAt.Equal(joined) {
		t.Fatalf("queue = %+v, want cb-open at its original place", waiting)
	}
	got, err := f.m.Get("cb-open")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if got.State != records.CallbackPending || got.Attempts != 1 {
		t.Errorf("restored task = state %s attempts %d, want pending with 1 counted", got.State, got.Attempts)
	}
	a := f.attempt(t, "cb-open")
	if a.N != 3 {
		t.Errorf("next attempt number = %d, want 3", a.N)
	}
	if len(f.store.finished) != 1 || f.store.finished[0].Outcome != restartOutcome {
		t.Errorf("stored attempt ends = %+v, want the cut-off attempt marked interrupted", f.store.finished)
	}
}
