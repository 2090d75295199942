package redisstore

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"helpline/queue"
)

// AddCounselor implements queue.Store.
func (s *Store) AddCounselor(ctx context.Context, id string, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("add counselor %s: %w", id, err)
	}
	if id == "" {
		return fmt.Errorf("add counselor: ID is empty: %w", queue.ErrInvalidCounselor)
	}

	raw, err := json.Marshal(counselorRecord{ID: id, State: queue.StateLoggedOut, Since: toStamp(now)})
	if err != nil {
		return fmt.Errorf("add counselor %s: encode record: %w", id, err)
	}
	if err := s.client.HSetNX(ctx, s.keys.counselors, id, raw).Err(); err != nil {
		return fmt.Errorf("add counselor %s: write to redis: %w", id, err)
	}
	return nil
}

// Counselor implements queue.Store.
func (s *Store) Counselor(ctx context.Context, id string) (queue.Counselor, error) {
	if err := ctx.Err(); err != nil {
		return queue.Counselor{}, fmt.Errorf("read counselor %s: %w", id, err)
	}

	raw, err := s.client.HGet(ctx, s.keys.counselors, id).Result()
	if errors.Is(err, redis.Nil) {
		return queue.Counselor{}, fmt.Errorf("read counselor %s: %w", id, queue.ErrUnknownCounselor)
	}
	if err != nil {
		return queue.Counselor{}, fmt.Errorf("read counselor %s from redis: %w", id, err)
	}

	counselor, err := decodeCounselor(raw)
	if err != nil {
		return queue.Counselor{}, fmt.Errorf("read counselor %s: %w", id, err)
	}
	return counselor, nil
}

// Counselors implements queue.Store.
func (s *Store) Counselors(ctx context.Context) ([]queue.Counselor, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list counselors: %w", err)
	}

	raws, err := s.client.HGetAll(ctx, s.keys.counselors).Result()
	if err != nil {
		return nil, fmt.Errorf("list counselors from redis: %w", err)
	}

	counselors := make([]queue.Counselor, 0, len(raws))
	for _, raw := range raws {
		counselor, err := decodeCounselor(raw)
		if err != nil {
			return nil, fmt.Errorf("list counselors: %w", err)
		}
		counselors = append(counselors, counselor)
	}
	slices.SortFunc(counselors, func(a, b queue.Counselor) int { return cmp.Compare(a.ID, b.ID) })
	return counselors, nil
}

// SetState implements queue.Store.
func (s *Store) SetState(ctx context.Context, id string, state queue.CounselorState, reason string, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("set counselor %s to %s: %w", id, state, err)
	}

	args := append([]any{id, string(state), reason}, timeArgs(now)...)
	status, reply, err := s.run(ctx, setStateScript, args...)
	if err != nil {
		return fmt.Errorf("set counselor %s to %s: %w", id, state, err)
	}
	switch status {
	case statusOK:
		return nil
	case statusUnknownCounselor:
		return fmt.Errorf("set counselor %s to %s: %w", id, state, queue.ErrUnknownCounselor)
	case statusTransition:
		return fmt.Errorf("set counselor state: %w", transitionError(id, reply, state))
	default:
		return fmt.Errorf("set counselor %s to %s: %w", id, state, unexpected(setStateScript, status))
	}
}

// FinishCall implements queue.Store.
func (s *Store) FinishCall(ctx context.Context, counselorID string, wrapUpUntil time.Time, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("finish call of counselor %s: %w", counselorID, err)
	}

	next := queue.StateWrapUp
	if !wrapUpUntil.After(now) {
		next = queue.StateAvailable
	}
	args := append([]any{counselorID, string(next)}, timeArgs(wrapUpUntil)...)
	args = append(args, timeArgs(now)...)
	status, reply, err := s.run(ctx, finishCallScript, args...)
	if err != nil {
		return fmt.Errorf("finish call of counselor %s: %w", counselorID, err)
	}
	switch status {
	case statusOK:
		return nil
	case statusUnknownCounselor:
		return fmt.Errorf("finish call of counselor %s: %w", counselorID, queue.ErrUnknownCounselor)
	case statusTransition:
		return fmt.Errorf("finish call: %w", transitionError(counselorID, reply, queue.StateWrapUp))
	default:
		return fmt.Errorf("finish call of counselor %s: %w", counselorID, unexpected(finishCallScript, status))
	}
}

// EndWrapUp implements queue.Store.
func (s *Store) EndWrapUp(ctx context.Context, counselorID string, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("end wrap-up of counselor %s: %w", counselorID, err)
	}

	status, reply, err := s.run(ctx, endWrapUpScript, append([]any{counselorID}, timeArgs(now)...)...)
	if err != nil {
		return fmt.Errorf("end wrap-up of counselor %s: %w", counselorID, err)
	}
	switch status {
	case statusOK:
		return nil
	case statusUnknownCounselor:
		return fmt.Errorf("end wrap-up of counselor %s: %w", counselorID, queue.ErrUnknownCounselor)
	case statusTransition:
		return fmt.Errorf("end wrap-up: %w", transitionError(counselorID, reply, queue.StateAvailable))
	default:
		return fmt.Errorf("end wrap-up of counselor %s: %w", counselorID, unexpected(endWrapUpScript, status))
	}
}

// transitionError returns the TransitionError of a script that rejected a
// change of counselor id to state to, with the state it found in reply.
func transitionError(id string, reply []any, to queue.CounselorState) error {
	from, err := replyString(reply, 0)
	if err != nil {
		return fmt.Errorf("rejected change of counselor %s to %s: %w", id, to, err)
	}
	return &queue.TransitionError{CounselorID: id, From: queue.CounselorState(from), To: to}
}
