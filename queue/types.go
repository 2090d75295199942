package queue

import (
	"maps"
	"slices"
	"time"
)

// CounselorState is the place of a counselor in the distributor's state
// machine.
type CounselorState string

// Counselor states.
const (
	// StateLoggedOut is a known counselor who takes no calls.
	StateLoggedOut CounselorState = "logged_out"
	// StateAvailable is a counselor waiting for the next offer.
	StateAvailable CounselorState = "available"
	// StateOffered is a counselor whose phone rings for one reserved caller.
	StateOffered CounselorState = "offered"
	// StateOnCall is a counselor talking to a caller.
	StateOnCall CounselorState = "on_call"
	// StateWrapUp is a counselor finishing notes after a call. Reserve
	// treats the counselor as available once WrapUpUntil has passed.
	StateWrapUp CounselorState = "wrap_up"
	// StateBreak is a logged-in counselor who takes no calls for a while.
	StateBreak CounselorState = "break"
)

// Caller is a call waiting in a queue for a counselor.
type Caller struct {
	// CallID identifies the caller's call. It is unique across all queues.
	CallID string
	// Queue is the name of the queue the caller waits in.
	Queue string
	// Priority orders callers in a queue: a higher priority is served first.
	Priority int
	// EnqueuedAt is when the caller joined the queue. Among callers of equal
	// priority, the earliest is served first.
	EnqueuedAt time.Time
	// Attributes are call attributes set by the IVR, such as language and
	// caller_type.
	Attributes map[string]string
	// OfferedTo is the ID of the counselor whose phone rings for this caller,
	// or "" while no offer is out. The store sets it, and Enqueue ignores
	// any value given.
	OfferedTo string
	// Kind separates a caller on the line from a callback task that waits
	// for its turn. The zero value is KindCall.
	Kind Kind
	// OfferedToAll lists every counselor ringing for this caller under
	// StrategyRingAll, OfferedTo first. It is nil for a single offer.
	OfferedToAll []string
	// Node is the node holding the caller's call and media. Enqueue keeps
	// the given value: the SIP layer leaves it empty, and a store shared
	// by several nodes stamps its own node ID when it is empty.
	// MemoryStore just stores it.
	Node string
}

// Kind is the sort of entry a Caller is.
type Kind string

// Caller kinds.
const (
	// KindCall is a caller waiting on the line. It is the zero value's
	// meaning, so "" and "call" are the same kind.
	KindCall Kind = "call"
	// KindCallback is a callback task: nobody is on the line, and the
	// server dials the caller back once a counselor answered the offer.
	KindCallback Kind = "callback"
)

// IsCallback reports whether the entry is a callback task.
func (c Caller) IsCallback() bool { return c.Kind == KindCallback }

// clone returns a copy of c that shares no map with it.
func (c Caller) clone() Caller {
	c.Attributes = maps.Clone(c.Attributes)
	c.OfferedToAll = slices.Clone(c.OfferedToAll)
	return c
}

// Counselor is the distributor's view of one counselor.
type Counselor struct {
	// ID is the counselor's ID, the SIP user name of their softphone.
	ID string
	// State is the counselor's current state.
	State CounselorState
	// Reason is the counselor's reason for a break. It is empty in other
	// states.
	Reason string
	// IdleSince is when the counselor last became free to take a call.
	// Reserve offers the caller to the counselor with the earliest value.
	IdleSince time.Time
	// WrapUpUntil is when the counselor's wrap-up time ends. It is zero
	// outside wrap_up.
	WrapUpUntil time.Time
	// OfferCallID is the call ID of the caller offered to the counselor
	// while in state offered, else "".
	OfferCallID string
	// CallID is the call ID of the caller connected to the counselor while
	// in state on_call, else "".
	CallID string
	// LogoutAfterCall records a logout requested while the counselor was
	// offered or on a call. The counselor becomes logged_out when that offer
	// fails or that call ends, never in the middle of a call.
	LogoutAfterCall bool
	// Since is when the counselor entered State. Setting a counselor to
	// the state it is in keeps Since.
	Since time.Time
	// AnsweredToday counts the calls Connect gave the counselor on the day
	// AnsweredDay, across all queues.
	AnsweredToday int
	// AnsweredDay is the date (YYYY-MM-DD, in the location of the time
	// passed to Connect) that AnsweredToday counts.
	AnsweredDay string
}

// Offerable reports whether Reserve may offer a caller to c at now: c is
// available, or in wrap_up with WrapUpUntil at or before now.
func (c Counselor) Offerable(now time.Time) bool {
	switch c.State {
	case StateAvailable:
		return true
	case StateWrapUp:
		return !c.WrapUpUntil.After(now)
	default:
		return false
	}
}

// Reservation ties one waiting caller to one offered counselor.
type Reservation struct {
	// CallID is the reserved caller's call ID.
	CallID string
	// CounselorID is the reserved counselor's ID.
	CounselorID string
	// Queue is the queue the caller waits in.
	Queue string
	// At is the time of the Reserve request that made the reservation.
	At time.Time
	// Ringing lists every counselor reserved under StrategyRingAll, in the
	// strategy's order. CounselorID is the first of them at Reserve. To
	// connect the one who answered, pass the reservation to Connect with
	// CounselorID set to that counselor. It is nil for a single offer.
	Ringing []string
}

// Counselors returns the counselors r holds: Ringing, or CounselorID alone.
func (r Reservation) Counselors() []string {
	if len(r.Ringing) > 0 {
		return r.Ringing
	}
	return []string{r.CounselorID}
}

// ReserveRequest is the input of Store.Reserve.
type ReserveRequest struct {
	// CallID is the waiting caller to reserve a counselor for.
	CallID string
	// Exclude lists counselor IDs not to offer this caller now, such as
	// counselors who did not answer this caller before.
	Exclude []string
	// Now is the current time. It decides which wrap-up times have ended
	// and becomes Reservation.At.
	Now time.Time
	// Strategy picks among the candidates. Empty means
	// StrategyLongestIdle.
	Strategy Strategy
	// Candidates, when not empty, limits the offer to these counselors
	// and gives their skill levels. Empty allows every counselor.
	Candidates []Candidate
}
