package callback

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"time"

	"helpline/events"
	"helpline/queue"
	"helpline/records"
)

// Create makes a task for req, stores it and puts it in the queue with the
// caller's place. A withheld or missing number makes a failed task that is
// stored and announced, and Create returns it with ErrNumberWithheld. A
// req.TaskID of a task that the Manager has already returns that task
// unchanged.
func (m *Manager) Create(ctx context.Context, req Request) (Task, error) {
	if existing, ok := m.known(req.TaskID); ok {
		m.log.Info().Str("callback_id", existing.ID).Str("call_id", req.CallID).Msg("callback task exists already")
		return existing, nil
	}
	id := req.TaskID
	if id == "" {
		id = newTaskID()
	}

	now := m.now()
	t := &task{Task: Task{
		ID:          id,
		CallID:      req.CallID,
		Queue:       req.Queue,
		Reason:      req.Reason,
		State:       records.CallbackPending,
		Withheld:    req.Withheld || records.NormalizeNumber(req.Number) == "",
		Priority:    req.Priority,
		EnqueuedAt:  req.EnqueuedAt,
		CreatedAt:   now,
		MaxAttempts: m.cfg.Attempts,
		Attributes:  maps.Clone(req.Attributes),
	}}
	if t.EnqueuedAt.IsZero() {
		t.EnqueuedAt = now
	}
	if !t.Withheld {
		t.number = req.Number
	}
	log := m.log.With().Str("callback_id", t.ID).Str("call_id", t.CallID).Str("queue", t.Queue).Logger()

	if t.Withheld {
		t.State, t.EndReason = records.CallbackFailed, endNumberWithheld
		m.persistNew(t, now)
		m.remember(t)
		log.Warn().Str("reason", t.Reason).Msg("caller number withheld, callback not possible")
		m.publish(events.CallbackRequested, t.copy(), nil)
		m.publish(events.CallbackFailed, t.copy(), map[string]string{"end_reason": endNumberWithheld})
		return t.copy(), fmt.Errorf("create callback for call %s: %w", req.CallID, ErrNumberWithheld)
	}

	m.persistNew(t, now)
	m.remember(t)
	if err := m.enqueue(ctx, t.copy()); err != nil {
		log.Error().Err(err).Msg("queueing the callback failed; it is retried after the interval")
		m.deferTask(t.ID, now.Add(m.cfg.Interval))
	}
	log.Info().Str("reason", t.Reason).Str("number", t.MaskedNumber()).Msg("callback requested")
	m.publish(events.CallbackRequested, t.copy(), nil)
	m.notifyDistributors()
	return t.copy(), nil
}

// persistNew writes a new task. A failed write is logged: the task still
// runs, because calling the person back matters more than the record.
func (m *Manager) persistNew(t *task, now time.Time) {
	if m.store == nil {
		return
	}
	ctx, stop := storeContext()
	defer stop()
	cb := records.Callback{
		TaskID: t.ID, CallID: t.CallID, Queue: t.Queue, Reason: t.Reason, State: t.State,
		Number: t.number, NumberWithheld: t.Withheld, Priority: t.Priority,
		EnqueuedAt: t.EnqueuedAt, CreatedAt: t.CreatedAt, EndReason: t.EndReason,
	}
	if t.State.Final() {
		cb.EndedAt = now
	}
	if err := m.store.CreateCallback(ctx, cb); err != nil {
		m.log.Error().Err(err).Str("callback_id", t.ID).Msg("storing the callback task failed")
	}
}

// known returns a copy of task id when the Manager has it.
func (m *Manager) known(id string) (Task, bool) {
	if id == "" {
		return Task{}, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tasks[id]
	if !ok {
		return Task{}, false
	}
	return t.copy(), true
}

func (m *Manager) remember(t *task) {
	m.mu.Lock()
	m.tasks[t.ID] = t
	m.mu.Unlock()
}

// enqueue puts t in its queue with its original place.
func (m *Manager) enqueue(ctx context.Context, t Task) error {
	callCtx, stop := context.WithTimeout(ctx, storeTimeout)
	defer stop()
	err := m.queue.Enqueue(callCtx, queue.Caller{
		CallID:     t.ID,
		Queue:      t.Queue,
		Priority:   t.Priority,
		EnqueuedAt: t.EnqueuedAt,
		Attributes: t.Attributes,
		Kind:       queue.KindCallback,
	})
	if errors.Is(err, queue.ErrAlreadyQueued) {
		return nil
	}
	return err
}

// deferTask sets when a pending task re-enters the queue, and wakes Run.
func (m *Manager) deferTask(id string, at time.Time) {
	m.mu.Lock()
	if t, ok := m.tasks[id]; ok {
		t.NextAttemptAt = at
	}
	m.mu.Unlock()
	m.wakeUp()
}

func (m *Manager) wakeUp() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// StartAttempt begins an attempt for a task whose counselor answered. The
// task has left the queue (queue.Store.Connect took it out). It returns
// ErrUnknownTask, ErrTaskDone or ErrTaskBusy when no attempt may start.
func (m *Manager) StartAttempt(id, counselorID string) (Attempt, error) {
	m.mu.Lock()
	t, ok := m.tasks[id]
	switch {
	case !ok:
		m.mu.Unlock()
		return Attempt{}, fmt.Errorf("start callback attempt %s: %w", id, ErrUnknownTask)
	case t.State.Final():
		m.mu.Unlock()
		return Attempt{}, fmt.Errorf("start callback attempt %s: %w", id, ErrTaskDone)
	case t.State != records.CallbackPending:
		m.mu.Unlock()
		return Attempt{}, fmt.Errorf("start callback attempt %s: %w", id, ErrTaskBusy)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.State = records.CallbackDialling
	t.Counselor = counselorID
	t.NextAttemptAt = time.Time{}
	t.tries++
	t.cancelAttempt = cancel
	attempt := Attempt{TaskID: id, Number: t.number, N: t.tries, Queue: t.Queue, Attributes: maps.Clone(t.Attributes), Ctx: ctx}
	snapshot := t.copy()
	m.mu.Unlock()

	now := m.now()
	if m.store != nil {
		storeCtx, stop := storeContext()
		if err := m.store.StartCallbackAttempt(storeCtx, records.CallbackAttempt{
			TaskID: id, Attempt: attempt.N, Counselor: counselorID, StartedAt: now,
		}); err != nil {
			m.log.Error().Err(err).Str("callback_id", id).Msg("storing the callback attempt failed")
		}
		m.setState(storeCtx, snapshot, "", now)
		stop()
	}
	m.log.Info().Str("callback_id", id).Str("counselor", counselorID).Int("attempt", attempt.N).
		Str("number", snapshot.MaskedNumber()).Msg("dialling the caller back")
	return attempt, nil
}

// Result is the end of an attempt: its outcome and SIP status.
type Result struct {
	// Outcome is answered, busy, no_answer, declined, unavailable,
	// no_route or counselor_gone.
	Outcome string
	// SIPStatus is the final status of the INVITE to the caller, or 0.
	SIPStatus int
}

// FinishAttempt records how an attempt ended and moves the task on: an
// answered attempt completes it; a failed one either fails the task, when
// it was the last, or makes it re-enter the queue after the interval. An
// attempt that ended because the counselor hung up first does not count,
// and the task re-enters the queue at once. It ends a.Ctx and returns the
// task as it now is.
func (m *Manager) FinishAttempt(ctx context.Context, a Attempt, res Result) Task {
	now := m.now()

	m.mu.Lock()
	t, ok := m.tasks[a.TaskID]
	if !ok {
		m.mu.Unlock()
		return Task{}
	}
	if t.cancelAttempt != nil {
		t.cancelAttempt()
		t.cancelAttempt = nil
	}
	cancelled := t.State == records.CallbackCancelled
	if res.Outcome != OutcomeCounselorGone {
		t.Attempts++
	}
	counselor := t.Counselor
	t.Counselor = ""
	requeueAt := time.Time{}
	switch {
	case cancelled:
	case res.Outcome == OutcomeAnswered:
		t.State = records.CallbackCompleted
	case res.Outcome != OutcomeCounselorGone && t.Attempts >= t.MaxAttempts:
		t.State, t.EndReason = records.CallbackFailed, endAttemptsUsed
	default:
		t.State = records.CallbackPending
		requeueAt = now
		if res.Outcome != OutcomeCounselorGone {
			requeueAt = now.Add(m.cfg.Interval)
		}
		t.NextAttemptAt = requeueAt
	}
	snapshot := t.copy()
	m.mu.Unlock()

	m.storeAttemptEnd(a, counselor, res, now)
	if !cancelled {
		storeCtx, stop := storeContext()
		m.setState(storeCtx, snapshot, snapshot.EndReason, now)
		stop()
	}

	attemptData := map[string]string{
		"attempt": strconv.Itoa(a.N), "outcome": res.Outcome, "sip_status": strconv.Itoa(res.SIPStatus),
	}
	snapshot.Counselor = counselor
	m.publish(events.CallbackAttempted, snapshot, attemptData)
	log := m.log.With().Str("callback_id", a.TaskID).Int("attempt", a.N).Str("outcome", res.Outcome).
		Int("sip_status", res.SIPStatus).Logger()
	switch snapshot.State {
	case records.CallbackCompleted:
		log.Info().Msg("callback connected")
		m.publish(events.CallbackCompleted, snapshot, nil)
	case records.CallbackFailed:
		log.Warn().Msg("callback failed: every attempt used")
		m.publish(events.CallbackFailed, snapshot, map[string]string{"end_reason": snapshot.EndReason})
	case records.CallbackPending:
		log.Info().Time("next_attempt_at", requeueAt).Msg("callback attempt failed, trying again later")
		m.wakeUp()
	}
	return snapshot
}

// storeAttemptEnd writes the end of an attempt.
func (m *Manager) storeAttemptEnd(a Attempt, counselor string, res Result, now time.Time) {
	if m.store == nil {
		return
	}
	ctx, stop := storeContext()
	defer stop()
	err := m.store.FinishCallbackAttempt(ctx, records.CallbackAttempt{
		TaskID: a.TaskID, Attempt: a.N, Counselor: counselor, EndedAt: now, SIPStatus: res.SIPStatus, Outcome: res.Outcome,
	})
	if err != nil {
		m.log.Error().Err(err).Str("callback_id", a.TaskID).Msg("storing the callback attempt result failed")
	}
}

// setState writes a task's state to the store.
func (m *Manager) setState(ctx context.Context, t Task, reason string, at time.Time) {
	if m.store == nil {
		return
	}
	if err := m.store.SetCallbackState(ctx, t.ID, t.State, reason, at); err != nil {
		m.log.Error().Err(err).Str("callback_id", t.ID).Msg("storing the callback state failed")
	}
}

// Cancel ends a task that is not done: it leaves the queue, a running
// attempt's context ends, and the task becomes cancelled. It returns
// ErrUnknownTask or ErrTaskDone.
func (m *Manager) Cancel(ctx context.Context, id, by string) (Task, error) {
	now := m.now()
	m.mu.Lock()
	t, ok := m.tasks[id]
	if !ok {
		m.mu.Unlock()
		return Task{}, fmt.Errorf("cancel callback %s: %w", id, ErrUnknownTask)
	}
	if t.State.Final() {
		snapshot := t.copy()
		m.mu.Unlock()
		return snapshot, fmt.Errorf("cancel callback %s (state %s): %w", id, t.State, ErrTaskDone)
	}
	t.State, t.EndReason, t.NextAttemptAt = records.CallbackCancelled, endCancelled, time.Time{}
	if t.cancelAttempt != nil {
		t.cancelAttempt()
	}
	snapshot := t.copy()
	m.mu.Unlock()

	callCtx, stop := context.WithTimeout(ctx, storeTimeout)
	defer stop()
	if _, err := m.queue.Leave(callCtx, id); err != nil && !errors.Is(err, queue.ErrNotWaiting) {
		m.log.Error().Err(err).Str("callback_id", id).Msg("removing the cancelled callback from the queue failed")
	}
	m.notifyDistributors()
	m.setState(callCtx, snapshot, endCancelled, now)
	m.log.Info().Str("callback_id", id).Str("by", by).Msg("callback cancelled")
	m.publish(events.CallbackCancelled, snapshot, map[string]string{"by": by})
	return snapshot, nil
}

// Tick puts back in the queue every pending task whose NextAttemptAt has
// come, and returns the earliest NextAttemptAt still ahead, or zero.
func (m *Manager) Tick(ctx context.Context) time.Time {
	now := m.now()
	var due []Task
	var next time.Time
	m.mu.Lock()
	for _, t := range m.tasks {
		if t.State != records.CallbackPending || t.NextAttemptAt.IsZero() {
			continue
		}
		if t.NextAttemptAt.After(now) {
			if next.IsZero() || t.NextAttemptAt.Before(next) {
				next = t.NextAttemptAt
			}
			continue
		}
		t.NextAttemptAt = time.Time{}
		due = append(due, t.copy())
	}
	m.mu.Unlock()

	for _, t := range due {
		if err := m.enqueue(ctx, t); err != nil {
			m.log.Error().Err(err).Str("callback_id", t.ID).Msg("queueing the callback again failed; retrying after the interval")
			m.deferTask(t.ID, now.Add(m.cfg.Interval))
			continue
		}
		m.log.Info().Str("callback_id", t.ID).Msg("callback back in the queue at its original place")
	}
	if len(due) > 0 {
		m.notifyDistributors()
	}
	return next
}

// Run re-queues tasks when their interval ends, until ctx ends.
func (m *Manager) Run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := m.Tick(ctx)
		timer.Stop()
		if !next.IsZero() {
			timer.Reset(max(next.Sub(m.now()), 0))
		}
		select {
		case <-ctx.Done():
			return
		case <-m.wake:
		case <-timer.C:
		}
	}
}

// restartOutcome is the outcome of an attempt cut off by a restart.
const restartOutcome = "interrupted"

// Restore takes back the tasks an earlier run left pending or dialling,
// read from the store, and queues them again at their original place, so a
// restart loses no callback. An attempt that was running counts as
// interrupted and not against the limit. It returns how many tasks it
// restored.
func (m *Manager) Restore(ctx context.Context, stored []records.Callback) int {
	restored := 0
	for _, cb := range stored {
		if cb.State.Final() {
			continue
		}
		t := &task{Task: Task{
			ID: cb.TaskID, CallID: cb.CallID, Queue: cb.Queue, Reason: cb.Reason, State: records.CallbackPending,
			Withheld: cb.NumberWithheld, Priority: cb.Priority, EnqueuedAt: cb.EnqueuedAt, CreatedAt: cb.CreatedAt,
			MaxAttempts: m.cfg.Attempts,
		}, tries: len(cb.Attempts)}
		t.number = cb.Number
		for _, a := range cb.Attempts {
			if a.Outcome != OutcomeCounselorGone && a.Outcome != restartOutcome && a.Outcome != "" {
				t.Attempts++
			}
			if a.EndedAt.IsZero() {
				m.storeAttemptEnd(Attempt{TaskID: cb.TaskID, N: a.Attempt}, a.Counselor, Result{Outcome: restartOutcome}, m.now())
			}
		}
		if cb.NumberErr != nil || t.number == "" {
			m.log.Error().AnErr("reason", cb.NumberErr).Str("callback_id", cb.TaskID).
				Msg("stored callback number unreadable: the task cannot be restored")
			continue
		}
		m.remember(t)
		if err := m.enqueue(ctx, t.copy()); err != nil {
			m.log.Error().Err(err).Str("callback_id", t.ID).Msg("queueing a restored callback failed; retrying after the interval")
			m.deferTask(t.ID, m.now().Add(m.cfg.Interval))
		}
		storeCtx, stop := storeContext()
		m.setState(storeCtx, t.copy(), "", m.now())
		stop()
		restored++
	}
	if restored > 0 {
		m.log.Info().Int("callbacks", restored).Msg("callbacks left by the last run queued again")
		m.notifyDistributors()
	}
	return restored
}
