package routing

import (
	"fmt"

	"helpline/queue"
)

// repeatedConfirm returns the result of a Confirm after the first: the
// first result for the same counselor, and ErrAnsweredElsewhere for another
// counselor of a ring-all offer, whose leg must be hung up.
func repeatedConfirm(o *offer, counselorID string) error {
	if counselorID == o.confirmedBy {
		return o.confirmErr
	}
	return fmt.Errorf("confirm offer of caller %s to counselor %s: %s answered first, hang up: %w",
		o.reservation.CallID, counselorID, o.confirmedBy, ErrAnsweredElsewhere)
}

// answeredBy returns r with counselorID as the counselor to connect, or r
// unchanged when counselorID is empty. A counselor that r does not hold is
// kept too, so that Store.Connect rejects it with queue.ErrReservationLost.
func answeredBy(r queue.Reservation, counselorID string) queue.Reservation {
	if counselorID == "" {
		return r
	}
	r.CounselorID = counselorID
	return r
}
