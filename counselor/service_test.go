package counselor_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"helpline/counselor"
	"helpline/events"
	"helpline/queue"
)

var t0 = time.Date(2026, time.January, 5, 9, 0, 0, 0, time.UTC)

type fixture struct {
	svc        *counselor.Service
	store      *queue.MemoryStore
	events     *events.Subscription
	registered map[string]bool
	notified   int
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{store: queue.NewMemoryStore(), registered: map[string]bool{"c1": true}}
	if err := f.store.AddCounselor(context.Background(), "c1", t0); err != nil {
		t.Fatalf("AddCounselor: %v", err)
	}
	bus := events.NewBus()
	f.events = bus.Subscribe(0)
	t.Cleanup(f.events.Close)
	f.svc = counselor.New(counselor.Config{
		Store:      f.store,
		Events:     bus,
		Notify:     func() { f.notified++ },
		Registered: func(id string) bool { return f.registered[id] },
		Now:        func() time.Time { return t0 },
	})
	return f
}

func (f *fixture) state(t *testing.T) queue.Counselor {
	t.Helper()
	c, err := f.store.Counselor(context.Background(), "c1")
	if err != nil {
		t.Fatalf("Counselor: %v", err)
	}
	return c
}

// nextEvent returns the next published event, or fails when there is none.
func (f *fixture) nextEvent(t *testing.T) events.Event {
	t.Helper()
	select {
	case e := <-f.events.C():
		return e
	default:
		t.Fatal("no event published")
		return events.Event{}
	}
}

func TestLoginPublishesAndNotifies(t *testing.T) {
	f := newFixture(t)

	if err := f.svc.Login(context.Background(), "c1", counselor.SourcePhone); err != nil {
		t.Fatalf("Login: %v", err)
	}

	if got := f.state(t).State; got != queue.StateAvailable {
		t.Errorf("state = %s, want available", got)
	}
	e := f.nextEvent(t)
	if e.Type != events.CounselorState || e.CounselorID != "c1" {
		t.Errorf("event = %+v, want counselor_state of c1", e)
	}
	if e.Data["from"] != "logged_out" || e.Data["to"] != "available" || e.Data["source"] != "phone" {
		t.Errorf("event data = %v, want logged_out to available from phone", e.Data)
	}
	if f.notified != 1 {
		t.Errorf("distributors woken %d times, want 1", f.notified)
	}
}

func TestLoginNeedsRegisteredPhone(t *testing.T) {
	f := newFixture(t)
	f.registered["c1"] = false

	err := f.svc.Login(context.Background(), "c1", counselor.SourceAPI)

	if !errors.Is(err, counselor.ErrNotRegistered) {
		t.Errorf("Login = %v, want ErrNotRegistered", err)
	}
	if got := f.state(t).State; got != queue.StateLoggedOut {
		t.Errorf("state = %s, want logged_out", got)
	}
}

func TestBreakDefaultReason(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_ = f.svc.Login(ctx, "c1", counselor.SourceAPI)
	f.nextEvent(t)

	if err := f.svc.Break(ctx, "c1", "", counselor.SourcePhone); err != nil {
		t.Fatalf("Break: %v", err)
	}

	if c := f.state(t); c.State != queue.StateBreak || c.Reason != counselor.DefaultBreakReason {
		t.Errorf("counselor = %s %q, want break %q", c.State, c.Reason, counselor.DefaultBreakReason)
	}
	if e := f.nextEvent(t); e.Data["reason"] != counselor.DefaultBreakReason {
		t.Errorf("event reason = %q, want %q", e.Data["reason"], counselor.DefaultBreakReason)
	}
}

func TestResumeOnlyFromBreak(t *testing.T) {
	f := newFixture(t)

	err := f.svc.Resume(context.Background(), "c1", counselor.SourcePhone)

	if !errors.Is(err, queue.ErrInvalidTransition) {
		t.Errorf("Resume from logged_out = %v, want ErrInvalidTransition", err)
	}
	if got := f.state(t).State; got != queue.StateLoggedOut {
		t.Errorf("state = %s, want logged_out", got)
	}
}

func TestSetStateRejectsCallStates(t *testing.T) {
	f := newFixture(t)

	err := f.svc.SetState(context.Background(), "c1", queue.StateOnCall, "", counselor.SourceAPI)

	if !errors.Is(err, counselor.ErrInvalidState) {
		t.Errorf("SetState(on_call) = %v, want ErrInvalidState", err)
	}
}

func TestUnregisterLogsOut(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_ = f.svc.Login(ctx, "c1", counselor.SourceAPI)
	f.nextEvent(t)

	f.svc.PhoneRegistered(ctx, "c1", false)

	if got := f.state(t).State; got != queue.StateLoggedOut {
		t.Errorf("state = %s, want logged_out", got)
	}
	if e := f.nextEvent(t); e.Data["source"] != counselor.SourceRegistration || e.Data["to"] != "logged_out" {
		t.Errorf("event data = %v, want logged_out by registration", e.Data)
	}
}

func TestRegisterDoesNotLogIn(t *testing.T) {
	f := newFixture(t)

	f.svc.PhoneRegistered(context.Background(), "c1", true)

	if got := f.state(t).State; got != queue.StateLoggedOut {
		t.Errorf("state = %s, want logged_out: registration must not log in", got)
	}
}

func TestEndedWrapUpListedAvailable(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_ = f.store.SetState(ctx, "c1", queue.StateAvailable, "", t0.Add(-time.Hour))
	_ = f.store.Enqueue(ctx, queue.Caller{CallID: "x", Queue: "q", EnqueuedAt: t0})
	r, err := f.store.Reserve(ctx, queue.ReserveRequest{CallID: "x", Now: t0.Add(-time.Hour)})
	if err != nil {
		t.Fatalf("Reserve: %v", err)
	}
	_ = f.store.Connect(ctx, r, t0.Add(-time.Hour))
	_ = f.store.FinishCall(ctx, "c1", t0.Add(-time.Minute), t0.Add(-time.Hour))

	status, err := f.svc.Get(ctx, "c1")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}

	if status.State != queue.StateAvailable || !status.Since.Equal(t0.Add(-time.Minute)) || status.WrapUpUntil != nil {
		t.Errorf("status = %+v, want available since the wrap-up ended", status)
	}
}

// unreadableStore is a queue store whose counselor reads fail as if the
// store could not be reached, while changes still reach it.
type unreadableStore struct {
	*queue.MemoryStore
}

func (unreadableStore) Counselor(context.Context, string) (queue.Counselor, error) {
	return queue.Counselor{}, errors.New("dial tcp 127.0.0.1:6379: connection refused")
}

func TestChangesWithoutReadableState(t *testing.T) {
	tests := []struct {
		name       string
		registered bool
		change     func(svc *counselor.Service) error
		wantErr    bool
		wantState  queue.CounselorState
	}{
		{name: "logout applied", change: func(svc *counselor.Service) error {
			return svc.Logout(context.Background(), "c1", counselor.SourceRegistration)
		}, wantState: queue.StateLoggedOut},
		{name: "login with registered phone applied", registered: true, change: func(svc *counselor.Service) error {
			return svc.Login(context.Background(), "c1", counselor.SourceAPI)
		}, wantState: queue.StateAvailable},
		{name: "login without phone rejected", change: func(svc *counselor.Service) error {
			return svc.Login(context.Background(), "c1", counselor.SourceAPI)
		}, wantErr: true, wantState: queue.StateBreak},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			for _, state := range []queue.CounselorState{queue.StateAvailable, queue.StateBreak} {
				if err := f.store.SetState(context.Background(), "c1", state, "meal", t0); err != nil {
					t.Fatalf("SetState(%s): %v", state, err)
				}
			}
			svc := counselor.New(counselor.Config{
				Store:      unreadableStore{f.store},
				Registered: func(string) bool { return tt.registered },
				Now:        func() time.Time { return t0 },
			})

			err := tt.change(svc)

			if (err != nil) != tt.wantErr {
				t.Errorf("change error = %v, want error %v", err, tt.wantErr)
			}
			if got := f.state(t).State; got != tt.wantState {
				t.Errorf("state = %s, want %s", got, tt.wantState)
			}
		})
	}
}
