package metrics

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"helpline/queue"
)

// counselorStates are the values of the state label of helpline_counselors.
// Every state is reported, with 0 when no counselor is in it.
var counselorStates = []queue.CounselorState{
	queue.StateLoggedOut,
	queue.StateAvailable,
	queue.StateOffered,
	queue.StateOnCall,
	queue.StateWrapUp,
	queue.StateBreak,
}

var (
	waitingDesc = prometheus.NewDesc("helpline_callers_waiting",
		"Callers waiting in a queue at scrape time, read from the queue store.",
		[]string{"queue"}, nil)
	counselorsDesc = prometheus.NewDesc("helpline_counselors",
		"Counselors in each state at scrape time, read from the queue store.",
		[]string{"state"}, nil)
)

// scrapeCollector reads the queue store at each scrape and then collects
// helpline_errors_total, so that a failed read shows in the same scrape.
type scrapeCollector struct {
	m *Metrics
	// failing is set while the last read failed, so that a store outage
	// is logged once when it starts and once when it ends, not per scrape.
	failing atomic.Bool
}

// Describe sends the descriptors of the gauges and the error counter.
func (c *scrapeCollector) Describe(ch chan<- *prometheus.Desc) {
	if c.m.store != nil {
		ch <- waitingDesc
		ch <- counselorsDesc
	}
	c.m.errors.Describe(ch)
}

// Collect sends the gauges when the store responds in time, else counts
// the failure and leaves the gauges out, then sends the error counter.
func (c *scrapeCollector) Collect(ch chan<- prometheus.Metric) {
	if c.m.store != nil {
		c.collectStore(ch)
	}
	c.m.errors.Collect(ch)
}

// collectStore reads the store, then sends both gauges or neither.
func (c *scrapeCollector) collectStore(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.m.storeTimeout)
	defer cancel()

	waiting, states, err := c.read(ctx)
	if err != nil {
		c.m.errors.WithLabelValues(SourceQueueStore).Inc()
		if !c.failing.Swap(true) {
			c.m.log.Warn().Err(err).Msg("metrics: reading the queue store failed: helpline_callers_waiting and helpline_counselors are left out until it responds")
		}
		return
	}
	if c.failing.Swap(false) {
		c.m.log.Info().Msg("metrics: the queue store responds again")
	}

	for i, name := range c.m.queues {
		ch <- prometheus.MustNewConstMetric(waitingDesc, prometheus.GaugeValue, float64(waiting[i]), name)
	}
	for _, state := range counselorStates {
		ch <- prometheus.MustNewConstMetric(counselorsDesc, prometheus.GaugeValue, float64(states[state]), string(state))
	}
}

// read returns the number of callers waiting in each configured queue, in
// the order of m.queues, and the number of counselors in each state.
func (c *scrapeCollector) read(ctx context.Context) ([]int, map[queue.CounselorState]int, error) {
	waiting := make([]int, len(c.m.queues))
	for i, name := range c.m.queues {
		callers, err := c.m.store.Waiting(ctx, name)
		if err != nil {
			return nil, nil, fmt.Errorf("reading the callers waiting in queue %q: %w", name, err)
		}
		waiting[i] = len(callers)
	}

	counselors, err := c.m.store.Counselors(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the counselors: %w", err)
	}
	states := make(map[queue.CounselorState]int, len(counselorStates))
	for _, counselor := range counselors {
		states[counselor.State]++
	}
	return waiting, states, nil
}
