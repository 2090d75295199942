package sip

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"

	"helpline/media"
	"helpline/records"
)

// handleInvite takes a new call from the trunk, or passes a re-INVITE to
// its dialog.
func (s *Server) handleInvite(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	if req.CallID() == nil || req.From() == nil || req.To() == nil || req.CSeq() == nil {
		s.respond(req, tx, sipmsg.StatusBadRequest, "Bad Request", nil)
		return
	}
	if _, inDialog := incomingKey(req); inDialog {
		s.handleInDialog(req, tx)
		return
	}
	if s.features != nil && isFeatureCall(req.Recipient.User) {
		s.handleFeatureInvite(req, tx)
		return
	}

	callID := req.CallID().Value()
	log := s.log.With().Str("call_id", callID).Logger()
	leg := newInboundLeg(s, req, tx, log)
	leg.watchCancel()
	if err := leg.respond(sipmsg.StatusTrying, "Trying", nil); err != nil {
		log.Debug().Err(err).Msg("100 Trying not sent")
	}

	identity := callerIdentity(req)
	source := sourceAddr(req)
	log = log.With().Str("caller", records.MaskNumber(identity.Number)).Str("source", source.String()).Logger()
	leg.log = log

	if err := s.admit(req, source); err != nil {
		s.rejectCall(leg, identity, source, err)
		return
	}
	log.Info().Str("called", req.Recipient.User).Bool("withheld", identity.Withheld).Msg("incoming call")
	timerPlan, err := s.negotiateSessionTimer(req)
	if err != nil {
		s.rejectSessionTimer(leg, err)
		return
	}

	c, negotiated, answer, err := s.prepareCall(req, leg, identity, source, log)
	if err != nil {
		s.rejectCall(leg, identity, source, err)
		return
	}

	c.useSessionTimer(timerPlan)
	answered := c.answerCall(negotiated, answer)
	if answered {
		c.startSessionTimer()
	}
	s.spawn(func() { c.run(answered) })
}

// admit applies trunk trust and the number plan.
func (s *Server) admit(req *sipmsg.Request, source netip.Addr) error {
	if !s.trusted(source) {
		return fmt.Errorf("%w: %s", ErrUntrustedSource, source)
	}
	if !s.numbers[req.Recipient.User] {
		// The number is masked: a trusted source that sends any number
		// may send a person's, and the error reaches logs and records.
		return fmt.Errorf("%w: %q", ErrUnknownNumber, records.MaskNumber(req.Recipient.User))
	}
	if s.draining.Load() {
		return ErrDraining
	}
	return nil
}

func (s *Server) trusted(source netip.Addr) bool {
	for _, p := range s.opts.TrustedSources {
		if p.Contains(source.Unmap()) {
			return true
		}
	}
	return false
}

// sourceAddr is the IP address the request came from.
func sourceAddr(req *sipmsg.Request) netip.Addr {
	if ap, err := netip.ParseAddrPort(req.Source()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// rejectCall answers a call that cannot be taken and records it, unless
// it came from an untrusted source: those leave a warning only, so a
// scanner cannot fill the records.
func (s *Server) rejectCall(leg *inboundLeg, identity CallerIdentity, source netip.Addr, err error) {
	var headers []sipmsg.Header
	if errors.Is(err, ErrDraining) || errors.Is(err, ErrNoMediaPort) {
		headers = append(headers, retryAfter(s.opts.RetryAfter))
	}
	leg.reject(err, headers...)

	if errors.Is(err, ErrUntrustedSource) {
		// A scanner repeats such calls at will: one line per source per
		// interval, with the count of those held back.
		if suppressed, ok := s.untrustedLog.allow(source.String(), time.Now()); ok {
			leg.log.Warn().Err(err).Int("status", rejectionFor(err).status).Int("suppressed", suppressed).
				Dur("log_interval", sourceLogInterval).Msg("call rejected")
		}
		return
	}
	leg.log.Warn().Err(err).Int("status", rejectionFor(err).status).Msg("call rejected")

	outcome := records.OutcomeRejected
	if errors.Is(err, media.ErrNoCommonCodec) || errors.Is(err, media.ErrAddressFamily) || errors.Is(err, ErrMissingOffer) {
		outcome = records.OutcomeNoCommonCodec
	}
	s.writeRejectedRecord(leg, identity, source, outcome, err)
}

func (s *Server) writeRejectedRecord(leg *inboundLeg, identity CallerIdentity, source netip.Addr, outcome records.Outcome, cause error) {
	if s.records == nil {
		return
	}

	now := time.Now()
	callID, err := s.startRecordID(leg.dialog.key.callID, records.StartInfo{
		Source:         source.String(),
		CalledNumber:   leg.invite.Recipient.User,
		CallerNumber:   identity.Number,
		CallerWithheld: identity.Withheld,
		StartedAt:      now,
	})
	if err != nil {
		leg.log.Error().Err(err).Msg("writing call record failed")
		return
	}
	side, reason := records.SideServer, cause.Error()
	patch := records.Patch{EndedAt: &now, Outcome: &outcome, HangupSide: &side, HangupReason: &reason}
	ctx, stop := context.WithTimeout(context.Background(), recordTimeout)
	defer stop()
	if err := s.records.Update(ctx, callID, patch); err != nil {
		leg.log.Error().Err(err).Msg("writing call record failed")
	}
}

// prepareCall negotiates media, takes an RTP port, builds the answer and
// writes the first record of the call.
func (s *Server) prepareCall(req *sipmsg.Request, leg *inboundLeg, identity CallerIdentity, source netip.Addr, log zerolog.Logger) (*call, *media.Negotiated, []byte, error) {
	if len(req.Body()) == 0 {
		return nil, nil, nil, ErrMissingOffer
	}
	offer, err := media.ParseSDP(req.Body())
	if err != nil {
		return nil, nil, nil, err
	}
	negotiated, err := media.Negotiate(offer, s.codecs)
	if err != nil {
		return nil, nil, nil, err
	}

	conn, err := s.allocatePort()
	if err != nil {
		return nil, nil, nil, err
	}
	sdpSession := sessionVersion()
	answer, err := media.BuildAnswer(offer, negotiated, s.mediaAddrPort(conn), sdpSession, 1)
	if err != nil {
		s.ports.Release(conn)
		return nil, nil, nil, err
	}

	ctx, end := context.WithCancelCause(context.Background())
	c := &call{
		id:         leg.dialog.key.callID,
		srv:        s,
		log:        log,
		ctx:        ctx,
		end:        end,
		caller:     leg,
		callerPort: conn,
		codec:      negotiated.Codec,
		startedAt:  time.Now(),
		sdpSession: sdpSession,

		bufferExpired: make(chan struct{}, 1),
	}
	c.sdpVersion.Store(1)
	c.callerMedia = s.newMediaSession(media.LegCaller, media.SessionConfig{
		Conn:           conn,
		Remote:         negotiated.Remote,
		Codec:          negotiated.Codec,
		TelephoneEvent: negotiated.TelephoneEvent,
		Logger:         log,
		SRTP:           negotiated.SRTP,
	})
	c.applyInitialDirection(negotiated)
	leg.handler = c
	leg.attach(c)

	if err := s.startRecord(c, req, identity, source); err != nil {
		// The caller is served all the same; the log keeps the trace.
		log.Error().Err(err).Msg("writing call record failed")
	}
	s.calls.add(c)
	return c, negotiated, answer, nil
}

// maxCallIDSuffix bounds the tries for a free record id when a trunk
// reuses a Call-ID.
const maxCallIDSuffix = 9

// startRecord writes the record of a call as it starts, under the call's
// id or, when that is taken, the free id startRecordID chose.
func (s *Server) startRecord(c *call, req *sipmsg.Request, identity CallerIdentity, source netip.Addr) error {
	c.identity = identity
	id, err := s.startRecordID(c.id, records.StartInfo{
		Source:         source.String(),
		CalledNumber:   req.Recipient.User,
		CallerNumber:   identity.Number,
		CallerWithheld: identity.Withheld,
		StartedAt:      c.startedAt,
	})
	if id != c.id {
		c.id = id
		c.log = c.log.With().Str("record_id", id).Logger()
	}
	return err
}

// startRecordID writes a new record and returns its id, normally the
// Call-ID. A trunk that reuses Call-IDs, or a forked INVITE, can bring a
// Call-ID that already names a record or a call in progress. Such a call
// gets "<Call-ID>~2", "~3" and so on, so no earlier record is overwritten.
func (s *Server) startRecordID(callID string, info records.StartInfo) (string, error) {
	for n := 1; n <= maxCallIDSuffix; n++ {
		id := callID
		if n > 1 {
			id = fmt.Sprintf("%s~%d", callID, n)
		}
		if _, busy := s.calls.get(id); busy {
			continue
		}
		if s.records == nil {
			return id, nil
		}

		info.CallID = id
		info.Node = s.opts.NodeID
		ctx, stop := context.WithTimeout(context.Background(), recordTimeout)
		err := s.records.Start(ctx, info)
		stop()
		if !errors.Is(err, records.ErrDuplicate) {
			return id, err
		}
	}
	return callID, fmt.Errorf("no free record id for Call-ID %q after %d tries", callID, maxCallIDSuffix)
}
