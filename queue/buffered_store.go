package queue

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Enqueue implements Store. See Buffered for how it holds callers.
func (b *Buffered) Enqueue(ctx context.Context, caller Caller) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("enqueue caller %s: %w", caller.CallID, err)
	}
	if caller.CallID == "" || caller.Queue == "" {
		return fmt.Errorf("enqueue caller %q to queue %q: call ID and queue are required: %w",
			caller.CallID, caller.Queue, ErrInvalidCaller)
	}

	b.mu.Lock()
	if len(b.pending) > 0 {
		defer b.mu.Unlock()
		return b.holdLocked(caller, nil)
	}
	b.mu.Unlock()

	err := b.inner.Enqueue(ctx, caller)
	if !b.unreachable(ctx, err) {
		if err == nil {
			b.remember(caller)
		}
		return err
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	return b.holdLocked(caller, err)
}

// holdLocked appends caller to the buffer. cause is the inner store's
// error, or nil when the caller waits behind other pending changes.
func (b *Buffered) holdLocked(caller Caller, cause error) error {
	if b.heldLocked(caller.CallID) != nil {
		return fmt.Errorf("enqueue caller %s: %w", caller.CallID, ErrAlreadyQueued)
	}
	if b.held >= b.size {
		if cause == nil {
			cause = fmt.Errorf("%d callers wait to be written", b.held)
		}
		return fmt.Errorf("enqueue caller %s: queue store unreachable (%v) and %d callers held: %w",
			caller.CallID, cause, b.held, ErrBufferFull)
	}

	caller = caller.clone()
	caller.OfferedTo, caller.OfferedToAll = "", nil
	b.appendLocked(&pendingChange{held: &heldCaller{caller: caller, since: b.now()}})
	b.held++
	return nil
}

// heldLocked returns the buffered caller callID that has not left, or nil.
func (b *Buffered) heldLocked(callID string) *heldCaller {
	for _, change := range b.pending {
		if h := change.held; h != nil && !h.left && h.caller.CallID == callID {
			return h
		}
	}
	return nil
}

// appendLocked adds change to the end of pending and wakes Run.
func (b *Buffered) appendLocked(change *pendingChange) {
	b.pending = append(b.pending, change)
	b.wakeRun()
}

// removeHeldLocked drops the buffered caller h from pending.
func (b *Buffered) removeHeldLocked(h *heldCaller) {
	b.pending = slices.DeleteFunc(b.pending, func(change *pendingChange) bool { return change.held == h })
	b.held--
}

// Leave implements Store. A held caller leaves the buffer. A caller written
// to the inner store is journaled when the store cannot be reached.
func (b *Buffered) Leave(ctx context.Context, callID string) (Caller, error) {
	if err := ctx.Err(); err != nil {
		return Caller{}, fmt.Errorf("remove caller %s from queue: %w", callID, err)
	}

	b.mu.Lock()
	if h := b.heldLocked(callID); h != nil {
		defer b.mu.Unlock()
		left := h.caller.clone()
		if h.sending {
			h.left = true
		} else {
			b.removeHeldLocked(h)
		}
		return left, nil
	}
	if len(b.pending) > 0 {
		defer b.mu.Unlock()
		return b.journalLeaveLocked(callID, nil)
	}
	b.mu.Unlock()

	left, err := b.inner.Leave(ctx, callID)
	if !b.unreachable(ctx, err) {
		if err == nil || isDomainError(err) {
			b.forget(callID)
		}
		return left, err
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	return b.journalLeaveLocked(callID, err)
}

// journalLeaveLocked journals the Leave of callID and returns the caller as
// this store wrote it. A caller this store never wrote gets ErrNotWaiting,
// though the Leave is journaled all the same.
func (b *Buffered) journalLeaveLocked(callID string, cause error) (Caller, error) {
	change := leaveChange(callID)
	if err := b.journalLocked(change, cause); err != nil {
		return Caller{}, err
	}

	caller, ok := b.known[callID]
	if !ok {
		return Caller{}, fmt.Errorf("%s: not written through this store: %w", change.what, ErrNotWaiting)
	}
	delete(b.known, callID)
	return caller.clone(), nil
}

// Waiting implements Store. It lists the inner store's callers only, since
// held callers cannot be offered yet.
func (b *Buffered) Waiting(ctx context.Context, queue string) ([]Caller, error) {
	waiting, err := b.inner.Waiting(ctx, queue)
	b.unreachable(ctx, err)
	return waiting, err
}

// Position implements Store. A held caller's place counts only the held
// callers of its queue.
func (b *Buffered) Position(ctx context.Context, callID string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("find queue position of caller %s: %w", callID, err)
	}

	b.mu.Lock()
	if h := b.heldLocked(callID); h != nil {
		defer b.mu.Unlock()
		return b.heldPositionLocked(h.caller), nil
	}
	b.mu.Unlock()

	position, err := b.inner.Position(ctx, callID)
	b.unreachable(ctx, err)
	return position, err
}

// heldPositionLocked returns the 1-based place of caller among the held
// callers of its queue in service order.
func (b *Buffered) heldPositionLocked(caller Caller) int {
	position := 1
	for _, change := range b.pending {
		other := change.held
		if other == nil || other.left || other.caller.Queue != caller.Queue {
			continue
		}
		if compareServiceOrder(other.caller, caller) < 0 {
			position++
		}
	}
	return position
}

// SetPriority implements Store. A held caller's priority changes in the
// buffer.
func (b *Buffered) SetPriority(ctx context.Context, callID string, priority int) (Caller, error) {
	if err := ctx.Err(); err != nil {
		return Caller{}, fmt.Errorf("set priority of caller %s: %w", callID, err)
	}

	b.mu.Lock()
	if h := b.heldLocked(callID); h != nil {
		defer b.mu.Unlock()
		h.caller.Priority = priority
		return h.caller.clone(), nil
	}
	b.mu.Unlock()

	caller, err := b.inner.SetPriority(ctx, callID, priority)
	b.unreachable(ctx, err)
	if err == nil {
		b.remember(caller)
	}
	return caller, err
}

// AddCounselor implements Store.
func (b *Buffered) AddCounselor(ctx context.Context, id string, now time.Time) error {
	err := b.inner.AddCounselor(ctx, id, now)
	b.unreachable(ctx, err)
	return err
}

// SetState implements Store. It is journaled when the inner store cannot be
// reached.
func (b *Buffered) SetState(ctx context.Context, id string, state CounselorState, reason string, now time.Time) error {
	return b.mutate(ctx, fmt.Sprintf("set counselor %s to %s", id, state), func(ctx context.Context, inner Store) error {
		return inner.SetState(ctx, id, state, reason, now)
	})
}

// Counselor implements Store.
func (b *Buffered) Counselor(ctx context.Context, id string) (Counselor, error) {
	counselor, err := b.inner.Counselor(ctx, id)
	b.unreachable(ctx, err)
	return counselor, err
}

// Counselors implements Store.
func (b *Buffered) Counselors(ctx context.Context) ([]Counselor, error) {
	counselors, err := b.inner.Counselors(ctx)
	b.unreachable(ctx, err)
	return counselors, err
}

// Reserve implements Store. Held callers are not in the inner store, so
// they get ErrNotWaiting from it.
func (b *Buffered) Reserve(ctx context.Context, req ReserveRequest) (Reservation, error) {
	r, err := b.inner.Reserve(ctx, req)
	b.unreachable(ctx, err)
	return r, err
}

// CancelReservation implements Store. It is journaled when the inner store
// cannot be reached.
func (b *Buffered) CancelReservation(ctx context.Context, r Reservation, now time.Time) error {
	what := fmt.Sprintf("cancel reservation of caller %s for counselor %s", r.CallID, r.CounselorID)
	r.Ringing = slices.Clone(r.Ringing)
	return b.mutate(ctx, what, func(ctx context.Context, inner Store) error {
		return inner.CancelReservation(ctx, r, now)
	})
}

// Connect implements Store.
func (b *Buffered) Connect(ctx context.Context, r Reservation, now time.Time) error {
	err := b.inner.Connect(ctx, r, now)
	b.unreachable(ctx, err)
	if err == nil {
		b.forget(r.CallID)
	}
	return err
}

// FinishCall implements Store. It is journaled when the inner store cannot
// be reached.
func (b *Buffered) FinishCall(ctx context.Context, counselorID string, wrapUpUntil time.Time, now time.Time) error {
	return b.mutate(ctx, "finish call of counselor "+counselorID, func(ctx context.Context, inner Store) error {
		return inner.FinishCall(ctx, counselorID, wrapUpUntil, now)
	})
}

// EndWrapUp implements Store. It is journaled when the inner store cannot
// be reached.
func (b *Buffered) EndWrapUp(ctx context.Context, counselorID string, now time.Time) error {
	return b.mutate(ctx, "end wrap-up of counselor "+counselorID, func(ctx context.Context, inner Store) error {
		return inner.EndWrapUp(ctx, counselorID, now)
	})
}

// mutate applies a state change that must not be lost: on the inner store
// when nothing is pending, else, or when the store cannot be reached, by
// journaling it for Run.
func (b *Buffered) mutate(ctx context.Context, what string, apply func(context.Context, Store) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}

	b.mu.Lock()
	if len(b.pending) > 0 {
		defer b.mu.Unlock()
		return b.journalLocked(&pendingChange{what: what, apply: apply}, nil)
	}
	b.mu.Unlock()

	err := apply(ctx, b.inner)
	if !b.unreachable(ctx, err) {
		return err
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	return b.journalLocked(&pendingChange{what: what, apply: apply}, err)
}

// journalLocked appends a state change to pending. Past journalLimit it
// returns an error wrapping cause instead.
func (b *Buffered) journalLocked(change *pendingChange, cause error) error {
	if len(b.pending)-b.held >= journalLimit {
		if cause == nil {
			cause = b.lastErr
		}
		return fmt.Errorf("%s: %d state changes already wait for the queue store, retry later: %w",
			change.what, journalLimit, errors.Join(errJournalFull, cause))
	}
	b.appendLocked(change)
	return nil
}

// errJournalFull is the cause of a journaled change rejected past
// journalLimit.
var errJournalFull = errors.New("journal of state changes full")

// remember caches a caller written to the inner store.
func (b *Buffered) remember(caller Caller) {
	b.mu.Lock()
	defer b.mu.Unlock()

	if _, ok := b.known[caller.CallID]; !ok && len(b.known) >= knownLimit {
		b.forgetOldestLocked()
	}
	caller = caller.clone()
	caller.OfferedTo, caller.OfferedToAll = "", nil
	b.known[caller.CallID] = caller
}

// forgetOldestLocked drops the cached caller with the earliest EnqueuedAt,
// most likely one that left through another process.
func (b *Buffered) forgetOldestLocked() {
	var oldest Caller
	found := false
	for _, caller := range b.known {
		if !found || caller.EnqueuedAt.Before(oldest.EnqueuedAt) {
			oldest, found = caller, true
		}
	}
	delete(b.known, oldest.CallID)
}

// forget drops a caller that left the inner store from the cache.
func (b *Buffered) forget(callID string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.known, callID)
}
