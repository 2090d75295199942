package sip

import (
	"context"
	"errors"
	"fmt"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"

	"helpline/events"
	"helpline/media"
	"helpline/records"
	"helpline/routing"
)

// Sentinel errors of calls with a third party.
var (
	// ErrCallNotFound means no call in progress has the given id, or the
	// counselor is on no call.
	ErrCallNotFound = errors.New("call not found")
	// ErrCallNotTalking means the call has no counselor connected yet, or
	// was transferred, so nobody can be added to it.
	ErrCallNotTalking = errors.New("call is not connected to a counselor")
	// ErrPartyBusy means the call already has an emergency target or a
	// supervisor other than the one requested.
	ErrPartyBusy = errors.New("call already has that kind of party")
)

// Ids of the participants in a call's mix.
const (
	partyCaller     = "caller"
	partyCounselor  = "counselor"
	partyEmergency  = "emergency"
	partySupervisor = "supervisor"
)

// emergencyRingTimeout bounds the ringing of an emergency target. Emergency
// services answer quickly, so a longer wait means the call failed, and the
// counselor should know it and try again.
const emergencyRingTimeout = 60 * time.Second

// conference is a call's mix once a third party joined: it replaces the
// caller-counselor bridge until the call ends.
type conference struct {
	mixer *media.Mixer
	// stop ends the mixer's Run, and done is closed when Run returned.
	stop context.CancelFunc
	done chan struct{}

	// The fields below are guarded by the call's mu.
	emergency       *outboundLeg
	emergencyTarget string
	supervisor      *outboundLeg
	supervisorID    string
	mode            MonitorMode
	// closed is set when the call ended and its parties were hung up.
	closed bool
}

// setMatrixLocked sets who hears whom from the parties present and the
// monitor mode. The call's mu must be held.
func (cf *conference) setMatrixLocked() {
	supervisorHeard := func(listener string) []string {
		switch {
		case cf.supervisor == nil:
			return nil
		case cf.mode == MonitorBarge:
			return []string{partySupervisor}
		case cf.mode == MonitorWhisper && listener == partyCounselor:
			return []string{partySupervisor}
		default:
			return nil
		}
	}
	cf.mixer.SetHears(partyCaller, append([]string{partyCounselor, partyEmergency}, supervisorHeard(partyCaller)...)...)
	cf.mixer.SetHears(partyCounselor, append([]string{partyCaller, partyEmergency}, supervisorHeard(partyCounselor)...)...)
	cf.mixer.SetHears(partyEmergency, append([]string{partyCaller, partyCounselor}, supervisorHeard(partyEmergency)...)...)
	cf.mixer.SetHears(partySupervisor, partyCaller, partyCounselor, partyEmergency)
}

// talkingPeer returns the counselor's leg while the call is connected to
// one, or an error saying why nobody can join.
func (c *call) talkingPeer() (*outboundLeg, string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.phase != phaseTalking || c.peer == nil || c.peer.media == nil {
		return nil, "", ErrCallNotTalking
	}
	return c.peer, c.counselorID, nil
}

// joinConference switches the call from the two-way bridge to a mix, the
// first time a third party joins, and returns the mix. It waits until
// the bridge has let go of both legs.
func (c *call) joinConference() (*conference, error) {
	peer, _, err := c.talkingPeer()
	if err != nil {
		return nil, err
	}

	c.mu.Lock()
	if c.conf != nil {
		cf := c.conf
		c.mu.Unlock()
		return cf, nil
	}
	mixCtx, stop := context.WithCancel(c.ctx)
	cf := &conference{mixer: media.NewMixer(c.log), stop: stop, done: make(chan struct{})}
	c.conf = cf
	cf.setMatrixLocked()
	stopBridge := c.bridgeStop
	c.mu.Unlock()

	c.srv.spawn(func() {
		defer close(cf.done)
		_ = cf.mixer.Run(mixCtx)
	})
	if stopBridge != nil {
		stopBridge()
	}

	if err := cf.mixer.Add(c.ctx, partyCaller, c.callerMedia); err != nil {
		return nil, fmt.Errorf("moving the caller into the mix: %w", err)
	}
	if err := cf.mixer.Add(c.ctx, partyCounselor, peer.media); err != nil {
		return nil, fmt.Errorf("moving the counselor into the mix: %w", err)
	}
	c.log.Info().Msg("call switched from bridge to mix")
	return cf, nil
}

// closeConference hangs up the third parties and stops the mix, when the
// call ends.
func (c *call) closeConference(cause *hangup) {
	c.mu.Lock()
	cf := c.conf
	var legs []*outboundLeg
	if cf != nil {
		legs = append(legs, cf.emergency, cf.supervisor)
		cf.emergency, cf.supervisor = nil, nil
		cf.closed = true
	}
	c.mu.Unlock()
	if cf == nil {
		return
	}

	cf.stop()
	<-cf.done
	for _, leg := range legs {
		if leg == nil {
			continue
		}
		ctx, stop := context.WithTimeout(context.Background(), byeTimeout)
		if err := leg.bye(ctx); err != nil {
			leg.log.Warn().Err(err).AnErr("cause", cause).Msg("BYE to the third party failed")
		}
		stop()
		leg.release()
	}
}

// attachParty stores leg as the call's party role (set runs under the
// call's mu) and adds it to the mix. When the call ended meanwhile, or the
// mix rejects the leg, the leg is hung up and attachParty returns false.
func (c *call) attachParty(cf *conference, role string, leg *outboundLeg, set func()) bool {
	c.mu.Lock()
	if cf.closed {
		c.mu.Unlock()
		leg.log.Info().Msg("call ended as the third party answered, hanging up the third party")
		leg.byeDetached()
		leg.release()
		return false
	}
	set()
	cf.setMatrixLocked()
	c.mu.Unlock()

	err := cf.mixer.Add(c.ctx, role, leg.media)
	if err == nil {
		return true
	}
	leg.log.Warn().Err(err).Msg("adding the third party to the mix failed, hanging up the third party")
	if c.detachParty(cf, role, leg) {
		leg.byeDetached()
		leg.release()
	}
	return false
}

// detachParty clears the party role when it is still leg, and reports
// whether it did. The caller that clears a leg owns hanging it up.
func (c *call) detachParty(cf *conference, role string, leg *outboundLeg) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case role == partyEmergency && cf.emergency == leg:
		cf.emergency = nil
	case role == partySupervisor && cf.supervisor == leg:
		cf.supervisor = nil
		cf.supervisorID = ""
	default:
		return false
	}
	cf.setMatrixLocked()
	return true
}

// partyEvents receives the in-dialog requests of a third party's leg.
type partyEvents struct {
	call *call
	role string
}

// legHangup takes the party out of the mix; the call goes on.
func (p *partyEvents) legHangup(leg any, reason string) {
	out, ok := leg.(*outboundLeg)
	if !ok {
		return
	}
	p.call.partyLeft(p.role, out, reason)
}

// legDigit passes an INFO digit to the party's media, where the feature
// code or monitor mode reader picks it up.
func (p *partyEvents) legDigit(leg any, digit rune) {
	if out, ok := leg.(*outboundLeg); ok && out.media != nil {
		out.media.InjectDigit(media.Digit(digit))
	}
}

// legReoffer answers the party's re-INVITE like the counselor's.
func (p *partyEvents) legReoffer(leg any, offer []byte) ([]byte, error) {
	return p.call.legReoffer(leg, offer)
}

// partyLeft removes a third party whose peer hung up.
func (c *call) partyLeft(role string, leg *outboundLeg, reason string) {
	c.mu.Lock()
	cf := c.conf
	c.mu.Unlock()
	if cf == nil || !c.detachParty(cf, role, leg) {
		return
	}

	cf.mixer.Remove(role)
	leg.release()
	c.log.Info().Str("party", role).Str("reason", reason).Msg("third party left the call")
	if role == partyEmergency {
		c.emergencyLeft()
		c.endIfAlone()
	}
}

// dialParty rings a third party for the call and returns its answered
// leg, started.
func (c *call) dialParty(req dialRequest, role string) (*outboundLeg, error) {
	req.codec = c.codec
	req.events = &partyEvents{call: c, role: role}
	d := c.srv.dial(c.ctx, req)
	if d.outcome != routing.Answered {
		return nil, &dialError{outcome: d.outcome, status: d.status, err: d.err}
	}
	d.leg.media.Start(c.ctx)
	return d.leg, nil
}

// dialError is a third party's call that was not answered.
type dialError struct {
	outcome routing.OfferOutcome
	status  int
	err     error
}

func (e *dialError) Error() string {
	msg := "call not answered: " + e.outcome.String()
	if e.status != 0 {
		msg += fmt.Sprintf(" (SIP %d)", e.status)
	}
	if e.err != nil {
		msg += ": " + e.err.Error()
	}
	return msg
}

func (e *dialError) Unwrap() error { return e.err }

// CallEmergency checks that target may be called into the call callID
// and then dials it in the background through the outbound gateway. Once
// the target answers, caller, counselor and target hear each other, and
// the counselor stays on the call. It returns ErrCallNotFound,
// ErrCallNotTalking, ErrTargetNotAllowed, ErrNoOutboundRoute or
// ErrPartyBusy when it cannot start.
func (s *Server) CallEmergency(callID, target string) error {
	c, ok := s.calls.get(callID)
	if !ok {
		return fmt.Errorf("%w: %q", ErrCallNotFound, callID)
	}
	return c.startEmergency(target, nil)
}

// startEmergency validates target and dials it in the background.
// notifyFailure, when not nil, runs when the target cannot be added.
func (c *call) startEmergency(target string, notifyFailure func()) error {
	if !c.srv.targetAllowed(target) {
		return fmt.Errorf("%w: %q", ErrTargetNotAllowed, c.srv.loggableTarget(target))
	}
	if _, _, err := c.talkingPeer(); err != nil {
		return err
	}
	uri, err := c.srv.outsideURI(target)
	if errors.Is(err, ErrNoOutboundRoute) {
		c.emergencyFailed(target, EmergencyReasonNoRoute, 0)
	}
	if err != nil {
		return err
	}

	c.mu.Lock()
	busy := (c.conf != nil && c.conf.emergency != nil) || c.emergencyDialing
	if !busy {
		c.emergencyDialing = true
		c.setEmergencyLocked(c.emergency.retry(target))
	}
	counselorID := c.counselorID
	c.mu.Unlock()
	if busy {
		return fmt.Errorf("%w: an emergency target is already on or being called", ErrPartyBusy)
	}

	c.srv.events.Publish(events.Event{
		Type: events.EmergencyCalling, CallID: c.id, CounselorID: counselorID,
		Data: map[string]string{"target": target},
	})
	c.srv.spawn(func() {
		if !c.dialEmergency(target, uri) && notifyFailure != nil {
			notifyFailure()
		}
	})
	return nil
}

// dialEmergency rings the emergency target and adds it to the mix. It
// returns false when the target did not join. Either way it clears
// emergencyDialing and stores the outcome in the call's emergency state.
func (c *call) dialEmergency(target string, uri sipmsg.Uri) bool {
	log := c.log.With().Str("emergency_target", target).Logger()
	log.Info().Str("gateway", uri.Host).Msg("calling the emergency target into the call")

	leg, err := c.dialParty(dialRequest{target: uri, ringTimeout: emergencyRingTimeout, log: log}, partyEmergency)
	if err != nil {
		reason, status := emergencyFailureReason(err)
		log.Warn().Err(err).Str("reason", reason).Msg("emergency target not reached")
		c.emergencyDialFailed(target, reason, status)
		return false
	}
	cf, err := c.joinConference()
	if err != nil {
		log.Warn().Err(err).Msg("emergency target answered but the call cannot take it, hanging up the target")
		leg.byeDetached()
		leg.release()
		c.emergencyDialFailed(target, EmergencyReasonNotJoined, 0)
		return false
	}

	attached := c.attachParty(cf, partyEmergency, leg, func() {
		cf.emergency, cf.emergencyTarget = leg, target
	})
	if !attached {
		c.emergencyDialFailed(target, EmergencyReasonNotJoined, 0)
		return false
	}
	c.emergencyJoined(target)
	c.mu.Lock()
	counselorID := c.counselorID
	c.mu.Unlock()

	c.record(records.Patch{EmergencyTarget: &target})
	c.srv.events.Publish(events.Event{
		Type: events.EmergencyJoined, CallID: c.id, CounselorID: counselorID,
		Data: map[string]string{"target": target},
	})
	log.Info().Msg("emergency target joined the call")
	return true
}

// runBridge relays audio between the caller and leg until the call ends
// or a mix takes over. While pauseBridge holds it, the bridge waits, so
// that a tone can be played to one leg.
func (c *call) runBridge() {
	for {
		c.mu.Lock()
		leg := c.peer
		if c.conf != nil || leg == nil || c.ctx.Err() != nil {
			c.bridgeRunning = false
			c.mu.Unlock()
			return
		}
		if pause := c.bridgePause; pause != nil {
			c.mu.Unlock()
			select {
			case <-pause:
			case <-c.ctx.Done():
			}
			continue
		}
		ctx, stop := context.WithCancel(c.ctx)
		c.bridgeStop = stop
		callerHolds, peerHolds := c.callerHolds, c.peerHolds
		c.mu.Unlock()

		err := c.relaySegment(ctx, leg, callerHolds, peerHolds)
		stop()

		c.mu.Lock()
		c.bridgeStop = nil
		if err != nil && !errors.Is(err, context.Canceled) {
			c.bridgeRunning = false
			c.mu.Unlock()
			c.log.Warn().Err(err).Msg("audio bridge stopped")
			return
		}
		c.mu.Unlock()
	}
}

// pauseBridge stops the bridge until resume is called. It returns false
// when the call is mixed or already paused.
func (c *call) pauseBridge() (resume func(), ok bool) {
	c.mu.Lock()
	if c.conf != nil || c.bridgePause != nil {
		c.mu.Unlock()
		return nil, false
	}
	pause := make(chan struct{})
	c.bridgePause = pause
	stop := c.bridgeStop
	c.mu.Unlock()

	if stop != nil {
		stop()
	}
	return func() {
		c.mu.Lock()
		c.bridgePause = nil
		c.mu.Unlock()
		close(pause)
	}, true
}

// counselorLeftMix handles the counselor's BYE while an emergency target
// is on the call: the counselor leaves the mix and is freed for wrap-up,
// and the caller stays with the target, because a caller in danger must
// not lose the emergency service when the counselor hangs up. It returns
// false, and does nothing, when leg is not the counselor's or no target
// is on the call.
func (c *call) counselorLeftMix(leg any) bool {
	c.mu.Lock()
	peer := c.peer
	cf := c.conf
	if peer == nil || leg != any(peer) || cf == nil || cf.emergency == nil || c.phase != phaseTalking {
		c.mu.Unlock()
		return false
	}
	counselorID := c.counselorID
	c.peer = nil
	c.counselorID = ""
	c.mu.Unlock()

	cf.mixer.Remove(partyCounselor)
	c.srv.dialogs.remove(peer.dialog.key)
	peer.release()
	c.srv.finishCounselor(counselorID, c.srv.opts.WrapUp)
	c.log.Info().Str("counselor", counselorID).Msg("counselor left, the caller stays with the emergency target")
	return true
}

// endIfAlone ends the call when the emergency target left after the
// counselor, which leaves the caller alone in the mix.
func (c *call) endIfAlone() {
	c.mu.Lock()
	alone := c.peer == nil && c.phase == phaseTalking
	c.mu.Unlock()
	if alone {
		c.end(&hangup{side: records.SideServer, reason: "emergency target sent BYE after the counselor left"})
	}
}
