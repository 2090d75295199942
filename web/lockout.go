package web

import (
	"slices"
	"strings"
	"sync"
	"time"
)

// Lockout is the login lockout. After Attempts failed logins within
// Window for one user name from one source address, logins for that name
// from that address are rejected for Duration. After SourceAttempts
// failures within Window from one address, whatever the names, every
// login from that address is rejected for Duration. Other people behind
// the same address (one NAT for a whole call-centre floor) keep logging
// in until that larger count.
type Lockout struct {
	Attempts       int
	SourceAttempts int
	Window         time.Duration
	Duration       time.Duration
}

// Scopes of a lock, as the login_locked event and GET /api/v1/lockouts
// name them.
const (
	// LockScopeUser locks one user name from one source address.
	LockScopeUser = "user"
	// LockScopeSource locks every login from one source address.
	LockScopeSource = "source"
)

// Lock is one active lockout.
type Lock struct {
	// User is the locked name, empty for a lock of the whole source.
	User string `json:"user"`
	// Source is the client address the lock applies to.
	Source string `json:"source"`
	// Scope is LockScopeUser or LockScopeSource.
	Scope string `json:"scope"`
	// Until is when the lock ends.
	Until time.Time `json:"until"`
}

// maxLockoutKeys bounds the keys a lockoutTracker keeps. Beyond it the
// tracker drops the keys whose failures are all older than the window.
const maxLockoutKeys = 10000

// lockKey names what a failure count or lock applies to: a user name from
// a source, or with an empty user the whole source.
type lockKey struct {
	user, source string
}

func (k lockKey) scope() string {
	if k.user == "" {
		return LockScopeSource
	}
	return LockScopeUser
}

// lockoutTracker counts failed logins per key in memory.
// NOTE: the counts live in one process, so in shared mode each node
// locks on its own failures only, and clearing a lock clears it on the
// node that received the request only.
type lockoutTracker struct {
	policy Lockout

	// mu guards failures and lockedUntil.
	mu          sync.Mutex
	failures    map[lockKey][]time.Time
	lockedUntil map[lockKey]time.Time
}

func newLockoutTracker(policy Lockout) *lockoutTracker {
	if policy.SourceAttempts < policy.Attempts {
		policy.SourceAttempts = policy.Attempts
	}
	return &lockoutTracker{policy: policy, failures: make(map[lockKey][]time.Time), lockedUntil: make(map[lockKey]time.Time)}
}

// keysOf returns the keys a login by user from source counts against,
// the narrow one first.
func keysOf(user, source string) []lockKey {
	return []lockKey{{user: user, source: source}, {source: source}}
}

// locked returns the active lock on user from source with the latest
// end, if there is one at now.
func (t *lockoutTracker) locked(now time.Time, user, source string) (Lock, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var found Lock
	for _, key := range keysOf(user, source) {
		end, ok := t.lockedUntil[key]
		switch {
		case !ok:
		case !now.Before(end):
			delete(t.lockedUntil, key)
		case end.After(found.Until):
			found = Lock{User: key.user, Source: key.source, Scope: key.scope(), Until: end}
		}
	}
	return found, !found.Until.IsZero()
}

// fail records a failed login by user from source at now. It returns the
// locks that this failure started, the narrow one first.
func (t *lockoutTracker) fail(now time.Time, user, source string) []Lock {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.failures) >= maxLockoutKeys {
		t.pruneLocked(now)
	}
	var started []Lock
	until := now.Add(t.policy.Duration)
	for _, key := range keysOf(user, source) {
		limit := t.policy.Attempts
		if key.user == "" {
			limit = t.policy.SourceAttempts
		}
		recent := append(t.recentLocked(key, now), now)
		if len(recent) >= limit {
			t.lockedUntil[key] = until
			delete(t.failures, key)
			started = append(started, Lock{User: key.user, Source: key.source, Scope: key.scope(), Until: until})
			continue
		}
		t.failures[key] = recent
	}
	return started
}

// succeed deletes the failure count of user from source. The failures of the
// source as a whole stay, so that one known password does not reset the
// count of a guessing address.
func (t *lockoutTracker) succeed(user, source string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.failures, lockKey{user: user, source: source})
}

// list returns the locks active at now, the latest end first.
func (t *lockoutTracker) list(now time.Time) []Lock {
	t.mu.Lock()
	defer t.mu.Unlock()
	locks := make([]Lock, 0, len(t.lockedUntil))
	for key, end := range t.lockedUntil {
		if !now.Before(end) {
			delete(t.lockedUntil, key)
			continue
		}
		locks = append(locks, Lock{User: key.user, Source: key.source, Scope: key.scope(), Until: end})
	}
	slices.SortFunc(locks, func(a, b Lock) int {
		if c := b.Until.Compare(a.Until); c != 0 {
			return c
		}
		return strings.Compare(a.Source+"\x00"+a.User, b.Source+"\x00"+b.User)
	})
	return locks
}

// clear ends the locks, and deletes the failure counts, of every key
// that matches user and source. An empty user or source matches any. It
// returns the locks it ended that were active at now.
func (t *lockoutTracker) clear(now time.Time, user, source string) []Lock {
	t.mu.Lock()
	defer t.mu.Unlock()
	matches := func(key lockKey) bool {
		return (user == "" || key.user == user) && (source == "" || key.source == source)
	}
	var cleared []Lock
	for key, end := range t.lockedUntil {
		if !matches(key) {
			continue
		}
		delete(t.lockedUntil, key)
		if now.Before(end) {
			cleared = append(cleared, Lock{User: key.user, Source: key.source, Scope: key.scope(), Until: end})
		}
	}
	for key := range t.failures {
		if matches(key) {
			delete(t.failures, key)
		}
	}
	return cleared
}

// recentLocked returns the failures of key within the window before now.
func (t *lockoutTracker) recentLocked(key lockKey, now time.Time) []time.Time {
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
