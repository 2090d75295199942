package sip

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"
)

// relayInviteTimeout ends a relayed INVITE that got a provisional response
// but no final one: the relay sends CANCEL toward the phone and 408
// upstream. It is Timer C of RFC 3261 section 16.6, step 11, which must be
// above 3 minutes.
const relayInviteTimeout = 3*time.Minute + 30*time.Second

// buildRelayRequest copies req for its next hop: without this node's
// Route entries, with Max-Forwards decremented, with the two Record-Route
// entries on a dialog-creating request toward the phone, and addressed to
// the flow or to the next hop.
func (s *Server) buildRelayRequest(req *sipmsg.Request, plan relayPlan) (*sipmsg.Request, error) {
	fwd := req.Clone()
	for range plan.selfRoutes {
		fwd.RemoveHeader("Route")
	}
	decrementMaxForwards(fwd)

	transport, destination := plan.nextTransport, plan.nextAddr
	if plan.action == relayToPhone {
		transport, destination = plan.flow.transport, plan.flow.addr.String()
		if createsDialog(req) {
			if err := s.addRecordRoutes(fwd, req, plan); err != nil {
				return nil, err
			}
		}
	}

	// The copy keeps the local address the request arrived on, which
	// would pin the next hop to that socket even on another transport.
	fwd.Laddr = sipmsg.Addr{}
	fwd.SetTransport(sipmsg.NetworkToUpper(transport))
	fwd.SetDestination(destination)
	return fwd, nil
}

// addRecordRoutes puts the phone-facing entry on top of the entry that
// faces the other node, which is the Route URI that node used.
func (s *Server) addRecordRoutes(fwd, req *sipmsg.Request, plan relayPlan) error {
	fallbackHost := ""
	if req.Laddr.IP != nil {
		fallbackHost = req.Laddr.IP.String()
	}
	phoneFacing, err := s.phoneFacingRoute(plan.flow, fallbackHost)
	if err != nil {
		return fmt.Errorf("building the Record-Route toward %s: %w", plan.flow.transport, err)
	}
	fwd.PrependHeader(
		&sipmsg.RecordRouteHeader{Address: phoneFacing},
		&sipmsg.RecordRouteHeader{Address: *plan.selfRoute.Clone()},
	)
	return nil
}

// decrementMaxForwards lowers Max-Forwards by one, or sets it to 70 when
// absent. It replaces the header, because a request copy shares it with
// the original.
func decrementMaxForwards(req *sipmsg.Request) {
	value := sipmsg.MaxForwardsHeader(defaultMaxForwards)
	if mf := req.MaxForwards(); mf != nil && mf.Val() > 0 {
		value = sipmsg.MaxForwardsHeader(mf.Val() - 1)
	}
	req.RemoveHeader("Max-Forwards")
	req.AppendHeader(&value)
}

// createsDialog reports whether req may create a dialog that later
// requests route through the relay.
func createsDialog(req *sipmsg.Request) bool {
	switch req.Method {
	case sipmsg.INVITE, sipmsg.SUBSCRIBE, sipmsg.REFER:
		return !inDialog(req)
	}
	return false
}

// relayAck forwards an ACK statelessly: the ACK for a 2xx is a transaction
// of its own, which gets no response.
func (s *Server) relayAck(req *sipmsg.Request, plan relayPlan) {
	log := s.relayLog(req).With().Str("flow", plan.flow.token).Logger()
	fwd, err := s.buildRelayRequest(req, plan)
	if err != nil {
		log.Error().Err(err).Msg("relaying ACK failed")
		return
	}
	if err := s.client.WriteRequest(fwd, sipgo.ClientRequestAddVia); err != nil {
		log.Warn().Err(err).Str("destination", fwd.Destination()).Msg("relaying ACK failed")
		return
	}
	log.Debug().Str("destination", fwd.Destination()).Msg("ACK relayed")
}

// relayTransaction forwards req in a client transaction of its own and
// relays the responses upstream on tx. It returns once tx has its final
// response, so that sipgo keeps the server transaction until then.
func (s *Server) relayTransaction(req *sipmsg.Request, tx sipmsg.ServerTransaction, plan relayPlan) {
	log := s.relayLog(req).With().Str("flow", plan.flow.token).Logger()

	fwd, err := s.buildRelayRequest(req, plan)
	if err != nil {
		log.Error().Err(err).Msg("relaying request failed")
		s.respond(req, tx, sipmsg.StatusInternalServerError, "Server Internal Error", nil)
		return
	}

	var cancelled <-chan struct{}
	if req.IsInvite() {
		var ok bool
		if cancelled, ok = watchCancel(tx); !ok {
			log.Debug().Msg("INVITE cancelled before it was relayed")
			return
		}
	}

	clientTx, err := s.client.TransactionRequest(context.Background(), fwd, sipgo.ClientRequestAddVia)
	if err != nil {
		log.Warn().Err(err).Str("destination", fwd.Destination()).Msg("relaying request failed")
		s.respond(req, tx, sipmsg.StatusServiceUnavailable, "Service Unavailable", nil)
		return
	}
	log.Debug().Str("destination", fwd.Destination()).Msg("request relayed")

	relay := &relayedTransaction{srv: s, upstream: req, tx: tx, downstream: fwd, clientTx: clientTx, log: log}
	if req.IsInvite() {
		clientTx.OnRetransmission(relay.forwardStateless)
		relay.awaitInvite(cancelled)
		return
	}
	relay.awaitFinal()
}

// watchCancel returns a channel closed when the upstream side cancels the
// INVITE of tx. sipgo has then responded to the CANCEL with 200 and to the
// INVITE with 487. ok is false when the INVITE was cancelled already.
func watchCancel(tx sipmsg.ServerTransaction) (cancelled <-chan struct{}, ok bool) {
	done := make(chan struct{})
	var once sync.Once
	ok = tx.OnCancel(func(*sipmsg.Request) {
		once.Do(func() { close(done) })
	})
	return done, ok
}

// relayedTransaction is one request relayed statefully.
type relayedTransaction struct {
	srv *Server
	// upstream is the request as received, and tx its server transaction.
	upstream *sipmsg.Request
	tx       sipmsg.ServerTransaction
	// downstream is the request as sent, and clientTx its client transaction.
	downstream *sipmsg.Request
	clientTx   sipmsg.ClientTransaction
	log        zerolog.Logger
}

// awaitFinal relays the responses to a non-INVITE request until the final
// one. Timer F of the client transaction bounds the wait.
func (r *relayedTransaction) awaitFinal() {
	defer r.clientTx.Terminate()
	for {
		select {
		case res := <-r.clientTx.Responses():
			if res.StatusCode == sipmsg.StatusTrying {
				continue
			}
			r.forward(res)
			if !res.IsProvisional() {
				return
			}
		case <-r.clientTx.Done():
			r.respondFailure()
			return
		}
	}
}

// awaitInvite relays the responses to an INVITE until the final one. An
// upstream CANCEL is passed on to the phone. After a 2xx the client
// transaction stays up for Timer M, so that retransmissions of the 2xx
// reach the caller's node through forwardStateless.
func (r *relayedTransaction) awaitInvite(cancelled <-chan struct{}) {
	timerC := time.NewTimer(relayInviteTimeout)
	defer timerC.Stop()
	var grace <-chan time.Time
	upstreamFinal := false

	for {
		select {
		case res := <-r.clientTx.Responses():
			if res.StatusCode == sipmsg.StatusTrying {
				continue
			}
			if res.IsProvisional() {
				timerC.Reset(relayInviteTimeout)
				if !upstreamFinal {
					r.forward(res)
				}
				continue
			}
			r.finishInvite(res, upstreamFinal)
			return

		case <-cancelled:
			cancelled = nil
			upstreamFinal = true
			r.log.Info().Msg("INVITE cancelled upstream, cancelling toward the phone")
			r.srv.sendCancel(r.downstream, r.log, "")
			grace = time.After(cancelGrace)

		case <-timerC.C:
			r.log.Warn().Dur("timeout", relayInviteTimeout).Msg("relayed INVITE got no final response, cancelling")
			r.srv.sendCancel(r.downstream, r.log, "")
			if !upstreamFinal {
				upstreamFinal = true
				r.srv.respond(r.upstream, r.tx, sipmsg.StatusRequestTimeout, "Request Timeout", nil)
			}
			grace = time.After(cancelGrace)

		case <-grace:
			r.log.Warn().Msg("no final response after CANCEL, ending the relayed INVITE")
			r.clientTx.Terminate()
			return

		case <-r.clientTx.Done():
			if !upstreamFinal {
				r.respondFailure()
			}
			return
		}
	}
}

// finishInvite relays the final response to an INVITE. A 2xx that arrives
// after the upstream side already has its final response (it crossed a
// CANCEL) still goes upstream, statelessly, so that the caller's node can
// acknowledge it and hang up (RFC 3261 section 16.7, step 5).
func (r *relayedTransaction) finishInvite(res *sipmsg.Response, upstreamFinal bool) {
	switch {
	case !upstreamFinal:
		r.forward(res)
	case res.IsSuccess():
		r.forwardStateless(res)
	default:
		r.log.Debug().Int("status", res.StatusCode).Msg("final response after CANCEL not relayed")
	}
}

// forward relays res upstream on the server transaction.
func (r *relayedTransaction) forward(res *sipmsg.Response) {
	if err := r.tx.Respond(relayedResponse(res, r.upstream)); err != nil {
		r.log.Warn().Err(err).Int("status", res.StatusCode).Msg("relaying response failed")
		return
	}
	r.log.Debug().Int("status", res.StatusCode).Msg("response relayed")
}

// forwardStateless relays res upstream through the transport layer, for a
// 2xx that the server transaction no longer takes.
func (r *relayedTransaction) forwardStateless(res *sipmsg.Response) {
	if err := r.srv.server.WriteResponse(relayedResponse(res, r.upstream)); err != nil {
		r.log.Warn().Err(err).Int("status", res.StatusCode).Msg("relaying response failed")
	}
}

// respondFailure sends the upstream side 408 after a timeout, or 503 after a
// transport error, when the client transaction ended without a final
// response (RFC 3261 sections 16.7 and 16.9).
func (r *relayedTransaction) respondFailure() {
	err := r.clientTx.Err()
	r.log.Warn().Err(err).Str("destination", r.downstream.Destination()).Msg("relayed request got no final response")
	if errors.Is(err, sipmsg.ErrTransactionTimeout) {
		r.srv.respond(r.upstream, r.tx, sipmsg.StatusRequestTimeout, "Request Timeout", nil)
		return
	}
	r.srv.respond(r.upstream, r.tx, sipmsg.StatusServiceUnavailable, "Service Unavailable", nil)
}

// relayedResponse copies res for the upstream side: without the top Via,
// which is this node's, and addressed to where upstream came from.
func relayedResponse(res *sipmsg.Response, upstream *sipmsg.Request) *sipmsg.Response {
	out := res.Clone()
	out.RemoveHeader("Via")
	out.SetTransport(strings.ToUpper(upstream.Transport()))
	out.SetDestination(upstream.Source())
	return out
}
