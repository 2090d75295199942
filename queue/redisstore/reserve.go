package redisstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"helpline/queue"
)

// Reserve implements queue.Store. The reserved counselors get the Store's
// node as their Node.
func (s *Store) Reserve(ctx context.Context, req queue.ReserveRequest) (queue.Reservation, error) {
	if err := ctx.Err(); err != nil {
		return queue.Reservation{}, fmt.Errorf("reserve counselor for caller %s: %w", req.CallID, err)
	}

	args, err := reserveArgs(req, s.node)
	if err != nil {
		return queue.Reservation{}, fmt.Errorf("reserve counselor for caller %s: %w", req.CallID, err)
	}
	status, reply, err := s.run(ctx, reserveScript, args...)
	if err != nil {
		return queue.Reservation{}, fmt.Errorf("reserve counselor for caller %s: %w", req.CallID, err)
	}

	switch status {
	case statusOK:
	case statusNotWaiting:
		return queue.Reservation{}, fmt.Errorf("reserve counselor for caller %s: %w", req.CallID, queue.ErrNotWaiting)
	case statusOfferPending:
		offeredTo, _ := replyString(reply, 0)
		return queue.Reservation{}, fmt.Errorf("reserve counselor for caller %s: offered to %s: %w",
			req.CallID, offeredTo, queue.ErrOfferPending)
	case statusNoCounselor:
		return queue.Reservation{}, fmt.Errorf("reserve counselor for caller %s: %w", req.CallID, queue.ErrNoCounselor)
	case statusUnknownStrategy:
		return queue.Reservation{}, fmt.Errorf("reserve counselor for caller %s: strategy %q: %w",
			req.CallID, req.Strategy, queue.ErrUnknownStrategy)
	default:
		return queue.Reservation{}, fmt.Errorf("reserve counselor for caller %s: %w", req.CallID, unexpected(reserveScript, status))
	}

	r, err := reservationFromReply(req, reply)
	if err != nil {
		return queue.Reservation{}, fmt.Errorf("reserve counselor for caller %s: %w", req.CallID, err)
	}
	return r, nil
}

// reserveArgs returns the ARGV of the reserve script after the wake-up
// channel.
func reserveArgs(req queue.ReserveRequest, node string) ([]any, error) {
	exclude := req.Exclude
	if exclude == nil {
		exclude = []string{}
	}
	excludeJSON, err := json.Marshal(exclude)
	if err != nil {
		return nil, fmt.Errorf("encode exclude list: %w", err)
	}

	candidates := make([][2]any, 0, len(req.Candidates))
	for _, c := range req.Candidates {
		candidates = append(candidates, [2]any{c.ID, c.Level})
	}
	candidatesJSON, err := json.Marshal(candidates)
	if err != nil {
		return nil, fmt.Errorf("encode candidates: %w", err)
	}

	args := []any{req.CallID, string(req.Strategy)}
	args = append(args, timeArgs(req.Now)...)
	return append(args, req.Now.Format(time.DateOnly), node, excludeJSON, candidatesJSON), nil
}

// reservationFromReply builds the reservation from the reserve script's
// reply: the queue name and the reserved counselor IDs.
func reservationFromReply(req queue.ReserveRequest, reply []any) (queue.Reservation, error) {
	queueName, err := replyString(reply, 0)
	if err != nil {
		return queue.Reservation{}, err
	}
	ids, err := replyStrings(reply, 1)
	if err != nil {
		return queue.Reservation{}, err
	}
	if len(ids) == 0 {
		return queue.Reservation{}, fmt.Errorf("reservation without a counselor: %w", errMalformedReply)
	}

	r := queue.Reservation{CallID: req.CallID, CounselorID: ids[0], Queue: queueName, At: req.Now}
	if req.Strategy == queue.StrategyRingAll {
		r.Ringing = ids
	}
	return r, nil
}

// CancelReservation implements queue.Store.
func (s *Store) CancelReservation(ctx context.Context, r queue.Reservation, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("cancel reservation of caller %s for counselor %s: %w", r.CallID, r.CounselorID, err)
	}

	args, err := reservationArgs(r, now)
	if err != nil {
		return fmt.Errorf("cancel reservation of caller %s for counselor %s: %w", r.CallID, r.CounselorID, err)
	}
	status, _, err := s.run(ctx, cancelScript, args...)
	if err != nil {
		return fmt.Errorf("cancel reservation of caller %s for counselor %s: %w", r.CallID, r.CounselorID, err)
	}

	switch status {
	case statusOK:
		return nil
	case statusUnknownCounselor:
		return fmt.Errorf("cancel reservation of caller %s for counselor %s: %w",
			r.CallID, r.CounselorID, queue.ErrUnknownCounselor)
	default:
		return fmt.Errorf("cancel reservation of caller %s for counselor %s: %w",
			r.CallID, r.CounselorID, unexpected(cancelScript, status))
	}
}

// Connect implements queue.Store.
func (s *Store) Connect(ctx context.Context, r queue.Reservation, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("connect caller %s to counselor %s: %w", r.CallID, r.CounselorID, err)
	}

	args, err := reservationArgs(r, now)
	if err != nil {
		return fmt.Errorf("connect caller %s to counselor %s: %w", r.CallID, r.CounselorID, err)
	}
	status, _, err := s.run(ctx, connectScript, append(args, now.Format(time.DateOnly))...)
	if err != nil {
		return fmt.Errorf("connect caller %s to counselor %s: %w", r.CallID, r.CounselorID, err)
	}

	switch status {
	case statusOK:
		return nil
	case statusUnknownCounselor:
		return fmt.Errorf("connect caller %s to counselor %s: %w", r.CallID, r.CounselorID, queue.ErrUnknownCounselor)
	case statusLost:
		return fmt.Errorf("connect caller %s to counselor %s: hang up the counselor: %w",
			r.CallID, r.CounselorID, queue.ErrReservationLost)
	default:
		return fmt.Errorf("connect caller %s to counselor %s: %w", r.CallID, r.CounselorID, unexpected(connectScript, status))
	}
}

// reservationArgs returns the ARGV that the cancel and connect scripts share
// after the wake-up channel: call ID, counselor ID, the reserved counselors
// as JSON, and now.
func reservationArgs(r queue.Reservation, now time.Time) ([]any, error) {
	counselors, err := json.Marshal(r.Counselors())
	if err != nil {
		return nil, fmt.Errorf("encode reserved counselors: %w", err)
	}
	args := []any{r.CallID, r.CounselorID, counselors}
	return append(args, timeArgs(now)...), nil
}
