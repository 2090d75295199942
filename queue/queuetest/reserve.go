package queuetest

import (
	"testing"

	"helpline/queue"
)

func testReserve(t *testing.T, newStore func(t *testing.T) queue.Store) {
	t.Run("marks both sides", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.login("c1", at(0))
		f.enqueue(mainQueue, "call-1", 0, at(1))

		r := f.reserve("call-1", at(2))

		want := queue.Reservation{CallID: "call-1", CounselorID: "c1", Queue: mainQueue, At: at(2)}
		if r.CallID != want.CallID || r.CounselorID != want.CounselorID || r.Queue != want.Queue || !r.At.Equal(want.At) {
			t.Errorf("Reserve = %+v, want %+v", r, want)
		}
		c := f.requireState("c1", queue.StateOffered)
		if c.OfferCallID != "call-1" {
			t.Errorf("OfferCallID = %q, want call-1", c.OfferCallID)
		}
		if got := f.waitingCaller(mainQueue, "call-1").OfferedTo; got != "c1" {
			t.Errorf("OfferedTo = %q, want c1", got)
		}
	})

	t.Run("picks longest idle", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.login("c1", at(3))
		f.login("c2", at(1))
		f.login("c3", at(2))
		f.enqueue(mainQueue, "call-1", 0, at(5))
		f.enqueue(mainQueue, "call-2", 0, at(6))
		f.enqueue(mainQueue, "call-3", 0, at(7))

		for _, want := range []struct{ callID, counselorID string }{
			{callID: "call-1", counselorID: "c2"},
			{callID: "call-2", counselorID: "c3"},
			{callID: "call-3", counselorID: "c1"},
		} {
			if got := f.reserve(want.callID, at(8)).CounselorID; got != want.counselorID {
				t.Errorf("Reserve(%s) chose %s, want %s", want.callID, got, want.counselorID)
			}
		}
	})

	t.Run("breaks ties by ID", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.login("c2", at(1))
		f.login("c1", at(1))
		f.enqueue(mainQueue, "call-1", 0, at(5))

		if got := f.reserve("call-1", at(6)).CounselorID; got != "c1" {
			t.Errorf("Reserve chose %s, want c1", got)
		}
	})

	t.Run("skips busy counselors", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.setUpState("logged-out", queue.StateLoggedOut)
		f.setUpState("on-break", queue.StateBreak)
		f.setUpState("offered", queue.StateOffered)
		f.setUpState("on-call", queue.StateOnCall)
		f.setUpState("wrap-up", queue.StateWrapUp)
		f.enqueue(mainQueue, "call-1", 0, at(14))

		err := f.reserveErr("call-1", at(15))
		requireErrorIs(t, err, queue.ErrNoCounselor)

		f.login("fresh", at(15))
		if got := f.reserve("call-1", at(16)).CounselorID; got != "fresh" {
			t.Errorf("Reserve chose %s, want fresh", got)
		}
	})

	t.Run("honours exclude list", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.login("c1", at(1))
		f.login("c2", at(2))
		f.login("c3", at(3))
		f.enqueue(mainQueue, "call-1", 0, at(5))

		err := f.reserveErr("call-1", at(6), "c1", "c2", "c3")
		requireErrorIs(t, err, queue.ErrNoCounselor)
		for _, id := range []string{"c1", "c2", "c3"} {
			f.requireState(id, queue.StateAvailable)
		}
		if got := f.waitingCaller(mainQueue, "call-1").OfferedTo; got != "" {
			t.Errorf("OfferedTo after ErrNoCounselor = %q, want empty", got)
		}

		if got := f.reserve("call-1", at(7), "c1", "c3").CounselorID; got != "c2" {
			t.Errorf("Reserve with c1 and c3 excluded chose %s, want c2", got)
		}
	})

	t.Run("waits for wrap-up end", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.setUpState("c1", queue.StateWrapUp)
		f.enqueue(mainQueue, "call-2", 0, at(21))

		err := f.reserveErr("call-2", wrapUpEnd.Add(-1))
		requireErrorIs(t, err, queue.ErrNoCounselor)

		r := f.reserve("call-2", wrapUpEnd)
		if r.CounselorID != "c1" {
			t.Errorf("Reserve at wrap-up end chose %s, want c1", r.CounselorID)
		}
		c := f.requireState("c1", queue.StateOffered)
		if !c.IdleSince.Equal(wrapUpEnd) {
			t.Errorf("IdleSince = %v, want %v", c.IdleSince, wrapUpEnd)
		}
	})

	t.Run("ended wrap-up counts as idle since its end", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.setUpState("c1", queue.StateWrapUp)
		f.login("c0", wrapUpEnd.Add(1))
		f.enqueue(mainQueue, "call-2", 0, at(21))

		if got := f.reserve("call-2", at(100)).CounselorID; got != "c1" {
			t.Errorf("Reserve chose %s, want c1 (idle since its wrap-up ended)", got)
		}
	})

	t.Run("one offer per caller", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.login("c1", at(1))
		f.login("c2", at(2))
		f.enqueue(mainQueue, "call-1", 0, at(5))
		f.reserve("call-1", at(6))

		err := f.reserveErr("call-1", at(7))
		requireErrorIs(t, err, queue.ErrOfferPending)
		f.requireState("c2", queue.StateAvailable)
	})

	t.Run("caller not waiting", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.login("c1", at(1))

		err := f.reserveErr("nobody", at(2))
		requireErrorIs(t, err, queue.ErrNotWaiting)
		f.requireState("c1", queue.StateAvailable)
	})
}

func testCancelReservation(t *testing.T, newStore func(t *testing.T) queue.Store) {
	t.Run("frees counselor with idle time kept", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.login("c1", at(1))
		f.login("c2", at(2))
		f.enqueue(mainQueue, "call-1", 0, at(5))
		r := f.reserve("call-1", at(6))

		f.cancel(r, at(7))

		c := f.requireState("c1", queue.StateAvailable)
		if !c.IdleSince.Equal(at(1)) {
			t.Errorf("IdleSince = %v, want %v", c.IdleSince, at(1))
		}
		if c.OfferCallID != "" {
			t.Errorf("OfferCallID = %q, want empty", c.OfferCallID)
		}
		if got := f.waitingCaller(mainQueue, "call-1").OfferedTo; got != "" {
			t.Errorf("OfferedTo = %q, want empty", got)
		}
		if got := f.reserve("call-1", at(8), "c1").CounselorID; got != "c2" {
			t.Errorf("next Reserve chose %s, want c2", got)
		}
	})

	t.Run("is idempotent", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.login("c1", at(1))
		f.enqueue(mainQueue, "call-1", 0, at(5))
		r := f.reserve("call-1", at(6))

		f.cancel(r, at(7))
		f.cancel(r, at(8))

		f.requireState("c1", queue.StateAvailable)
		if got := f.waitingCaller(mainQueue, "call-1").OfferedTo; got != "" {
			t.Errorf("OfferedTo = %q, want empty", got)
		}
	})

	t.Run("leaves newer offer alone", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.login("c1", at(1))
		f.enqueue(mainQueue, "call-1", 0, at(5))
		f.enqueue(mainQueue, "call-2", 0, at(6))
		old := f.reserve("call-1", at(7))
		f.leave("call-1")
		f.cancel(old, at(8))
		f.reserve("call-2", at(9))

		f.cancel(old, at(10))

		c := f.requireState("c1", queue.StateOffered)
		if c.OfferCallID != "call-2" {
			t.Errorf("OfferCallID = %q, want call-2", c.OfferCallID)
		}
		if got := f.waitingCaller(mainQueue, "call-2").OfferedTo; got != "c1" {
			t.Errorf("OfferedTo = %q, want c1", got)
		}
	})

	t.Run("applies pending logout", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.setUpState("c1", queue.StateOffered)
		f.setState("c1", queue.StateLoggedOut, "", at(13))

		f.cancel(queue.Reservation{CallID: "call-c1", CounselorID: "c1", Queue: mainQueue, At: reserveTime}, at(14))

		c := f.requireState("c1", queue.StateLoggedOut)
		if c.LogoutAfterCall {
			t.Error("LogoutAfterCall still set after the logout took effect")
		}
	})

	t.Run("unknown counselor", func(t *testing.T) {
		f := newFixture(t, newStore)
		err := f.store.CancelReservation(t.Context(), queue.Reservation{CallID: "call-1", CounselorID: "nobody"}, at(1))
		requireErrorIs(t, err, queue.ErrUnknownCounselor)
	})
}

func testConnect(t *testing.T, newStore func(t *testing.T) queue.Store) {
	t.Run("puts counselor on call", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.login("c1", at(1))
		f.enqueue(mainQueue, "call-1", 0, at(5))
		f.enqueue(mainQueue, "call-2", 0, at(6))
		r := f.reserve("call-1", at(7))

		f.connect(r, at(8))

		c := f.requireState("c1", queue.StateOnCall)
		if c.CallID != "call-1" {
			t.Errorf("CallID = %q, want call-1", c.CallID)
		}
		if c.OfferCallID != "" {
			t.Errorf("OfferCallID = %q, want empty", c.OfferCallID)
		}
		_, err := f.store.Position(t.Context(), "call-1")
		requireErrorIs(t, err, queue.ErrNotWaiting)
		position, err := f.store.Position(t.Context(), "call-2")
		if err != nil {
			t.Fatalf("Position(call-2): %v", err)
		}
		if position != 1 {
			t.Errorf("Position(call-2) = %d, want 1", position)
		}
	})

	t.Run("repeated connect succeeds", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.login("c1", at(1))
		f.enqueue(mainQueue, "call-1", 0, at(5))
		r := f.reserve("call-1", at(7))
		f.connect(r, at(8))

		f.connect(r, at(9))

		f.requireState("c1", queue.StateOnCall)
	})

	t.Run("caller left", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.login("c1", at(1))
		f.enqueue(mainQueue, "call-1", 0, at(5))
		r := f.reserve("call-1", at(7))
		f.leave("call-1")

		err := f.store.Connect(t.Context(), r, at(8))

		requireErrorIs(t, err, queue.ErrReservationLost)
		c := f.requireState("c1", queue.StateAvailable)
		if !c.IdleSince.Equal(at(1)) {
			t.Errorf("IdleSince = %v, want %v", c.IdleSince, at(1))
		}
		if c.CallID != "" {
			t.Errorf("CallID = %q, want empty", c.CallID)
		}
		if got := f.waiting(mainQueue); len(got) != 0 {
			t.Errorf("caller back in queue after lost reservation: %v", callIDs(got))
		}
	})

	t.Run("caller left with logout pending", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.setUpState("c1", queue.StateOffered)
		f.setState("c1", queue.StateLoggedOut, "", at(13))
		f.leave("call-c1")

		err := f.store.Connect(t.Context(), queue.Reservation{CallID: "call-c1", CounselorID: "c1"}, at(14))

		requireErrorIs(t, err, queue.ErrReservationLost)
		f.requireState("c1", queue.StateLoggedOut)
	})

	t.Run("after cancel", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.login("c1", at(1))
		f.enqueue(mainQueue, "call-1", 0, at(5))
		r := f.reserve("call-1", at(7))
		f.cancel(r, at(8))

		err := f.store.Connect(t.Context(), r, at(9))

		requireErrorIs(t, err, queue.ErrReservationLost)
		f.requireState("c1", queue.StateAvailable)
		if got := f.waitingCaller(mainQueue, "call-1").OfferedTo; got != "" {
			t.Errorf("OfferedTo = %q, want empty", got)
		}
	})

	t.Run("leaves newer offer alone", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.login("c1", at(1))
		f.enqueue(mainQueue, "call-1", 0, at(5))
		f.enqueue(mainQueue, "call-2", 0, at(6))
		old := f.reserve("call-1", at(7))
		f.cancel(old, at(8))
		f.reserve("call-2", at(9))

		err := f.store.Connect(t.Context(), old, at(10))

		requireErrorIs(t, err, queue.ErrReservationLost)
		c := f.requireState("c1", queue.StateOffered)
		if c.OfferCallID != "call-2" {
			t.Errorf("OfferCallID = %q, want call-2", c.OfferCallID)
		}
		if got := f.waitingCaller(mainQueue, "call-1").OfferedTo; got != "" {
			t.Errorf("call-1 OfferedTo = %q, want empty", got)
		}
	})

	t.Run("unknown counselor", func(t *testing.T) {
		f := newFixture(t, newStore)
		err := f.store.Connect(t.Context(), queue.Reservation{CallID: "call-1", CounselorID: "nobody"}, at(1))
		requireErrorIs(t, err, queue.ErrUnknownCounselor)
	})
}
