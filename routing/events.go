package routing

import (
	"strconv"

	"helpline/events"
	"helpline/queue"
)

// Keys of events.Event.Data that the distributor sets.
const (
	dataOutcome = "outcome"
	dataStatus  = "status"
)

// publishOffered reports that r's counselor is being rung for r's caller.
func (d *Distributor) publishOffered(r queue.Reservation) {
	d.events.Publish(events.Event{Type: events.Offered, CallID: r.CallID, CounselorID: r.CounselorID, Queue: d.queue})
}

// publishOfferFailed reports an offer that the counselor's phone did not
// take: ring_no_answer after the ring timeout, offer_rejected for a busy,
// declined or unreachable phone. An answered offer is reported by the call
// layer as connected, and an offer ended because the caller left is part of
// the caller's abandoned event, so neither is published here.
func (d *Distributor) publishOfferFailed(r queue.Reservation, result OfferResult) {
	var eventType events.Type
	switch result.Outcome {
	case Answered, CallerGone:
		return
	case NoAnswer:
		eventType = events.RingNoAnswer
	default:
		eventType = events.OfferRejected
	}

	outcome := result.Outcome
	if outcome == 0 {
		outcome = Unavailable
	}
	d.events.Publish(events.Event{
		Type:        eventType,
		CallID:      r.CallID,
		CounselorID: r.CounselorID,
		Queue:       d.queue,
		Data:        map[string]string{dataOutcome: outcome.String(), dataStatus: strconv.Itoa(result.Status)},
	})
}
