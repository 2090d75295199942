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
// logged_out when the counselor logged out during the call.
func (s *Server) finishCallState(ctx context.Context, counselorID string, wrapUpUntil, now time.Time) error {
	before, err := s.queue.Counselor(ctx, counselorID)
	if err != nil {
		return err
	}
	if err := s.queue.FinishCall(ctx, counselorID, wrapUpUntil, now); err != nil {
		return err
	}
	after, err := s.queue.Counselor(ctx, counselorID)
	if err != nil {
		return err
	}
	if after.State != before.State {
		counselor.Publish(s.events, counselorID, before.State, after.State, after.Reason, sourceCallEnd)
	}
	return nil
}
