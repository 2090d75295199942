package sip

import (
	"context"
	"errors"
	"time"

	"helpline/callback"
	"helpline/events"
	"helpline/media"
	"helpline/queue"
	"helpline/records"
)

// Call attributes that mark a high-risk caller. The IVR sets them.
const (
	attrHighRisk  = "high_risk"
	highRiskValue = "true"
)

// Overflow actions, as config.Overflow.Action names them.
const (
	OverflowKeepWaiting = "keep_waiting"
	OverflowCallback    = "callback"
	OverflowTransfer    = "transfer"
)

// Overflow triggers, as the overflowed event's Data["trigger"] names them.
const (
	triggerMaxWait     = "max_wait"
	triggerNoCounselor = "no_counselor"
	// triggerBufferFull is a caller turned away because the queue store
	// is unreachable and the outage buffer is full.
	triggerBufferFull = "buffer_full"
	// triggerBufferMaxWait is a caller held in the outage buffer for
	// longer than its maximum wait.
	triggerBufferMaxWait = "buffer_max_wait"
)

// overflowPollInterval is how often a waiting caller's queue is checked
// for logged-in counselors. The registrar's changes are not pushed to
// calls, so the check polls the queue store.
const overflowPollInterval = time.Second

// OverflowRule is one queue's overflow rule.
type OverflowRule struct {
	// MaxWait is the longest wait before the rule applies, 0 for no limit.
	MaxWait time.Duration
	// Action is keep_waiting, callback or transfer; "" is keep_waiting.
	Action string
	// Target is the transfer target: a SIP URI, or a number dialled
	// through the outbound gateway.
	Target string
}

// waiter watches one waiting caller: the callback key and the queue's
// overflow rule.
type waiter struct {
	c *call
	// entry is the caller's queue entry as it joined.
	entry queue.Caller
	rule  OverflowRule
	// withheldRecorded is set once the failed task of a caller without a
	// number is recorded.
	withheldRecorded bool
	// outside is set for a caller on hold who is in no queue, because the
	// outage buffer was full (see waitOutsideQueue).
	outside bool
}

// watchWaiting runs beside the hold music while the caller waits: it acts
// on the callback key and applies the queue's overflow rule. It stops when
// ctx (the hold context) ends.
func (c *call) watchWaiting(ctx context.Context, entry queue.Caller) {
	w := &waiter{c: c, entry: entry, rule: c.srv.opts.Overflow[entry.Queue]}
	w.run(ctx)
}

func (w *waiter) run(ctx context.Context) {
	var maxWait <-chan time.Time
	if w.rule.MaxWait > 0 {
		timer := time.NewTimer(w.rule.MaxWait)
		defer timer.Stop()
		maxWait = timer.C
	}
	poll := time.NewTicker(overflowPollInterval)
	defer poll.Stop()

	// Digits pressed during the IVR that it did not read are not meant
	// for the queue.
	w.c.dropPendingDigits()
	overflowed := false
	if !w.c.counselorLoggedIn(ctx) {
		if w.applyOverflow(ctx, triggerNoCounselor) {
			return
		}
		overflowed = true
	}
	for {
		select {
		case <-ctx.Done():
			return
		case digit := <-w.c.ivrDigits:
			if w.c.isCallbackKey(digit) && w.requestCallback(ctx, callback.ReasonRequested) {
				return
			}
		case <-maxWait:
			maxWait = nil
			if w.applyOverflow(ctx, triggerMaxWait) {
				return
			}
			overflowed = true
		case <-w.c.bufferExpired:
			if w.applyOverflow(ctx, triggerBufferMaxWait) {
				return
			}
			overflowed = true
		case <-poll.C:
			if overflowed || w.c.counselorLoggedIn(ctx) {
				continue
			}
			if w.applyOverflow(ctx, triggerNoCounselor) {
				return
			}
			overflowed = true
		}
	}
}

// dropPendingDigits empties the digit buffer without blocking.
func (c *call) dropPendingDigits() {
	for {
		select {
		case <-c.ivrDigits:
		default:
			return
		}
	}
}

// isCallbackKey reports whether digit is the configured callback key and
// callbacks are on.
func (c *call) isCallbackKey(digit rune) bool {
	key := c.srv.opts.CallbackKey
	return c.srv.callbacks != nil && key != "" && string(digit) == key
}

// counselorLoggedIn reports whether any counselor is in a state other than
// logged_out. A failed read counts as logged in, so a store error never
// sends callers away.
func (c *call) counselorLoggedIn(ctx context.Context) bool {
	readCtx, stop := context.WithTimeout(ctx, recordTimeout)
	defer stop()
	counselors, err := c.srv.queue.Counselors(readCtx)
	if err != nil {
		if ctx.Err() == nil {
			c.log.Warn().Err(err).Msg("reading counselor states for the overflow check failed")
		}
		return true
	}
	for _, counselor := range counselors {
		if counselor.State != queue.StateLoggedOut {
			return true
		}
	}
	return false
}

// applyOverflow carries out the queue's rule for the waiting caller and
// reports whether the caller left the queue.
func (w *waiter) applyOverflow(ctx context.Context, trigger string) bool {
	action := w.rule.Action
	if action == "" {
		action = OverflowKeepWaiting
	}
	w.c.log.Info().Str("trigger", trigger).Str("action", action).Msg("queue overflow")
	w.c.srv.events.Publish(events.Event{
		Type: events.Overflowed, CallID: w.c.id, Queue: w.entry.Queue,
		Data: map[string]string{"trigger": trigger, "action": action},
	})

	switch action {
	case OverflowCallback:
		return w.requestCallback(ctx, callback.ReasonOverflow)
	case OverflowTransfer:
		return w.overflowTransfer()
	default:
		return false
	}
}

// takeOutOfQueue removes the caller from the queue and stops the hold
// music. It returns false when the caller no longer waits, because a
// counselor was connected in the meantime.
func (c *call) takeOutOfQueue() (queue.Caller, bool) {
	ctx, stop := context.WithTimeout(context.Background(), recordTimeout)
	defer stop()
	left, err := c.srv.queue.Leave(ctx, c.id)
	if err != nil {
		if !errors.Is(err, queue.ErrNotWaiting) {
			c.log.Error().Err(err).Msg("leaving the queue failed")
		}
		return queue.Caller{}, false
	}
	c.srv.notifyDistributor()
	c.stopHoldMusic()
	return left, true
}

// leaveQueue takes the waiting caller out of the queue, as takeOutOfQueue
// does. A caller outside the queue only has the hold music stopped.
func (w *waiter) leaveQueue() (queue.Caller, bool) {
	if w.outside {
		w.c.stopHoldMusic()
		return w.entry, true
	}
	return w.c.takeOutOfQueue()
}

// stopHoldMusic ends the hold loop, if one runs.
func (c *call) stopHoldMusic() {
	c.mu.Lock()
	stopHold := c.holdStop
	c.mu.Unlock()
	if stopHold != nil {
		stopHold()
	}
}

// requestCallback turns the waiting caller into a callback task at the
// same place, plays the confirmation and hangs up. A caller without a
// number keeps waiting, and the failed task is recorded once. It reports
// whether the call left the queue.
func (w *waiter) requestCallback(ctx context.Context, reason string) bool {
	c := w.c
	if c.srv.callbacks == nil {
		return false
	}
	if c.identity.Withheld || records.NormalizeNumber(c.identity.Number) == "" {
		// NOTE: the caller hears nothing about it, because the hold music
		// holds the caller's media until the hold context ends.
		if !w.withheldRecorded {
			w.withheldRecorded = true
			w.recordWithheldCallback(reason)
		}
		return false
	}

	left, ok := w.leaveQueue()
	if !ok {
		return false
	}
	if _, err := c.srv.callbacks.Create(c.ctx, callback.Request{
		CallID: c.id, Queue: left.Queue, Number: c.identity.Number, Reason: reason,
		Priority: left.Priority, EnqueuedAt: left.EnqueuedAt, Attributes: left.Attributes,
	}); err != nil {
		c.log.Error().Err(err).Msg("creating the callback task failed")
	}

	prompt, outcome := promptCallbackConfirm, records.OutcomeCallbackRequested
	if reason == callback.ReasonOverflow {
		prompt, outcome = promptOverflowCallback, records.OutcomeOverflowCallback
	}
	c.log.Info().Str("reason", reason).Msg("caller will be called back, hanging up")
	w.playPrompt(c.ctx, prompt)
	if reason == callback.ReasonOverflow {
		w.playPrompt(c.ctx, promptGoodbye)
	}
	c.end(&hangup{side: records.SideServer, reason: "callback " + reason, outcome: outcome})
	return true
}

// promptGoodbye is the built-in goodbye prompt of the IVR.
const promptGoodbye = "goodbye"

// recordWithheldCallback stores the failed task of a caller whose number
// cannot be called.
func (w *waiter) recordWithheldCallback(reason string) {
	ctx, stop := context.WithTimeout(context.Background(), recordTimeout)
	defer stop()
	_, err := w.c.srv.callbacks.Create(ctx, callback.Request{CallID: w.c.id, Queue: w.entry.Queue, Withheld: true, Reason: reason})
	if err != nil && !errors.Is(err, callback.ErrNumberWithheld) {
		w.c.log.Error().Err(err).Msg("recording the withheld callback failed")
	}
}

// playPrompt plays one prompt to the caller in the caller's language. A
// prompt that is not loaded is skipped.
func (w *waiter) playPrompt(ctx context.Context, name string) {
	language := w.entry.Attributes[attrLanguage]
	if language == "" {
		language = w.c.srv.graph.DefaultLanguage
	}
	audio, err := w.c.srv.prompts.audio(name, language)
	if err != nil {
		w.c.log.Debug().Err(err).Msg("prompt skipped")
		return
	}
	if err := w.c.callerMedia.Play(ctx, audio); err != nil && !errors.Is(err, context.Canceled) {
		w.c.log.Debug().Err(err).Str("prompt", name).Msg("prompt stopped")
	}
}

// overflowTransfer transfers the waiting caller to the rule's target, a
// SIP URI or a number dialled through the outbound gateway.
func (w *waiter) overflowTransfer() bool {
	c, target := w.c, w.rule.Target
	uri := target
	if !isSIPURI(target) {
		outside, err := c.srv.outsideURI(target)
		if err != nil || !c.srv.targetAllowed(target) {
			c.log.Error().Err(err).Str("target", target).Msg("overflow transfer target unusable, caller keeps waiting")
			return false
		}
		uri = outside.String()
	}
	if _, ok := w.leaveQueue(); !ok {
		return false
	}
	c.overflowTransferred.Store(true)
	c.srv.spawn(func() { c.transfer(uri) })
	return true
}

// isSIPURI reports whether target starts with a sip: or sips: scheme.
func isSIPURI(target string) bool {
	return len(target) > 4 && (target[:4] == "sip:" || (len(target) > 5 && target[:5] == "sips:"))
}

// overflowOutcome names a transferred call that the overflow rule moved.
func (c *call) overflowOutcome(outcome records.Outcome) records.Outcome {
	if outcome == records.OutcomeTransferred && c.overflowTransferred.Load() {
		return records.OutcomeOverflowTransferred
	}
	return outcome
}

// callbackAfterAbandon creates a callback task for a caller who hung up in
// the queue after waiting long enough, or at high risk whatever the wait.
func (c *call) callbackAfterAbandon(left queue.Caller) {
	if c.srv.callbacks == nil || c.hangupCause().side != records.SideCaller {
		return
	}
	waited := time.Since(left.EnqueuedAt)
	reason, ok := abandonCallbackReason(left, waited, c.srv.opts.AfterAbandonWait)
	if !ok {
		return
	}

	ctx, stop := context.WithTimeout(context.Background(), recordTimeout)
	defer stop()
	_, err := c.srv.callbacks.Create(ctx, callback.Request{
		CallID: c.id, Queue: left.Queue, Number: c.identity.Number, Withheld: c.identity.Withheld,
		Reason: reason, Priority: left.Priority, EnqueuedAt: left.EnqueuedAt, Attributes: left.Attributes,
	})
	switch {
	case errors.Is(err, callback.ErrNumberWithheld):
		c.log.Warn().Str("reason", reason).Msg("caller hung up in the queue with a withheld number: no callback possible")
	case err != nil:
		c.log.Error().Err(err).Msg("creating the callback task failed")
	default:
		c.log.Info().Str("reason", reason).Dur("queue_wait", waited).Msg("caller hung up in the queue, callback task created")
	}
}

// abandonCallbackReason decides whether a caller who hung up after waiting
// gets a callback task, and why: high_risk for a high-risk caller (call
// attribute high_risk=true or a priority above 0) whatever the wait,
// abandoned for a wait of at least after, which 0 turns off.
func abandonCallbackReason(left queue.Caller, waited, after time.Duration) (string, bool) {
	if left.Attributes[attrHighRisk] == highRiskValue || left.Priority > 0 {
		return callback.ReasonHighRisk, true
	}
	if after > 0 && waited >= after {
		return callback.ReasonAbandoned, true
	}
	return "", false
}

// withCallbackOffer appends the callback offer to the hold comfort
// message when that prompt is loaded, which it is when callbacks are on.
func (p *PromptCache) withCallbackOffer(comfort *media.Audio, language string) *media.Audio {
	offer, err := p.audio(promptCallbackOffer, language)
	if err != nil {
		return comfort
	}
	joined := make([]int16, 0, len(comfort.Samples)+len(offer.Samples))
	joined = append(joined, comfort.Samples...)
	joined = append(joined, offer.Samples...)
	return &media.Audio{Samples: joined}
}
