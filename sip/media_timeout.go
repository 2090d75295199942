package sip

import (
	"context"
	"time"

	"helpline/counselor"
	"helpline/media"
	"helpline/queue"
	"helpline/records"
)

// The media timeout (Options.MediaTimeout, rtp.media_timeout) ends a call
// whose caller or peer stopped sending RTP, as happens when a softphone
// crashes or loses its network without a BYE. The server then sends BYE
// to both legs, records the end with hangup side "server" and a reason
// that starts with "media timeout", and, when the counselor's phone was
// the silent one, puts the counselor on break after the wrap-up.
//
// A party that holds the call (sendonly, inactive, c=0.0.0.0 or no m=
// line) is exempt for as long as the hold lasts, because RFC 3264 lets it
// send no RTP and many phones send none. Only the hold timeout
// (Options.HoldTimeout, rtp.hold_timeout, off by default) ends such a
// call.

// Names of the break that follows a counselor's media timeout.
const (
	// MediaTimeoutReason is the break reason of a counselor whose phone
	// stopped sending RTP during a call.
	MediaTimeoutReason = "media timeout"
	// sourceMediaTimeout is the event source of that break.
	sourceMediaTimeout = "media_timeout"
)

// mediaTimeoutReasonPrefix starts the hangup reason of every call the
// media timeout ended.
const mediaTimeoutReasonPrefix = "media timeout: "

// silentWrapUpMin is the shortest wrap-up of a counselor whose phone went
// silent. It keeps a counselor whose wrap-up time is 0 out of the
// distributors' reach until the break that follows is applied.
const silentWrapUpMin = 5 * time.Second

// mediaLimits are the silences that end a call: talking for a party that
// does not hold the call, holding for one that holds it. Zero disables
// either check.
type mediaLimits struct {
	talking time.Duration
	holding time.Duration
}

// forParty returns the limit of a party that holds the call or not.
func (l mediaLimits) forParty(holds bool) time.Duration {
	if holds {
		return l.holding
	}
	return l.talking
}

// checkInterval returns how often the legs are checked: a quarter of the
// shorter limit, or 0 when both checks are off.
func (l mediaLimits) checkInterval() time.Duration {
	shortest := l.talking
	if shortest <= 0 || (l.holding > 0 && l.holding < shortest) {
		shortest = l.holding
	}
	return max(shortest, 0) / mediaChecksPerTimeout
}

// watchMedia ends the call when a leg has sent no RTP for the media
// timeout, or for the hold timeout while its party holds the call.
func (c *call) watchMedia() {
	limits := mediaLimits{talking: c.srv.opts.MediaTimeout, holding: c.srv.opts.HoldTimeout}
	interval := limits.checkInterval()
	if interval <= 0 {
		return
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-tick.C:
			if cause := c.mediaTimeoutCause(limits); cause != nil {
				c.log.Warn().Str("silent", string(cause.silent)).Str("reason", cause.reason).
					Msg("media timeout, ending the call")
				c.end(cause)
				return
			}
		}
	}
}

// mediaTimeoutCause returns the hangup cause when the caller or the peer
// has sent no RTP for longer than its limit, or nil. Silence counts from
// the party's last packet, but never from before the call's start (the
// caller), the start of its bridge (the peer) or the end of its last hold.
func (c *call) mediaTimeoutCause(limits mediaLimits) *hangup {
	c.mu.Lock()
	callerSince := latest(c.startedAt, c.callerResumed)
	peer, peerSince, counselorID := c.peer, latest(c.peerSince, c.peerResumed), c.counselorID
	c.mu.Unlock()

	if c.callerMedia != nil {
		holds := !c.expectsRTP(c.caller)
		limit := limits.forParty(holds)
		if limit > 0 && silentSince(c.callerMedia, callerSince) > limit {
			return mediaTimeoutHangup(records.SideCaller, "the caller", limit, holds)
		}
	}

	if peer == nil || peer.media == nil {
		return nil
	}
	holds := !c.expectsRTP(peer)
	limit := limits.forParty(holds)
	if limit <= 0 || silentSince(peer.media, peerSince) <= limit {
		return nil
	}
	party := "the counselor"
	if counselorID == "" {
		party = "the transfer target"
	}
	return mediaTimeoutHangup(records.SideCounselor, party, limit, holds)
}

// mediaTimeoutHangup is the cause of a call the media timeout ended
// because the silent leg, named party in the reason, sent no RTP for
// limit, on hold or not.
func mediaTimeoutHangup(silent records.Side, party string, limit time.Duration, onHold bool) *hangup {
	reason := mediaTimeoutReasonPrefix + "no RTP from " + party + " for " + limit.String()
	if onHold {
		reason += " on hold"
	}
	return &hangup{side: records.SideServer, silent: silent, reason: reason}
}

// latest returns the later of two times.
func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// silentSince is how long a session has received no RTP, counted from
// start when no packet arrived after it.
func silentSince(s *media.Session, start time.Time) time.Duration {
	return time.Since(latest(s.Stats().LastReceived, start))
}

// finishCounselorCall ends the counselor's part of the call: wrap-up,
// and a break after it when the media timeout found the counselor's
// phone silent.
func (c *call) finishCounselorCall(counselorID string, cause *hangup) {
	wrapUp := c.srv.wrapUpFor(counselorID)
	if cause.silent != records.SideCounselor {
		c.srv.finishCounselor(counselorID, wrapUp)
		return
	}
	c.srv.finishCounselor(counselorID, max(wrapUp, silentWrapUpMin))
	c.srv.pauseSilentCounselor(counselorID)
}

// pauseSilentCounselor puts on break a counselor whose phone stopped
// sending RTP during a call and publishes the change. Such a phone has
// most likely crashed or lost its network, and its registration outlives
// it until it expires: without the break, the next callers would each
// ring the dead phone for queue.ring_timeout until the miss policy paused
// the counselor. The counselor comes back with the back-from-break code or
// the API once the phone works again. A counselor who logged out during
// the call stays logged out.
func (s *Server) pauseSilentCounselor(counselorID string) {
	ctx, stop := context.WithTimeout(context.Background(), recordTimeout)
	defer stop()
	log := s.log.With().Str("counselor", counselorID).Logger()

	before, err := s.queue.Counselor(ctx, counselorID)
	if err != nil {
		log.Error().Err(err).Msg("reading the counselor to pause after the media timeout failed")
		return
	}
	if before.State != queue.StateWrapUp && before.State != queue.StateAvailable {
		return
	}
	if err := s.queue.SetState(ctx, counselorID, queue.StateBreak, MediaTimeoutReason, time.Now()); err != nil {
		log.Error().Err(err).Msg("pausing the counselor after the media timeout failed")
		return
	}
	counselor.Publish(s.events, counselorID, before.State, queue.StateBreak, MediaTimeoutReason, sourceMediaTimeout)
	log.Warn().Str("reason", MediaTimeoutReason).Msg("counselor put on break: the phone sent no RTP during the call")
}
