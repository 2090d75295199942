package sip

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"helpline/callback"
	"helpline/media"
	"helpline/records"
	"helpline/routing"
)

// Prompts of the callback feature, rendered from ivr/prompts.tsv.
const (
	// promptCallbackOffer follows the hold comfort message: press the
	// callback key to be called back.
	promptCallbackOffer = "callback_offer"
	// promptCallbackConfirm confirms the request before the hang-up.
	promptCallbackConfirm = "callback_confirm"
	// promptCallbackConnecting is what the counselor hears while the
	// caller is dialled.
	promptCallbackConnecting = "callback_connecting"
	// promptOverflowCallback informs a caller that the overflow rule ends
	// the call with a callback.
	promptOverflowCallback = "overflow_callback"
)

// CallbackPromptNames lists the prompts the callback feature plays; load
// them into the PromptCache beside PromptNames.
var CallbackPromptNames = []string{
	promptCallbackOffer, promptCallbackConfirm,
	promptCallbackConnecting, promptOverflowCallback,
}

// callbackCodec is offered on both legs of a callback. Nothing ties a
// callback to the codec of the original call, and G.711 A-law is what the
// trunk offers in Korea.
var callbackCodec = media.PCMA

// callbackRingFactor multiplies the ring timeout for the dialled caller,
// who may need longer to reach the phone than a counselor at a desk.
const callbackRingFactor = 2

// CallbackService keeps callback tasks. *callback.Manager implements it.
type CallbackService interface {
	Owns(id string) bool
	Get(id string) (callback.Task, error)
	Create(ctx context.Context, req callback.Request) (callback.Task, error)
	StartAttempt(id, counselorID string) (callback.Attempt, error)
	FinishAttempt(ctx context.Context, a callback.Attempt, res callback.Result) callback.Task
}

// SetCallbacks enables callbacks. Call it before Start.
func (s *Server) SetCallbacks(svc CallbackService) {
	s.callbacks = svc
}

// callbackTable is the set of callback calls in progress, for Drain.
type callbackTable struct {
	// mu guards calls.
	mu    sync.Mutex
	calls map[*callbackCall]bool
}

func (t *callbackTable) add(c *callbackCall) {
	t.mu.Lock()
	if t.calls == nil {
		t.calls = make(map[*callbackCall]bool)
	}
	t.calls[c] = true
	t.mu.Unlock()
}

func (t *callbackTable) remove(c *callbackCall) {
	t.mu.Lock()
	delete(t.calls, c)
	t.mu.Unlock()
}

func (t *callbackTable) all() []*callbackCall {
	t.mu.Lock()
	defer t.mu.Unlock()
	list := make([]*callbackCall, 0, len(t.calls))
	for c := range t.calls {
		list = append(list, c)
	}
	return list
}

// drainCallbacks ends every callback call in progress and waits for their
// ends, up to byeTimeout.
func (s *Server) drainCallbacks() {
	calls := s.callbackCalls.all()
	if len(calls) == 0 {
		return
	}
	s.log.Info().Int("callbacks", len(calls)).Msg("ending callback calls for shutdown")
	for _, c := range calls {
		c.end(causeShutdown)
	}
	deadline := time.After(byeTimeout)
	for _, c := range calls {
		select {
		case <-c.done:
		case <-deadline:
			return
		}
	}
}

// callbackCall is one callback attempt: the counselor's leg, then the
// caller's leg dialled through the outbound gateway.
type callbackCall struct {
	srv         *Server
	id          string
	counselorID string
	log         zerolog.Logger

	// ctx ends when either party hangs up, the attempt is cancelled or the
	// server stops. Its cause is a *hangup.
	ctx  context.Context
	end  context.CancelCauseFunc
	done chan struct{}

	mu sync.Mutex
	// counselor and caller are the legs; guarded by mu.
	counselor *outboundLeg
	caller    *outboundLeg
}

// offerCallback rings the reserved counselor for a callback task. Once the
// counselor answered and the reservation is confirmed, the caller is
// dialled in the background and the offer reports Answered.
func (s *Server) offerCallback(ctx context.Context, req routing.OfferRequest) routing.OfferResult {
	r := req.Reservation
	if s.draining.Load() {
		// The task stays in the queue and is restored at the next start.
		return routing.OfferResult{Outcome: routing.Unavailable, Err: errors.New("server is draining: no new callbacks")}
	}
	binding, ok := s.registrar.Lookup(r.CounselorID)
	if !ok {
		return routing.OfferResult{Outcome: routing.Unavailable, Err: errors.New("counselor has no registered phone")}
	}

	log := s.log.With().Str("callback_id", r.CallID).Str("counselor", r.CounselorID).Logger()
	cb := &callbackCall{srv: s, id: r.CallID, counselorID: r.CounselorID, log: log, done: make(chan struct{})}
	cb.ctx, cb.end = context.WithCancelCause(context.Background())

	dr := dialRequest{
		toUser:      r.CounselorID,
		codec:       callbackCodec,
		ringTimeout: s.opts.RingTimeout,
		events:      cb,
		log:         log,
	}
	if err := dr.reach(binding); err != nil {
		cb.end(nil)
		return routing.OfferResult{Outcome: routing.Unavailable, Err: err}
	}
	log.Info().Str("destination", dr.destination).Msg("ringing counselor for a callback")
	d := s.dial(ctx, dr)
	if d.outcome != routing.Answered {
		cb.end(nil)
		log.Info().Str("outcome", d.outcome.String()).Int("status", d.status).AnErr("reason", d.err).Msg("callback offer not taken")
		return routing.OfferResult{Outcome: d.outcome, Err: d.err}
	}

	if err := req.Confirm(); err != nil {
		log.Info().Err(err).Msg("callback left the queue as the counselor answered, hanging up the counselor")
		cb.end(nil)
		d.leg.byeDetached()
		d.leg.release()
		return routing.OfferResult{Outcome: routing.CallerGone}
	}

	cb.mu.Lock()
	cb.counselor = d.leg
	cb.mu.Unlock()
	attempt, err := s.callbacks.StartAttempt(r.CallID, r.CounselorID)
	if err != nil {
		log.Info().Err(err).Msg("callback ended as the counselor answered, hanging up the counselor")
		cb.end(nil)
		d.leg.byeDetached()
		d.leg.release()
		s.finishCounselor(r.CounselorID, 0)
		return routing.OfferResult{Outcome: routing.Answered}
	}

	s.callbackCalls.add(cb)
	s.spawn(func() { cb.run(attempt, d.leg) })
	return routing.OfferResult{Outcome: routing.Answered}
}

// run plays the notice to the counselor, dials the caller, bridges the two
// and reports the attempt's result.
func (cb *callbackCall) run(attempt callback.Attempt, counselor *outboundLeg) {
	s := cb.srv
	defer close(cb.done)
	defer s.callbackCalls.remove(cb)
	stopWatch := context.AfterFunc(attempt.Ctx, func() {
		cb.end(&hangup{side: records.SideServer, reason: "callback cancelled"})
	})
	defer stopWatch()

	counselor.media.Start(cb.ctx)
	noticeCtx, stopNotice := context.WithCancel(cb.ctx)
	noticeDone := make(chan struct{})
	s.spawn(func() {
		defer close(noticeDone)
		cb.playNotice(noticeCtx, counselor, attempt.Attributes[attrLanguage])
	})

	result, caller := cb.dialCaller(attempt)
	stopNotice()
	<-noticeDone

	// FinishAttempt ends attempt.Ctx: stop watching it first. A task
	// cancelled in the instant the caller answered is not bridged.
	stopWatch()
	task := s.callbacks.FinishAttempt(context.Background(), attempt, result)
	if caller != nil && task.State != records.CallbackCompleted {
		cb.log.Info().Str("state", string(task.State)).Msg("callback cancelled as the caller answered, hanging up")
		cb.end(&hangup{side: records.SideServer, reason: "callback cancelled"})
	}
	if caller != nil && cb.ctx.Err() == nil {
		cb.mu.Lock()
		cb.caller = caller
		cb.mu.Unlock()
		caller.media.Start(cb.ctx)
		s.spawn(func() { cb.watchMedia(counselor, caller) })
		cb.log.Info().Int("attempt", attempt.N).Msg("caller answered the callback, bridging")
		if err := media.Bridge(cb.ctx, counselor.media, caller.media); err != nil && !errors.Is(err, context.Canceled) {
			cb.log.Warn().Err(err).Msg("callback audio bridge stopped")
		}
	}
	cb.end(nil)
	cb.hangUp(counselor, caller)

	wrapUp := time.Duration(0)
	if caller != nil {
		wrapUp = s.opts.WrapUp
	}
	var cause *hangup
	if errors.As(context.Cause(cb.ctx), &cause) && cause.silent == records.SideCounselor {
		s.finishCounselor(cb.counselorID, max(wrapUp, silentWrapUpMin))
		s.pauseSilentCounselor(cb.counselorID)
	} else {
		s.finishCounselor(cb.counselorID, wrapUp)
	}
	counselor.release()
	if caller != nil {
		caller.release()
	}
}

// watchMedia ends a bridged callback when either leg sends no RTP for the
// media timeout, as calls from the trunk do.
func (cb *callbackCall) watchMedia(counselor, caller *outboundLeg) {
	timeout := cb.srv.opts.MediaTimeout
	if timeout <= 0 {
		return
	}
	started := time.Now()
	legs := []struct {
		leg   *outboundLeg
		side  records.Side
		party string
	}{{counselor, records.SideCounselor, "the counselor"}, {caller, records.SideCaller, "the caller"}}
	tick := time.NewTicker(timeout / mediaChecksPerTimeout)
	defer tick.Stop()
	for {
		select {
		case <-cb.ctx.Done():
			return
		case <-tick.C:
			for _, l := range legs {
				if silentSince(l.leg.media, started) > timeout {
					cb.log.Warn().Str("silent", string(l.side)).Dur("timeout", timeout).
						Msg("media timeout, ending the callback")
					cb.end(mediaTimeoutHangup(l.side, l.party, timeout, false))
					return
				}
			}
		}
	}
}

// mediaChecksPerTimeout is how many times per media timeout the legs are
// checked.
const mediaChecksPerTimeout = 4

// dialCaller dials the task's number through the outbound gateway and
// returns the answered leg, or nil and why not.
func (cb *callbackCall) dialCaller(attempt callback.Attempt) (callback.Result, *outboundLeg) {
	s := cb.srv
	uri, err := s.outsideURI(attempt.Number)
	if err != nil {
		cb.log.Warn().Err(err).Msg("cannot dial the caller back")
		return callback.Result{Outcome: callback.OutcomeNoRoute}, nil
	}

	log := cb.log.With().Str("number", records.MaskNumber(attempt.Number)).Int("attempt", attempt.N).Logger()
	log.Info().Str("gateway", uri.Host).Msg("dialling the caller back")
	d := s.dial(cb.ctx, dialRequest{
		target:      uri,
		codec:       callbackCodec,
		ringTimeout: s.opts.RingTimeout * callbackRingFactor,
		events:      cb,
		log:         log,
		leg:         media.LegCaller,
	})
	if d.outcome == routing.Answered {
		return callback.Result{Outcome: callback.OutcomeAnswered, SIPStatus: d.status}, d.leg
	}

	outcome := d.outcome.String()
	var cause *hangup
	if errors.As(context.Cause(cb.ctx), &cause) {
		switch cause.side {
		case records.SideCounselor:
			outcome = callback.OutcomeCounselorGone
		case records.SideServer:
			outcome = "cancelled"
		}
	}
	log.Info().Str("outcome", outcome).Int("status", d.status).AnErr("reason", d.err).Msg("callback not answered")
	return callback.Result{Outcome: outcome, SIPStatus: d.status}, nil
}

// playNotice loops the callback notice and the hold music to the counselor
// until ctx ends.
func (cb *callbackCall) playNotice(ctx context.Context, counselor *outboundLeg, language string) {
	s := cb.srv
	if language == "" {
		language = s.graph.DefaultLanguage
	}
	notice, err := s.prompts.audio(promptCallbackConnecting, language)
	if err != nil {
		cb.log.Warn().Err(err).Msg("callback notice missing, the counselor hears silence")
		return
	}
	music, err := s.prompts.audio(s.graph.HoldMusic, language)
	if err != nil {
		music = notice
	}
	if err := counselor.media.PlayLoop(ctx, notice, music); err != nil && !errors.Is(err, context.Canceled) {
		cb.log.Debug().Err(err).Msg("callback notice stopped")
	}
}

// hangUp sends BYE on each leg whose peer did not end it.
func (cb *callbackCall) hangUp(counselor, caller *outboundLeg) {
	var cause *hangup
	_ = errors.As(context.Cause(cb.ctx), &cause)
	ctx, stop := context.WithTimeout(context.Background(), byeTimeout)
	defer stop()

	var wg sync.WaitGroup
	bye := func(leg *outboundLeg, side records.Side) {
		if leg == nil {
			return
		}
		if cause != nil && cause.side == side {
			cb.srv.dialogs.remove(leg.dialog.key)
			return
		}
		send := func(ctx context.Context) {
			if err := leg.bye(ctx); err != nil {
				cb.log.Warn().Err(err).Str("leg", string(side)).Msg("BYE on the callback leg failed")
			}
		}
		if cause != nil && cause.silent == side {
			// The phone of a silent leg is most likely gone, so its BYE
			// must not hold back the counselor's wrap-up (see call.byeLeg).
			cb.srv.spawn(func() {
				ctx, stop := context.WithTimeout(context.Background(), byeTimeout)
				defer stop()
				send(ctx)
			})
			return
		}
		wg.Go(func() { send(ctx) })
	}
	bye(counselor, records.SideCounselor)
	bye(caller, records.SideCaller)
	wg.Wait()
}

// legHangup ends the callback when either party sends BYE.
func (cb *callbackCall) legHangup(leg any, reason string) {
	cb.mu.Lock()
	isCounselor := cb.counselor != nil && leg == any(cb.counselor)
	cb.mu.Unlock()
	if isCounselor {
		cb.end(&hangup{side: records.SideCounselor, reason: "counselor sent " + reason})
		return
	}
	cb.end(&hangup{side: records.SideCaller, reason: "caller sent " + reason})
}

// legDigit ignores digits: nothing in a callback reads them.
func (cb *callbackCall) legDigit(any, rune) {}

// legReoffer answers a re-INVITE from either leg on the same port.
func (cb *callbackCall) legReoffer(leg any, offer []byte) ([]byte, error) {
	out, ok := leg.(*outboundLeg)
	if !ok || out.media == nil {
		return nil, ErrNoDialog
	}
	if len(offer) == 0 {
		return nil, ErrMissingOffer
	}
	desc, err := media.ParseSDP(offer)
	if err != nil {
		return nil, err
	}
	version := sessionVersion()
	if len(desc.Media) == 0 {
		return media.BuildEmptyAnswer(out.media.LocalAddr().Addr(), version, 1)
	}
	negotiated, err := out.media.Renegotiate(desc, []media.Codec{callbackCodec})
	if err != nil {
		return nil, err
	}
	answer, err := media.BuildAnswer(desc, negotiated, out.media.LocalAddr(), version, 1)
	if err != nil {
		return nil, err
	}
	if err := out.media.SetSRTP(negotiated.SRTP); err != nil {
		return nil, err
	}
	out.media.SetRemote(negotiated.Remote)
	return answer, nil
}
