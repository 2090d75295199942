package sip

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
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

// AuthLock is one lock of a counselor id at a source address after
// repeated failed digest authentications.
type AuthLock struct {
	// User is the counselor id the failed requests named.
	User string
	// Source is the address the lock applies to.
	Source netip.Addr
	// Until is when the lock ends.
	Until time.Time
}

// locks returns the locks in force at now, the latest end first.
func (g *failureGuard) locks(now time.Time) []AuthLock {
	g.mu.Lock()
	defer g.mu.Unlock()

	var list []AuthLock
	for key, streak := range g.sources {
		if now.Before(streak.lockedUntil) {
			list = append(list, AuthLock{User: key.user, Source: key.source, Until: streak.lockedUntil})
		}
	}
	sortAuthLocks(list)
	return list
}

// clear ends the locks in force at now that match user and source, where
// an empty user or an invalid source matches any, and deletes their
// failure streaks. It returns the locks it ended.
func (g *failureGuard) clear(now time.Time, user string, source netip.Addr) []AuthLock {
	g.mu.Lock()
	defer g.mu.Unlock()

	var cleared []AuthLock
	for key, streak := range g.sources {
		if (user != "" && key.user != user) || (source.IsValid() && key.source != source) {
			continue
		}
		if now.Before(streak.lockedUntil) {
			cleared = append(cleared, AuthLock{User: key.user, Source: key.source, Until: streak.lockedUntil})
			delete(g.sources, key)
		}
	}
	sortAuthLocks(cleared)
	return cleared
}

// sortAuthLocks orders locks by end, the latest first, then by id and
// address, so that listings are stable.
func sortAuthLocks(list []AuthLock) {
	slices.SortFunc(list, func(a, b AuthLock) int {
		if c := b.Until.Compare(a.Until); c != 0 {
			return c
		}
		if c := strings.Compare(a.User, b.User); c != 0 {
			return c
		}
		return a.Source.Compare(b.Source)
	})
}

// AuthLocks returns the SIP authentication locks in force on this node,
// the latest end first.
func (r *Registrar) AuthLocks() []AuthLock {
	return r.guard.locks(r.now())
}

// ClearAuthLocks ends the SIP authentication locks of user at source on
// this node, where an empty user or source matches any, and returns the
// locks it ended. It returns an error for a source that is not an IP
// address.
func (r *Registrar) ClearAuthLocks(user, source string) ([]AuthLock, error) {
	var addr netip.Addr
	if source != "" {
		parsed, err := netip.ParseAddr(source)
		if err != nil {
			return nil, fmt.Errorf("source %q is not an IP address: %w", source, err)
		}
		addr = parsed.Unmap()
	}
	return r.guard.clear(r.now(), user, addr), nil
}
