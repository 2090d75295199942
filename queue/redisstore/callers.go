package redisstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"helpline/queue"
)

// Enqueue implements queue.Store. A caller with an empty Node gets the
// Store's node.
func (s *Store) Enqueue(ctx context.Context, caller queue.Caller) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("enqueue caller %s: %w", caller.CallID, err)
	}
	if caller.CallID == "" || caller.Queue == "" {
		return fmt.Errorf("enqueue caller %q to queue %q: call ID and queue are required: %w",
			caller.CallID, caller.Queue, queue.ErrInvalidCaller)
	}

	record := newCallerRecord(caller, s.node)
	raw, err := json.Marshal(record)
	if err != nil {
		return fmt.Errorf("enqueue caller %s: encode record: %w", caller.CallID, err)
	}
	status, _, err := s.run(ctx, enqueueScript, caller.CallID, raw, record.Rank, caller.Queue)
	if err != nil {
		return fmt.Errorf("enqueue caller %s: %w", caller.CallID, err)
	}

	switch status {
	case statusOK:
		return nil
	case statusAlreadyQueued:
		return fmt.Errorf("enqueue caller %s: %w", caller.CallID, queue.ErrAlreadyQueued)
	default:
		return fmt.Errorf("enqueue caller %s: %w", caller.CallID, unexpected(enqueueScript, status))
	}
}

// Leave implements queue.Store.
func (s *Store) Leave(ctx context.Context, callID string) (queue.Caller, error) {
	if err := ctx.Err(); err != nil {
		return queue.Caller{}, fmt.Errorf("remove caller %s from queue: %w", callID, err)
	}

	status, reply, err := s.run(ctx, leaveScript, callID)
	if err != nil {
		return queue.Caller{}, fmt.Errorf("remove caller %s from queue: %w", callID, err)
	}
	switch status {
	case statusOK:
	case statusNotWaiting:
		return queue.Caller{}, fmt.Errorf("remove caller %s from queue: %w", callID, queue.ErrNotWaiting)
	default:
		return queue.Caller{}, fmt.Errorf("remove caller %s from queue: %w", callID, unexpected(leaveScript, status))
	}

	caller, err := callerFromReply(reply)
	if err != nil {
		return queue.Caller{}, fmt.Errorf("remove caller %s from queue: %w", callID, err)
	}
	return caller, nil
}

// Waiting implements queue.Store.
func (s *Store) Waiting(ctx context.Context, queueName string) ([]queue.Caller, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list callers of queue %s: %w", queueName, err)
	}

	low, high := queueRange(queueName)
	skip := len(queuePrefix(queueName)) + priorityKeyLen + arrivalKeyLen
	status, reply, err := s.run(ctx, waitingScript, low, high, skip)
	if err != nil {
		return nil, fmt.Errorf("list callers of queue %s: %w", queueName, err)
	}
	if status != statusOK {
		return nil, fmt.Errorf("list callers of queue %s: %w", queueName, unexpected(waitingScript, status))
	}

	raws, err := replyStrings(reply, 0)
	if err != nil {
		return nil, fmt.Errorf("list callers of queue %s: %w", queueName, err)
	}
	waiting := make([]queue.Caller, 0, len(raws))
	for _, raw := range raws {
		caller, err := decodeCaller(raw)
		if err != nil {
			return nil, fmt.Errorf("list callers of queue %s: %w", queueName, err)
		}
		waiting = append(waiting, caller)
	}
	return waiting, nil
}

// Position implements queue.Store.
func (s *Store) Position(ctx context.Context, callID string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("find queue position of caller %s: %w", callID, err)
	}

	status, reply, err := s.run(ctx, positionScript, callID)
	if err != nil {
		return 0, fmt.Errorf("find queue position of caller %s: %w", callID, err)
	}
	switch status {
	case statusOK:
	case statusNotWaiting:
		return 0, fmt.Errorf("find queue position of caller %s: %w", callID, queue.ErrNotWaiting)
	default:
		return 0, fmt.Errorf("find queue position of caller %s: %w", callID, unexpected(positionScript, status))
	}

	text, err := replyString(reply, 0)
	if err != nil {
		return 0, fmt.Errorf("find queue position of caller %s: %w", callID, err)
	}
	position, err := strconv.Atoi(text)
	if err != nil {
		return 0, fmt.Errorf("find queue position of caller %s: position %q: %w", callID, text, errMalformedReply)
	}
	return position, nil
}

// SetPriority implements queue.Store.
func (s *Store) SetPriority(ctx context.Context, callID string, priority int) (queue.Caller, error) {
	if err := ctx.Err(); err != nil {
		return queue.Caller{}, fmt.Errorf("set priority of caller %s: %w", callID, err)
	}

	status, reply, err := s.run(ctx, setPriorityScript, callID, strconv.Itoa(priority), priorityKey(priority))
	if err != nil {
		return queue.Caller{}, fmt.Errorf("set priority of caller %s: %w", callID, err)
	}
	switch status {
	case statusOK:
	case statusNotWaiting:
		return queue.Caller{}, fmt.Errorf("set priority of caller %s: %w", callID, queue.ErrNotWaiting)
	default:
		return queue.Caller{}, fmt.Errorf("set priority of caller %s: %w", callID, unexpected(setPriorityScript, status))
	}

	caller, err := callerFromReply(reply)
	if err != nil {
		return queue.Caller{}, fmt.Errorf("set priority of caller %s: %w", callID, err)
	}
	return caller, nil
}

// callerFromReply decodes the caller record at the start of a reply.
func callerFromReply(reply []any) (queue.Caller, error) {
	raw, err := replyString(reply, 0)
	if err != nil {
		return queue.Caller{}, err
	}
	return decodeCaller(raw)
}
