package routing

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"helpline/queue"
)

// walkEnd is the reason a walk over the waiting callers stopped.
type walkEnd int

const (
	// walkServed means every waiting caller has an offer out.
	walkServed walkEnd = iota
	// walkUnserved means some callers still wait without an offer.
	walkUnserved
	// walkFailed means a store call failed, so the walk is retried later.
	walkFailed
)

// walk makes one pass over the queue. It settles what changed since the last
// pass and reserves a counselor for each caller it can. It returns the time
// the loop must wake on its own next, or zero when only an event wakes it.
func (d *Distributor) walk(ctx context.Context) time.Time {
	now := d.now()
	next := d.walkAt(ctx, now)
	if d.passHook != nil {
		d.passHook(passReport{now: now, next: next, inFlight: len(d.offers), started: d.offersStarted})
	}
	return next
}

func (d *Distributor) walkAt(ctx context.Context, now time.Time) time.Time {
	d.retryCancels(ctx)

	waiting, err := d.listWaiting(ctx)
	if err != nil {
		d.logStoreError(ctx, err, "list waiting callers")
		return now.Add(d.retryDelay)
	}
	d.storeFailures = 0

	d.dropLeftCallers(waiting)
	d.expireRetries(now)

	var next time.Time
	switch d.offerWaiting(ctx, waiting, now) {
	case walkFailed:
		return now.Add(d.retryDelay)
	case walkUnserved:
		next = earliest(d.nextRetry(), d.nextWrapUpEnd(ctx, now))
		next = earliest(next, d.nextBusySkipEnd(now))
		next = earliest(next, d.nextWidening(waiting, now))
	default:
		next = d.nextRetry()
	}
	if len(d.pendingCancels) > 0 {
		next = earliest(next, now.Add(d.retryDelay))
	}
	if d.heldBack {
		next = earliest(next, now.Add(foreignRecheck))
	}
	return next
}

func (d *Distributor) listWaiting(ctx context.Context) ([]queue.Caller, error) {
	callCtx, cancel := boundedContext(ctx)
	defer cancel()
	return d.store.Waiting(callCtx, d.queue)
}

// dropLeftCallers cancels the offers of callers who left the queue, and
// deletes the state of callers who left or were connected.
func (d *Distributor) dropLeftCallers(waiting []queue.Caller) {
	present := make(map[string]bool, len(waiting))
	for _, caller := range waiting {
		present[caller.CallID] = true
	}

	for callID, o := range d.offers {
		if present[callID] || o.callerLeft || o.connected() {
			continue
		}
		o.callerLeft = true
		o.cancel(ErrCallerLeft)
		d.log.Info().Str("call_id", callID).Str("counselor_id", o.reservation.CounselorID).
			Msg("caller left during offer, cancelling it")
	}

	for callID := range d.callers {
		if !present[callID] && d.offers[callID] == nil {
			delete(d.callers, callID)
		}
	}
}

// expireRetries clears the tried sets whose retry time has come.
func (d *Distributor) expireRetries(now time.Time) {
	for callID, state := range d.callers {
		if state.retryAt.IsZero() || state.retryAt.After(now) {
			continue
		}
		delete(d.callers, callID)
		d.log.Debug().Str("call_id", callID).Msg("retry delay over, every counselor may be offered again")
	}
}

// offerWaiting reserves a counselor for each waiting caller in service order
// that has no offer out, and starts the offers. Under WithNode it passes
// over other nodes' callers and holds back own callers that a more urgent
// caller of another node is waiting ahead of.
func (d *Distributor) offerWaiting(ctx context.Context, waiting []queue.Caller, now time.Time) walkEnd {
	end := walkServed
	d.heldBack = false
	var bar foreignBar
	for _, caller := range waiting {
		if d.foreign(caller) {
			bar.note(caller)
			continue
		}
		if caller.OfferedTo != "" || d.offers[caller.CallID] != nil {
			continue
		}
		if bar.holdsBack(caller) {
			d.heldBack = true
			end = walkUnserved
			continue
		}

		state := d.callers[caller.CallID]
		r, err := d.reserve(ctx, caller, state, now)
		switch {
		case err == nil:
			d.startOffer(ctx, r)
		case errors.Is(err, queue.ErrNoCounselor) && (state == nil || len(state.tried) == 0):
			if d.skills == nil {
				// No counselor at all is free, so none is free for the
				// callers behind this one either.
				return walkUnserved
			}
			// A caller behind this one may have waited long enough to
			// be offered to more counselors.
			end = walkUnserved
		case errors.Is(err, queue.ErrNoCounselor):
			if state.retryAt.IsZero() {
				state.retryAt = now.Add(d.retryDelay)
				d.log.Info().Str("call_id", caller.CallID).Int("tried", len(state.tried)).
					Time("retry_at", state.retryAt).Msg("every free counselor tried, retrying later")
			}
			end = walkUnserved
		case errors.Is(err, queue.ErrNotWaiting), errors.Is(err, queue.ErrOfferPending):
			// The caller left or got an offer from another process since
			// the list was read. The next walk reads the change.
		default:
			d.logStoreError(ctx, err, "reserve counselor")
			return walkFailed
		}
	}
	return end
}

// reserve calls Store.Reserve for caller, excluding the counselors in
// state's tried set and those the queue's skill rules out.
func (d *Distributor) reserve(ctx context.Context, caller queue.Caller, state *callerState, now time.Time) (queue.Reservation, error) {
	req, any := d.reserveRequest(caller, state, now)
	if !any {
		return queue.Reservation{}, fmt.Errorf("reserve counselor for caller %s: no counselor has skill %s at the level needed now: %w",
			caller.CallID, d.skills.skill, queue.ErrNoCounselor)
	}
	req.Exclude = append(req.Exclude, d.busySkipped(now)...)

	callCtx, cancel := boundedContext(ctx)
	defer cancel()
	return d.store.Reserve(callCtx, req)
}

// nextRetry returns the earliest retry time of any caller, or zero.
func (d *Distributor) nextRetry() time.Time {
	var next time.Time
	for _, state := range d.callers {
		next = earliest(next, state.retryAt)
	}
	return next
}

// nextWrapUpEnd returns the earliest WrapUpUntil after now, or zero. A
// failed read is logged and gives the retry delay instead.
func (d *Distributor) nextWrapUpEnd(ctx context.Context, now time.Time) time.Time {
	callCtx, cancel := boundedContext(ctx)
	defer cancel()
	counselors, err := d.store.Counselors(callCtx)
	if err != nil {
		d.logStoreError(ctx, err, "list counselors")
		return now.Add(d.retryDelay)
	}

	var next time.Time
	for _, c := range counselors {
		if c.State == queue.StateWrapUp && c.WrapUpUntil.After(now) {
			next = earliest(next, c.WrapUpUntil)
		}
	}
	return next
}

// logStoreError logs a failed store call with the number of failures in a
// row, so that a store outage shows as one growing count. Errors caused by
// the end of ctx are expected at shutdown and not logged.
func (d *Distributor) logStoreError(ctx context.Context, err error, action string) {
	if ctx.Err() != nil {
		return
	}
	d.storeFailures++
	d.log.Error().Err(err).Int("failures_in_row", d.storeFailures).Dur("retry_in", d.retryDelay).
		Msgf("%s failed, retrying", action)
}

// earliest returns the earlier of two times, where zero means none.
func earliest(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero() || a.Before(b):
		return a
	default:
		return b
	}
}

// sortedKeys returns the keys of set in order, so that a request lists the
// same excluded counselors the same way every time.
func sortedKeys(set map[string]bool) []string {
	keys := make([]string, 0, len(set))
	for key := range set {
		keys = append(keys, key)
	}
	slices.Sort(keys)
	return keys
}
