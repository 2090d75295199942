package sip

import (
	"context"
	"sync"
	"time"
)

// maxFeatureWait bounds how long an offer waits for the counselor's
// feature code call to end.
const maxFeatureWait = 15 * time.Second

// featureCallSet tracks the feature code calls in progress per counselor.
// An offer to a counselor waits until the counselor's feature code call
// ended, because a phone without call waiting would answer the offer with
// 486 Busy Here, and the counselor who just ended a wrap-up with *25 would
// be skipped as busy.
type featureCallSet struct {
	// mu guards calls.
	mu sync.Mutex
	// calls maps a counselor ID to a channel closed when the counselor's
	// last feature code call in progress ends, and counts those calls.
	calls map[string]*featureCalls
}

// featureCalls are one counselor's feature code calls in progress.
type featureCalls struct {
	count int
	done  chan struct{}
}

// begin records a feature code call of counselorID and returns the
// function that records its end.
func (set *featureCallSet) begin(counselorID string) (end func()) {
	set.mu.Lock()
	defer set.mu.Unlock()
	if set.calls == nil {
		set.calls = make(map[string]*featureCalls)
	}
	calls := set.calls[counselorID]
	if calls == nil {
		calls = &featureCalls{done: make(chan struct{})}
		set.calls[counselorID] = calls
	}
	calls.count++

	var once sync.Once
	return func() {
		once.Do(func() {
			set.mu.Lock()
			defer set.mu.Unlock()
			calls.count--
			if calls.count == 0 {
				close(calls.done)
				delete(set.calls, counselorID)
			}
		})
	}
}

// wait returns once counselorID has no feature code call in progress, ctx
// ended, or maxFeatureWait passed.
func (set *featureCallSet) wait(ctx context.Context, counselorID string) {
	set.mu.Lock()
	calls := set.calls[counselorID]
	set.mu.Unlock()
	if calls == nil {
		return
	}

	timer := time.NewTimer(maxFeatureWait)
	defer timer.Stop()
	select {
	case <-calls.done:
	case <-ctx.Done():
	case <-timer.C:
	}
}
