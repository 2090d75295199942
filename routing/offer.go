package routing

import (
	"context"
	"errors"
	"fmt"

	"helpline/queue"
)

// OfferOutcome is the way an offer to a counselor ended.
type OfferOutcome int

// Offer outcomes. The zero value is not a valid outcome, and the
// Distributor treats it as Unavailable.
const (
	// Answered means the counselor answered, Confirm returned nil and the
	// Offerer bridged the caller.
	Answered OfferOutcome = iota + 1
	// NoAnswer means the phone rang until the ring timeout.
	NoAnswer
	// Busy means the phone rejected the call as busy (486 or 600).
	Busy
	// Declined means the counselor rejected the call (603).
	Declined
	// Unavailable means the phone could not be reached: 480, 404, 408,
	// another error response, or a transport error.
	Unavailable
	// CallerGone means the caller left during the offer, so the Offerer
	// cancelled the ringing phone or hung it up after Confirm failed.
	CallerGone
	// ServerError means the server could not make the offer, for example
	// because no RTP port was free. The counselor is not at fault, so the
	// offer is no miss, and the caller stays in the queue.
	ServerError
)

// String returns the outcome's name for logs.
func (o OfferOutcome) String() string {
	switch o {
	case Answered:
		return "answered"
	case NoAnswer:
		return "no_answer"
	case Busy:
		return "busy"
	case Declined:
		return "declined"
	case Unavailable:
		return "unavailable"
	case CallerGone:
		return "caller_gone"
	case ServerError:
		return "server_error"
	default:
		return fmt.Sprintf("unknown(%d)", int(o))
	}
}

// SIP status codes that OutcomeForStatus treats apart from their class.
const (
	statusClassSuccess = 2 // 2xx, status / 100

	statusBusyHere          = 486
	statusRequestTerminated = 487
	statusBusyEverywhere    = 600
	statusDecline           = 603
)

// OutcomeForStatus maps the final SIP response status of the counselor's
// INVITE to an outcome. 487 Request Terminated follows the distributor's own
// CANCEL at the ring timeout, so it maps to NoAnswer. An Offerer that
// cancelled because its context ended reports CallerGone itself instead.
// Every other status, 404, 408 and 480 included, maps to Unavailable, and
// so do the provisional codes below 200, which are not final.
func OutcomeForStatus(status int) OfferOutcome {
	switch {
	case status/100 == statusClassSuccess:
		return Answered
	case status == statusBusyHere || status == statusBusyEverywhere:
		return Busy
	case status == statusDecline:
		return Declined
	case status == statusRequestTerminated:
		return NoAnswer
	default:
		return Unavailable
	}
}

// OfferResult is the return value of Offerer.Offer.
type OfferResult struct {
	// Outcome is the way the offer ended.
	Outcome OfferOutcome
	// Err is the cause of a failed offer, such as a transport error, for
	// the log. It may be nil.
	Err error
	// Status is the final SIP status of the counselor's INVITE, or 0 when
	// none arrived (ring timeout, transport error, no registered phone).
	Status int
}

// OfferRequest is one offer for the Offerer to make.
type OfferRequest struct {
	// Reservation names the caller and the counselor to ring.
	Reservation queue.Reservation
	// Confirm commits the reservation in the store. The Offerer calls it
	// once, when the counselor's phone answers and before bridging the
	// caller. A nil error means the caller is now connected to the
	// counselor. Any error, queue.ErrReservationLost when the caller left,
	// means no caller will be bridged: the Offerer must hang up the
	// counselor leg with BYE and return CallerGone. Later calls return the
	// first result, and calls after Offer returned fail with ErrOfferEnded.
	Confirm func() error
	// ConfirmCounselor is Confirm for a reservation that rings several
	// counselors (Reservation.Ringing is not empty): it names the
	// counselor who answered first. It shares Confirm's single use, so
	// only the first answer is connected. A later call for the same
	// counselor returns the first result, and one for another counselor
	// returns ErrAnsweredElsewhere: the Offerer must hang that leg up.
	// For a single counselor it behaves as Confirm when given
	// Reservation.CounselorID.
	ConfirmCounselor func(counselorID string) error
}

// Offerer rings counselors. package sip implements it.
type Offerer interface {
	// Offer rings the reserved counselor for the reserved caller and blocks
	// until the counselor answers and the caller is bridged, or the offer
	// fails. The Offerer applies its own ring timeout and reports NoAnswer
	// when it expires.
	//
	// ctx ends when the caller left the queue, with cause ErrCallerLeft, or
	// when the distributor stops. The Offerer then cancels the ringing phone
	// and returns promptly. After a successful Confirm the call belongs to
	// the call layer, which calls queue.Store.FinishCall when it ends, so an
	// ended ctx must not end a bridged call.
	Offer(ctx context.Context, req OfferRequest) OfferResult
}

var (
	// ErrCallerLeft is the cause of an Offer context that ended because
	// the caller left the queue during the offer.
	ErrCallerLeft = errors.New("caller left the queue during the offer")
	// ErrOfferEnded is returned by Confirm when called after Offer
	// returned. The counselor leg must be hung up.
	ErrOfferEnded = errors.New("offer already ended")
	// ErrAnsweredElsewhere is returned by ConfirmCounselor for a ring-all
	// offer that another counselor answered first. The leg of the counselor
	// named in the call must be hung up.
	ErrAnsweredElsewhere = errors.New("another counselor answered first")
	// ErrAlreadyRunning is returned by Run when the Distributor's loop is
	// already running. Create one Distributor per loop.
	ErrAlreadyRunning = errors.New("distributor already running")
)
