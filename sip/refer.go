package sip

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"

	"helpline/records"
)

// Errors for a REFER this server does not act on.
var (
	// ErrCallerCannotTransfer: the REFER came on the caller's leg. Only a
	// counselor hands a call on.
	ErrCallerCannotTransfer = errors.New("only the counselor's phone may transfer the call")
	// ErrNotTransferable: the REFER came on a leg that is not the
	// counselor of a call in conversation (a transfer target, a leg being
	// hung up, or a leg that is not part of a caller's call).
	ErrNotTransferable = errors.New("this leg is not a counselor talking to a caller")
	// ErrTransferPending: a transfer of this call is already ringing.
	ErrTransferPending = errors.New("a transfer of this call is already in progress")
)

// Header values of REFER handling.
const (
	contentSipfrag = "message/sipfrag;version=2.0"
	// warnAgentFallback names this server in Warning headers when no
	// public host is configured.
	warnAgentFallback = "helpline"
	// warnCodeMisc is the Warning code for free text (RFC 3261 20.43).
	warnCodeMisc = "399"
)

// Timing of REFER handling.
const (
	// notifyTimeout bounds the wait for the response to one NOTIFY.
	notifyTimeout = 5 * time.Second
	// referExpiryMargin is added to the target's ring time in the
	// Subscription-State expires of the implicit subscription, so that the
	// phone does not refresh it while the target rings.
	referExpiryMargin = 30 * time.Second
	// transferorByeGrace is how long the counselor's phone may take to
	// send its own BYE after the final NOTIFY before this server ends the
	// leg (RFC 5589 has the transferor hang up).
	transferorByeGrace = 2 * time.Second
	// transferRingFactor times queue.ring_timeout is how long a transfer
	// target rings before CANCEL.
	transferRingFactor = 2
)

// referTransfer is a blind transfer that a counselor asked for with REFER
// (RFC 3515), from the 202 Accepted until the counselor's leg is gone.
type referTransfer struct {
	// from is the counselor's leg, on which the NOTIFYs go.
	from   *outboundLeg
	number string
	// cseq is the REFER's CSeq number, the id of the implicit subscription.
	cseq uint32
	// notify is false when the REFER asked for no subscription
	// (Refer-Sub: false, RFC 4488).
	notify bool
	log    zerolog.Logger

	// gone is closed when the counselor's phone sent BYE.
	gone     chan struct{}
	goneOnce sync.Once
}

func (t *referTransfer) markGone() {
	t.goneOnce.Do(func() { close(t.gone) })
}

func (t *referTransfer) isGone() bool {
	select {
	case <-t.gone:
		return true
	default:
		return false
	}
}

// legReferrer is a leg's handler that acts on REFER.
type legReferrer interface {
	legRefer(leg *outboundLeg, req *sipmsg.Request, tx sipmsg.ServerTransaction)
}

// handleRefer routes a REFER to the call of its dialog: 481 outside any
// dialog, 403 on the caller's leg or any leg that is not a counselor's.
func (s *Server) handleRefer(req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	leg, ok := s.dialogs.lookup(req)
	if !ok {
		s.rejectRefer(req, tx, ErrNoDialog)
		return
	}
	out, ok := leg.(*outboundLeg)
	if !ok {
		s.rejectRefer(req, tx, ErrCallerCannotTransfer)
		return
	}
	referrer, ok := out.handler.(legReferrer)
	if !ok {
		s.rejectRefer(req, tx, ErrNotTransferable)
		return
	}
	referrer.legRefer(out, req, tx)
}

// rejectRefer responds to a REFER with the status for err and a Warning
// header that gives the reason.
func (s *Server) rejectRefer(req *sipmsg.Request, tx sipmsg.ServerTransaction, err error) {
	r := rejectionFor(err)
	s.log.Warn().Err(err).Int("status", r.status).Str("sip_call_id", callIDOf(req)).Msg("REFER rejected")
	s.respond(req, tx, r.status, r.reason, nil, s.warning(err.Error()))
}

// warning builds a Warning header (RFC 3261 20.43) with free text.
func (s *Server) warning(text string) sipmsg.Header {
	agent := s.opts.PublicHost
	if agent == "" {
		agent = warnAgentFallback
	}
	quoted := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(text)
	return sipmsg.NewHeader("Warning", warnCodeMisc+" "+agent+` "`+quoted+`"`)
}

// legRefer checks a counselor's REFER and, when the target is allowed,
// accepts it with 202 and starts the transfer.
func (c *call) legRefer(leg *outboundLeg, req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	log := leg.log
	number, err := referTarget(req)
	if err == nil && !c.srv.targetAllowed(number) {
		err = ErrTargetNotAllowed
	}
	var t *referTransfer
	if err == nil {
		t, err = c.beginRefer(leg, number, req, log)
	}
	if err != nil {
		r := rejectionFor(err)
		event := log.Warn().Err(err).Int("status", r.status)
		if number != "" {
			event = event.Str("target", records.MaskNumber(number))
		}
		event.Msg("REFER rejected")
		c.srv.respond(req, tx, r.status, r.reason, nil, c.srv.warning(err.Error()))
		return
	}

	headers := []sipmsg.Header{}
	if !t.notify {
		headers = append(headers, sipmsg.NewHeader("Refer-Sub", "false"))
	}
	c.srv.respond(req, tx, sipmsg.StatusAccepted, "Accepted", nil, headers...)
	log.Info().Str("target", number).Msg("counselor transfers the caller")
	c.srv.spawn(func() { c.runRefer(t) })
}

// referTarget returns the number in the REFER's single Refer-To header.
func referTarget(req *sipmsg.Request) (string, error) {
	values := append(req.GetHeaders("Refer-To"), req.GetHeaders("r")...)
	if len(values) != 1 {
		return "", ErrReferToMissing
	}
	return parseReferTo(values[0].Value())
}

// beginRefer records a new transfer on the call, unless the leg is not
// the counselor in conversation or a transfer is already ringing.
func (c *call) beginRefer(leg *outboundLeg, number string, req *sipmsg.Request, log zerolog.Logger) (*referTransfer, error) {
	t := &referTransfer{
		from:   leg,
		number: number,
		notify: !referSubFalse(req),
		log:    log.With().Str("target", number).Logger(),
		gone:   make(chan struct{}),
	}
	if cseq := req.CSeq(); cseq != nil {
		t.cseq = cseq.SeqNo
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.phase == phaseEnded:
		return nil, ErrNoDialog
	case c.phase != phaseTalking || c.peer != leg:
		return nil, ErrNotTransferable
	case c.refer != nil:
		return nil, ErrTransferPending
	}
	c.refer = t
	return t, nil
}

// referSubFalse reports whether the REFER asks for no implicit
// subscription (RFC 4488 4).
func referSubFalse(req *sipmsg.Request) bool {
	h := req.GetHeader("Refer-Sub")
	return h != nil && strings.EqualFold(strings.TrimSpace(h.Value()), "false")
}

// callIDOf returns a request's Call-ID, or "" when it has none.
func callIDOf(req *sipmsg.Request) string {
	if h := req.CallID(); h != nil {
		return h.Value()
	}
	return ""
}

// statusReasons are the reason phrases of the final statuses a transfer
// NOTIFY reports (RFC 3261 21).
var statusReasons = map[int]string{
	sipmsg.StatusTrying:                 "Trying",
	sipmsg.StatusOK:                     "OK",
	sipmsg.StatusNotFound:               "Not Found",
	sipmsg.StatusRequestTimeout:         "Request Timeout",
	sipmsg.StatusTemporarilyUnavailable: "Temporarily Unavailable",
	sipmsg.StatusBusyHere:               "Busy Here",
	sipmsg.StatusRequestTerminated:      "Request Terminated",
	sipmsg.StatusNotAcceptableHere:      "Not Acceptable Here",
	sipmsg.StatusInternalServerError:    "Server Internal Error",
	sipmsg.StatusServiceUnavailable:     "Service Unavailable",
	sipmsg.StatusGlobalBusyEverywhere:   "Busy Everywhere",
	sipmsg.StatusGlobalDecline:          "Decline",
}

// statusReason returns the reason phrase for a status code.
func statusReason(status int) string {
	if reason, ok := statusReasons[status]; ok {
		return reason
	}
	return "Transfer Failed"
}

// referExpires is the Subscription-State expires of an active implicit
// subscription, in seconds.
func (c *call) referExpires() int {
	return int((c.srv.opts.RingTimeout*transferRingFactor + referExpiryMargin) / time.Second)
}

// sendReferNotify reports the transfer's progress to the counselor's
// phone as a message/sipfrag status line (RFC 3515 2.4.5). It sends
// nothing when the REFER asked for no subscription or the phone hung up.
func (c *call) sendReferNotify(t *referTransfer, status int, final bool) {
	if !t.notify || t.isGone() {
		return
	}
	req := t.from.dialog.newRequest(sipmsg.NOTIFY)
	req.AppendHeader(c.srv.contactHeader(t.from.dialog.transport))
	req.AppendHeader(sipmsg.NewHeader("Event", "refer;id="+strconv.FormatUint(uint64(t.cseq), 10)))
	state := "active;expires=" + strconv.Itoa(c.referExpires())
	if final {
		state = "terminated;reason=noresource"
	}
	req.AppendHeader(sipmsg.NewHeader("Subscription-State", state))
	req.AppendHeader(sipmsg.NewHeader("Content-Type", contentSipfrag))
	req.SetBody([]byte("SIP/2.0 " + strconv.Itoa(status) + " " + statusReason(status) + "\r\n"))

	ctx, stop := contextWithTimeout(notifyTimeout)
	defer stop()
	res, err := sendRequest(ctx, c.srv.client, req)
	switch {
	case err != nil:
		t.log.Warn().Err(err).Int("status", status).Msg("transfer NOTIFY failed")
	case !res.IsSuccess():
		t.log.Warn().Int("status", status).Int("response", res.StatusCode).Msg("transfer NOTIFY rejected")
	case final:
		t.log.Info().Int("status", status).Msg("transfer NOTIFY sent")
	default:
		t.log.Debug().Int("status", status).Msg("transfer NOTIFY sent")
	}
}
