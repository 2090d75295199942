package routing

import "helpline/queue"

// answeredBy returns r with counselorID as the counselor to connect. A
// counselor that r does not hold is kept too, so that Store.Connect rejects
// it with queue.ErrReservationLost.
func answeredBy(r queue.Reservation, counselorID string) queue.Reservation {
	if counselorID == "" {
		return r
	}
	r.CounselorID = counselorID
	return r
}
