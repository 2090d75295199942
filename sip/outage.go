package sip

import (
	"context"
	"errors"
	"time"

	"helpline/callback"
	"helpline/queue"
	"helpline/records"
)

// Timers of the queue store's outage buffer.
const (
	// bufferExpiryInterval is how often the server polls the outage
	// buffer for callers held longer than its maximum wait.
	bufferExpiryInterval = time.Second
	// bufferRetryInterval is how often a caller whom a full outage buffer
	// turned away tries to join the queue again.
	bufferRetryInterval = 3 * time.Second
)

// expiringQueue is a queue store that holds callers outside the shared
// queue during an outage, such as queue.Buffered, and reports those held
// for longer than its maximum wait.
type expiringQueue interface {
	Expired(now time.Time) []queue.Caller
}

// startBufferWatch runs watchBuffer when the queue store holds callers
// during an outage. It runs until Close, not until the end of Start's
// context, so that callers keep their overflow rule while the server drains.
func (s *Server) startBufferWatch() {
	buffer, ok := s.queue.(expiringQueue)
	if !ok {
		return
	}
	ctx, stop := context.WithCancel(context.Background())
	s.listenMu.Lock()
	s.stopBufferWatch = stop
	s.listenMu.Unlock()
	s.spawn(func() { s.watchBuffer(ctx, buffer) })
}

// watchBuffer signals each call whose caller the outage buffer held too
// long, so that the call applies its queue's overflow rule. Entries without a
// call on this server, such as callback tasks, stay in the buffer.
func (s *Server) watchBuffer(ctx context.Context, buffer expiringQueue) {
	ticker := time.NewTicker(bufferExpiryInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-ticker.C:
			s.signalExpired(buffer.Expired(now))
		}
	}
}

// signalExpired wakes the waiting loop of each expired caller's call.
func (s *Server) signalExpired(expired []queue.Caller) {
	for _, caller := range expired {
		c, ok := s.calls.get(caller.CallID)
		if !ok {
			continue
		}
		select {
		case c.bufferExpired <- struct{}{}:
		default:
		}
	}
}

// waitOutsideQueue keeps a caller whom the full outage buffer turned away
// on hold, so that the caller never hears silence. The queue's overflow
// rule applies at once: callback and transfer end the wait as they do for
// max_wait. Under keep_waiting the caller stays on hold, and so does a
// caller whom the rule cannot move (callbacks off, a withheld number, an
// unusable transfer target). Such a caller may press the callback key,
// and tries to join the queue again every bufferRetryInterval. The retry
// keeps the original arrival time, so the caller keeps their place.
func (c *call) waitOutsideQueue(caller queue.Caller) {
	holdCtx := c.startHold(caller)
	w := &waiter{c: c, entry: caller, rule: c.srv.opts.Overflow[caller.Queue], outside: true}
	c.dropPendingDigits()
	if w.applyOverflow(holdCtx, triggerBufferFull) {
		return
	}

	retry := time.NewTicker(bufferRetryInterval)
	defer retry.Stop()
	for {
		select {
		case <-holdCtx.Done():
			return
		case digit := <-c.ivrDigits:
			if c.isCallbackKey(digit) && w.requestCallback(holdCtx, callback.ReasonRequested) {
				return
			}
		case <-retry.C:
			if c.retryEnqueue(holdCtx, caller) {
				return
			}
		}
	}
}

// retryEnqueue tries again to put a caller waiting outside the queue in
// it, and reports whether the wait outside the queue is over: the caller
// joined the queue, or the call ended on an error.
func (c *call) retryEnqueue(holdCtx context.Context, caller queue.Caller) bool {
	err := c.srv.queue.Enqueue(c.ctx, caller)
	switch {
	case errors.Is(err, queue.ErrBufferFull):
		return false
	case err != nil && !errors.Is(err, queue.ErrAlreadyQueued):
		if c.ctx.Err() == nil {
			c.log.Error().Err(err).Msg("queueing the caller failed")
			c.end(&hangup{side: records.SideServer, reason: "queue failed: " + err.Error(), outcome: records.OutcomeFailed})
		}
		return true
	}

	c.log.Info().Dur("outside_queue", time.Since(caller.EnqueuedAt)).Msg("outage buffer has room again")
	c.publishCallerEntered(caller.Queue, caller.Attributes)
	c.joinedQueue(holdCtx, caller)
	return true
}
