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
	return keepCounts(Counselor{ID: c.ID, State: StateAvailable, IdleSince: idleSince}, c)
}

// loggedOut returns c logged out with every call field cleared.
func loggedOut(c Counselor) Counselor {
	return keepCounts(Counselor{ID: c.ID, State: StateLoggedOut}, c)
}

// keepCounts returns next with the answered-call count of prev, which a
// state change never resets.
func keepCounts(next, prev Counselor) Counselor {
	next.AnsweredToday, next.AnsweredDay = prev.AnsweredToday, prev.AnsweredDay
	return next
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

	picked, err := s.pickLocked(req, caller.Queue)
	if err != nil {
		return Reservation{}, fmt.Errorf("reserve counselor for caller %s: %w", req.CallID, err)
	}
	if len(picked) == 0 {
		return Reservation{}, fmt.Errorf("reserve counselor for caller %s: %w", req.CallID, ErrNoCounselor)
	}

	r := Reservation{CallID: caller.CallID, CounselorID: picked[0].ID, Queue: caller.Queue, At: req.Now}
	for _, counselor := range picked {
		counselor.IdleSince = idleSince(counselor)
		counselor.State = StateOffered
		counselor.OfferCallID = caller.CallID
		counselor.WrapUpUntil = time.Time{}
		counselor.Node = caller.Node
		s.putLocked(counselor, req.Now)
		if req.Strategy == StrategyRingAll {
			r.Ringing = append(r.Ringing, counselor.ID)
		}
	}
	if req.Strategy == StrategyRoundRobin {
		s.lastReserved[caller.Queue] = r.CounselorID
	}

	caller.OfferedTo = r.CounselorID
	caller.OfferedToAll = slices.Clone(r.Ringing)
	s.callers[caller.CallID] = caller
	return r, nil
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

// releaseLocked frees both sides of r where they still hold it: each
// counselor of r returns to available (or logged_out) and the caller's offer
// marks are cleared.
func (s *MemoryStore) releaseLocked(r Reservation, now time.Time) {
	for _, id := range r.Counselors() {
		s.releaseCounselorLocked(id, r.CallID, now)
	}

	caller, ok := s.callers[r.CallID]
	if ok && slices.Contains(r.Counselors(), caller.OfferedTo) {
		caller.OfferedTo = ""
		caller.OfferedToAll = nil
		s.callers[r.CallID] = caller
	}
}

// releaseCounselorLocked frees counselor id when it is still offered for
// callID.
func (s *MemoryStore) releaseCounselorLocked(id, callID string, now time.Time) {
	counselor, ok := s.counselors[id]
	if ok && counselor.State == StateOffered && counselor.OfferCallID == callID {
		s.putLocked(releasedCounselor(counselor), now)
	}
}

// releasedCounselor returns an offered or on_call counselor freed from its
// caller: logged_out when a logout is pending, else available with its
// IdleSince kept.
func releasedCounselor(c Counselor) Counselor {
	if c.LogoutAfterCall {
		return loggedOut(c)
	}
	return keepCounts(Counselor{ID: c.ID, State: StateAvailable, IdleSince: c.IdleSince}, c)
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
		waiting && slices.Contains(offeredSet(caller), r.CounselorID)
	if !held {
		s.releaseLocked(r, now)
		return fmt.Errorf("connect caller %s to counselor %s: hang up the counselor: %w",
			r.CallID, r.CounselorID, ErrReservationLost)
	}

	delete(s.callers, r.CallID)
	for _, other := range offeredSet(caller) {
		if other != r.CounselorID {
			s.releaseCounselorLocked(other, r.CallID, now)
		}
	}
	if day := answeredDay(now); counselor.AnsweredDay == day {
		counselor.AnsweredToday++
	} else {
		counselor.AnsweredDay, counselor.AnsweredToday = day, 1
	}
	counselor.State = StateOnCall
	counselor.CallID = r.CallID
	counselor.OfferCallID = ""
	s.putLocked(counselor, now)
	return nil
}

// offeredSet returns the counselors ringing for a waiting caller.
func offeredSet(c Caller) []string {
	if len(c.OfferedToAll) > 0 {
		return c.OfferedToAll
	}
	if c.OfferedTo == "" {
		return nil
	}
	return []string{c.OfferedTo}
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
		counselor = keepCounts(Counselor{ID: counselorID, State: StateAvailable, IdleSince: now}, counselor)
	default:
		counselor = keepCounts(Counselor{ID: counselorID, State: StateWrapUp, IdleSince: wrapUpUntil, WrapUpUntil: wrapUpUntil}, counselor)
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
