package sip

import (
	"errors"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"

	"helpline/media"
)

// Reasons recorded when a peer ends its leg.
const (
	reasonBye = "BYE"
)

// handleLegRequest answers a request that a peer sends inside the dialog
// of leg, and reports what it means to events.
func handleLegRequest(srv *Server, leg any, events legEvents, log zerolog.Logger, req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	switch req.Method {
	case sipmsg.BYE:
		srv.respond(req, tx, sipmsg.StatusOK, "OK", nil)
		// Debug only: the call's "call ended" line gives the BYE as its
		// reason, and one line fewer per call is cheaper at high call rates.
		log.Debug().Msg("peer sent BYE")
		if events != nil {
			events.legHangup(leg, reasonBye)
		}

	case sipmsg.INFO:
		handleInfo(srv, leg, events, log, req, tx)

	case sipmsg.INVITE:
		handleReinvite(srv, leg, events, log, req, tx)

	case sipmsg.UPDATE:
		handleUpdate(srv, leg, events, req, tx)

	case sipmsg.OPTIONS:
		// A keep-alive: the session goes on unchanged.
		srv.respond(req, tx, sipmsg.StatusOK, "OK", nil,
			sipmsg.NewHeader("Allow", allowMethods))

	default:
		srv.respond(req, tx, sipmsg.StatusMethodNotAllowed, "Method Not Allowed", nil,
			sipmsg.NewHeader("Allow", allowMethods))
	}
}

// handleInfo delivers a DTMF digit sent as SIP INFO (RFC 6086 with the
// application/dtmf-relay or application/dtmf body).
func handleInfo(srv *Server, leg any, events legEvents, log zerolog.Logger, req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	contentType := ""
	if h := req.ContentType(); h != nil {
		contentType = h.Value()
	}
	if len(req.Body()) == 0 && contentType == "" {
		// An empty INFO is a keep-alive probe.
		srv.respond(req, tx, sipmsg.StatusOK, "OK", nil)
		return
	}

	digit, err := media.ParseInfoDigit(contentType, req.Body())
	if err != nil {
		r := rejectionFor(err)
		headers := []sipmsg.Header{}
		if errors.Is(err, media.ErrUnsupportedContentType) {
			headers = append(headers, sipmsg.NewHeader("Accept", "application/dtmf-relay, application/dtmf"))
		}
		log.Warn().Err(err).Int("status", r.status).Msg("INFO rejected")
		srv.respond(req, tx, r.status, r.reason, nil, headers...)
		return
	}

	srv.respond(req, tx, sipmsg.StatusOK, "OK", nil)
	if events != nil {
		events.legDigit(leg, rune(digit))
	}
}

// handleReinvite answers a new offer inside the dialog (hold, resume,
// codec change). A failed negotiation answers 488 and keeps the session.
func handleReinvite(srv *Server, leg any, events legEvents, log zerolog.Logger, req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	if events == nil {
		srv.respond(req, tx, sipmsg.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist", nil)
		return
	}
	timerHeaders, ok := refreshHeaders(srv, leg, events, req, tx)
	if !ok {
		return
	}
	answer, err := events.legReoffer(leg, req.Body())
	if err != nil {
		r := rejectionFor(err)
		log.Warn().Err(err).Int("status", r.status).Msg("re-INVITE rejected, session unchanged")
		srv.respond(req, tx, r.status, r.reason, nil)
		return
	}

	res := sipmsg.NewResponseFromRequest(req, sipmsg.StatusOK, "OK", answer)
	for _, h := range timerHeaders {
		res.AppendHeader(h)
	}
	res.AppendHeader(srv.contactHeader(req.Transport()))
	res.AppendHeader(sipmsg.NewHeader("Content-Type", contentSDP))
	if err := tx.Respond(res); err != nil {
		log.Warn().Err(err).Msg("answering re-INVITE failed")
	}
}
