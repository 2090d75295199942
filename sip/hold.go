package sip

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"helpline/media"
)

// Hold and resume (RFC 3264 section 8.4, RFC 6337 section 5): a peer that
// re-offers sendonly, inactive, the old-style c=0.0.0.0, or no m= line at
// all holds the call. Its leg then sends nothing, the bridge stops, and the
// other party hears the hold music instead of silence. A later offer with
// sendrecv resumes the bridge.

// reoffer answers a new offer that leg's peer sent in a re-INVITE or an
// UPDATE. The leg's session follows the answer: new remote address, new
// codec (the bridge transcodes toward the other leg), and sending only
// while the peer does not hold. A failed negotiation leaves the session as
// it was, so the caller of reoffer answers 488 with the old session kept.
func (c *call) reoffer(leg any, offer []byte) ([]byte, error) {
	if len(offer) == 0 {
		return nil, ErrMissingOffer
	}
	desc, err := media.ParseSDP(offer)
	if err != nil {
		return nil, err
	}
	session, sdpSession, sdpVersion := c.legMedia(leg)
	if session == nil {
		return nil, ErrNoDialog
	}
	version := sdpVersion.Load() + 1

	if len(desc.Media) == 0 {
		answer, err := media.BuildEmptyAnswer(session.LocalAddr().Addr(), sdpSession, version)
		if err != nil {
			return nil, err
		}
		sdpVersion.Store(version)
		session.SetSending(false)
		c.setHold(leg, true, "offer without m= lines")
		return answer, nil
	}

	negotiated, err := session.Renegotiate(desc, c.srv.codecs)
	if err != nil {
		return nil, err
	}
	answer, err := media.BuildAnswer(desc, negotiated, session.LocalAddr(), sdpSession, version)
	if err != nil {
		return nil, err
	}
	if err := session.SetFormat(negotiated.Codec, negotiated.TelephoneEvent); err != nil {
		return nil, err
	}
	if err := session.SetSRTP(negotiated.SRTP); err != nil {
		return nil, err
	}
	sdpVersion.Store(version)
	session.SetRemote(negotiated.Remote)
	session.SetSending(negotiated.Sends())
	c.setHold(leg, !negotiated.Sends(), negotiated.Direction)
	return answer, nil
}

// applyInitialDirection mutes the caller's session when the INVITE itself
// offered hold (sendonly, inactive or c=0.0.0.0), so that no RTP reaches a
// caller whose answer said recvonly or inactive.
func (c *call) applyInitialDirection(n *media.Negotiated) {
	c.callerMedia.SetSending(n.Sends())
	c.mu.Lock()
	c.callerHolds = !n.Sends()
	c.mu.Unlock()
}

// legMedia returns the RTP session of leg and the o= session id and
// version counter of the SDP this server sends on it.
func (c *call) legMedia(leg any) (*media.Session, uint64, *atomic.Uint64) {
	if out, ok := leg.(*outboundLeg); ok {
		return out.media, out.sdpSession, &out.sdpVersion
	}
	return c.callerMedia, c.sdpSession, &c.sdpVersion
}

// setHold records whether leg's peer holds the call and, when that
// changed during a conversation, switches between bridge and hold music.
// direction is our answer's direction, for the log.
func (c *call) setHold(leg any, holds bool, direction string) {
	c.mu.Lock()
	var changed bool
	who := "caller"
	switch {
	case leg == any(c.caller):
		changed = c.callerHolds != holds
		c.callerHolds = holds
		if changed && !holds {
			c.callerResumed = time.Now()
		}
	case c.peer != nil && leg == any(c.peer):
		who = "counselor"
		changed = c.peerHolds != holds
		c.peerHolds = holds
		if changed && !holds {
			c.peerResumed = time.Now()
		}
	default:
		c.mu.Unlock()
		return
	}
	talking := c.peer != nil && (c.phase == phaseTalking || c.phase == phaseTransferred)
	c.mu.Unlock()

	if !changed {
		return
	}
	message := "call resumed"
	if holds {
		message = "call held"
	}
	c.log.Info().Str("by", who).Str("answer_direction", direction).Msg(message)
	if talking {
		c.replanMedia()
	}
}

// replanMedia makes the bridge loop (runBridge) start over, so that it
// plays what the two legs should hear now: the bridge when neither party
// holds, else hold music for the party that is not holding.
func (c *call) replanMedia() {
	c.mu.Lock()
	stop := c.bridgeStop
	c.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// relaySegment runs one stretch of the bridge loop until ctx ends: the
// two-way bridge, or hold music to the party that is not holding, or
// nothing while both hold.
func (c *call) relaySegment(ctx context.Context, leg *outboundLeg, callerHolds, peerHolds bool) error {
	switch {
	case !callerHolds && !peerHolds:
		return media.Bridge(ctx, c.callerMedia, leg.media)
	case callerHolds && !peerHolds:
		c.playHoldMusic(ctx, leg.media, "counselor")
	case peerHolds && !callerHolds:
		c.playHoldMusic(ctx, c.callerMedia, "caller")
	}
	// Hold music that could not play leaves the listener in silence until
	// the hold ends.
	<-ctx.Done()
	return ctx.Err()
}

// playHoldMusic loops the hold music to one party until ctx ends.
func (c *call) playHoldMusic(ctx context.Context, session *media.Session, listener string) {
	music, err := c.srv.prompts.audio(c.srv.graph.HoldMusic, c.srv.graph.DefaultLanguage)
	if err != nil {
		c.log.Error().Err(err).Msg("hold music missing, the held party hears silence")
		return
	}
	c.log.Info().Str("listener", listener).Msg("hold music playing")
	if err := session.PlayLoop(ctx, nil, music); err != nil && !errors.Is(err, context.Canceled) {
		c.log.Warn().Err(err).Msg("hold music stopped")
	}
}

// expectsRTP reports whether the peer of a leg should be sending RTP now:
// not while it holds the call, when it may send nothing for as long as the
// hold lasts.
func (c *call) expectsRTP(leg any) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if leg == any(c.caller) {
		return !c.callerHolds
	}
	return !c.peerHolds
}
