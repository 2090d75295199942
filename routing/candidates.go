package routing

import (
	"maps"
	"slices"
	"time"

	"helpline/queue"
)

// skillRouting is a queue's skill requirement: which counselors may take
// its callers, and when that widens to every counselor.
type skillRouting struct {
	// skill names the required skill, for logs.
	skill string
	// levels maps each configured counselor ID to its level in skill, 0
	// for none.
	levels map[string]int
	// widenAfter, when positive, limits the offer to the counselors at
	// bestLevel until a caller has waited this long.
	widenAfter time.Duration
	// bestLevel is the highest value in levels.
	bestLevel int
}

// WithStrategy sets how Store.Reserve picks among the candidates. The
// default is queue.StrategyLongestIdle.
func WithStrategy(strategy queue.Strategy) Option {
	return func(d *Distributor) { d.strategy = strategy }
}

// WithSkill limits the queue to the counselors with a skill. levels maps
// every counselor ID to its level in the skill, 0 for none; counselors
// missing from it never get this queue's callers. With widenAfter 0 every
// counselor with a level above 0 is a candidate. With a positive
// widenAfter, only the counselors at the highest level in levels are
// candidates until the caller has waited widenAfter, and every counselor in
// levels after that.
func WithSkill(skill string, levels map[string]int, widenAfter time.Duration) Option {
	return func(d *Distributor) {
		s := &skillRouting{skill: skill, levels: maps.Clone(levels), widenAfter: max(widenAfter, 0)}
		for _, level := range levels {
			s.bestLevel = max(s.bestLevel, level)
		}
		d.skills = s
	}
}

// candidates returns the counselors Reserve may offer caller at now, with
// their levels, in ID order. It returns nil when every counselor may be
// offered, and an empty non-nil slice when none may.
func (s *skillRouting) candidates(caller queue.Caller, now time.Time) []queue.Candidate {
	if s == nil {
		return nil
	}
	widened := s.widened(caller, now)

	found := []queue.Candidate{}
	for _, id := range slices.Sorted(maps.Keys(s.levels)) {
		level := s.levels[id]
		switch {
		case widened:
		case s.widenAfter > 0 && level < s.bestLevel:
			continue
		case level <= 0:
			continue
		}
		found = append(found, queue.Candidate{ID: id, Level: level})
	}
	return found
}

// widened reports whether caller has waited long enough at now to be
// offered to every counselor.
func (s *skillRouting) widened(caller queue.Caller, now time.Time) bool {
	return s.widenAfter > 0 && !now.Before(s.wideningAt(caller))
}

// wideningAt returns when caller's offer widens, or zero when it never does.
func (s *skillRouting) wideningAt(caller queue.Caller) time.Time {
	if s == nil || s.widenAfter <= 0 {
		return time.Time{}
	}
	return caller.EnqueuedAt.Add(s.widenAfter)
}

// nextWidening returns the earliest time after now at which a waiting
// caller without an offer is widened, or zero.
func (d *Distributor) nextWidening(waiting []queue.Caller, now time.Time) time.Time {
	var next time.Time
	for _, caller := range waiting {
		if caller.OfferedTo != "" || d.offers[caller.CallID] != nil || d.foreign(caller) {
			continue
		}
		if at := d.skills.wideningAt(caller); at.After(now) {
			next = earliest(next, at)
		}
	}
	return next
}

// reserveRequest builds the Store.Reserve request for caller: its strategy,
// its candidates, and the counselors it tried.
func (d *Distributor) reserveRequest(caller queue.Caller, state *callerState, now time.Time) (queue.ReserveRequest, bool) {
	req := queue.ReserveRequest{CallID: caller.CallID, Now: now, Strategy: d.strategy}
	if state != nil {
		req.Exclude = sortedKeys(state.tried)
	}
	req.Candidates = d.skills.candidates(caller, now)
	if req.Candidates != nil && len(req.Candidates) == 0 {
		return req, false
	}
	return req, true
}

// logStart logs the distributor's settings.
func (d *Distributor) logStart() {
	event := d.log.Info().Dur("retry_delay", d.retryDelay).Str("strategy", string(d.strategy))
	if d.skills != nil {
		event = event.Str("skill", d.skills.skill).Dur("widen_after", d.skills.widenAfter)
	}
	if d.node != "" {
		event = event.Str("node", d.node)
	}
	event.Msg("distributor started")
}
