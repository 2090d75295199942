package queuetest

import (
	"slices"
	"testing"
	"time"

	"helpline/queue"
)

// Times of the counselor fixture built by setUpState.
var (
	loginTime   = at(10)
	reserveTime = at(12)
	connectTime = at(13)
	finishTime  = at(20)
	wrapUpEnd   = at(60)
)

// setUpState adds counselor id and brings it into state through the Store
// methods. An offered or on_call counselor serves caller "call-<id>".
func (f fixture) setUpState(id string, state queue.CounselorState) {
	f.t.Helper()
	if err := f.store.AddCounselor(f.t.Context(), id, at(0)); err != nil {
		f.t.Fatalf("AddCounselor(%s): %v", id, err)
	}

	switch state {
	case queue.StateLoggedOut:
	case queue.StateAvailable:
		f.setState(id, queue.StateAvailable, "", loginTime)
	case queue.StateBreak:
		f.setState(id, queue.StateAvailable, "", loginTime)
		f.setState(id, queue.StateBreak, "training", at(11))
	case queue.StateOffered, queue.StateOnCall, queue.StateWrapUp:
		f.setState(id, queue.StateAvailable, "", loginTime)
		f.enqueue(mainQueue, "call-"+id, 0, at(11))
		r := f.reserve("call-"+id, reserveTime)
		if state == queue.StateOffered {
			return
		}
		f.connect(r, connectTime)
		if state == queue.StateWrapUp {
			f.finishCall(id, wrapUpEnd, finishTime)
		}
	default:
		f.t.Fatalf("setUpState: no setup for state %q", state)
	}
}

func testAddCounselor(t *testing.T, newStore func(t *testing.T) queue.Store) {
	t.Run("starts logged out", func(t *testing.T) {
		f := newFixture(t, newStore)
		if err := f.store.AddCounselor(t.Context(), "c1", at(0)); err != nil {
			t.Fatalf("AddCounselor: %v", err)
		}
		c := f.requireState("c1", queue.StateLoggedOut)
		if c.ID != "c1" {
			t.Errorf("ID = %q, want c1", c.ID)
		}
	})

	t.Run("is idempotent", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.login("c1", at(5))
		if err := f.store.AddCounselor(t.Context(), "c1", at(9)); err != nil {
			t.Fatalf("second AddCounselor: %v", err)
		}
		c := f.requireState("c1", queue.StateAvailable)
		if !c.IdleSince.Equal(at(5)) {
			t.Errorf("IdleSince = %v, want %v", c.IdleSince, at(5))
		}
	})

	t.Run("rejects empty ID", func(t *testing.T) {
		f := newFixture(t, newStore)
		err := f.store.AddCounselor(t.Context(), "", at(0))
		requireErrorIs(t, err, queue.ErrInvalidCounselor)
	})
}

func testCounselors(t *testing.T, newStore func(t *testing.T) queue.Store) {
	t.Run("sorted by ID", func(t *testing.T) {
		f := newFixture(t, newStore)
		for _, id := range []string{"c3", "c1", "c2"} {
			if err := f.store.AddCounselor(t.Context(), id, at(0)); err != nil {
				t.Fatalf("AddCounselor(%s): %v", id, err)
			}
		}

		counselors, err := f.store.Counselors(t.Context())
		if err != nil {
			t.Fatalf("Counselors: %v", err)
		}
		ids := make([]string, 0, len(counselors))
		for _, c := range counselors {
			ids = append(ids, c.ID)
		}
		if want := []string{"c1", "c2", "c3"}; !slices.Equal(ids, want) {
			t.Errorf("Counselors = %v, want %v", ids, want)
		}
	})

	t.Run("unknown counselor", func(t *testing.T) {
		f := newFixture(t, newStore)
		_, err := f.store.Counselor(t.Context(), "nobody")
		requireErrorIs(t, err, queue.ErrUnknownCounselor)
	})
}

func testSetState(t *testing.T, newStore func(t *testing.T) queue.Store) {
	tests := []struct {
		name   string
		from   queue.CounselorState
		to     queue.CounselorState
		reason string
		now    time.Time
		// rejected cases must leave the counselor in state from.
		rejected bool
		// The remaining fields are checked when the change is accepted.
		wantState       queue.CounselorState
		wantIdleSince   time.Time
		wantReason      string
		wantLogoutAfter bool
	}{
		{name: "login", from: queue.StateLoggedOut, to: queue.StateAvailable, now: at(30),
			wantState: queue.StateAvailable, wantIdleSince: at(30)},
		{name: "logout when logged out", from: queue.StateLoggedOut, to: queue.StateLoggedOut, now: at(30),
			wantState: queue.StateLoggedOut},
		{name: "break when logged out", from: queue.StateLoggedOut, to: queue.StateBreak, now: at(30),
			rejected: true},
		{name: "break with reason", from: queue.StateAvailable, to: queue.StateBreak, reason: "meal", now: at(30),
			wantState: queue.StateBreak, wantReason: "meal"},
		{name: "available again keeps idle time", from: queue.StateAvailable, to: queue.StateAvailable, now: at(30),
			wantState: queue.StateAvailable, wantIdleSince: loginTime},
		{name: "logout when available", from: queue.StateAvailable, to: queue.StateLoggedOut, now: at(30),
			wantState: queue.StateLoggedOut},
		{name: "back from break", from: queue.StateBreak, to: queue.StateAvailable, now: at(30),
			wantState: queue.StateAvailable, wantIdleSince: at(30)},
		{name: "new break reason", from: queue.StateBreak, to: queue.StateBreak, reason: "meal", now: at(30),
			wantState: queue.StateBreak, wantReason: "meal"},
		{name: "logout from break", from: queue.StateBreak, to: queue.StateLoggedOut, now: at(30),
			wantState: queue.StateLoggedOut},
		{name: "end wrap-up early", from: queue.StateWrapUp, to: queue.StateAvailable, now: at(30),
			wantState: queue.StateAvailable, wantIdleSince: at(30)},
		{name: "end wrap-up late", from: queue.StateWrapUp, to: queue.StateAvailable, now: at(90),
			wantState: queue.StateAvailable, wantIdleSince: wrapUpEnd},
		{name: "break during wrap-up", from: queue.StateWrapUp, to: queue.StateBreak, reason: "debrief", now: at(30),
			wantState: queue.StateBreak, wantReason: "debrief"},
		{name: "logout during wrap-up", from: queue.StateWrapUp, to: queue.StateLoggedOut, now: at(30),
			wantState: queue.StateLoggedOut},
		{name: "wrap-up by hand", from: queue.StateAvailable, to: queue.StateWrapUp, now: at(30), rejected: true},
		{name: "offered by hand", from: queue.StateAvailable, to: queue.StateOffered, now: at(30), rejected: true},
		{name: "on call by hand", from: queue.StateAvailable, to: queue.StateOnCall, now: at(30), rejected: true},
		{name: "undefined state", from: queue.StateAvailable, to: "lunch", now: at(30), rejected: true},
		{name: "available while offered", from: queue.StateOffered, to: queue.StateAvailable, now: at(30),
			rejected: true},
		{name: "break while offered", from: queue.StateOffered, to: queue.StateBreak, now: at(30), rejected: true},
		{name: "logout while offered", from: queue.StateOffered, to: queue.StateLoggedOut, now: at(30),
			wantState: queue.StateOffered, wantLogoutAfter: true},
		{name: "available while on call", from: queue.StateOnCall, to: queue.StateAvailable, now: at(30),
			rejected: true},
		{name: "break while on call", from: queue.StateOnCall, to: queue.StateBreak, now: at(30), rejected: true},
		{name: "logout while on call", from: queue.StateOnCall, to: queue.StateLoggedOut, now: at(30),
			wantState: queue.StateOnCall, wantLogoutAfter: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, newStore)
			f.setUpState("c1", tt.from)

			err := f.store.SetState(t.Context(), "c1", tt.to, tt.reason, tt.now)

			if tt.rejected {
				requireTransitionError(t, err, tt.from, tt.to)
				f.requireState("c1", tt.from)
				return
			}
			if err != nil {
				t.Fatalf("SetState(%s → %s): %v", tt.from, tt.to, err)
			}
			c := f.requireState("c1", tt.wantState)
			if tt.wantState == queue.StateAvailable && !c.IdleSince.Equal(tt.wantIdleSince) {
				t.Errorf("IdleSince = %v, want %v", c.IdleSince, tt.wantIdleSince)
			}
			if c.Reason != tt.wantReason {
				t.Errorf("Reason = %q, want %q", c.Reason, tt.wantReason)
			}
			if c.LogoutAfterCall != tt.wantLogoutAfter {
				t.Errorf("LogoutAfterCall = %t, want %t", c.LogoutAfterCall, tt.wantLogoutAfter)
			}
		})
	}

	t.Run("logout keeps call", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.setUpState("c1", queue.StateOnCall)
		f.setState("c1", queue.StateLoggedOut, "", at(30))

		c := f.requireState("c1", queue.StateOnCall)
		if c.CallID != "call-c1" {
			t.Errorf("CallID = %q, want call-c1", c.CallID)
		}
	})

	t.Run("unknown counselor", func(t *testing.T) {
		f := newFixture(t, newStore)
		err := f.store.SetState(t.Context(), "nobody", queue.StateAvailable, "", at(0))
		requireErrorIs(t, err, queue.ErrUnknownCounselor)
	})
}

func testFinishCall(t *testing.T, newStore func(t *testing.T) queue.Store) {
	t.Run("starts wrap-up", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.setUpState("c1", queue.StateOnCall)
		f.finishCall("c1", at(80), at(50))

		c := f.requireState("c1", queue.StateWrapUp)
		if !c.WrapUpUntil.Equal(at(80)) {
			t.Errorf("WrapUpUntil = %v, want %v", c.WrapUpUntil, at(80))
		}
		if !c.IdleSince.Equal(at(80)) {
			t.Errorf("IdleSince = %v, want %v", c.IdleSince, at(80))
		}
		if c.CallID != "" {
			t.Errorf("CallID = %q, want empty", c.CallID)
		}
	})

	t.Run("without wrap-up time", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.setUpState("c1", queue.StateOnCall)
		f.finishCall("c1", at(50), at(50))

		c := f.requireState("c1", queue.StateAvailable)
		if !c.IdleSince.Equal(at(50)) {
			t.Errorf("IdleSince = %v, want %v", c.IdleSince, at(50))
		}
	})

	t.Run("logout during call applies after", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.setUpState("c1", queue.StateOnCall)
		f.setState("c1", queue.StateLoggedOut, "", at(30))
		f.requireState("c1", queue.StateOnCall)

		f.finishCall("c1", at(80), at(50))

		c := f.requireState("c1", queue.StateLoggedOut)
		if c.LogoutAfterCall {
			t.Error("LogoutAfterCall still set after the logout took effect")
		}
		if c.CallID != "" {
			t.Errorf("CallID = %q, want empty", c.CallID)
		}
	})

	t.Run("rejects counselor not on call", func(t *testing.T) {
		states := []queue.CounselorState{
			queue.StateLoggedOut, queue.StateAvailable, queue.StateOffered, queue.StateBreak, queue.StateWrapUp,
		}
		for _, from := range states {
			t.Run(string(from), func(t *testing.T) {
				f := newFixture(t, newStore)
				f.setUpState("c1", from)
				err := f.store.FinishCall(t.Context(), "c1", at(80), at(50))
				requireTransitionError(t, err, from, queue.StateWrapUp)
				f.requireState("c1", from)
			})
		}
	})

	t.Run("unknown counselor", func(t *testing.T) {
		f := newFixture(t, newStore)
		err := f.store.FinishCall(t.Context(), "nobody", at(80), at(50))
		requireErrorIs(t, err, queue.ErrUnknownCounselor)
	})
}

func testEndWrapUp(t *testing.T, newStore func(t *testing.T) queue.Store) {
	tests := []struct {
		name          string
		now           time.Time
		wantIdleSince time.Time
	}{
		{name: "early", now: at(30), wantIdleSince: at(30)},
		{name: "at end", now: wrapUpEnd, wantIdleSince: wrapUpEnd},
		{name: "after end", now: at(90), wantIdleSince: wrapUpEnd},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, newStore)
			f.setUpState("c1", queue.StateWrapUp)

			if err := f.store.EndWrapUp(t.Context(), "c1", tt.now); err != nil {
				t.Fatalf("EndWrapUp: %v", err)
			}
			c := f.requireState("c1", queue.StateAvailable)
			if !c.IdleSince.Equal(tt.wantIdleSince) {
				t.Errorf("IdleSince = %v, want %v", c.IdleSince, tt.wantIdleSince)
			}
			if !c.WrapUpUntil.IsZero() {
				t.Errorf("WrapUpUntil = %v, want zero", c.WrapUpUntil)
			}
		})
	}

	t.Run("rejects counselor not in wrap-up", func(t *testing.T) {
		for _, from := range []queue.CounselorState{queue.StateAvailable, queue.StateOnCall, queue.StateBreak} {
			t.Run(string(from), func(t *testing.T) {
				f := newFixture(t, newStore)
				f.setUpState("c1", from)
				err := f.store.EndWrapUp(t.Context(), "c1", at(30))
				requireTransitionError(t, err, from, queue.StateAvailable)
				f.requireState("c1", from)
			})
		}
	})

	t.Run("unknown counselor", func(t *testing.T) {
		f := newFixture(t, newStore)
		err := f.store.EndWrapUp(t.Context(), "nobody", at(30))
		requireErrorIs(t, err, queue.ErrUnknownCounselor)
	})
}
