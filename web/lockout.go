package web

import (
	"sync"
	"time"
)

// Lockout is the login lockout: after Attempts failed logins within
// Window for one key (a user name or a source address), logins for that
// key are rejected for Duration.
type Lockout struct {
	Attempts int
	Window   time.Duration
	Duration time.Duration
}

// maxLockoutKeys bounds the keys a lockoutTracker keeps. Beyond it the
// tracker drops the keys whose failures are all older than the window.
const maxLockoutKeys = 10000

// lockoutTracker counts failed logins per key in memory.
// NOTE: the counts live in one process, so in shared mode each node
// locks on its own failures only.
type lockoutTracker struct {
	policy Lockout

	// mu guards failures and lockedUntil.
	mu          sync.Mutex
	failures    map[string][]time.Time
	lockedUntil map[string]time.Time
}

func newLockoutTracker(policy Lockout) *lockoutTracker {
	return &lockoutTracker{policy: policy, failures: make(map[string][]time.Time), lockedUntil: make(map[string]time.Time)}
}

// locked returns the latest end of a lock on any of keys, if one is
// active at now.
func (t *lockoutTracker) locked(now time.Time, keys ...string) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var until time.Time
	for _, key := range keys {
		end, ok := t.lockedUntil[key]
		switch {
		case !ok:
		case !now.Before(end):
			delete(t.lockedUntil, key)
		case end.After(until):
			until = end
		}
	}
	return until, !until.IsZero()
}

// fail records a failed login for each key at now. It returns the keys
// that this failure locked, and when their lock ends.
func (t *lockoutTracker) fail(now time.Time, keys ...string) ([]string, time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.failures) >= maxLockoutKeys {
		t.pruneLocked(now)
	}
	var lockedKeys []string
	until := now.Add(t.policy.Duration)
	for _, key := range keys {
		recent := t.recentLocked(key, now)
		recent = append(recent, now)
		if len(recent) >= t.policy.Attempts {
			t.lockedUntil[key] = until
			delete(t.failures, key)
			lockedKeys = append(lockedKeys, key)
			continue
		}
		t.failures[key] = recent
	}
	return lockedKeys, until
}

// succeed forgets the failures of key.
func (t *lockoutTracker) succeed(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.failures, key)
}

// recentLocked returns the failures of key within the window before now.
func (t *lockoutTracker) recentLocked(key string, now time.Time) []time.Time {
	list := t.failures[key]
	start := 0
	for start < len(list) && now.Sub(list[start]) >= t.policy.Window {
		start++
	}
	return list[start:]
}

// pruneLocked drops the keys without a failure in the window and the
// locks that ended.
func (t *lockoutTracker) pruneLocked(now time.Time) {
	for key := range t.failures {
		if len(t.recentLocked(key, now)) == 0 {
			delete(t.failures, key)
		}
	}
	for key, end := range t.lockedUntil {
		if !now.Before(end) {
			delete(t.lockedUntil, key)
		}
	}
}
