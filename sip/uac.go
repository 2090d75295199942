package sip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync/atomic"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"

	"helpline/media"
	"helpline/routing"
)

// cancelGrace bounds the wait for the final response after a CANCEL.
const cancelGrace = 64 * 500 * time.Millisecond

// dialRequest names whom to ring and with what media.
type dialRequest struct {
	// target is the Request-URI: the counselor's Contact or a transfer URI.
	target sipmsg.Uri
	// destination and transport, when set, override where the INVITE goes:
	// the source and transport of the counselor's REGISTER.
	destination string
	transport   string
	// route is the preloaded route set of the INVITE, top first: the
	// counselor's Path (RFC 3327), empty for a phone reached directly.
	route []sipmsg.Uri
	// toUser names the callee in To (the counselor id), when known.
	toUser string
	// source is the address the counselor's REGISTER came from, invalid
	// for a dial that is not to a binding. With registeredTransport, the
	// transport of that REGISTER, it decides whether the offer is SRTP
	// (see offerProfiles).
	source              netip.AddrPort
	registeredTransport string
	// registerCallID is the Call-ID of the REGISTER that set the binding.
	// It distinguishes one phone of the counselor from the next.
	registerCallID string
	// codec is the caller's codec, offered alone so no transcoding is needed.
	codec media.Codec
	// ringTimeout ends ringing with CANCEL; zero means no limit.
	ringTimeout time.Duration
	// events receives what the callee does once the dialog exists. It is
	// set before the dialog can be found, so a BYE right after the 200 is
	// never missed.
	events legEvents
	log    zerolog.Logger
	// leg is the callee's role in the RTP statistics. When empty it is a
	// counselor for a dial to a registered phone (toUser set), else an
	// outside number.
	leg media.Leg
}

// mediaLeg returns the callee's role in the RTP statistics.
func (d *dialRequest) mediaLeg() media.Leg {
	switch {
	case d.leg != "":
		return d.leg
	case d.toUser != "":
		return media.LegCounselor
	default:
		return media.LegOutside
	}
}

// reach sets where the INVITE of d goes for a counselor's binding: the
// Contact as Request-URI, and the destination, transport and route set of
// the binding's next hop (see Binding.NextHop).
func (d *dialRequest) reach(binding Binding) error {
	hop, err := binding.NextHop()
	if err != nil {
		return err
	}
	d.target = *binding.Contact.Clone()
	d.source = binding.Source
	d.registeredTransport = binding.Transport
	d.registerCallID = binding.CallID
	d.destination = hop.Destination
	d.transport = hop.Transport
	d.route = hop.Route
	return nil
}

// outboundLeg is a leg this server called: a counselor or a transfer target.
type outboundLeg struct {
	srv    *Server
	log    zerolog.Logger
	dialog *dialogState
	port   *net.UDPConn
	media  *media.Session
	// handler receives the requests the peer sends inside the dialog.
	handler legEvents
	// sdpSession and sdpVersion are the o= line of the SDP this server
	// sends on the leg: the id stays, the version grows (RFC 3264 8).
	sdpSession uint64
	sdpVersion atomic.Uint64
	// srtpKey is the key of an SRTP offer, nil for a plain RTP offer.
	srtpKey *media.CryptoAttribute
}

// dialOutcome is the result of a dial attempt.
type dialOutcome struct {
	leg     *outboundLeg
	outcome routing.OfferOutcome
	status  int
	err     error
}

// dialProfile sends an INVITE offering profile and waits until the callee
// answers, rejects, the ring timeout passes, or ctx ends. On ring timeout or ctx end it sends
// CANCEL; a 200 that crosses the CANCEL is acknowledged and then ended
// with BYE, so nobody is left in a silent call.
func (s *Server) dialProfile(ctx context.Context, d dialRequest, profile mediaProfile) dialOutcome {
	conn, err := s.allocatePort()
	if err != nil {
		return dialOutcome{outcome: routing.ServerError, err: err}
	}
	leg, invite, err := s.newOutboundInvite(d, profile, conn)
	if err != nil {
		s.ports.Release(conn)
		return dialOutcome{outcome: routing.Unavailable, err: err}
	}
	s.dialogs.addDialling(leg.dialog.key, leg)
	defer s.dialogs.removeDialling(leg.dialog.key)

	tx, err := s.client.TransactionRequest(ctx, invite)
	if err != nil {
		s.ports.Release(conn)
		return dialOutcome{outcome: routing.Unavailable, err: fmt.Errorf("sending INVITE: %w", err)}
	}
	defer tx.Terminate()

	result := s.awaitAnswer(ctx, d, leg, invite, tx)
	if result.leg == nil {
		s.ports.Release(conn)
	}
	return result
}

// newOutboundInvite builds the INVITE and the leg's dialog state.
func (s *Server) newOutboundInvite(d dialRequest, profile mediaProfile, conn *net.UDPConn) (*outboundLeg, *sipmsg.Request, error) {
	sdpSession := sessionVersion()
	offer, srtpKey, err := s.buildDialOffer(d, profile, s.mediaAddrPort(conn), sdpSession)
	if err != nil {
		return nil, nil, err
	}

	callID := sipmsg.GenerateTagN(24)
	localURI := sipmsg.Uri{Scheme: "sip", User: s.opts.ServiceUser, Host: s.opts.PublicHost}
	remoteURI := sipmsg.Uri{Scheme: "sip", User: d.toUser, Host: d.target.Host, Port: d.target.Port}
	if d.toUser == "" {
		remoteURI = stripURI(d.target)
	}
	state := &dialogState{
		key:         dialogKey{callID: callID, localTag: sipmsg.GenerateTagN(localTagBytes)},
		local:       localURI,
		remote:      remoteURI,
		target:      d.target,
		routes:      slices.Clone(d.route),
		destination: d.destination,
		transport:   d.transport,
	}

	invite := state.newRequest(sipmsg.INVITE)
	invite.AppendHeader(s.contactHeader(d.transport))
	invite.AppendHeader(sipmsg.NewHeader("Content-Type", contentSDP))
	invite.AppendHeader(sipmsg.NewHeader("Allow", allowMethods))
	invite.AppendHeader(sipmsg.NewHeader("User-Agent", s.opts.UserAgent))
	invite.SetBody(offer)

	leg := &outboundLeg{srv: s, log: d.log, dialog: state, port: conn, handler: d.events, sdpSession: sdpSession, srtpKey: srtpKey}
	leg.sdpVersion.Store(1)
	return leg, invite, nil
}

// awaitAnswer reads the INVITE transaction's responses.
func (s *Server) awaitAnswer(ctx context.Context, d dialRequest, leg *outboundLeg, invite *sipmsg.Request, tx sipmsg.ClientTransaction) dialOutcome {
	ring := newRingTimer(d.ringTimeout)
	defer ring.Stop()

	var (
		provisional  bool
		cancelled    bool
		cancelCause  routing.OfferOutcome
		cancelSent   bool
		cancelReason string
		giveUp       <-chan time.Time
	)
	requestCancel := func(cause routing.OfferOutcome) {
		if cancelled {
			return
		}
		cancelled, cancelCause = true, cause
		cancelReason = cancelReasonFor(ctx)
		giveUp = time.After(cancelGrace)
		if provisional {
			cancelSent = true
			s.sendCancel(invite, d.log, cancelReason)
		}
	}
	ctxDone := ctx.Done()

	for {
		select {
		case res := <-tx.Responses():
			switch {
			case res.IsProvisional():
				provisional = true
				if cancelled && !cancelSent {
					cancelSent = true
					s.sendCancel(invite, d.log, cancelReason)
				}
			case res.IsSuccess():
				return s.takeAnswer(d, leg, invite, tx, res, cancelled, cancelCause)
			default:
				if cancelled {
					return dialOutcome{outcome: cancelCause, status: res.StatusCode}
				}
				return dialOutcome{outcome: routing.OutcomeForStatus(res.StatusCode), status: res.StatusCode,
					err: fmt.Errorf("callee answered %d %s", res.StatusCode, res.Reason)}
			}
		case <-ring.C:
			d.log.Info().Dur("ring_timeout", d.ringTimeout).Msg("no answer, cancelling")
			requestCancel(routing.NoAnswer)
		case <-ctxDone:
			ctxDone = nil
			requestCancel(routing.CallerGone)
		case <-giveUp:
			return dialOutcome{outcome: cancelCause, err: errors.New("no final response after CANCEL")}
		case <-tx.Done():
			if cancelled {
				return dialOutcome{outcome: cancelCause}
			}
			return dialOutcome{outcome: routing.Unavailable, err: fmt.Errorf("INVITE transaction ended: %w", tx.Err())}
		}
	}
}

// takeAnswer completes the dialog for a 2xx and always sends the ACK. The
// leg is then ready, unless the dial was cancelled meanwhile or the SDP
// answer is unusable: such a leg is ended with BYE.
//
// A ready leg joins the dialog table before its ACK goes out. A phone may
// send BYE as soon as it gets the ACK (RFC 3261 15), and a BYE that
// found no dialog would get 481 and leave the leg on the call.
func (s *Server) takeAnswer(d dialRequest, leg *outboundLeg, invite *sipmsg.Request, tx sipmsg.ClientTransaction, res *sipmsg.Response, cancelled bool, cause routing.OfferOutcome) dialOutcome {
	leg.confirm(res)

	if cancelled {
		s.sendAck(leg, invite, tx, d.log)
		d.log.Info().Msg("200 OK crossed the CANCEL, acknowledging and hanging up")
		leg.byeDetached()
		return dialOutcome{outcome: cause, status: res.StatusCode}
	}

	negotiated, err := leg.parseAnswer(res.Body(), d.codec)
	if err != nil {
		s.sendAck(leg, invite, tx, d.log)
		d.log.Warn().Err(err).Msg("unusable SDP answer, hanging up")
		leg.byeDetached()
		return dialOutcome{outcome: routing.Unavailable, status: res.StatusCode, err: fmt.Errorf("reading SDP answer: %w", err)}
	}

	leg.media = s.newMediaSession(d.mediaLeg(), media.SessionConfig{
		Conn:           leg.port,
		Remote:         negotiated.Remote,
		Codec:          negotiated.Codec,
		TelephoneEvent: negotiated.TelephoneEvent,
		Logger:         d.log,
		SRTP:           negotiated.SRTP,
	})
	s.dialogs.add(leg.dialog.key, leg)
	s.sendAck(leg, invite, tx, d.log)
	return dialOutcome{leg: leg, outcome: routing.Answered, status: res.StatusCode}
}

// confirm fills the dialog from the 2xx: the callee's tag, its Contact as
// the remote target, and the route set in reverse (RFC 3261 12.1.2), whose
// first URI is then where in-dialog requests go.
//
// NOTE: RFC 3261 empties the route set when the 2xx has no Record-Route.
// A leg dialled through a Path keeps the Path instead, because the proxy
// that added it may be the only way to the phone's flow (a phone behind
// NAT). A proxy that record-routes, like deploy/kamailio, makes both the same.
func (l *outboundLeg) confirm(res *sipmsg.Response) {
	if to := res.To(); to != nil {
		tag, _ := to.Params.Get("tag")
		l.dialog.key.remoteTag = tag
	}
	if contact := res.Contact(); contact != nil {
		l.dialog.target = contact.Address
	}

	records := res.GetHeaders("Record-Route")
	if len(records) == 0 {
		return
	}
	l.dialog.routes = l.dialog.routes[:0]
	for i := len(records) - 1; i >= 0; i-- {
		if rr, ok := records[i].(*sipmsg.RecordRouteHeader); ok {
			l.dialog.routes = append(l.dialog.routes, rr.Address)
		}
	}
	if len(l.dialog.routes) > 0 {
		l.dialog.destination, l.dialog.transport = uriHop(l.dialog.routes[0], l.dialog.transport)
	}
}

// sendAck acknowledges a 2xx, and again for each retransmission of it.
func (s *Server) sendAck(leg *outboundLeg, invite *sipmsg.Request, tx sipmsg.ClientTransaction, log zerolog.Logger) {
	ack := leg.dialog.newRequestWithCSeq(sipmsg.ACK, invite.CSeq().SeqNo)
	if err := s.client.WriteRequest(ack); err != nil {
		log.Warn().Err(err).Msg("sending ACK failed")
	}
	tx.OnRetransmission(func(r *sipmsg.Response) {
		if !r.IsSuccess() {
			return
		}
		if err := s.client.WriteRequest(ack.Clone()); err != nil {
			log.Debug().Err(err).Msg("ACK retransmission failed")
		}
	})
}

// sendCancel cancels a pending INVITE (RFC 3261 9.1): same Request-URI,
// Call-ID, From, To, CSeq number and top Via as the INVITE. A reason that
// is not empty goes into a Reason header (RFC 3326).
func (s *Server) sendCancel(invite *sipmsg.Request, log zerolog.Logger, reason string) {
	cancel := newCancel(invite, reason)
	s.spawn(func() {
		ctx, stop := context.WithTimeout(context.Background(), cancelGrace)
		defer stop()
		res, err := s.client.Do(ctx, cancel)
		if err != nil {
			log.Warn().Err(err).Msg("CANCEL failed")
			return
		}
		log.Debug().Int("status", res.StatusCode).Msg("CANCEL answered")
	})
}

// newCancel builds the CANCEL of invite. It carries the INVITE's Route
// headers and goes to the INVITE's destination, so that it follows the
// INVITE through the same proxies (RFC 3261 9.1).
func newCancel(invite *sipmsg.Request, reason string) *sipmsg.Request {
	cancel := sipmsg.NewRequest(sipmsg.CANCEL, invite.Recipient)
	if via := invite.Via(); via != nil {
		cancel.AppendHeader(via.Clone())
	}
	for _, name := range []string{"Route", "From", "To", "Call-ID"} {
		for _, h := range invite.GetHeaders(name) {
			cancel.AppendHeader(sipmsg.HeaderClone(h))
		}
	}
	cancel.AppendHeader(&sipmsg.CSeqHeader{SeqNo: invite.CSeq().SeqNo, MethodName: sipmsg.CANCEL})
	maxForwards := sipmsg.MaxForwardsHeader(70)
	cancel.AppendHeader(&maxForwards)
	if reason != "" {
		cancel.AppendHeader(sipmsg.NewHeader("Reason", reason))
	}
	cancel.SetTransport(invite.Transport())
	cancel.SetDestination(invite.Destination())
	return cancel
}

// handleRequest answers a request the peer sends inside the dialog.
func (l *outboundLeg) handleRequest(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	handleLegRequest(l.srv, l, l.handler, l.log, req, tx)
}

// handleAck ignores ACKs: this server is the UAC on this leg, except for
// re-INVITEs the peer sends, whose ACK needs no action.
func (l *outboundLeg) handleAck(*sipmsg.Request) {}

// bye ends the leg with BYE and waits for the answer.
func (l *outboundLeg) bye(ctx context.Context) error {
	defer l.srv.dialogs.remove(l.dialog.key)
	res, err := sendRequest(ctx, l.srv.client, l.dialog.newRequest(sipmsg.BYE))
	if err != nil {
		return fmt.Errorf("ending the outbound leg: %w", err)
	}
	if !res.IsSuccess() {
		return fmt.Errorf("ending the outbound leg: BYE got %d %s", res.StatusCode, res.Reason)
	}
	return nil
}

// byeDetached ends the leg in the background, for legs nobody will use.
func (l *outboundLeg) byeDetached() {
	l.srv.spawn(func() {
		ctx, stop := context.WithTimeout(context.Background(), byeTimeout)
		defer stop()
		if err := l.bye(ctx); err != nil {
			l.log.Warn().Err(err).Msg("hanging up unused leg failed")
		}
	})
}

// release closes the leg's media and frees its RTP port.
func (l *outboundLeg) release() {
	if l.media != nil {
		_ = l.media.Close()
	}
	l.srv.ports.Release(l.port)
}

// ringTimer wraps a timer that never fires when the timeout is zero.
type ringTimer struct {
	*time.Timer
	C <-chan time.Time
}

func newRingTimer(timeout time.Duration) ringTimer {
	if timeout <= 0 {
		return ringTimer{}
	}
	t := time.NewTimer(timeout)
	return ringTimer{Timer: t, C: t.C}
}

// Stop stops the timer if there is one.
func (r ringTimer) Stop() {
	if r.Timer != nil {
		r.Timer.Stop()
	}
}

// parseAnswer reads the callee's SDP answer to the leg's offer.
func (l *outboundLeg) parseAnswer(body []byte, codec media.Codec) (*media.Negotiated, error) {
	if l.srtpKey != nil {
		return media.ParseSRTPAnswer(body, []media.Codec{codec}, defaultEventPayloadType, *l.srtpKey)
	}
	return media.ParseAnswer(body, []media.Codec{codec}, defaultEventPayloadType)
}
