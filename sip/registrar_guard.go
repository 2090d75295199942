package sip

import (
	"net/netip"
	"sync"
	"time"
)

// Defaults of the authentication failure guard, used when RegistrarConfig
// leaves AuthLockoutAttempts or AuthLockoutDuration zero.
const (
	// defaultLockoutAttempts is the number of failures in a row after
	// which a counselor id gets 403 Forbidden from that source address.
	defaultLockoutAttempts = 5

	// defaultLockoutDuration is the maximum gap between two failures
	// counted in a row, and how long a lock lasts after the failure that
	// set it.
	defaultLockoutDuration = time.Minute
)

// failureGuard counts consecutive authentication failures per source IP
// address and counselor id. It slows password guessing without locking a
// counselor out everywhere: the same counselor registers as usual from
// another address, and other counselors behind the same address (one NAT,
// one office) are not affected by a phone with a mistyped password.
type failureGuard struct {
	limit    int
	duration time.Duration

	// mu guards sources.
	mu      sync.Mutex
	sources map[guardKey]failureStreak
}

// guardKey is the source address and counselor id that failures are counted under.
type guardKey struct {
	source netip.Addr
	user   string
}

// failureStreak is the failures in a row of one guardKey.
type failureStreak struct {
	count int
	last  time.Time
	// lockedUntil is the end of the lock the streak set, zero before.
	lockedUntil time.Time
}

func newFailureGuard(limit int, duration time.Duration) *failureGuard {
	return &failureGuard{
		limit:    limit,
		duration: duration,
		sources:  make(map[guardKey]failureStreak),
	}
}

// lockedUntil returns the end of the lock of user at source, and false
// when that pair is not locked at now.
func (g *failureGuard) lockedUntil(source netip.Addr, user string, now time.Time) (time.Time, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()

	streak, ok := g.sources[guardKey{source, user}]
	if !ok || !now.Before(streak.lockedUntil) {
		return time.Time{}, false
	}
	return streak.lockedUntil, true
}

// recordFailure counts one failure of user at source and returns the
// length of the streak, and the end of the lock when this failure set one.
// A failure more than one duration after the previous one starts a new
// streak. It also drops the streaks that ended, which bounds the map by
// the pairs that failed within one duration or are locked.
func (g *failureGuard) recordFailure(source netip.Addr, user string, now time.Time) (int, time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()

	for key, streak := range g.sources {
		if now.Sub(streak.last) >= g.duration && !now.Before(streak.lockedUntil) {
			delete(g.sources, key)
		}
	}

	key := guardKey{source, user}
	streak := g.sources[key]
	streak.count++
	streak.last = now
	var until time.Time
	if streak.count == g.limit {
		until = now.Add(g.duration)
		streak.lockedUntil = until
	}
	g.sources[key] = streak
	return streak.count, until
}

// reset ends the streak of user at source after a successful
// authentication.
func (g *failureGuard) reset(source netip.Addr, user string) {
	g.mu.Lock()
	defer g.mu.Unlock()

	delete(g.sources, guardKey{source, user})
}
