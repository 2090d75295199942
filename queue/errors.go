package queue

import (
	"errors"
	"fmt"
)

var (
	// ErrAlreadyQueued is returned by Enqueue for a call ID that is
	// already waiting in a queue.
	ErrAlreadyQueued = errors.New("caller already queued")
	// ErrNotWaiting is returned for a call ID that is not waiting in any
	// queue: it was never queued, it left, or it was connected.
	ErrNotWaiting = errors.New("caller not waiting")
	// ErrOfferPending is returned by Reserve for a caller whose phone offer
	// to a counselor is still out.
	ErrOfferPending = errors.New("offer already pending for caller")
	// ErrNoCounselor is returned by Reserve when no counselor outside the
	// exclude list can take an offer now.
	ErrNoCounselor = errors.New("no counselor can take an offer")
	// ErrUnknownCounselor is returned for a counselor ID that AddCounselor
	// never added.
	ErrUnknownCounselor = errors.New("unknown counselor")
	// ErrInvalidTransition is the sentinel matched by a TransitionError: the
	// counselor's state does not allow the requested change.
	ErrInvalidTransition = errors.New("invalid counselor state transition")
	// ErrReservationLost is returned by Connect when the reservation no
	// longer holds, because the caller left or the offer was cancelled. The
	// counselor's phone must be hung up, since no caller will be bridged.
	ErrReservationLost = errors.New("reservation lost")
	// ErrInvalidCaller is returned by Enqueue for a caller without a call ID
	// or a queue name.
	ErrInvalidCaller = errors.New("invalid caller")
	// ErrInvalidCounselor is returned by AddCounselor for an empty
	// counselor ID.
	ErrInvalidCounselor = errors.New("invalid counselor")
	// ErrUnknownStrategy is returned by Reserve for a request whose
	// Strategy is not one of Strategies.
	ErrUnknownStrategy = errors.New("unknown reservation strategy")
)

// TransitionError is a rejected counselor state change. It matches
// ErrInvalidTransition with errors.Is.
type TransitionError struct {
	// CounselorID is the counselor whose state was to change.
	CounselorID string
	// From is the counselor's state when the change was requested.
	From CounselorState
	// To is the requested state.
	To CounselorState
}

// Error names the counselor and both states.
func (e *TransitionError) Error() string {
	return fmt.Sprintf("counselor %s: %s → %s: %v", e.CounselorID, e.From, e.To, ErrInvalidTransition)
}

// Unwrap returns ErrInvalidTransition.
func (e *TransitionError) Unwrap() error {
	return ErrInvalidTransition
}

// Is reports whether target is a TransitionError whose non-empty fields all
// equal e's, so that a test can match only the states it cares about.
func (e *TransitionError) Is(target error) bool {
	other, ok := target.(*TransitionError)
	if !ok {
		return false
	}
	return (other.CounselorID == "" || other.CounselorID == e.CounselorID) &&
		(other.From == "" || other.From == e.From) &&
		(other.To == "" || other.To == e.To)
}
