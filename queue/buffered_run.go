package queue

import (
	"context"
	"errors"
	"slices"
	"time"
)

// Run writes the held callers and journaled changes to the inner store in
// their order until ctx ends, and returns ctx's error. While the inner store
// cannot be reached it tries again every retry interval.
func (b *Buffered) Run(ctx context.Context) error {
	ticker := time.NewTicker(b.retryInterval)
	defer ticker.Stop()

	for {
		if b.replayPending(ctx) {
			b.notify()
		}
		b.probe(ctx)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-b.wake:
		case <-ticker.C:
		}
	}
}

// probe reads the inner store when its last call failed and nothing is
// pending, so that Ready turns nil again once the store is reachable even
// when no other call reaches it. A successful probe calls the notify
// function, so that distributors look at the queue again.
func (b *Buffered) probe(ctx context.Context) {
	b.mu.Lock()
	idleOutage := b.lastErr != nil && len(b.pending) == 0
	b.mu.Unlock()
	if !idleOutage {
		return
	}

	callCtx, stop := context.WithTimeout(ctx, b.replayTimeout)
	defer stop()
	_, err := b.inner.Counselors(callCtx)
	if !b.unreachable(ctx, err) && ctx.Err() == nil {
		b.notify()
	}
}

// sendItem is the head of pending as Run sends it.
type sendItem struct {
	change *pendingChange
	// caller is a copy of the held caller, taken under the lock.
	caller Caller
}

// replayPending sends pending changes one by one until none is left, the
// inner store cannot be reached or ctx ends. It reports whether it wrote
// anything.
func (b *Buffered) replayPending(ctx context.Context) bool {
	wrote := 0
	for ctx.Err() == nil {
		item, ok := b.nextToSend()
		if !ok {
			break
		}
		err := b.send(ctx, item)
		if !b.settle(ctx, item, err) {
			break
		}
		wrote++
	}

	if wrote > 0 {
		b.mu.Lock()
		left := len(b.pending)
		b.mu.Unlock()
		b.log.Info().Int("written", wrote).Int("pending", left).Msg("held callers and state changes written to the queue store")
	}
	return wrote > 0
}

// nextToSend returns the head of pending and marks a held caller as being
// sent.
func (b *Buffered) nextToSend() (sendItem, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()

	if len(b.pending) == 0 {
		return sendItem{}, false
	}
	item := sendItem{change: b.pending[0]}
	if h := item.change.held; h != nil {
		h.sending = true
		h.sentPriority = h.caller.Priority
		item.caller = h.caller.clone()
	}
	return item, true
}

// send applies one pending change to the inner store.
func (b *Buffered) send(ctx context.Context, item sendItem) error {
	callCtx, stop := context.WithTimeout(ctx, b.replayTimeout)
	defer stop()
	if item.change.held != nil {
		return b.inner.Enqueue(callCtx, item.caller)
	}
	return item.change.apply(callCtx, b.inner)
}

// settle takes the result of sending item and reports whether Run goes on
// with the next change.
func (b *Buffered) settle(ctx context.Context, item sendItem, err error) bool {
	b.mu.Lock()
	defer b.mu.Unlock()

	stopped := ctx.Err() != nil
	down := err != nil && !isDomainError(err)
	if !stopped {
		b.setLastErrLocked(down, err)
	}

	if h := item.change.held; h != nil {
		return b.settleHeldLocked(item, h, err, stopped || down) && !stopped
	}
	if stopped || down {
		return false
	}
	b.dropLocked(item.change)
	if err != nil {
		b.logDropped(item.change.what, err)
	}
	return true
}

// settleHeldLocked takes the result of enqueueing a held caller. unsent is
// set when the inner store may not have taken it. It reports whether the
// caller left the head of pending.
func (b *Buffered) settleHeldLocked(item sendItem, h *heldCaller, err error, unsent bool) bool {
	h.sending = false
	callID := h.caller.CallID

	if unsent {
		// The request may have reached the store even though no response
		// came, so a caller who left meanwhile is removed there too.
		if h.left {
			b.replaceHeldLocked(item.change, leaveChange(callID))
		}
		return false
	}

	written := err == nil || errors.Is(err, ErrAlreadyQueued)
	switch {
	case !written:
		b.dropLocked(item.change)
		b.held--
		b.logDropped("enqueue caller "+callID, err)
	case h.left:
		b.replaceHeldLocked(item.change, leaveChange(callID))
	case h.caller.Priority != h.sentPriority:
		b.known[callID] = h.caller.clone()
		b.replaceHeldLocked(item.change, priorityChange(callID, h.caller.Priority))
	default:
		b.known[callID] = h.caller.clone()
		b.dropLocked(item.change)
		b.held--
	}
	return true
}

// replaceHeldLocked puts next in the place of a held caller's change.
func (b *Buffered) replaceHeldLocked(change, next *pendingChange) {
	if i := slices.Index(b.pending, change); i >= 0 {
		b.pending[i] = next
		b.held--
	}
}

// dropLocked removes change from pending.
func (b *Buffered) dropLocked(change *pendingChange) {
	if i := slices.Index(b.pending, change); i >= 0 {
		b.pending = slices.Delete(b.pending, i, i+1)
	}
}

// logDropped logs a pending change that the inner store rejected once it
// was reachable again. A Leave of a caller already gone is expected.
func (b *Buffered) logDropped(what string, err error) {
	event := b.log.Warn()
	if errors.Is(err, ErrNotWaiting) {
		event = b.log.Debug()
	}
	event.Err(err).Str("change", what).Msg("queue store rejected a change held during its outage, change dropped")
}

// leaveChange is the journaled Leave of callID.
func leaveChange(callID string) *pendingChange {
	return &pendingChange{
		what: "remove caller " + callID + " from queue",
		apply: func(ctx context.Context, inner Store) error {
			_, err := inner.Leave(ctx, callID)
			return err
		},
	}
}

// priorityChange is the journaled SetPriority of callID.
func priorityChange(callID string, priority int) *pendingChange {
	return &pendingChange{
		what: "set priority of caller " + callID,
		apply: func(ctx context.Context, inner Store) error {
			_, err := inner.SetPriority(ctx, callID, priority)
			return err
		},
	}
}
