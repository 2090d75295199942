package sip

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"

	"helpline/media"
	"helpline/routing"
)

// mediaProfile is the transport profile of the SDP offer of an INVITE this
// server sends.
type mediaProfile int

const (
	// profilePlain offers RTP/AVP.
	profilePlain mediaProfile = iota
	// profileSRTP offers RTP/SAVP with an SDES key (RFC 4568).
	profileSRTP
)

// String returns the profile's name for logs.
func (p mediaProfile) String() string {
	if p == profileSRTP {
		return "SRTP"
	}
	return "plain RTP"
}

// offerProfiles returns the profiles to offer to d's callee in order: the
// first is offered, and the second, if any, is offered once more when the
// callee rejects the first with 488 Not Acceptable Here.
//
//   - A dial that is not to a counselor's phone (a transfer target or the
//     gateway) gets plain RTP only.
//   - A counselor who must use SRTP (SecurityPolicy) gets SRTP only.
//   - A counselor registered over TLS gets SRTP first, because its SDES key
//     then travels encrypted, and plain RTP after a 488.
//   - Any other counselor gets plain RTP first and SRTP after a 488.
func (s *Server) offerProfiles(d dialRequest) []mediaProfile {
	switch {
	case !d.source.IsValid():
		return []mediaProfile{profilePlain}
	case s.opts.SecureCounselors.requiresSecure(d.source.Addr()):
		return []mediaProfile{profileSRTP}
	case d.registeredTransport == "tls":
		return []mediaProfile{profileSRTP, profilePlain}
	default:
		return []mediaProfile{profilePlain, profileSRTP}
	}
}

// dial sends an INVITE with the first profile of offerProfiles and waits
// for its outcome (see dialProfile). A profile that the phone accepted
// after a 488 on an earlier call goes first (see profileMemory). When the
// callee rejects the offer with 488 and another profile is allowed, it
// sends a new INVITE with that profile at once, within what is left of the
// ring timeout. It returns
// the outcome of the last INVITE only, so a rejected profile never counts
// as a missed offer.
func (s *Server) dial(ctx context.Context, d dialRequest) dialOutcome {
	profiles := s.learnedProfiles.order(d, s.offerProfiles(d))
	var deadline time.Time
	if d.ringTimeout > 0 {
		deadline = time.Now().Add(d.ringTimeout)
	}

	result := s.dialProfile(ctx, d, profiles[0])
	if !rejectedProfile(result) || ctx.Err() != nil {
		return result
	}
	if len(profiles) < 2 {
		d.log.Warn().Str("offered", profiles[0].String()).
			Msg(fmt.Sprintf("counselor %s's phone rejected %s with 488 and no other media is allowed for it: set the phone to use %s",
				d.toUser, profiles[0], profiles[0]))
		return result
	}

	next := profiles[1]
	if !deadline.IsZero() {
		d.ringTimeout = time.Until(deadline)
		if d.ringTimeout <= 0 {
			return result
		}
	}
	d.log.Warn().Str("rejected", profiles[0].String()).Str("offering", next.String()).
		Msg(fmt.Sprintf("counselor %s's phone rejected %s with 488, offering %s", d.toUser, profiles[0], next))
	if next == profileSRTP && d.registeredTransport != "tls" {
		d.log.Warn().Str("transport", d.registeredTransport).
			Msg("the SRTP key travels unencrypted in SIP over " + d.registeredTransport + ": register the phone over TLS")
	}

	result = s.dialProfile(ctx, d, next)
	if rejectedProfile(result) {
		d.log.Error().
			Msg(fmt.Sprintf("counselor %s's phone rejected both plain RTP and SRTP with 488: check its codecs (G.711) and media encryption settings", d.toUser))
		return result
	}
	s.learnedProfiles.store(d, next)
	return result
}

// profileMemory stores, per counselor, the media profile that the phone
// of one registration accepted after it rejected the other profile with
// 488, so that the next call to that phone offers it first. It holds one
// entry per counselor. A REGISTER with a new Call-ID, as from a restarted
// phone, starts from the default order again.
type profileMemory struct {
	// mu guards accepted.
	mu sync.Mutex
	// accepted maps a counselor id to the profile learned from its phone.
	accepted map[string]learnedProfile
}

// learnedProfile is a profile accepted by the phone of one registration.
type learnedProfile struct {
	registerCallID string
	profile        mediaProfile
}

// order returns profiles with the profile learned from d's phone first,
// when there is one and profiles allows it.
func (m *profileMemory) order(d dialRequest, profiles []mediaProfile) []mediaProfile {
	if d.toUser == "" || len(profiles) < 2 {
		return profiles
	}
	m.mu.Lock()
	learned, ok := m.accepted[d.toUser]
	m.mu.Unlock()
	if !ok || learned.registerCallID != d.registerCallID || learned.profile == profiles[0] || !slices.Contains(profiles, learned.profile) {
		return profiles
	}

	ordered := []mediaProfile{learned.profile}
	for _, p := range profiles {
		if p != learned.profile {
			ordered = append(ordered, p)
		}
	}
	return ordered
}

// store records that d's phone accepted profile after a 488.
func (m *profileMemory) store(d dialRequest, profile mediaProfile) {
	if d.toUser == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.accepted == nil {
		m.accepted = make(map[string]learnedProfile)
	}
	m.accepted[d.toUser] = learnedProfile{registerCallID: d.registerCallID, profile: profile}
}

// rejectedProfile reports whether the callee rejected the offer with 488
// Not Acceptable Here, not the server cancelling the INVITE.
func rejectedProfile(result dialOutcome) bool {
	return result.status == sipmsg.StatusNotAcceptableHere && result.outcome == routing.OutcomeForStatus(sipmsg.StatusNotAcceptableHere)
}

// buildDialOffer writes the INVITE's SDP offer for profile: for SRTP with a
// fresh key, also returned, else plain RTP.
func (s *Server) buildDialOffer(d dialRequest, profile mediaProfile, local netip.AddrPort, sdpSession uint64) ([]byte, *media.CryptoAttribute, error) {
	codecs := []media.Codec{d.codec}
	if profile == profilePlain {
		offer, err := media.BuildOffer(local, codecs, defaultEventPayloadType, sdpSession, 1)
		if err != nil {
			return nil, nil, fmt.Errorf("building SDP offer: %w", err)
		}
		return offer, nil, nil
	}

	key, err := media.NewCryptoAttribute(1)
	if err != nil {
		return nil, nil, fmt.Errorf("building SRTP offer: %w", err)
	}
	offer, err := media.BuildSRTPOffer(local, codecs, defaultEventPayloadType, sdpSession, 1, key)
	if err != nil {
		return nil, nil, fmt.Errorf("building SRTP offer: %w", err)
	}
	return offer, &key, nil
}
