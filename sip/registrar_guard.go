package sip

import (
	"net/netip"
	"sync"
	"time"
)

// Defaults of the authentication failure guard.
const (
	// authFailureLimit is the number of consecutive failures after which a
	// source address gets 403 Forbidden.
	authFailureLimit = 5

	// authFailureWindow is the maximum gap between two failures counted as
	// consecutive, and how long a blocked source stays blocked after its
	// last counted failure.
	authFailureWindow = time.Minute
)

// failureGuard counts consecutive authentication failures per source IP
// address and counselor id. It slows password guessing without locking a
// counselor out everywhere: the same counselor registers as usual from
// another address, and other counselors behind the same address (one NAT,
// one office) are not affected by a phone with a mistyped password.
type failureGuard struct {
	limit  int
	window time.Duration

	// mu guards sources.
	mu      sync.Mutex
	sources map[guardKey]failureStreak
}

// guardKey is the source address and counselor id that failures are counted under.
type guardKey struct {
	source netip.Addr
	user   string
}

type failureStreak struct {
	count int
	last  time.Time
}

func newFailureGuard(limit int, window time.Duration) *failureGuard {
	return &failureGuard{
		limit:   limit,
		window:  window,
		sources: make(map[guardKey]failureStreak),
	}
}

// blocked reports whether source reached the failure limit less than one
// window ago.
func (g *failureGuard) blocked(source netip.Addr, user string, now time.Time) bool {
	g.mu.Lock()
	defer g.mu.Unlock()

	streak, ok := g.sources[guardKey{source, user}]
	return ok && streak.count >= g.limit && now.Sub(streak.last) < g.window
}

// recordFailure counts one failure for source and returns the length of its
// current streak. It also drops streaks that ended more than one window ago,
// which bounds the map by the sources seen within a window.
func (g *failureGuard) recordFailure(source netip.Addr, user string, now time.Time) int {
	g.mu.Lock()
	defer g.mu.Unlock()

	for addr, streak := range g.sources {
		if now.Sub(streak.last) >= g.window {
			delete(g.sources, addr)
		}
	}

	key := guardKey{source, user}
	streak := g.sources[key]
	streak.count++
	streak.last = now
	g.sources[key] = streak
	return streak.count
}

// reset ends the streak of source after a successful authentication.
func (g *failureGuard) reset(source netip.Addr, user string) {
	g.mu.Lock()
	defer g.mu.Unlock()

	delete(g.sources, guardKey{source, user})
}
