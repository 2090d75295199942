package routing

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"helpline/queue"
)

// offer is one offer in flight.
type offer struct {
	reservation queue.Reservation
	// cancel ends the context the Offerer got.
	cancel context.CancelCauseFunc
	// callerLeft is set by the Run goroutine when the caller left during
	// the offer.
	callerLeft bool

	// mu guards confirmed, confirmErr and ended. Confirm holds it during
	// the store call, so that the offer cannot end half confirmed.
	mu sync.Mutex
	// confirmed is set once Confirm ran, whatever its result.
	confirmed bool
	// confirmErr is the result of Confirm.
	confirmErr error
	// confirmedBy is the counselor the first Confirm named.
	confirmedBy string
	// ended is set when the Run goroutine took the offer's result.
	ended bool
}

// offerDone carries an offer's result from its goroutine to the loop.
type offerDone struct {
	offer  *offer
	result OfferResult
}

// connected reports whether Confirm committed the reservation.
func (o *offer) connected() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.confirmed && o.confirmErr == nil
}

// end marks the offer ended, so that a late Confirm fails, and returns
// whether Confirm ran and its result.
func (o *offer) end() (confirmed bool, confirmErr error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ended = true
	return o.confirmed, o.confirmErr
}

// startOffer hands r to the Offerer in a new goroutine, which sends the
// result to the loop.
func (d *Distributor) startOffer(ctx context.Context, r queue.Reservation) {
	offerCtx, cancel := context.WithCancelCause(ctx)
	o := &offer{reservation: r, cancel: cancel}
	d.offers[r.CallID] = o
	d.offersStarted++
	req := OfferRequest{
		Reservation:      r,
		Confirm:          func() error { return d.confirm(ctx, o, r.CounselorID) },
		ConfirmCounselor: func(counselorID string) error { return d.confirm(ctx, o, counselorID) },
	}

	d.log.Info().Str("call_id", r.CallID).Str("counselor_id", r.CounselorID).Msg("offering caller to counselor")
	d.publishOffered(r)
	d.offerGroup.Go(func() {
		result := d.offerer.Offer(offerCtx, req)
		cancel(nil)
		d.results <- offerDone{offer: o, result: result}
	})
}

// confirm runs Store.Connect for o once, with counselorID as the counselor
// who answered, and returns its result. It runs on the Offerer's goroutine.
func (d *Distributor) confirm(ctx context.Context, o *offer, counselorID string) error {
	o.mu.Lock()
	defer o.mu.Unlock()

	if o.ended {
		return fmt.Errorf("confirm offer of caller %s to counselor %s: hang up the counselor: %w",
			o.reservation.CallID, o.reservation.CounselorID, ErrOfferEnded)
	}
	if o.confirmed {
		return repeatedConfirm(o, counselorID)
	}

	o.confirmed = true
	o.confirmedBy = counselorID
	o.confirmErr = d.connect(ctx, answeredBy(o.reservation, counselorID))
	if o.confirmErr != nil {
		// Connect may have freed the counselor, who can take the next caller.
		d.Notify()
	}
	return o.confirmErr
}

// connect commits r in the store.
func (d *Distributor) connect(ctx context.Context, r queue.Reservation) error {
	callCtx, cancel := detachedContext(ctx)
	defer cancel()
	if err := d.store.Connect(callCtx, r, d.now()); err != nil {
		return fmt.Errorf("confirm offer of caller %s to counselor %s: %w", r.CallID, r.CounselorID, err)
	}
	return nil
}

// finishOffer settles a returned offer in the store and in the caller's
// tried set.
func (d *Distributor) finishOffer(ctx context.Context, done offerDone) {
	o := done.offer
	r := o.reservation
	delete(d.offers, r.CallID)
	confirmed, confirmErr := o.end()
	if confirmed && confirmErr == nil {
		r = answeredBy(r, o.confirmedBy)
	}
	log := d.log.With().Str("call_id", r.CallID).Str("counselor_id", r.CounselorID).
		Stringer("outcome", done.result.Outcome).Logger()

	switch {
	case confirmed && confirmErr == nil:
		delete(d.callers, r.CallID)
		if done.result.Outcome != Answered {
			log.Warn().Err(done.result.Err).Msg("offer confirmed but the offerer returned another outcome, the call layer owns the call")
			return
		}
		log.Info().Msg("caller connected to counselor")
		d.noteOutcome(ctx, r, Answered)

	case !confirmed && done.result.Outcome == Answered:
		d.connectUnconfirmed(ctx, r)

	default:
		d.cancelReservation(ctx, r)
		if o.callerLeft || done.result.Outcome == CallerGone || confirmed {
			log.Info().Err(done.result.Err).AnErr("confirm_error", confirmErr).Msg("offer ended without a connection")
			return
		}
		// A server error marks the counselor tried too, so that the caller
		// is offered again after the retry delay, not in a tight loop.
		d.markTried(r)
		if done.result.Outcome == ServerError {
			log.Warn().Err(done.result.Err).Msg("offer failed on the server, the caller stays queued and the counselor is not charged a miss")
			return
		}
		d.publishOfferFailed(r, done.result)
		log.Info().Err(done.result.Err).Msg("offer failed, trying next counselor")
		d.noteOutcome(ctx, r, done.result.Outcome)
	}
}

// connectUnconfirmed commits an offer that the Offerer reported answered
// without calling Confirm, because the store must match the bridged call.
func (d *Distributor) connectUnconfirmed(ctx context.Context, r queue.Reservation) {
	log := d.log.With().Str("call_id", r.CallID).Str("counselor_id", r.CounselorID).Logger()
	log.Error().Msg("offerer returned answered without calling Confirm, connecting now")

	delete(d.callers, r.CallID)
	if err := d.connect(ctx, r); err != nil {
		log.Error().Err(err).Msg("late connect failed: the counselor may be bridged to a caller the queue no longer has")
	}
}

// markTried adds r's counselors to the tried set of r's caller.
//
// NOTE: CancelReservation keeps a failed counselor's IdleSince, so a
// counselor who never answers stays the longest idle and is offered first to
// every new caller, each of whom then waits one ring timeout longer. Setting
// such a counselor to break is not done here.
func (d *Distributor) markTried(r queue.Reservation) {
	state := d.callers[r.CallID]
	if state == nil {
		state = &callerState{tried: make(map[string]bool)}
		d.callers[r.CallID] = state
	}
	for _, id := range r.Counselors() {
		state.tried[id] = true
	}
}

// cancelReservation cancels r in the store, and keeps it for retryCancels
// when the store call fails for a reason that a retry may cure.
func (d *Distributor) cancelReservation(ctx context.Context, r queue.Reservation) {
	err := d.cancelInStore(ctx, r)
	switch {
	case err == nil:
	case errors.Is(err, queue.ErrUnknownCounselor):
		d.log.Error().Err(err).Str("call_id", r.CallID).Str("counselor_id", r.CounselorID).
			Msg("cannot cancel a reservation for a counselor the store does not have")
	default:
		d.logStoreError(context.WithoutCancel(ctx), err, "cancel reservation")
		d.pendingCancels = append(d.pendingCancels, r)
	}
}

// retryCancels retries the cancellations that failed before.
func (d *Distributor) retryCancels(ctx context.Context) {
	pending := d.pendingCancels
	d.pendingCancels = nil
	for _, r := range pending {
		d.cancelReservation(ctx, r)
	}
}

func (d *Distributor) cancelInStore(ctx context.Context, r queue.Reservation) error {
	callCtx, cancel := detachedContext(ctx)
	defer cancel()
	if err := d.store.CancelReservation(callCtx, r, d.now()); err != nil {
		return fmt.Errorf("cancel reservation of caller %s for counselor %s: %w", r.CallID, r.CounselorID, err)
	}
	return nil
}
