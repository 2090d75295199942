package sip

import (
	"context"
	"fmt"
	"time"

	"helpline/events"
	"helpline/ivr"
	"helpline/records"
)

// PriorityHighRisk is the queue priority of a caller who said they are in
// danger right now. It is above the priority 0 of every other caller, so
// such a caller is served first, in order of arrival among them.
const PriorityHighRisk = 10

// callerPriority returns the queue priority the IVR attributes ask for.
func callerPriority(attributes map[string]string) int {
	if attributes[ivr.AttributePriority] == ivr.PriorityHighRisk {
		return PriorityHighRisk
	}
	return 0
}

// announceHighRisk records that a queued caller is at high risk and tells
// supervisors at once with a high_risk_waiting event.
func (c *call) announceHighRisk(queueName string, enqueuedAt time.Time) {
	priority := ivr.PriorityHighRisk
	c.record(records.Patch{Priority: &priority})
	c.log.Warn().Str("queue", queueName).Str("event", string(events.HighRiskWaiting)).Msg("high-risk caller waiting")
	c.srv.events.Publish(events.Event{
		At:     enqueuedAt,
		Type:   events.HighRiskWaiting,
		CallID: c.id,
		Queue:  queueName,
		Data:   map[string]string{"priority": ivr.PriorityHighRisk},
	})
}

// RaisePriority makes a waiting caller high risk, for a supervisor who
// learns of the danger while the caller waits. The caller keeps their
// place in time, so they go ahead of every normal caller. It returns an
// error wrapping queue.ErrNotWaiting when the call no longer waits.
func (s *Server) RaisePriority(ctx context.Context, callID string) error {
	caller, err := s.queue.SetPriority(ctx, callID, PriorityHighRisk)
	if err != nil {
		return fmt.Errorf("raise priority of call %s: %w", callID, err)
	}
	if c, ok := s.calls.get(callID); ok {
		c.announceHighRisk(caller.Queue, time.Now())
	}
	s.notifyDistributor()
	return nil
}
