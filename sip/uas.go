package sip

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"
)

// Header values this server sends with dialog-creating responses.
const (
	allowMethods  = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER"
	acceptBodies  = "application/sdp, application/dtmf-relay, application/dtmf"
	contentSDP    = "application/sdp"
	localTagBytes = 16
)

// errNoAck ends a call whose 2xx got no ACK within 64×T1.
var errNoAck = errors.New("no ACK for 200 OK within 64*T1")

// inboundLeg is the caller's leg, on which this server is the UAS.
type inboundLeg struct {
	srv    *Server
	log    zerolog.Logger
	invite *sipmsg.Request
	tx     sipmsg.ServerTransaction
	dialog *dialogState
	// handler receives the requests the caller sends inside the dialog.
	handler legEvents

	acked   chan struct{}
	ackOnce sync.Once

	// cancelled is set when a CANCEL arrived before the final response.
	cancelled atomic.Bool
	// owner is the call this leg belongs to, once there is one.
	owner atomic.Pointer[call]

	mu sync.Mutex
	// ok is the 2xx we sent, nil before; guarded by mu.
	ok *sipmsg.Response
	// ackDeadline is when waiting for the ACK ends (64×T1 after the 2xx);
	// guarded by mu.
	ackDeadline time.Time
	// answerHeaders are added to the 200 OK, such as the session timer's.
	// They are set before answer runs.
	answerHeaders []sipmsg.Header
}

// legEvents is the set of callbacks through which a leg reports to its call.
type legEvents interface {
	// legHangup is called when the peer ends the dialog (BYE).
	legHangup(leg any, reason string)
	// legDigit is called for a digit the peer sent in an INFO request.
	legDigit(leg any, digit rune)
	// legReoffer is called for a re-INVITE offer; it returns the answer.
	legReoffer(leg any, offer []byte) ([]byte, error)
}

// newInboundLeg prepares the UAS side of a new INVITE: our To tag and the
// dialog state for requests we send to the caller later.
func newInboundLeg(srv *Server, req *sipmsg.Request, tx sipmsg.ServerTransaction, log zerolog.Logger) *inboundLeg {
	fromTag, _ := req.From().Params.Get("tag")
	state := &dialogState{
		key: dialogKey{
			callID:    req.CallID().Value(),
			localTag:  sipmsg.GenerateTagN(localTagBytes),
			remoteTag: fromTag,
		},
		local:     stripURI(req.To().Address),
		remote:    stripURI(req.From().Address),
		transport: req.Transport(),
		cseq:      0,
	}
	if contact := req.Contact(); contact != nil {
		state.target = contact.Address
	} else {
		state.target = req.From().Address
	}
	// A UAS uses the Record-Route set in the order it arrived (RFC 3261 12.1.1).
	for _, h := range req.GetHeaders("Record-Route") {
		if rr, ok := h.(*sipmsg.RecordRouteHeader); ok {
			state.routes = append(state.routes, rr.Address)
		}
	}
	// A phone that called over TLS has no certificate of its own for a new
	// connection to its Contact, so requests in the dialog go back over
	// the connection the INVITE came on.
	if transportNetwork(state.transport) == "tls" && len(state.routes) == 0 {
		state.destination = req.Source()
	}

	return &inboundLeg{
		srv:    srv,
		log:    log,
		invite: req,
		tx:     tx,
		dialog: state,
		acked:  make(chan struct{}),
	}
}

// watchCancel ends the leg's call when the caller sends CANCEL before the
// final response. sipgo answers the CANCEL with 200 and the INVITE with 487.
func (l *inboundLeg) watchCancel() {
	l.tx.OnCancel(func(*sipmsg.Request) {
		l.cancelled.Store(true)
		if c := l.owner.Load(); c != nil {
			c.end(causeCancel)
		}
	})
}

// attach ties the leg to its call, ending the call at once when a CANCEL
// came first.
func (l *inboundLeg) attach(c *call) {
	l.owner.Store(c)
	if l.cancelled.Load() {
		c.end(causeCancel)
	}
}

// stripURI keeps the parts of an address used in From and To of new
// requests: scheme, user, host and port.
func stripURI(u sipmsg.Uri) sipmsg.Uri {
	return sipmsg.Uri{Scheme: u.Scheme, User: u.User, Host: u.Host, Port: u.Port}
}

// respond sends a response to the INVITE, with our To tag on anything but
// 100 Trying.
func (l *inboundLeg) respond(status int, reason string, body []byte, headers ...sipmsg.Header) error {
	res := sipmsg.NewResponseFromRequest(l.invite, status, reason, body)
	if status > sipmsg.StatusTrying {
		if to := res.To(); to != nil {
			if _, ok := to.Params.Get("tag"); !ok {
				to.Params.Add("tag", l.dialog.key.localTag)
			}
		}
	}
	res.AppendHeader(sipmsg.NewHeader("Server", l.srv.opts.UserAgent))
	for _, h := range headers {
		res.AppendHeader(h)
	}
	if err := l.tx.Respond(res); err != nil {
		return fmt.Errorf("sending %d to the caller: %w", status, err)
	}
	return nil
}

// reject answers the INVITE with the response for err.
func (l *inboundLeg) reject(err error, headers ...sipmsg.Header) {
	r := rejectionFor(err)
	if sendErr := l.respond(r.status, r.reason, nil, headers...); sendErr != nil {
		l.log.Warn().Err(sendErr).Int("status", r.status).Msg("rejecting call failed")
	}
}

// answer sends 200 OK with our SDP answer and registers the dialog. It
// then retransmits the 200 until the ACK arrives (RFC 3261 13.3.1.4);
// onNoAck runs when 64×T1 passes without one.
func (l *inboundLeg) answer(ctx context.Context, sdp []byte, onNoAck func()) error {
	res := sipmsg.NewResponseFromRequest(l.invite, sipmsg.StatusOK, "OK", sdp)
	res.To().Params.Add("tag", l.dialog.key.localTag)
	res.AppendHeader(l.srv.contactHeader(l.invite.Transport()))
	res.AppendHeader(sipmsg.NewHeader("Content-Type", contentSDP))
	res.AppendHeader(sipmsg.NewHeader("Allow", allowMethods))
	res.AppendHeader(sipmsg.NewHeader("Accept", acceptBodies))
	res.AppendHeader(sipmsg.NewHeader("Server", l.srv.opts.UserAgent))
	for _, h := range l.answerHeaders {
		res.AppendHeader(h)
	}

	// The dialog exists before the 200 leaves, so that a BYE sent before
	// the ACK finds it.
	l.srv.dialogs.add(l.dialog.key, l)
	l.mu.Lock()
	l.ok = res
	l.ackDeadline = time.Now().Add(64 * sipmsg.T1)
	l.mu.Unlock()

	if err := l.tx.Respond(res); err != nil {
		l.srv.dialogs.remove(l.dialog.key)
		l.mu.Lock()
		l.ok = nil
		l.mu.Unlock()
		return fmt.Errorf("sending 200 OK to the caller: %w", err)
	}

	l.srv.spawn(func() { l.retransmitUntilAck(ctx, res, onNoAck) })
	l.srv.spawn(func() { l.watchTransactionAcks(ctx) })
	return nil
}

// retransmitUntilAck resends the 2xx at T1, 2×T1, … capped at T2 over
// unreliable transports, and gives up after 64×T1.
func (l *inboundLeg) retransmitUntilAck(ctx context.Context, res *sipmsg.Response, onNoAck func()) {
	giveUp := time.NewTimer(64 * sipmsg.T1)
	defer giveUp.Stop()

	interval := sipmsg.T1
	resend := time.NewTimer(interval)
	defer resend.Stop()
	reliable := sipmsg.IsReliable(l.invite.Transport())

	for {
		select {
		case <-l.acked:
			return
		case <-ctx.Done():
			return
		case <-giveUp.C:
			l.log.Warn().Dur("waited", 64*sipmsg.T1).Msg("no ACK for 200 OK, ending the call")
			onNoAck()
			return
		case <-resend.C:
			if !reliable {
				if err := l.tx.Respond(res); err != nil {
					l.log.Debug().Err(err).Msg("200 OK retransmission not sent")
				}
			}
			interval = min(2*interval, sipmsg.T2)
			resend.Reset(interval)
		}
	}
}

// watchTransactionAcks takes an ACK that the transaction layer matched to
// the INVITE transaction itself (when the caller reused its branch).
func (l *inboundLeg) watchTransactionAcks(ctx context.Context) {
	select {
	case ack := <-l.tx.Acks():
		if ack != nil {
			l.handleAck(ack)
		}
	case <-l.acked:
	case <-ctx.Done():
	case <-l.tx.Done():
	}
}

func (l *inboundLeg) handleAck(*sipmsg.Request) {
	l.ackOnce.Do(func() { close(l.acked) })
}

// handleRequest answers a request the caller sends inside the dialog.
func (l *inboundLeg) handleRequest(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	handleLegRequest(l.srv, l, l.handler, l.log, req, tx)
}

// bye ends the caller's dialog from our side. RFC 3261 section 15 requires
// waiting for the ACK of our 2xx, or for 64×T1, before sending BYE, so bye
// waits until the ACK arrives or that deadline passes.
func (l *inboundLeg) bye(ctx context.Context) error {
	l.mu.Lock()
	answered, deadline := l.ok != nil, l.ackDeadline
	l.mu.Unlock()
	if !answered {
		return nil
	}
	defer l.srv.dialogs.remove(l.dialog.key)

	wait := time.NewTimer(time.Until(deadline))
	defer wait.Stop()
	select {
	case <-l.acked:
	case <-wait.C:
	case <-ctx.Done():
	}

	req := l.dialog.newRequest(sipmsg.BYE)
	res, err := sendRequest(ctx, l.srv.client, req)
	if err != nil {
		return fmt.Errorf("ending the caller's leg: %w", err)
	}
	if !res.IsSuccess() {
		return fmt.Errorf("ending the caller's leg: BYE got %d %s", res.StatusCode, res.Reason)
	}
	return nil
}

// retryAfter is the Retry-After header sent with 503 while draining.
func retryAfter(d time.Duration) sipmsg.Header {
	return sipmsg.NewHeader("Retry-After", strconv.Itoa(int(d.Seconds())))
}
