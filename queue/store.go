package queue

import (
	"context"
	"time"
)

// Store holds the waiting callers and counselor states of the distributor.
//
// Every method is one atomic step, so no other method call observes it half
// done.
// Methods return copies, so changing a returned value never changes the
// store. All times come from the caller of the method, never from a clock
// inside the store, so that several processes sharing one store agree and
// tests control time. Counselors serve every queue, and one counselor has at
// most one offer at a time across all queues.
//
// A method whose context has ended returns an error wrapping the context's
// error and changes nothing.
//
// NOTE: a reservation has no expiry. A process that stops between Reserve and
// Connect or CancelReservation leaves the counselor offered and the caller
// marked as offered until someone cancels that reservation. A store shared by
// several processes implements NodeStore, whose ReclaimNode releases the
// offers of a process that stopped.
type Store interface {
	// Enqueue adds a caller to the end of its queue's priority class with
	// OfferedTo cleared. It returns ErrInvalidCaller when CallID or Queue is
	// empty, and ErrAlreadyQueued when the call ID already waits.
	Enqueue(ctx context.Context, caller Caller) error

	// Leave removes a waiting caller who hung up or left the queue, and
	// returns the caller as it was, OfferedTo included. It returns
	// ErrNotWaiting when the call ID does not wait. A counselor offered to
	// the caller stays offered until CancelReservation, so that the
	// distributor cancels the ringing phone before offering that counselor
	// another caller.
	Leave(ctx context.Context, callID string) (Caller, error)

	// Waiting returns the callers of one queue in service order: priority
	// descending, then EnqueuedAt ascending, then CallID ascending.
	Waiting(ctx context.Context, queue string) ([]Caller, error)

	// Position returns the 1-based place of a caller in its queue's service
	// order, or ErrNotWaiting.
	Position(ctx context.Context, callID string) (int, error)

	// AddCounselor registers a counselor in state logged_out. Adding a known
	// counselor again changes nothing.
	AddCounselor(ctx context.Context, id string, now time.Time) error

	// SetState applies a manual state change, such as a login, a break or a
	// logout. From logged_out, available, break and wrap_up it allows
	// changes to available, break and logged_out, except from logged_out to
	// break. A change to available starts IdleSince at now, but from wrap_up
	// it keeps WrapUpUntil when that is earlier. Setting a counselor to its
	// current state keeps IdleSince, and for break it updates Reason.
	//
	// An offered or on_call counselor set to logged_out keeps its offer or
	// call and gets LogoutAfterCall, so a live call is never dropped. Every
	// other change from offered or on_call, and every change to offered,
	// on_call or wrap_up, is rejected with a TransitionError. An unknown ID
	// returns ErrUnknownCounselor.
	SetState(ctx context.Context, id string, state CounselorState, reason string, now time.Time) error

	// Counselor returns one counselor, or ErrUnknownCounselor.
	Counselor(ctx context.Context, id string) (Counselor, error)

	// Counselors returns every known counselor sorted by ID.
	Counselors(ctx context.Context) ([]Counselor, error)

	// Reserve picks a counselor for a waiting caller and marks both sides.
	//
	// The caller must wait with no offer out, else ErrNotWaiting or
	// ErrOfferPending. Candidates are the counselors that are Offerable at
	// req.Now, not in req.Exclude, and listed in req.Candidates when that is
	// not empty. A wrap_up candidate counts as idle since its WrapUpUntil.
	// req.Strategy picks the winner (see Strategy): by default the earliest
	// IdleSince wins, and ties go to the smaller ID. The winner becomes
	// offered with OfferCallID set, and the caller's OfferedTo becomes its
	// ID. Under StrategyRingAll every candidate becomes offered, and the
	// caller's OfferedToAll and the reservation's Ringing list them all.
	// Without a candidate Reserve returns ErrNoCounselor and changes
	// nothing; an unknown strategy returns ErrUnknownStrategy.
	Reserve(ctx context.Context, req ReserveRequest) (Reservation, error)

	// CancelReservation undoes a reservation whose offer failed: no answer,
	// busy, declined, or the caller left. A counselor still offered for
	// r.CallID becomes available with its IdleSince kept, or logged_out
	// when LogoutAfterCall is set. A caller still waiting with OfferedTo
	// equal to r.CounselorID gets OfferedTo cleared. Other states are left
	// alone, so cancelling twice, or after the counselor got a newer
	// offer, is safe. A ring_all reservation releases every counselor in
	// r.Ringing. It returns ErrUnknownCounselor for an unknown
	// r.CounselorID.
	CancelReservation(ctx context.Context, r Reservation, now time.Time) error

	// Connect commits a reservation once the counselor answered: the
	// counselor becomes on_call with CallID set, and the caller leaves the
	// queue. Connecting a counselor already on_call for r.CallID returns nil.
	// The counselor's AnsweredToday grows by one, and starts again at one
	// on a new day of now. For a ring_all reservation, r.CounselorID is the
	// counselor who answered, and the other counselors still offered for
	// the caller are released as CancelReservation would.
	//
	// When the reservation no longer holds, because the caller left or the
	// offer was cancelled, Connect returns ErrReservationLost and connects
	// nothing. A counselor still offered for r.CallID is then released as
	// CancelReservation would, and the counselor's phone must be hung up.
	Connect(ctx context.Context, r Reservation, now time.Time) error

	// FinishCall ends a counselor's call. The counselor enters wrap_up until
	// wrapUpUntil with IdleSince equal to wrapUpUntil. When wrapUpUntil is
	// not after now, the counselor becomes available at once with IdleSince
	// equal to now. With LogoutAfterCall set the counselor becomes
	// logged_out instead. A counselor not on_call gets a TransitionError.
	FinishCall(ctx context.Context, counselorID string, wrapUpUntil time.Time, now time.Time) error

	// EndWrapUp makes a wrap_up counselor available, with IdleSince equal
	// to now, or to WrapUpUntil when that has already passed. A counselor
	// not in wrap_up gets a TransitionError.
	EndWrapUp(ctx context.Context, counselorID string, now time.Time) error

	// SetPriority changes the priority of a waiting caller and returns the
	// caller as it is now. EnqueuedAt is kept, so the caller keeps its wait
	// and moves ahead of every caller of lower priority. It returns
	// ErrNotWaiting when the call ID does not wait.
	SetPriority(ctx context.Context, callID string, priority int) (Caller, error)
}
