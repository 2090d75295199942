package sip

import (
	"context"
	"errors"
	"sync"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"

	"helpline/ivr"
	"helpline/queue"
	"helpline/records"
	"helpline/routing"
)

// Call attribute names the IVR sets.
const (
	attrLanguage   = "language"
	attrCallerType = "caller_type"
)

// Hang-up reasons for calls the server ends on purpose.
const (
	reasonIVRGoodbye     = "IVR said goodbye"
	reasonTransferFailed = "transfer failed"
)

// runIVR plays the menu and acts on its result.
func (c *call) runIVR() {
	runner, err := ivr.NewRunner(c.srv.graph,
		ivr.WithLogger(c.log),
		ivr.WithHooks(c.ivrHooks()),
		ivr.WithTransferResolver(c.srv.resolveTransfer),
	)
	if err != nil {
		c.log.Error().Err(err).Msg("starting the IVR failed")
		c.end(&hangup{side: records.SideServer, reason: "IVR failed: " + err.Error(), outcome: records.OutcomeFailed})
		return
	}

	result, err := runner.Run(c.ctx, newIVRMedia(c))
	if c.ctx.Err() != nil {
		return
	}
	if err != nil {
		c.log.Warn().Err(err).Msg("IVR ended with an error")
	}

	switch result.Action {
	case ivr.ActionQueue:
		c.enqueue(result)
	case ivr.ActionTransfer:
		c.transfer(c.srv.resolveTransfer(result.Transfer))
	default:
		c.end(&hangup{side: records.SideServer, reason: reasonIVRGoodbye, outcome: records.OutcomeEndedInIVR})
	}
}

// ivrHooks updates the record at each IVR step, so a crash leaves a trace.
func (c *call) ivrHooks() ivr.Hooks {
	return ivr.Hooks{
		OnDigits: func(digits string) {
			c.record(records.Patch{Digits: &digits})
		},
		OnAttribute: func(key, value string) {
			switch key {
			case attrLanguage:
				c.recordLanguage(value)
			case attrCallerType:
				c.record(records.Patch{CallerType: &value})
			}
		},
	}
}

// recordLanguage writes the call's language unless the record already has
// it, as it has the default language from the answer.
func (c *call) recordLanguage(language string) {
	if language == c.recordedLanguage {
		return
	}
	c.recordedLanguage = language
	c.record(records.Patch{Language: &language})
}

// enqueue puts the caller in the queue and plays the hold loop until a
// counselor picks up or the call ends. A caller whom a full outage buffer
// turns away waits outside the queue (see waitOutsideQueue).
func (c *call) enqueue(result ivr.Result) {
	caller := queue.Caller{
		CallID:     c.id,
		Queue:      result.Queue,
		EnqueuedAt: time.Now(),
		Attributes: result.Attributes,
		Priority:   callerPriority(result.Attributes),
	}
	err := c.srv.queue.Enqueue(c.ctx, caller)
	if errors.Is(err, queue.ErrBufferFull) {
		c.log.Warn().Err(err).Str("queue", caller.Queue).Msg("queue store unreachable and outage buffer full")
		c.waitOutsideQueue(caller)
		return
	}
	if err != nil {
		c.log.Error().Err(err).Msg("queueing the caller failed")
		c.end(&hangup{side: records.SideServer, reason: "queue failed: " + err.Error(), outcome: records.OutcomeFailed})
		return
	}

	// The record gets queued_at before caller_entered goes out, so that a
	// board redrawn on that event counts the caller in its figures.
	holdCtx := c.startHold(caller)
	c.publishCallerEntered(caller.Queue, caller.Attributes)
	c.joinedQueue(holdCtx, caller)
}

// startHold marks the call as waiting in caller's queue, records it and
// starts the hold loop. The returned context ends when the hold stops.
func (c *call) startHold(caller queue.Caller) context.Context {
	holdCtx, stopHold := context.WithCancel(c.ctx)
	queueName, now := caller.Queue, caller.EnqueuedAt
	c.mu.Lock()
	c.phase = phaseQueued
	c.queuedAt = now
	c.holdStop = stopHold
	c.queue = queueName
	c.mu.Unlock()

	c.record(records.Patch{QueuedAt: &now, Queue: &queueName})
	language := caller.Attributes[attrLanguage]
	c.srv.spawn(func() { c.playHold(holdCtx, language) })
	return holdCtx
}

// joinedQueue announces a caller who is now in the queue, wakes the
// distributor and watches the wait until holdCtx ends.
func (c *call) joinedQueue(holdCtx context.Context, caller queue.Caller) {
	c.log.Info().Str("queue", caller.Queue).Msg("caller queued")
	if caller.Priority >= PriorityHighRisk {
		c.announceHighRisk(caller.Queue, caller.EnqueuedAt)
	}
	c.srv.notifyDistributor()
	c.srv.spawn(func() { c.watchWaiting(holdCtx, caller) })
}

// playHold plays the comfort message, music and position announcements
// for a waiting caller, in the language the caller chose.
func (c *call) playHold(ctx context.Context, language string) {
	if language == "" {
		language = c.srv.graph.DefaultLanguage
	}
	comfort, music, err := c.srv.prompts.hold(c.srv.graph, language)
	if err != nil {
		c.log.Error().Err(err).Msg("hold prompts missing, caller waits in silence")
		return
	}
	if err := c.holdLoop(ctx, language, comfort, music); err != nil && !errors.Is(err, context.Canceled) {
		c.log.Warn().Err(err).Msg("hold playback stopped")
	}
}

// offer rings a reserved counselor for this caller. confirm commits the
// reservation in the queue when the phone answers; if it fails (the caller
// left just then) the counselor's leg is hung up.
func (c *call) offer(ctx context.Context, r queue.Reservation, confirm func() error) routing.OfferResult {
	binding, ok := c.srv.registrar.Lookup(r.CounselorID)
	if !ok {
		return routing.OfferResult{Outcome: routing.Unavailable, Err: errors.New("counselor has no registered phone")}
	}

	ringCtx, stopRing := context.WithCancel(ctx)
	defer stopRing()
	stopWatch := context.AfterFunc(c.ctx, stopRing)
	defer stopWatch()

	log := c.log.With().Str("counselor", r.CounselorID).Logger()
	dr := dialRequest{
		toUser:      r.CounselorID,
		codec:       c.codec,
		ringTimeout: c.srv.opts.RingTimeout,
		events:      c,
		log:         log,
	}
	if err := dr.reach(binding); err != nil {
		return routing.OfferResult{Outcome: routing.Unavailable, Err: err}
	}
	log.Info().Str("destination", dr.destination).Msg("ringing counselor")
	d := c.srv.dial(ringCtx, dr)
	if d.outcome != routing.Answered {
		log.Info().Str("outcome", d.outcome.String()).Int("status", d.status).AnErr("reason", d.err).Msg("offer not taken")
		return routing.OfferResult{Outcome: d.outcome, Err: d.err, Status: d.status}
	}

	if c.ctx.Err() != nil || confirm() != nil {
		log.Info().Msg("caller left as the counselor answered, hanging up the counselor")
		d.leg.byeDetached()
		d.leg.release()
		return routing.OfferResult{Outcome: routing.CallerGone}
	}
	c.connect(d.leg, r.CounselorID)
	return routing.OfferResult{Outcome: routing.Answered}
}

// connect bridges the caller with an answered counselor leg. If the call
// ended in the meantime, the counselor is hung up and freed at once.
func (c *call) connect(leg *outboundLeg, counselorID string) {
	now := time.Now()

	c.mu.Lock()
	if c.phase == phaseEnded {
		c.mu.Unlock()
		leg.byeDetached()
		leg.release()
		c.srv.finishCounselor(counselorID, 0)
		return
	}
	c.phase = phaseTalking
	c.peer = leg
	c.peerSince = now
	c.counselorID = counselorID
	c.connectedAt = now
	queuedAt := c.queuedAt
	stopHold := c.holdStop
	queueName := c.queue
	hungUp := c.earlyBye[leg]
	c.mu.Unlock()

	if stopHold != nil {
		stopHold()
	}
	wait := now.Sub(queuedAt)
	c.record(records.Patch{CounselorAnsweredAt: &now, Counselor: &counselorID, QueueWait: &wait})
	c.log.Info().Str("counselor", counselorID).Dur("queue_wait", wait).Msg("counselor answered, bridging")
	c.publishConnected(queueName, counselorID, wait)
	if hungUp {
		// The counselor hung up before the bridge: an answered call that
		// the counselor ended, not a caller who left the queue.
		c.end(&hangup{side: records.SideCounselor, reason: "counselor sent " + reasonBye})
		return
	}

	c.startBridge(leg)
	c.srv.spawn(func() { c.watchCounselorDigits(leg) })
}

// transfer connects the caller to a SIP URI (the 120 general service) and
// bridges the audio through this server.
func (c *call) transfer(target string) {
	uri := sipmsg.Uri{}
	if err := sipmsg.ParseUri(target, &uri); err != nil || target == "" {
		c.log.Error().Err(err).Msg("transfer target is not a SIP URI")
		c.end(&hangup{side: records.SideServer, reason: reasonTransferFailed, outcome: records.OutcomeFailed})
		return
	}
	c.record(records.Patch{TransferTarget: &target})
	log := c.log.With().Str("transfer_to", uri.Host).Logger()
	log.Info().Msg("transferring the caller")

	d := c.dialOutside(uri, log)
	if d.outcome != routing.Answered {
		log.Warn().Str("outcome", d.outcome.String()).Int("status", d.status).AnErr("reason", d.err).Msg("transfer not answered")
		c.end(&hangup{side: records.SideServer, reason: reasonTransferFailed, outcome: records.OutcomeFailed})
		return
	}

	if !c.setPhase(phaseTransferred) {
		d.leg.byeDetached()
		d.leg.release()
		return
	}
	c.mu.Lock()
	c.peer = d.leg
	c.peerSince = time.Now()
	c.mu.Unlock()
	c.publishTransferred(uri.Host)
	c.startBridge(d.leg)
}

// resolveTransfer turns an IVR transfer target into a SIP URI, or "" when
// it is not configured.
func (s *Server) resolveTransfer(target string) string {
	if target == generalServiceTarget {
		return s.opts.GeneralServiceURI
	}
	return target
}

// generalServiceTarget is the IVR transfer target that means
// trunk.general_service_uri.
const generalServiceTarget = "general_service"

// finish runs once the call's context ended: it records the outcome, hangs
// up the legs that are still up, leaves the queue, frees the counselor and
// the RTP ports.
func (c *call) finish() {
	cause := c.hangupCause()

	c.mu.Lock()
	lastPhase := c.phase
	c.phase = phaseEnded
	peer, counselorID, queuedAt, queueName := c.peer, c.counselorID, c.queuedAt, c.queue
	connectedAt := c.connectedAt
	c.mu.Unlock()

	if lastPhase == phaseQueued {
		c.leaveQueue()
	}
	c.hangUpLegs(cause, peer)
	c.closeConference(cause)

	if counselorID != "" {
		c.finishCounselorCall(counselorID, cause)
	}

	outcome := c.overflowOutcome(outcomeFor(lastPhase, cause))
	side, reason := cause.side, cause.reason
	now := time.Now()
	patch := records.Patch{EndedAt: &now, Outcome: &outcome, HangupSide: &side, HangupReason: &reason}
	var queueWait time.Duration
	if lastPhase == phaseQueued {
		// A caller who left the queue waited until now.
		queueWait = now.Sub(queuedAt)
		patch.QueueWait = &queueWait
	}
	c.record(patch)
	c.log.Info().Str("outcome", string(outcome)).Str("hangup_side", string(side)).Str("reason", reason).
		Dur("duration", now.Sub(c.startedAt)).Msg("call ended")
	c.publishEnd(callEnd{outcome: outcome, side: side, queue: queueName, counselorID: counselorID,
		queueWait: queueWait, duration: now.Sub(c.startedAt), silent: cause.silent})
	if !connectedAt.IsZero() {
		c.srv.waits.Observe(queueName, now.Sub(connectedAt))
	}

	if c.callerMedia != nil {
		_ = c.callerMedia.Close()
	}
	c.srv.ports.Release(c.callerPort)
	if peer != nil {
		peer.release()
	}
	c.srv.calls.remove(c.id)
}

// leaveQueue takes a caller who hung up out of the queue. A phone that is
// ringing for this caller is cancelled by the offer, which watches the
// call's context.
func (c *call) leaveQueue() {
	ctx, stop := context.WithTimeout(context.Background(), recordTimeout)
	defer stop()
	left, err := c.srv.queue.Leave(ctx, c.id)
	if err != nil && !errors.Is(err, queue.ErrNotWaiting) {
		c.log.Error().Err(err).Msg("leaving the queue failed")
	}
	if err == nil {
		c.callbackAfterAbandon(left)
	}
	c.srv.notifyDistributor()
}

// hangUpLegs sends BYE on every leg whose peer did not end it, and waits
// for the responses except from a leg the media timeout found silent.
func (c *call) hangUpLegs(cause *hangup, peer *outboundLeg) {
	ctx, stop := context.WithTimeout(context.Background(), byeTimeout)
	defer stop()
	var wg sync.WaitGroup

	if cause.side == records.SideCaller {
		c.srv.dialogs.remove(c.caller.dialog.key)
	} else {
		c.byeLeg(ctx, &wg, "caller", c.caller.bye, cause.silent == records.SideCaller)
	}

	if peer != nil && cause.side == records.SideCounselor {
		c.srv.dialogs.remove(peer.dialog.key)
	} else if peer != nil {
		c.byeLeg(ctx, &wg, "counselor", peer.bye, cause.silent == records.SideCounselor)
	}
	wg.Wait()
}

// byeLeg sends BYE on one leg, named party in the log, in the background.
// wg waits for it unless silent is set. The phone of a silent leg is most
// likely gone, so its BYE would only end after the 32 s transaction
// timeout, and the record, the event and the counselor's wrap-up must not
// wait that long.
func (c *call) byeLeg(ctx context.Context, wg *sync.WaitGroup, party string, bye func(context.Context) error, silent bool) {
	send := func(ctx context.Context) {
		if err := bye(ctx); err != nil {
			c.log.Warn().Err(err).Msg("BYE to the " + party + " failed")
		}
	}
	if silent {
		c.srv.spawn(func() {
			ctx, stop := context.WithTimeout(context.Background(), byeTimeout)
			defer stop()
			send(ctx)
		})
		return
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		send(ctx)
	}()
}

// outcomeFor names how a call ended from where it was and why.
func outcomeFor(p phase, cause *hangup) records.Outcome {
	if cause.outcome != "" {
		if p == phaseTalking && cause.outcome == records.OutcomeInterrupted {
			return records.OutcomeAnswered
		}
		if p == phaseTransferred && cause.outcome == records.OutcomeInterrupted {
			return records.OutcomeTransferred
		}
		return cause.outcome
	}
	switch p {
	case phaseQueued:
		return records.OutcomeAbandonedInQueue
	case phaseTalking:
		return records.OutcomeAnswered
	case phaseTransferred:
		return records.OutcomeTransferred
	default:
		return records.OutcomeAbandonedInIVR
	}
}

// ivrMedia adapts the caller's media session to the IVR's Media interface.
type ivrMedia struct {
	call   *call
	digits chan rune
}

// Play plays one prompt in the given language.
func (m *ivrMedia) Play(ctx context.Context, prompt, language string) error {
	audio, err := m.call.srv.prompts.audio(prompt, language)
	if err != nil {
		return err
	}
	return m.call.callerMedia.Play(ctx, audio)
}

// newIVRMedia starts passing the caller's digits on as runes, for as long
// as the call lasts.
func newIVRMedia(c *call) *ivrMedia {
	m := &ivrMedia{call: c, digits: make(chan rune, digitBuffer)}
	c.ivrDigits = m.digits
	in := c.callerMedia.Digits()
	ctx := c.ctx
	c.srv.spawn(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case d := <-in:
				select {
				case m.digits <- rune(d):
				case <-ctx.Done():
					return
				}
			}
		}
	})
	return m
}

// Digits returns the caller's digits.
func (m *ivrMedia) Digits() <-chan rune { return m.digits }

// digitBuffer is how many digits wait for the IVR before more block.
const digitBuffer = 32
