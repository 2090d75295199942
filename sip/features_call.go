package sip

import (
	"context"
	"errors"
	"net"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"

	"helpline/media"
	"helpline/records"
)

// featureTimeout bounds the state change of one feature code.
const featureTimeout = 5 * time.Second

// featureCall is the short call of a counselor who dialled a feature code:
// answer, play one prompt, hang up.
type featureCall struct {
	srv  *Server
	log  zerolog.Logger
	leg  *inboundLeg
	conn *net.UDPConn
	// session plays the prompt; nil until the call is answered.
	session *media.Session

	ctx context.Context
	end context.CancelFunc
	// ended records the end of the call in Server.featureCalls.
	ended func()
}

// handleFeatureInvite serves an INVITE whose Request-URI user is a feature
// code. It runs before trunk admission, because counselors dial codes from
// their phones, which are not trunk sources. The phone must authenticate
// with its digest password, like a REGISTER.
func (s *Server) handleFeatureInvite(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	dialled := req.Recipient.User
	log := s.log.With().Str("call_id", req.CallID().Value()).Str("feature_code", loggableFeatureCode(dialled)).
		Str("source", sourceAddr(req).String()).Logger()
	leg := newInboundLeg(s, req, tx, log)

	counselorID, reject := s.registrar.AuthenticateCall(req)
	if reject != nil {
		if err := tx.Respond(reject); err != nil {
			log.Debug().Err(err).Msg("feature code challenge not sent")
		}
		return
	}
	log = log.With().Str("counselor", counselorID).Logger()
	leg.log = log

	handler, request, err := s.features.Lookup(dialled)
	if err != nil {
		// err quotes the dialled digits in full; the masked code is in
		// the log context already.
		log.Warn().Err(ErrUnknownFeature).Msg("feature code rejected")
		if sendErr := leg.respond(sipmsg.StatusNotFound, "Not Found", nil); sendErr != nil {
			log.Debug().Err(sendErr).Msg("404 not sent")
		}
		return
	}
	request.CounselorID = counselorID

	fc, negotiated, answer, err := s.prepareFeatureCall(req, leg, log)
	if err != nil {
		log.Warn().Err(err).Msg("feature code call rejected")
		leg.reject(err)
		return
	}
	fc.ended = s.featureCalls.begin(counselorID)

	prompt := s.runFeature(handler, request, log)
	if err := leg.answer(fc.ctx, answer, fc.end); err != nil {
		log.Warn().Err(err).Msg("answering the feature code call failed")
		fc.release()
		return
	}
	s.spawn(func() { fc.run(negotiated, prompt) })
}

// runFeature applies the code and returns the prompt to play: the
// handler's confirmation, or PromptFeatureNotPossible when it failed.
func (s *Server) runFeature(handler FeatureHandler, request FeatureRequest, log zerolog.Logger) string {
	ctx, cancel := context.WithTimeout(context.Background(), featureTimeout)
	defer cancel()

	prompt, err := handler(ctx, request)
	if err != nil {
		log.Info().Err(err).Str("code", request.Code).Str("arg", request.Arg).Msg("feature code not possible now")
		return PromptFeatureNotPossible
	}
	log.Info().Str("code", request.Code).Str("arg", request.Arg).Msg("feature code applied")
	return prompt
}

// prepareFeatureCall negotiates media and takes an RTP port for the prompt.
func (s *Server) prepareFeatureCall(req *sipmsg.Request, leg *inboundLeg, log zerolog.Logger) (*featureCall, *media.Negotiated, []byte, error) {
	if len(req.Body()) == 0 {
		return nil, nil, nil, ErrMissingOffer
	}
	offer, err := media.ParseSDP(req.Body())
	if err != nil {
		return nil, nil, nil, err
	}
	negotiate := media.Negotiate
	if s.opts.SecureCounselors.requiresSecure(sourceAddr(req)) {
		negotiate = media.NegotiateSRTP
	}
	negotiated, err := negotiate(offer, s.codecs)
	if err != nil {
		return nil, nil, nil, err
	}
	conn, err := s.allocatePort()
	if err != nil {
		return nil, nil, nil, err
	}
	answer, err := media.BuildAnswer(offer, negotiated, s.mediaAddrPort(conn), sessionVersion(), 1)
	if err != nil {
		s.ports.Release(conn)
		return nil, nil, nil, err
	}

	ctx, end := context.WithCancel(context.Background())
	fc := &featureCall{srv: s, log: log, leg: leg, conn: conn, ctx: ctx, end: end}
	leg.handler = fc
	return fc, negotiated, answer, nil
}

// run waits for the ACK, plays the prompt and hangs up with BYE.
func (fc *featureCall) run(negotiated *media.Negotiated, prompt string) {
	defer fc.release()

	select {
	case <-fc.leg.acked:
	case <-fc.ctx.Done():
		return
	}

	fc.session = fc.srv.newMediaSession(media.LegCounselor, media.SessionConfig{
		Conn:           fc.conn,
		Remote:         negotiated.Remote,
		Codec:          negotiated.Codec,
		TelephoneEvent: negotiated.TelephoneEvent,
		Logger:         fc.log,
		SRTP:           negotiated.SRTP,
	})
	fc.session.Start(fc.ctx)
	fc.play(prompt)

	if fc.ctx.Err() != nil {
		// The counselor hung up first.
		return
	}
	byeCtx, cancel := context.WithTimeout(context.Background(), byeTimeout)
	defer cancel()
	if err := fc.leg.bye(byeCtx); err != nil {
		fc.log.Warn().Err(err).Msg("hanging up the feature code call failed")
	}
}

// play plays prompt in the menu's default language.
func (fc *featureCall) play(prompt string) {
	audio, err := fc.srv.prompts.audio(prompt, fc.srv.graph.DefaultLanguage)
	if err != nil {
		fc.log.Error().Err(err).Msg("feature code prompt missing, hanging up without it")
		return
	}
	if err := fc.session.Play(fc.ctx, audio); err != nil && !errors.Is(err, context.Canceled) {
		fc.log.Warn().Err(err).Msg("feature code prompt stopped")
	}
}

// release frees the media and the dialog.
func (fc *featureCall) release() {
	fc.end()
	fc.ended()
	if fc.session != nil {
		_ = fc.session.Close()
	}
	fc.srv.ports.Release(fc.conn)
	fc.srv.dialogs.remove(fc.leg.dialog.key)
}

// legHangup ends the call when the counselor hangs up first.
func (fc *featureCall) legHangup(any, string) {
	fc.end()
}

// legDigit ignores digits: a feature code call collects none.
func (fc *featureCall) legDigit(any, rune) {}

// legReoffer rejects a re-INVITE: the call lasts one prompt.
func (fc *featureCall) legReoffer(any, []byte) ([]byte, error) {
	return nil, ErrNoDialog
}

// maxShownFeatureCode is the longest dialled feature code logged as it is,
// enough for a code with a counselor id as argument (*311001).
const maxShownFeatureCode = 8

// featureCodeHead is how many characters of a longer code stay visible.
const featureCodeHead = 3

// loggableFeatureCode returns a dialled feature code as logs may show it.
// A code longer than maxShownFeatureCode keeps its first characters and
// has the rest masked, because digits typed after a code can be a
// person's phone number.
func loggableFeatureCode(dialled string) string {
	dialled = loggableUser(dialled)
	if len(dialled) <= maxShownFeatureCode {
		return dialled
	}
	return dialled[:featureCodeHead] + records.MaskNumber(dialled[featureCodeHead:])
}
