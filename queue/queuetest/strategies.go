package queuetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"helpline/queue"
)

// reserveWith reserves a counselor for callID with a strategy and candidate
// list, and fails the test on error.
func (f fixture) reserveWith(callID string, now time.Time, strategy queue.Strategy, candidates ...queue.Candidate) queue.Reservation {
	f.t.Helper()
	req := queue.ReserveRequest{CallID: callID, Now: now, Strategy: strategy, Candidates: candidates}
	r, err := f.store.Reserve(f.t.Context(), req)
	if err != nil {
		f.t.Fatalf("Reserve(%s, %s): %v", callID, strategy, err)
	}
	return r
}

// serve reserves, connects and finishes one call for callID with strategy,
// and returns the counselor who took it. The call ends without wrap-up.
func (f fixture) serve(queueName, callID string, now time.Time, strategy queue.Strategy) string {
	f.t.Helper()
	f.enqueue(queueName, callID, 0, now)
	r := f.reserveWith(callID, now, strategy)
	f.connect(r, now)
	f.finishCall(r.CounselorID, now, now)
	return r.CounselorID
}

func testStrategies(t *testing.T, newStore func(t *testing.T) queue.Store) {
	t.Run("round robin rotates by ID", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.login("c2", at(1))
		f.login("c1", at(3))
		f.login("c3", at(2))

		var got []string
		for i := range 4 {
			got = append(got, f.serve(mainQueue, "call-"+string(rune('a'+i)), at(10+i), queue.StrategyRoundRobin))
		}
		if want := []string{"c1", "c2", "c3", "c1"}; !slices.Equal(got, want) {
			t.Errorf("round robin order = %v, want %v", got, want)
		}
	})

	t.Run("round robin skips busy counselors", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.login("c1", at(1))
		f.login("c2", at(1))
		f.login("c3", at(1))
		f.enqueue(mainQueue, "call-1", 0, at(2))
		f.enqueue(mainQueue, "call-2", 0, at(3))

		first := f.reserveWith("call-1", at(4), queue.StrategyRoundRobin)
		f.setState("c2", queue.StateBreak, "meal", at(4))
		second := f.reserveWith("call-2", at(5), queue.StrategyRoundRobin)

		if first.CounselorID != "c1" || second.CounselorID != "c3" {
			t.Errorf("round robin chose %s then %s, want c1 then c3", first.CounselorID, second.CounselorID)
		}
	})

	t.Run("round robin keeps a pointer per queue", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.login("c1", at(1))
		f.login("c2", at(1))

		main := f.serve(mainQueue, "call-1", at(2), queue.StrategyRoundRobin)
		other := f.serve(otherQueue, "call-2", at(3), queue.StrategyRoundRobin)
		if main != "c1" || other != "c1" {
			t.Errorf("first offers of two queues went to %s and %s, want c1 for both", main, other)
		}
	})

	t.Run("fewest calls today", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.login("busy", at(1))
		f.login("quiet", at(2))
		f.serve(mainQueue, "call-1", at(3), queue.StrategyLongestIdle)
		f.serve(mainQueue, "call-2", at(4), queue.StrategyLongestIdle)
		f.serve(mainQueue, "call-3", at(5), queue.StrategyLongestIdle)

		if c := f.counselor("busy"); c.AnsweredToday != 2 || c.AnsweredDay != answeredDate(at(5)) {
			t.Fatalf("busy answered %d calls on %q, want 2 on %s", c.AnsweredToday, c.AnsweredDay, answeredDate(at(5)))
		}
		if got := f.serve(mainQueue, "call-4", at(6), queue.StrategyFewestCalls); got != "quiet" {
			t.Errorf("fewest calls chose %s, want quiet (1 call against 2)", got)
		}
	})

	t.Run("fewest calls starts again each day", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.login("yesterday", at(1))
		f.login("today", at(2))
		f.serve(mainQueue, "call-1", at(3), queue.StrategyLongestIdle)
		f.serve(mainQueue, "call-2", at(4), queue.StrategyLongestIdle)
		f.serve(mainQueue, "call-3", at(5), queue.StrategyLongestIdle)
		nextDay := at(5).Add(24 * time.Hour)
		f.serve(mainQueue, "call-4", nextDay, queue.StrategyFewestCalls)

		c := f.counselor("today")
		if c.AnsweredToday != 1 || c.AnsweredDay != answeredDate(nextDay) {
			t.Errorf("today answered %d on %q, want 1 on %s", c.AnsweredToday, c.AnsweredDay, answeredDate(nextDay))
		}
	})

	t.Run("skills prefer the highest level", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.login("novice", at(1))
		f.login("expert", at(5))
		f.login("outsider", at(0))
		f.enqueue(mainQueue, "call-1", 0, at(6))

		r := f.reserveWith("call-1", at(7), queue.StrategySkills,
			queue.Candidate{ID: "novice", Level: 2}, queue.Candidate{ID: "expert", Level: 5})
		if r.CounselorID != "expert" {
			t.Errorf("skills chose %s, want expert", r.CounselorID)
		}
	})

	t.Run("candidates limit the offer", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.login("c1", at(1))
		f.login("c2", at(2))
		f.enqueue(mainQueue, "call-1", 0, at(3))

		r := f.reserveWith("call-1", at(4), queue.StrategyLongestIdle, queue.Candidate{ID: "c2"})
		if r.CounselorID != "c2" {
			t.Errorf("Reserve with candidate c2 chose %s", r.CounselorID)
		}

		f.enqueue(mainQueue, "call-2", 0, at(5))
		_, err := f.store.Reserve(t.Context(), queue.ReserveRequest{
			CallID: "call-2", Now: at(6), Candidates: []queue.Candidate{{ID: "c2"}},
		})
		requireErrorIs(t, err, queue.ErrNoCounselor)
		f.requireState("c1", queue.StateAvailable)
	})

	t.Run("unknown strategy", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.login("c1", at(1))
		f.enqueue(mainQueue, "call-1", 0, at(2))

		_, err := f.store.Reserve(t.Context(), queue.ReserveRequest{CallID: "call-1", Now: at(3), Strategy: "loudest"})
		requireErrorIs(t, err, queue.ErrUnknownStrategy)
		f.requireState("c1", queue.StateAvailable)
	})

	t.Run("answered count survives state changes", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.login("c1", at(1))
		f.serve(mainQueue, "call-1", at(2), queue.StrategyLongestIdle)
		f.setState("c1", queue.StateBreak, "meal", at(3))
		f.setState("c1", queue.StateLoggedOut, "", at(4))

		if got := f.counselor("c1").AnsweredToday; got != 1 {
			t.Errorf("AnsweredToday after break and logout = %d, want 1", got)
		}
	})
}

// answeredDate is the day key Connect uses for now.
func answeredDate(now time.Time) string {
	return now.Format(time.DateOnly)
}

func testRingAll(t *testing.T, newStore func(t *testing.T) queue.Store) {
	t.Run("reserves every candidate", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.setUpState("busy", queue.StateOnCall)
		f.login("c1", at(2))
		f.login("c2", at(1))
		f.enqueue(mainQueue, "call-1", 0, at(3))

		r := f.reserveWith("call-1", at(4), queue.StrategyRingAll)

		if want := []string{"c2", "c1"}; !slices.Equal(r.Ringing, want) || r.CounselorID != "c2" {
			t.Errorf("ring all reservation = %+v, want Ringing %v led by c2", r, want)
		}
		for _, id := range []string{"c1", "c2"} {
			if c := f.requireState(id, queue.StateOffered); c.OfferCallID != "call-1" {
				t.Errorf("%s OfferCallID = %q, want call-1", id, c.OfferCallID)
			}
		}
		caller := f.waitingCaller(mainQueue, "call-1")
		if caller.OfferedTo != "c2" || !slices.Equal(caller.OfferedToAll, []string{"c2", "c1"}) {
			t.Errorf("caller offer marks = %q %v, want c2 [c2 c1]", caller.OfferedTo, caller.OfferedToAll)
		}
	})

	t.Run("first answer connects and frees the others", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.login("c1", at(1))
		f.login("c2", at(2))
		f.login("c3", at(3))
		f.enqueue(mainQueue, "call-1", 0, at(4))
		r := f.reserveWith("call-1", at(5), queue.StrategyRingAll)

		winner := r
		winner.CounselorID = "c2"
		f.connect(winner, at(6))

		if c := f.requireState("c2", queue.StateOnCall); c.CallID != "call-1" {
			t.Errorf("c2 CallID = %q, want call-1", c.CallID)
		}
		for id, idle := range map[string]time.Time{"c1": at(1), "c3": at(3)} {
			if c := f.requireState(id, queue.StateAvailable); !c.IdleSince.Equal(idle) {
				t.Errorf("%s IdleSince = %v, want %v kept", id, c.IdleSince, idle)
			}
		}
		if got := f.waiting(mainQueue); len(got) != 0 {
			t.Errorf("Waiting after connect = %v, want empty", callIDs(got))
		}

		late := r
		late.CounselorID = "c3"
		err := f.store.Connect(t.Context(), late, at(7))
		requireErrorIs(t, err, queue.ErrReservationLost)
		f.requireState("c3", queue.StateAvailable)
	})

	t.Run("cancel frees every ringing counselor", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.login("c1", at(1))
		f.login("c2", at(2))
		f.enqueue(mainQueue, "call-1", 0, at(3))
		r := f.reserveWith("call-1", at(4), queue.StrategyRingAll)

		f.cancel(r, at(5))

		f.requireState("c1", queue.StateAvailable)
		f.requireState("c2", queue.StateAvailable)
		caller := f.waitingCaller(mainQueue, "call-1")
		if caller.OfferedTo != "" || caller.OfferedToAll != nil {
			t.Errorf("caller offer marks after cancel = %q %v, want none", caller.OfferedTo, caller.OfferedToAll)
		}
	})
}

func testOneOfferAcrossQueues(t *testing.T, newStore func(t *testing.T) queue.Store) {
	f := newFixture(t, newStore)
	f.login("shared", at(1))
	f.enqueue(mainQueue, "call-main", 0, at(2))
	f.enqueue(otherQueue, "call-other", 0, at(3))

	r := f.reserveWith("call-main", at(4), queue.StrategyRingAll)
	if r.CounselorID != "shared" {
		t.Fatalf("Reserve chose %s, want shared", r.CounselorID)
	}
	for _, strategy := range queue.Strategies {
		_, err := f.store.Reserve(t.Context(), queue.ReserveRequest{CallID: "call-other", Now: at(5), Strategy: strategy})
		if err == nil {
			t.Fatalf("%s reserved the shared counselor for a second queue while offered", strategy)
		}
		requireErrorIs(t, err, queue.ErrNoCounselor)
	}
}

func testSetPriority(t *testing.T, newStore func(t *testing.T) queue.Store) {
	t.Run("keeps the wait and moves ahead", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.enqueue(mainQueue, "early", 0, at(1))
		f.enqueue(mainQueue, "late", 0, at(2))
		f.enqueue(mainQueue, "urgent", 5, at(3))

		got, err := f.store.SetPriority(t.Context(), "late", 5)
		if err != nil {
			t.Fatalf("SetPriority: %v", err)
		}

		if got.Priority != 5 || !got.EnqueuedAt.Equal(at(2)) {
			t.Errorf("SetPriority returned priority %d enqueued %v, want 5 and %v", got.Priority, got.EnqueuedAt, at(2))
		}
		if order := callIDs(f.waiting(mainQueue)); !slices.Equal(order, []string{"late", "urgent", "early"}) {
			t.Errorf("Waiting order = %v, want [late urgent early]", order)
		}
		if position, err := f.store.Position(t.Context(), "late"); err != nil || position != 1 {
			t.Errorf("Position(late) = %d, %v, want 1", position, err)
		}
	})

	t.Run("keeps an offer out", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.login("c1", at(1))
		f.enqueue(mainQueue, "call-1", 0, at(2))
		r := f.reserve("call-1", at(3))

		if _, err := f.store.SetPriority(t.Context(), "call-1", 1); err != nil {
			t.Fatalf("SetPriority: %v", err)
		}
		if got := f.waitingCaller(mainQueue, "call-1").OfferedTo; got != "c1" {
			t.Errorf("OfferedTo = %q, want c1 kept", got)
		}
		f.connect(r, at(4))
	})

	t.Run("caller not waiting", func(t *testing.T) {
		f := newFixture(t, newStore)
		_, err := f.store.SetPriority(t.Context(), "nobody", 1)
		requireErrorIs(t, err, queue.ErrNotWaiting)
	})

	t.Run("cancelled context", func(t *testing.T) {
		f := newFixture(t, newStore)
		f.enqueue(mainQueue, "call-1", 0, at(1))
		_, err := f.store.SetPriority(cancelledContext(t), "call-1", 3)
		requireErrorIs(t, err, context.Canceled)
		if got := f.waitingCaller(mainQueue, "call-1").Priority; got != 0 {
			t.Errorf("priority after a cancelled SetPriority = %d, want 0", got)
		}
	})
}
