package queue

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"
)

// SetState implements Store.
func (s *MemoryStore) SetState(ctx context.Context, id string, state CounselorState, reason string, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("set counselor %s to %s: %w", id, state, err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	counselor, ok := s.counselors[id]
	if !ok {
		return fmt.Errorf("set counselor %s to %s: %w", id, state, ErrUnknownCounselor)
	}
	next, err := applyManualState(counselor, state, reason, now)
	if err != nil {
		return fmt.Errorf("set counselor state: %w", err)
	}
	s.putLocked(next, now)
	return nil
}

// applyManualState returns c after the manual change to state, or a
// TransitionError when Store.SetState does not allow it.
func applyManualState(c Counselor, state CounselorState, reason string, now time.Time) (Counselor, error) {
	rejected := &TransitionError{CounselorID: c.ID, From: c.State, To: state}

	if c.State == StateOffered || c.State == StateOnCall {
		if state != StateLoggedOut {
			return c, rejected
		}
		c.LogoutAfterCall = true
		return c, nil
	}

	switch state {
	case StateLoggedOut:
		return loggedOut(c), nil

	case StateAvailable:
		if c.State == StateAvailable {
			return c, nil
		}
		return availableFrom(c, now), nil

	case StateBreak:
		if c.State == StateLoggedOut {
			return c, rejected
		}
		c.State = StateBreak
		c.Reason = reason
		c.WrapUpUntil = time.Time{}
		return c, nil

	default:
		return c, rejected
	}
}

// availableFrom returns c made available at now. A counselor leaving wrap_up
// after WrapUpUntil counts as idle since WrapUpUntil, as in Reserve.
func availableFrom(c Counselor, now time.Time) Counselor {
	idleSince := now
	if c.State == StateWrapUp && c.WrapUpUntil.Before(now) {
		idleSince = c.WrapUpUntil
	}
	return Counselor{ID: c.ID, State: StateAvailable, IdleSince: idleSince}
}

// loggedOut returns c logged out with every call field cleared.
func loggedOut(c Counselor) Counselor {
	return Counselor{ID: c.ID, State: StateLoggedOut}
}

// Reserve implements Store.
func (s *MemoryStore) Reserve(ctx context.Context, req ReserveRequest) (Reservation, error) {
	if err := ctx.Err(); err != nil {
		return Reservation{}, fmt.Errorf("reserve counselor for caller %s: %w", req.CallID, err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	caller, ok := s.callers[req.CallID]
	if !ok {
		return Reservation{}, fmt.Errorf("reserve counselor for caller %s: %w", req.CallID, ErrNotWaiting)
	}
	if caller.OfferedTo != "" {
		return Reservation{}, fmt.Errorf("reserve counselor for caller %s: offered to %s: %w",
			req.CallID, caller.OfferedTo, ErrOfferPending)
	}

	counselor, ok := s.longestIdleLocked(req)
	if !ok {
		return Reservation{}, fmt.Errorf("reserve counselor for caller %s: %w", req.CallID, ErrNoCounselor)
	}

	counselor.IdleSince = idleSince(counselor)
	counselor.State = StateOffered
	counselor.OfferCallID = caller.CallID
	counselor.WrapUpUntil = time.Time{}
	s.putLocked(counselor, req.Now)

	caller.OfferedTo = counselor.ID
	s.callers[caller.CallID] = caller

	return Reservation{CallID: caller.CallID, CounselorID: counselor.ID, Queue: caller.Queue, At: req.Now}, nil
}

// longestIdleLocked returns the candidate of req with the earliest idle time,
// ties going to the smaller ID.
func (s *MemoryStore) longestIdleLocked(req ReserveRequest) (Counselor, bool) {
	var best Counselor
	found := false
	for _, candidate := range s.counselors {
		if !candidate.Offerable(req.Now) || slices.Contains(req.Exclude, candidate.ID) {
			continue
		}
		if !found || compareIdle(candidate, best) < 0 {
			best = candidate
			found = true
		}
	}
	return best, found
}

// compareIdle orders counselors by idle time, then ID.
func compareIdle(a, b Counselor) int {
	if byIdle := idleSince(a).Compare(idleSince(b)); byIdle != 0 {
		return byIdle
	}
	return cmp.Compare(a.ID, b.ID)
}

// idleSince returns when an Offerable counselor became idle: WrapUpUntil for
// a counselor whose wrap-up ended, else IdleSince.
func idleSince(c Counselor) time.Time {
	if c.State == StateWrapUp {
		return c.WrapUpUntil
	}
	return c.IdleSince
}

// CancelReservation implements Store.
func (s *MemoryStore) CancelReservation(ctx context.Context, r Reservation, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("cancel reservation of caller %s for counselor %s: %w", r.CallID, r.CounselorID, err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	if _, ok := s.counselors[r.CounselorID]; !ok {
		return fmt.Errorf("cancel reservation of caller %s for counselor %s: %w",
			r.CallID, r.CounselorID, ErrUnknownCounselor)
	}
	s.releaseLocked(r, now)
	return nil
}

// releaseLocked frees both sides of r where they still hold it: the counselor
// returns to available (or logged_out) and the caller's offer mark is cleared.
func (s *MemoryStore) releaseLocked(r Reservation, now time.Time) {
	counselor, ok := s.counselors[r.CounselorID]
	if ok && counselor.State == StateOffered && counselor.OfferCallID == r.CallID {
		s.putLocked(releasedCounselor(counselor), now)
	}

	caller, ok := s.callers[r.CallID]
	if ok && caller.OfferedTo == r.CounselorID {
		caller.OfferedTo = ""
		s.callers[r.CallID] = caller
	}
}

// releasedCounselor returns an offered or on_call counselor freed from its
// caller: logged_out when a logout is pending, else available with its
// IdleSince kept.
func releasedCounselor(c Counselor) Counselor {
	if c.LogoutAfterCall {
		return loggedOut(c)
	}
	return Counselor{ID: c.ID, State: StateAvailable, IdleSince: c.IdleSince}
}

// Connect implements Store.
func (s *MemoryStore) Connect(ctx context.Context, r Reservation, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("connect caller %s to counselor %s: %w", r.CallID, r.CounselorID, err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	counselor, ok := s.counselors[r.CounselorID]
	if !ok {
		return fmt.Errorf("connect caller %s to counselor %s: %w", r.CallID, r.CounselorID, ErrUnknownCounselor)
	}
	if counselor.State == StateOnCall && counselor.CallID == r.CallID {
		return nil
	}

	caller, waiting := s.callers[r.CallID]
	held := counselor.State == StateOffered && counselor.OfferCallID == r.CallID &&
		waiting && caller.OfferedTo == r.CounselorID
	if !held {
		s.releaseLocked(r, now)
		return fmt.Errorf("connect caller %s to counselor %s: hang up the counselor: %w",
			r.CallID, r.CounselorID, ErrReservationLost)
	}

	delete(s.callers, r.CallID)
	counselor.State = StateOnCall
	counselor.CallID = r.CallID
	counselor.OfferCallID = ""
	s.putLocked(counselor, now)
	return nil
}

// FinishCall implements Store.
func (s *MemoryStore) FinishCall(ctx context.Context, counselorID string, wrapUpUntil time.Time, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("finish call of counselor %s: %w", counselorID, err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	counselor, ok := s.counselors[counselorID]
	if !ok {
		return fmt.Errorf("finish call of counselor %s: %w", counselorID, ErrUnknownCounselor)
	}
	if counselor.State != StateOnCall {
		return fmt.Errorf("finish call: %w",
			&TransitionError{CounselorID: counselorID, From: counselor.State, To: StateWrapUp})
	}

	switch {
	case counselor.LogoutAfterCall:
		counselor = loggedOut(counselor)
	case !wrapUpUntil.After(now):
		counselor = Counselor{ID: counselorID, State: StateAvailable, IdleSince: now}
	default:
		counselor = Counselor{ID: counselorID, State: StateWrapUp, IdleSince: wrapUpUntil, WrapUpUntil: wrapUpUntil}
	}
	s.putLocked(counselor, now)
	return nil
}

// EndWrapUp implements Store.
func (s *MemoryStore) EndWrapUp(ctx context.Context, counselorID string, now time.Time) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("end wrap-up of counselor %s: %w", counselorID, err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	counselor, ok := s.counselors[counselorID]
	if !ok {
		return fmt.Errorf("end wrap-up of counselor %s: %w", counselorID, ErrUnknownCounselor)
	}
	if counselor.State != StateWrapUp {
		return fmt.Errorf("end wrap-up: %w",
			&TransitionError{CounselorID: counselorID, From: counselor.State, To: StateAvailable})
	}
	s.putLocked(availableFrom(counselor, now), now)
	return nil
}
