package queue

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// Strategy names how Reserve picks among the candidate counselors of one
// caller. The distributor passes it in every ReserveRequest, so the store
// keeps no per-queue configuration.
type Strategy string

// Strategies. Every strategy breaks remaining ties by the smaller ID.
const (
	// StrategyLongestIdle picks the counselor with the earliest idle time.
	// It is the strategy of a request that names none.
	StrategyLongestIdle Strategy = "longest_idle"
	// StrategyRoundRobin picks the first candidate whose ID sorts after the
	// counselor the queue reserved last, wrapping around to the smallest
	// ID. The store keeps the last reserved counselor per queue.
	StrategyRoundRobin Strategy = "round_robin"
	// StrategyFewestCalls picks the counselor who answered the fewest
	// calls on the day of ReserveRequest.Now, then the longest idle.
	StrategyFewestCalls Strategy = "fewest_calls"
	// StrategySkills picks the candidate with the highest Candidate.Level,
	// then the longest idle.
	StrategySkills Strategy = "skills"
	// StrategyRingAll reserves every candidate at once. The first to answer
	// is connected, and Connect releases the others.
	StrategyRingAll Strategy = "ring_all"
)

// Strategies lists every strategy, for validation and documentation.
var Strategies = []Strategy{StrategyLongestIdle, StrategyRoundRobin, StrategyFewestCalls, StrategySkills, StrategyRingAll}

// Valid reports whether s names a strategy. The empty strategy is valid and
// means StrategyLongestIdle.
func (s Strategy) Valid() bool {
	return s == "" || slices.Contains(Strategies, s)
}

// Candidate is a counselor that a ReserveRequest allows, with the data the
// strategy needs that the store does not keep.
type Candidate struct {
	// ID is the counselor's ID.
	ID string
	// Level is the counselor's level in the skill the queue requires, 0
	// for none. StrategySkills prefers the highest.
	Level int
}

// answeredDay returns the day key that Connect counts answered calls under:
// the calendar date of now in now's location.
func answeredDay(now time.Time) string {
	return now.Format(time.DateOnly)
}

// answeredOn returns how many calls c answered on the day of now.
func answeredOn(c Counselor, now time.Time) int {
	if c.AnsweredDay != answeredDay(now) {
		return 0
	}
	return c.AnsweredToday
}

// candidatesLocked returns the counselors that req allows and that can take
// an offer at req.Now, in ID order, each with its Candidate.Level.
func (s *MemoryStore) candidatesLocked(req ReserveRequest) []rankedCounselor {
	levels := make(map[string]int, len(req.Candidates))
	for _, c := range req.Candidates {
		levels[c.ID] = c.Level
	}

	var found []rankedCounselor
	for _, c := range s.counselors {
		if !c.Offerable(req.Now) || slices.Contains(req.Exclude, c.ID) {
			continue
		}
		level, allowed := levels[c.ID]
		if len(req.Candidates) > 0 && !allowed {
			continue
		}
		found = append(found, rankedCounselor{Counselor: c, level: level})
	}
	slices.SortFunc(found, func(a, b rankedCounselor) int { return cmp.Compare(a.ID, b.ID) })
	return found
}

// rankedCounselor is a candidate counselor with its skill level.
type rankedCounselor struct {
	Counselor
	level int
}

// pickLocked orders the candidates of req by its strategy and returns the
// ones to reserve: all of them for StrategyRingAll, else the first.
func (s *MemoryStore) pickLocked(req ReserveRequest, queueName string) ([]Counselor, error) {
	candidates := s.candidatesLocked(req)
	if len(candidates) == 0 {
		return nil, nil
	}

	switch req.Strategy {
	case "", StrategyLongestIdle, StrategyRingAll:
		slices.SortStableFunc(candidates, func(a, b rankedCounselor) int { return compareIdle(a.Counselor, b.Counselor) })
	case StrategyFewestCalls:
		slices.SortStableFunc(candidates, func(a, b rankedCounselor) int {
			return cmp.Or(cmp.Compare(answeredOn(a.Counselor, req.Now), answeredOn(b.Counselor, req.Now)),
				compareIdle(a.Counselor, b.Counselor))
		})
	case StrategySkills:
		slices.SortStableFunc(candidates, func(a, b rankedCounselor) int {
			return cmp.Or(cmp.Compare(b.level, a.level), compareIdle(a.Counselor, b.Counselor))
		})
	case StrategyRoundRobin:
		last := s.lastReserved[queueName]
		next := slices.IndexFunc(candidates, func(c rankedCounselor) bool { return c.ID > last })
		if next > 0 {
			candidates = append(candidates[next:], candidates[:next]...)
		}
	default:
		return nil, fmt.Errorf("strategy %q: %w", req.Strategy, ErrUnknownStrategy)
	}

	picked := make([]Counselor, 0, len(candidates))
	for _, c := range candidates {
		picked = append(picked, c.Counselor)
	}
	if req.Strategy != StrategyRingAll {
		picked = picked[:1]
	}
	return picked, nil
}
