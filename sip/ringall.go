package sip

import (
	"context"
	"errors"

	"helpline/routing"
)

// reasonCompletedElsewhere is the Reason header (RFC 3326) of the CANCEL
// sent to the phones that lost a ring-all offer. Phones then do not show a
// missed call.
const reasonCompletedElsewhere = `SIP;cause=200;text="Call completed elsewhere"`

// errCompletedElsewhere is the cause of the ring context of the phones
// that lost a ring-all offer: another counselor answered.
var errCompletedElsewhere = errors.New("call completed elsewhere")

// cancelReasonFor returns the Reason header value of a CANCEL sent because
// ctx ended, or "" for none.
func cancelReasonFor(ctx context.Context) string {
	if errors.Is(context.Cause(ctx), errCompletedElsewhere) {
		return reasonCompletedElsewhere
	}
	return ""
}

// forkResult is the outcome of one phone of a ring-all offer.
type forkResult struct {
	counselorID string
	dial        dialOutcome
}

// offerAll rings every reserved counselor of a ring-all reservation at
// once.
//
// NOTE: the store releases the reservation only when the whole offer ends,
// so a phone that rejects early stays offered until the others finish. The first phone to answer is confirmed and bridged; the others get
// CANCEL with reasonCompletedElsewhere, and a phone whose 200 OK arrives
// anyway is acknowledged and sent BYE. It returns once every phone is
// settled.
func (c *call) offerAll(ctx context.Context, req routing.OfferRequest) routing.OfferResult {
	r := req.Reservation
	ringCtx, stopRing := context.WithCancelCause(ctx)
	defer stopRing(nil)
	stopWatch := context.AfterFunc(c.ctx, func() { stopRing(nil) })
	defer stopWatch()

	log := c.log.With().Strs("counselors", r.Ringing).Logger()
	log.Info().Msg("ringing every counselor at once")
	results := make(chan forkResult, len(r.Ringing))
	for _, id := range r.Ringing {
		c.srv.spawn(func() { results <- forkResult{counselorID: id, dial: c.dialCounselor(ringCtx, id)} })
	}

	var (
		// settled is set by the first answer, whether it was connected.
		settled   bool
		connected bool
		failure   = routing.OfferResult{Outcome: routing.NoAnswer}
	)
	for range r.Ringing {
		fork := <-results
		switch {
		case fork.dial.outcome != routing.Answered:
			c.log.Info().Str("counselor", fork.counselorID).Str("outcome", fork.dial.outcome.String()).
				Int("status", fork.dial.status).AnErr("reason", fork.dial.err).Msg("offer not taken")
			if fork.dial.outcome != routing.NoAnswer && fork.dial.outcome != routing.CallerGone {
				failure = routing.OfferResult{Outcome: fork.dial.outcome, Err: fork.dial.err}
			}
		case !settled:
			settled = true
			connected = c.takeFirstAnswer(fork, req)
			if connected {
				stopRing(errCompletedElsewhere)
			} else {
				stopRing(nil)
				hangUpUnused(fork.dial.leg)
			}
		default:
			c.log.Info().Str("counselor", fork.counselorID).Msg("later answer of a ring-all offer, hanging it up")
			hangUpUnused(fork.dial.leg)
		}
	}

	switch {
	case connected:
		return routing.OfferResult{Outcome: routing.Answered}
	case settled, c.ctx.Err() != nil, ctx.Err() != nil:
		return routing.OfferResult{Outcome: routing.CallerGone}
	default:
		return failure
	}
}

// hangUpUnused ends an answered leg that no caller will be bridged to.
func hangUpUnused(leg *outboundLeg) {
	leg.byeDetached()
	leg.release()
}

// takeFirstAnswer confirms the first answered phone of a ring-all offer and
// bridges it, and reports whether it did. A phone that cannot be confirmed,
// because the caller left, must be hung up by the caller of this method.
func (c *call) takeFirstAnswer(fork forkResult, req routing.OfferRequest) bool {
	if c.ctx.Err() != nil {
		return false
	}
	if err := req.ConfirmCounselor(fork.counselorID); err != nil {
		c.log.Info().Err(err).Str("counselor", fork.counselorID).Msg("answer not confirmed")
		return false
	}
	c.log.Info().Str("counselor", fork.counselorID).Msg("first answer of a ring-all offer, cancelling the other phones")
	c.connect(fork.dial.leg, fork.counselorID)
	return true
}

// dialCounselor rings one counselor's registered phone for this caller.
func (c *call) dialCounselor(ctx context.Context, counselorID string) dialOutcome {
	binding, ok := c.srv.registrar.Lookup(counselorID)
	if !ok {
		return dialOutcome{outcome: routing.Unavailable, err: errors.New("counselor has no registered phone")}
	}
	log := c.log.With().Str("counselor", counselorID).Logger()
	dr := dialRequest{
		toUser:      counselorID,
		codec:       c.codec,
		ringTimeout: c.srv.opts.RingTimeout,
		events:      c,
		log:         log,
	}
	if err := dr.reach(binding); err != nil {
		return dialOutcome{outcome: routing.Unavailable, err: err}
	}
	log.Info().Str("destination", dr.destination).Msg("ringing counselor")
	return c.srv.dial(ctx, dr)
}
