package queue

import (
	"context"
	"fmt"
)

// SetPriority implements Store.
func (s *MemoryStore) SetPriority(ctx context.Context, callID string, priority int) (Caller, error) {
	if err := ctx.Err(); err != nil {
		return Caller{}, fmt.Errorf("set priority of caller %s: %w", callID, err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	caller, ok := s.callers[callID]
	if !ok {
		return Caller{}, fmt.Errorf("set priority of caller %s: %w", callID, ErrNotWaiting)
	}
	caller.Priority = priority
	s.callers[callID] = caller
	return caller.clone(), nil
}
