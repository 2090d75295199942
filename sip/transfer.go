package sip

import (
	"context"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"

	"helpline/events"
	"helpline/records"
	"helpline/routing"
)

// Data values of events.Transferred.
const (
	transferredByCounselor = "counselor"
)

// firstFailureStatus is the lowest final status that is not a success.
const firstFailureStatus = 300

// runRefer carries out an accepted REFER: NOTIFY 100, dial the number
// through the outbound gateway, then hand the caller over or report why
// not. While the target rings, the caller stays bridged to the counselor.
func (c *call) runRefer(t *referTransfer) {
	c.sendReferNotify(t, sipmsg.StatusTrying, false)

	uri, err := c.srv.outsideURI(t.number)
	if err != nil {
		c.failRefer(t, rejectionFor(err).status, err)
		return
	}

	t.log.Info().Msg("dialling the transfer target")
	d := c.dialOutside(uri, t.log)
	if d.outcome != routing.Answered {
		c.failRefer(t, transferFailureStatus(d), d.err)
		return
	}
	c.completeRefer(t, d.leg)
}

// dialOutside rings an outside URI for the caller, offering the caller's
// codec, for twice the counselor ring time. The call's end cancels it.
func (c *call) dialOutside(uri sipmsg.Uri, log zerolog.Logger) dialOutcome {
	return c.srv.dial(c.ctx, dialRequest{
		target:      uri,
		codec:       c.codec,
		ringTimeout: c.srv.opts.RingTimeout * transferRingFactor,
		events:      c,
		log:         log,
	})
}

// transferFailureStatus is the status a failed dial reports in the final
// NOTIFY. A ring timeout is 408, not the 487 that answers our CANCEL.
// Otherwise it is the target's own final response, or 503 when there was
// none.
func transferFailureStatus(d dialOutcome) int {
	switch {
	case d.outcome == routing.NoAnswer:
		return sipmsg.StatusRequestTimeout
	case d.outcome == routing.CallerGone:
		return sipmsg.StatusRequestTerminated
	case d.status >= firstFailureStatus:
		return d.status
	default:
		return sipmsg.StatusServiceUnavailable
	}
}

// failRefer ends a transfer that did not reach its target. The caller
// stays with the counselor, who hears the status in the final NOTIFY.
// When the counselor hung up meanwhile, nobody is left for the caller,
// so the call ends.
func (c *call) failRefer(t *referTransfer, status int, cause error) {
	c.mu.Lock()
	if c.refer == t {
		c.refer = nil
	}
	c.mu.Unlock()

	t.log.Warn().Err(cause).Int("status", status).Msg("transfer failed, the caller stays with the counselor")
	if t.isGone() {
		c.end(&hangup{side: records.SideCounselor, reason: "counselor sent BYE and the transfer failed"})
		return
	}
	if c.ctx.Err() != nil {
		return
	}
	c.sendReferNotify(t, status, true)
}

// completeRefer hands the caller to the answered target: the caller's
// audio is bridged to the target's leg, the counselor hears NOTIFY 200
// and is hung up and freed for wrap-up, and the record names the target.
func (c *call) completeRefer(t *referTransfer, target *outboundLeg) {
	c.mu.Lock()
	if c.phase == phaseEnded || c.refer != t {
		c.mu.Unlock()
		t.log.Info().Msg("the call ended as the target answered, hanging up the target")
		target.byeDetached()
		target.release()
		return
	}
	counselorID := c.counselorID
	c.phase = phaseTransferred
	c.peer = target
	c.peerSince = time.Now()
	c.counselorID = ""
	c.mu.Unlock()

	c.startBridge(target)
	c.record(records.Patch{TransferTarget: &t.number})
	c.srv.events.Publish(events.Event{
		Type:        events.Transferred,
		CallID:      c.id,
		CounselorID: counselorID,
		Data:        map[string]string{"target": t.number, "by": transferredByCounselor},
	})
	t.log.Info().Msg("caller transferred")

	c.sendReferNotify(t, sipmsg.StatusOK, true)
	c.srv.finishCounselor(counselorID, c.srv.opts.WrapUp)
	c.srv.spawn(func() { c.hangUpTransferor(t) })
}

// hangUpTransferor ends the counselor's leg after a transfer: the phone
// has transferorByeGrace to send BYE itself, then this server sends it.
func (c *call) hangUpTransferor(t *referTransfer) {
	defer t.from.release()

	timer := time.NewTimer(transferorByeGrace)
	defer timer.Stop()
	select {
	case <-t.gone:
		return
	case <-timer.C:
	}

	ctx, stop := contextWithTimeout(byeTimeout)
	defer stop()
	if err := t.from.bye(ctx); err != nil {
		t.log.Debug().Err(err).Msg("BYE to the counselor failed, the caller is already with the target")
	}
}

// referLegHangup handles a BYE that concerns a transfer, and reports
// whether it did. A counselor's BYE during or after its transfer leaves the
// caller's call up. A BYE from the target of a completed transfer ends it.
func (c *call) referLegHangup(leg any, reason string) bool {
	out, ok := leg.(*outboundLeg)
	if !ok {
		return false
	}

	c.mu.Lock()
	t := c.refer
	targetLeft := c.phase == phaseTransferred && c.peer == out
	c.mu.Unlock()

	switch {
	case t != nil && t.from == out:
		t.markGone()
		c.srv.dialogs.remove(out.dialog.key)
		t.log.Info().Msg("counselor hung up after asking for the transfer")
		return true
	case targetLeft:
		c.end(&hangup{side: records.SideCounselor, reason: "transfer target sent " + reason})
		return true
	default:
		return false
	}
}

// startBridge relays audio between the caller and leg, which must
// already be c.peer. A bridge loop that is running already drops the
// previous peer and takes leg up; otherwise a new loop starts.
func (c *call) startBridge(leg *outboundLeg) {
	leg.media.Start(c.ctx)

	c.mu.Lock()
	c.peerSince = time.Now()
	running := c.bridgeRunning
	c.bridgeRunning = true
	stop := c.bridgeStop
	c.mu.Unlock()

	if !running {
		c.srv.spawn(c.runBridge)
		return
	}
	if stop != nil {
		stop()
	}
}

// contextWithTimeout is a background context for a request that must
// finish even when the call's context has ended.
func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
