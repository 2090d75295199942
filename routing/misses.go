package routing

import (
	"context"
	"slices"
	"sync"
	"time"

	"helpline/counselor"
	"helpline/queue"
)

// Names the miss policy gives its pause.
const (
	// MissedCallsReason is the break reason of a counselor paused after
	// missed offers. Supervisors see it in the counselor_state event.
	MissedCallsReason = "missed calls"
	// SourceMissedCalls is the event source of that pause.
	SourceMissedCalls = "missed_calls"
)

// MissPolicy counts each counselor's missed offers and busy responses across
// every queue, so one policy is shared by all distributors of a server.
//
// A miss is an offer that rang until the ring timeout or could not reach
// the phone. After maxMissed misses in a row the counselor is put on break
// with reason MissedCallsReason, and an answered offer resets the count. A
// busy response (486 or 600) is not a miss: the counselor is skipped for
// every caller for busySkip instead. No counselor is removed for good: a
// paused counselor comes back with the back-from-break code or the API.
type MissPolicy struct {
	maxMissed int
	busySkip  time.Duration

	// mu guards missed and busyUntil.
	mu sync.Mutex
	// missed counts the misses in a row of each counselor.
	missed map[string]int
	// busyUntil maps a counselor whose phone answered busy to the end of
	// its skip.
	busyUntil map[string]time.Time
}

// NewMissPolicy returns a policy that pauses a counselor after maxMissed
// misses in a row (0 never pauses) and skips a busy counselor for busySkip
// (0 never skips).
func NewMissPolicy(maxMissed int, busySkip time.Duration) *MissPolicy {
	return &MissPolicy{
		maxMissed: max(maxMissed, 0),
		busySkip:  max(busySkip, 0),
		missed:    make(map[string]int),
		busyUntil: make(map[string]time.Time),
	}
}

// WithMissPolicy sets the policy for missed and busy offers. Without it
// the distributor only skips a failed counselor for the failed caller.
func WithMissPolicy(p *MissPolicy) Option {
	return func(d *Distributor) { d.misses = p }
}

// answered resets the misses of id.
func (p *MissPolicy) answered(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.missed, id)
}

// miss counts one miss of id and reports whether it reached the limit, in
// which case the count starts again.
func (p *MissPolicy) miss(id string) (misses int, pause bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.missed[id]++
	misses = p.missed[id]
	if p.maxMissed == 0 || misses < p.maxMissed {
		return misses, false
	}
	delete(p.missed, id)
	return misses, true
}

// busy starts the busy skip of id at now.
func (p *MissPolicy) busy(id string, now time.Time) {
	if p.busySkip == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.busyUntil[id] = now.Add(p.busySkip)
}

// skipped returns the counselors whose busy skip lasts past now, sorted,
// and drops the skips that ended.
func (p *MissPolicy) skipped(now time.Time) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ids []string
	for id, until := range p.busyUntil {
		if !until.After(now) {
			delete(p.busyUntil, id)
			continue
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// nextSkipEnd returns the earliest end of a busy skip after now, or zero.
func (p *MissPolicy) nextSkipEnd(now time.Time) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	var next time.Time
	for _, until := range p.busyUntil {
		if until.After(now) {
			next = earliest(next, until)
		}
	}
	return next
}

// busySkipped returns the counselors to exclude for every caller now.
func (d *Distributor) busySkipped(now time.Time) []string {
	if d.misses == nil {
		return nil
	}
	return d.misses.skipped(now)
}

// nextBusySkipEnd returns when the next busy skip ends, or zero.
func (d *Distributor) nextBusySkipEnd(now time.Time) time.Time {
	if d.misses == nil {
		return time.Time{}
	}
	return d.misses.nextSkipEnd(now)
}

// noteOutcome applies the miss policy to a finished offer whose caller did
// not leave. It runs after the reservation was cancelled.
func (d *Distributor) noteOutcome(ctx context.Context, r queue.Reservation, outcome OfferOutcome) {
	if d.misses == nil {
		return
	}
	switch outcome {
	case Answered:
		d.misses.answered(r.CounselorID)
	case Busy:
		d.misses.busy(r.CounselorID, d.now())
		d.log.Info().Str("counselor_id", r.CounselorID).Dur("skip", d.misses.busySkip).
			Msg("counselor phone busy, skipping the counselor for every caller")
	case NoAnswer, Unavailable, 0:
		misses, pause := d.misses.miss(r.CounselorID)
		if pause {
			d.pauseCounselor(ctx, r.CounselorID, misses)
		}
	}
}

// pauseCounselor puts a counselor who missed too many offers on break and
// publishes a CounselorState event for supervisors.
//
// NOTE: between the cancelled reservation and this break another
// distributor may offer the counselor a caller. The break is then rejected
// as an invalid transition and logged, and the next miss tries again.
func (d *Distributor) pauseCounselor(ctx context.Context, id string, misses int) {
	log := d.log.With().Str("counselor_id", id).Int("missed_in_row", misses).Logger()
	callCtx, cancel := detachedContext(ctx)
	defer cancel()

	before, err := d.store.Counselor(callCtx, id)
	if err != nil {
		log.Error().Err(err).Msg("reading the counselor to pause after missed offers failed")
		return
	}
	if err := d.store.SetState(callCtx, id, queue.StateBreak, MissedCallsReason, d.now()); err != nil {
		log.Warn().Err(err).Msg("pausing the counselor after missed offers failed")
		return
	}
	counselor.Publish(d.events, id, before.State, queue.StateBreak, MissedCallsReason, SourceMissedCalls)
	log.Warn().Str("reason", MissedCallsReason).Msg("counselor put on break after missed offers in a row")
}
