package queue

import (
	"sync"
	"time"
)

// Defaults of a WaitEstimator.
const (
	// DefaultHandleTime is the handle time a queue's estimate uses before
	// any of its calls has been answered. It is a guess, not a measured
	// number: replace it with the line's own average when one is known.
	DefaultHandleTime = 5 * time.Minute
	// DefaultEstimateWindow is how many of a queue's most recent answered
	// calls the average handle time is taken over.
	DefaultEstimateWindow = 20
	// MinWaitEstimate is the shortest estimate given. A caller who is
	// next still waits for a phone to ring and be answered.
	MinWaitEstimate = time.Minute
)

// WaitEstimator estimates how long a waiting caller still waits:
//
//	estimate = average handle time × position ÷ serving counselors
//
// The average handle time is the mean talk time of the queue's last
// DefaultEstimateWindow answered calls, or DefaultHandleTime before any.
// Serving counselors are the logged-in counselors not on a break, at least
// one. The result is at least MinWaitEstimate. The estimate ignores how
// long the current calls have already lasted and callers of higher
// priority who arrive later, so it is rough. It is safe for concurrent use.
type WaitEstimator struct {
	defaultHandle time.Duration
	window        int

	// mu guards handleTimes.
	mu sync.Mutex
	// handleTimes holds each queue's most recent handle times, oldest
	// first, at most window of them.
	handleTimes map[string][]time.Duration
}

// NewWaitEstimator returns an estimator without observed calls.
func NewWaitEstimator() *WaitEstimator {
	return &WaitEstimator{
		defaultHandle: DefaultHandleTime,
		window:        DefaultEstimateWindow,
		handleTimes:   make(map[string][]time.Duration),
	}
}

// Observe adds the talk time of an answered call in queue. Times that are
// not positive are ignored.
func (e *WaitEstimator) Observe(queue string, handle time.Duration) {
	if handle <= 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	times := append(e.handleTimes[queue], handle)
	if len(times) > e.window {
		times = times[len(times)-e.window:]
	}
	e.handleTimes[queue] = times
}

// AverageHandleTime returns the mean of queue's observed handle times, or
// the default before any call was observed.
func (e *WaitEstimator) AverageHandleTime(queue string) time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	times := e.handleTimes[queue]
	if len(times) == 0 {
		return e.defaultHandle
	}
	var total time.Duration
	for _, t := range times {
		total += t
	}
	return total / time.Duration(len(times))
}

// Estimate returns the expected remaining wait of the caller at position
// (1 is next) in queue while serving counselors take calls.
func (e *WaitEstimator) Estimate(queue string, position, serving int) time.Duration {
	position = max(position, 1)
	serving = max(serving, 1)
	estimate := e.AverageHandleTime(queue) * time.Duration(position) / time.Duration(serving)
	return max(estimate, MinWaitEstimate)
}

// Serving counts the counselors who take calls: every state but
// logged_out and break.
func Serving(counselors []Counselor) int {
	n := 0
	for _, c := range counselors {
		if c.State != StateLoggedOut && c.State != StateBreak {
			n++
		}
	}
	return n
}
