package sip

import (
	"context"
	"time"

	"helpline/counselor"
)

// sourceCallEnd is the event source of the state change at the end of a
// counselor's call.
const sourceCallEnd = "call_end"

// wrapUpFor returns a counselor's wrap-up time: the counselor's own, or
// Options.WrapUp.
func (s *Server) wrapUpFor(counselorID string) time.Duration {
	if d, ok := s.opts.CounselorWrapUp[counselorID]; ok && d > 0 {
		return d
	}
	return s.opts.WrapUp
}

// finishCallState ends a counselor's call in the queue and publishes the
// state change: to wrap_up, to available without wrap-up time, or to
// logged_out when the counselor logged out during the call. The call ends
// in the queue even when the counselor's state cannot be read, as happens
// while the queue store is unreachable and FinishCall is journaled. The
// event is then skipped.
func (s *Server) finishCallState(ctx context.Context, counselorID string, wrapUpUntil, now time.Time) error {
	before, beforeErr := s.queue.Counselor(ctx, counselorID)
	if err := s.queue.FinishCall(ctx, counselorID, wrapUpUntil, now); err != nil {
		return err
	}
	if beforeErr != nil {
		s.log.Warn().Err(beforeErr).Str("counselor", counselorID).
			Msg("counselor state unknown at the end of the call, state change event skipped")
		return nil
	}
	after, err := s.queue.Counselor(ctx, counselorID)
	if err != nil {
		s.log.Warn().Err(err).Str("counselor", counselorID).
			Msg("counselor state unknown after the end of the call, state change event skipped")
		return nil
	}
	if after.State != before.State {
		counselor.Publish(s.events, counselorID, before.State, after.State, after.Reason, sourceCallEnd)
	}
	return nil
}
