package queue_test

import (
	"sync"
	"testing"
	"time"

	"helpline/queue"
)

func TestWaitEstimatorBeforeAnyCall(t *testing.T) {
	e := queue.NewWaitEstimator()
	if got := e.AverageHandleTime("loneliness"); got != queue.DefaultHandleTime {
		t.Errorf("AverageHandleTime = %v, want the default %v", got, queue.DefaultHandleTime)
	}
	if got, want := e.Estimate("loneliness", 2, 1), 2*queue.DefaultHandleTime; got != want {
		t.Errorf("Estimate(position 2, 1 counselor) = %v, want %v", got, want)
	}
}

func TestWaitEstimatorEstimate(t *testing.T) {
	e := queue.NewWaitEstimator()
	for _, talk := range []time.Duration{4 * time.Minute, 8 * time.Minute} {
		e.Observe("loneliness", talk)
	}
	// The average handle time is 6 minutes.
	tests := []struct {
		name     string
		queue    string
		position int
		serving  int
		want     time.Duration
	}{
		{"next with one counselor", "loneliness", 1, 1, 6 * time.Minute},
		{"third with one counselor", "loneliness", 3, 1, 18 * time.Minute},
		{"third with three counselors", "loneliness", 3, 3, 6 * time.Minute},
		{"next with many counselors hits the floor", "loneliness", 1, 10, queue.MinWaitEstimate},
		{"no serving counselor counts as one", "loneliness", 2, 0, 12 * time.Minute},
		{"position below one counts as one", "loneliness", 0, 1, 6 * time.Minute},
		{"other queue uses the default", "family", 1, 1, queue.DefaultHandleTime},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := e.Estimate(tt.queue, tt.position, tt.serving); got != tt.want {
				t.Errorf("Estimate(%s, %d, %d) = %v, want %v", tt.queue, tt.position, tt.serving, got, tt.want)
			}
		})
	}
}

func TestWaitEstimatorKeepsRecentCalls(t *testing.T) {
	e := queue.NewWaitEstimator()
	for range queue.DefaultEstimateWindow {
		e.Observe("loneliness", time.Hour)
	}
	for range queue.DefaultEstimateWindow {
		e.Observe("loneliness", 2*time.Minute)
	}
	if got := e.AverageHandleTime("loneliness"); got != 2*time.Minute {
		t.Errorf("AverageHandleTime = %v, want 2m0s from the last %d calls only", got, queue.DefaultEstimateWindow)
	}
}

func TestWaitEstimatorIgnoresNonPositive(t *testing.T) {
	e := queue.NewWaitEstimator()
	e.Observe("loneliness", 0)
	e.Observe("loneliness", -time.Minute)
	if got := e.AverageHandleTime("loneliness"); got != queue.DefaultHandleTime {
		t.Errorf("AverageHandleTime = %v, want the default %v", got, queue.DefaultHandleTime)
	}
}

func TestWaitEstimatorConcurrentUse(t *testing.T) {
	e := queue.NewWaitEstimator()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				e.Observe("loneliness", 3*time.Minute)
				_ = e.Estimate("loneliness", 2, 2)
			}
		})
	}
	wg.Wait()
	if got := e.AverageHandleTime("loneliness"); got != 3*time.Minute {
		t.Errorf("AverageHandleTime = %v, want 3m0s", got)
	}
}

func TestServingCountsLoggedInCounselors(t *testing.T) {
	counselors := []queue.Counselor{
		{ID: "a", State: queue.StateAvailable},
		{ID: "b", State: queue.StateOnCall},
		{ID: "c", State: queue.StateOffered},
		{ID: "d", State: queue.StateWrapUp},
		{ID: "e", State: queue.StateBreak},
		{ID: "f", State: queue.StateLoggedOut},
	}
	if got := queue.Serving(counselors); got != 4 {
		t.Errorf("Serving = %d, want 4 (available, on_call, offered, wrap_up)", got)
	}
}
