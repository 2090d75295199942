package web

import (
	"testing"
	"time"
)

func newTestTracker() *lockoutTracker {
	return newLockoutTracker(Lockout{Attempts: 2, SourceAttempts: 4, Window: time.Minute, Duration: 10 * time.Minute})
}

func TestLockoutClearFilters(t *testing.T) {
	now := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name         string
		user, source string
		cleared      int
		left         int
	}{
		{"everything", "", "", 3, 0},
		{"one name anywhere", "kim", "", 2, 1},
		{"one address", "", "10.0.0.1", 1, 2},
		{"one name at one address", "kim", "10.0.0.2", 1, 2},
		{"no match", "lee", "", 0, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tracker := newTestTracker()
			for range 2 {
				tracker.fail(now, "kim", "10.0.0.1")
				tracker.fail(now, "kim", "10.0.0.2")
				tracker.fail(now, "park", "10.0.0.3")
			}
			if got := len(tracker.list(now)); got != 3 {
				t.Fatalf("%d locks before the clear, want 3", got)
			}
			if got := len(tracker.clear(now, tt.user, tt.source)); got != tt.cleared {
				t.Errorf("cleared %d locks, want %d", got, tt.cleared)
			}
			if got := len(tracker.list(now)); got != tt.left {
				t.Errorf("%d locks left, want %d", got, tt.left)
			}
		})
	}
}

func TestLockoutSourceCountSurvivesSuccess(t *testing.T) {
	now := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	tracker := newTestTracker()
	names := []string{"a", "b", "c"}
	for _, name := range names {
		tracker.fail(now, name, "10.0.0.9")
		tracker.succeed(name, "10.0.0.9")
	}
	started := tracker.fail(now, "d", "10.0.0.9")
	if len(started) != 1 || started[0].Scope != LockScopeSource {
		t.Fatalf("fourth failure from the address started %+v, want the source lock", started)
	}
	if lock, ok := tracker.locked(now, "e", "10.0.0.9"); !ok || lock.Scope != LockScopeSource {
		t.Errorf("another name from the address: locked %t %+v, want the source lock", ok, lock)
	}
	if _, ok := tracker.locked(now.Add(10*time.Minute), "e", "10.0.0.9"); ok {
		t.Error("the source lock lasts past its duration")
	}
}
