package sip

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"

	"helpline/records"
)

// Session timers (RFC 4028): the caller's INVITE may ask that the session
// be refreshed by a re-INVITE or UPDATE within an interval. The refresher
// is the caller ("uac") or this server ("uas"). When the caller is the
// refresher and misses a refresh, the call ends with BYE on both legs.
// When this server is the refresher, it sends an UPDATE at half the
// interval.

// Session timer defaults and names.
const (
	// DefaultSessionExpires is the interval granted to a caller that
	// supports timers but asks for none, when Options leave it zero.
	DefaultSessionExpires = 1800 * time.Second
	// DefaultMinSE is the smallest interval accepted, the RFC 4028 floor.
	DefaultMinSE = 90 * time.Second

	refresherUAC = "uac"
	refresherUAS = "uas"

	headerSessionExpires        = "Session-Expires"
	headerSessionExpiresCompact = "x"
	headerMinSE                 = "Min-SE"
	headerSupportedCompact      = "k"

	// maxExpiryMargin caps how long before the interval's end a missed
	// refresh ends the session (RFC 4028 section 10: the smaller of 32 s
	// and a third of the interval).
	maxExpiryMargin = 32 * time.Second
	// refreshTimeout bounds the wait for the answer to our UPDATE.
	refreshTimeout = 32 * time.Second
)

// ErrSessionIntervalTooSmall: a Session-Expires below sip.min_se. The
// response is 422 with a Min-SE header.
var ErrSessionIntervalTooSmall = errors.New("session interval is below Min-SE")

// sessionTimer is a call's session timer state.
type sessionTimer struct {
	// refreshed wakes the timer goroutine after a refresh; buffered.
	refreshed chan struct{}

	mu sync.Mutex
	// The fields below are guarded by mu.
	interval  time.Duration
	refresher string
	// peerSupports is set when the caller listed "timer" in Supported,
	// so our responses carry Require: timer.
	peerSupports bool
}

// sessionTimerPlan is the session interval, refresher and timer support
// that one request negotiated.
type sessionTimerPlan struct {
	interval     time.Duration
	refresher    string
	peerSupports bool
}

// negotiateSessionTimer reads Session-Expires, Min-SE and Supported of a
// dialog-creating or refreshing request. It returns nil when the request
// neither asks for session timers nor supports them, and an error wrapping
// ErrSessionIntervalTooSmall for an interval below Min-SE.
func (s *Server) negotiateSessionTimer(req *sipmsg.Request) (*sessionTimerPlan, error) {
	minSE, defaultInterval := s.sessionTimerLimits()
	supports := hasToken(req, "Supported", headerSupportedCompact, extensionTimer)
	requested, refresher, present, err := parseSessionExpires(req)
	if err != nil {
		return nil, err
	}
	if !present && !supports {
		return nil, nil
	}

	if present && requested < minSE {
		return nil, fmt.Errorf("%w: Session-Expires %d s, Min-SE %d s", ErrSessionIntervalTooSmall,
			int(requested.Seconds()), int(minSE.Seconds()))
	}
	interval := requested
	if !present {
		interval = max(defaultInterval, peerMinSE(req), minSE)
	}

	// Without timer support the caller cannot refresh, so this server
	// does (RFC 4028 section 9).
	if !supports || (refresher != refresherUAC && refresher != refresherUAS) {
		refresher = refresherUAS
		if supports {
			refresher = refresherUAC
		}
	}
	return &sessionTimerPlan{interval: interval, refresher: refresher, peerSupports: supports}, nil
}

// sessionTimerLimits returns Min-SE and the default interval, with the
// defaults filled in.
func (s *Server) sessionTimerLimits() (minSE, interval time.Duration) {
	minSE, interval = s.opts.MinSE, s.opts.SessionExpires
	if minSE <= 0 {
		minSE = DefaultMinSE
	}
	if interval <= 0 {
		interval = DefaultSessionExpires
	}
	return minSE, max(interval, minSE)
}

// parseSessionExpires reads "Session-Expires: 90;refresher=uac" (or its
// compact form "x"). present is false when the header is missing.
func parseSessionExpires(req *sipmsg.Request) (interval time.Duration, refresher string, present bool, err error) {
	h := req.GetHeader(headerSessionExpires)
	if h == nil {
		h = req.GetHeader(headerSessionExpiresCompact)
	}
	if h == nil {
		return 0, "", false, nil
	}

	value, params, _ := strings.Cut(h.Value(), ";")
	seconds, err := strconv.ParseUint(strings.TrimSpace(value), 10, 31)
	if err != nil || seconds == 0 {
		return 0, "", false, fmt.Errorf("%w: Session-Expires %q is not a positive number of seconds", ErrBadHeader, h.Value())
	}
	for _, param := range strings.Split(params, ";") {
		name, v, _ := strings.Cut(strings.TrimSpace(param), "=")
		if strings.EqualFold(name, "refresher") {
			refresher = strings.ToLower(strings.TrimSpace(v))
		}
	}
	return time.Duration(seconds) * time.Second, refresher, true, nil
}

// peerMinSE reads the request's Min-SE, 0 when missing or unreadable.
func peerMinSE(req *sipmsg.Request) time.Duration {
	h := req.GetHeader(headerMinSE)
	if h == nil {
		return 0
	}
	value, _, _ := strings.Cut(h.Value(), ";")
	seconds, err := strconv.ParseUint(strings.TrimSpace(value), 10, 31)
	if err != nil {
		return 0
	}
	return time.Duration(seconds) * time.Second
}

// minSEHeader is the Min-SE header of a 422.
func (s *Server) minSEHeader() sipmsg.Header {
	minSE, _ := s.sessionTimerLimits()
	return sipmsg.NewHeader(headerMinSE, strconv.Itoa(int(minSE.Seconds())))
}

// headers returns the session timer headers of a 2xx: Session-Expires
// with the refresher, Require: timer when the caller supports timers, and
// Supported: timer.
func (p *sessionTimerPlan) headers() []sipmsg.Header {
	headers := []sipmsg.Header{
		sipmsg.NewHeader(headerSessionExpires, strconv.Itoa(int(p.interval.Seconds()))+";refresher="+p.refresher),
		supportedHeader(),
	}
	if p.peerSupports {
		headers = append(headers, sipmsg.NewHeader("Require", extensionTimer))
	}
	return headers
}

// useSessionTimer sets the session timer the caller's INVITE negotiated,
// and the headers of the 200 OK that confirm it. A nil plan leaves the
// call without a session timer, and the 200 OK only says Supported: timer.
func (c *call) useSessionTimer(plan *sessionTimerPlan) {
	if plan == nil {
		c.caller.answerHeaders = append(c.caller.answerHeaders, supportedHeader())
		return
	}
	st := &sessionTimer{refreshed: make(chan struct{}, 1)}
	st.apply(plan)
	c.mu.Lock()
	c.sessionTimer = st
	c.mu.Unlock()
	c.caller.answerHeaders = append(c.caller.answerHeaders, plan.headers()...)
}

func (st *sessionTimer) apply(p *sessionTimerPlan) {
	st.mu.Lock()
	st.interval, st.refresher, st.peerSupports = p.interval, p.refresher, p.peerSupports
	st.mu.Unlock()
}

func (st *sessionTimer) plan() *sessionTimerPlan {
	st.mu.Lock()
	defer st.mu.Unlock()
	return &sessionTimerPlan{interval: st.interval, refresher: st.refresher, peerSupports: st.peerSupports}
}

// startSessionTimer runs the call's session timer, if it has one, until
// the call ends.
func (c *call) startSessionTimer() {
	c.mu.Lock()
	st := c.sessionTimer
	c.mu.Unlock()
	if st == nil {
		return
	}
	p := st.plan()
	c.log.Info().Dur("session_expires", p.interval).Str("refresher", p.refresher).Msg("session timer started")
	c.srv.spawn(func() { c.runSessionTimer(st) })
}

// runSessionTimer waits for refreshes. When the caller is the refresher
// and none comes in time, the call ends with BYE on both legs. When this
// server is the refresher, it refreshes at half the interval.
func (c *call) runSessionTimer(st *sessionTimer) {
	for {
		p := st.plan()
		wait := p.interval / 2
		if p.refresher == refresherUAC {
			wait = p.interval - min(maxExpiryMargin, p.interval/3)
		}

		timer := time.NewTimer(wait)
		select {
		case <-c.ctx.Done():
			timer.Stop()
			return
		case <-st.refreshed:
			timer.Stop()
			continue
		case <-timer.C:
		}

		if p.refresher == refresherUAC {
			c.log.Warn().Dur("session_expires", p.interval).Msg("session not refreshed in time, ending the call")
			c.end(&hangup{side: records.SideServer, reason: fmt.Sprintf("session timer expired: no refresh within %d s", int(p.interval.Seconds()))})
			return
		}
		if !c.sendSessionRefresh(p) {
			return
		}
	}
}

// sendSessionRefresh sends an UPDATE without SDP to the caller (RFC 4028
// section 7.4). It returns false when the timer should stop: the call
// ended because the dialog is gone, or the caller cannot take UPDATE, in
// which case the session goes on without a timer.
func (c *call) sendSessionRefresh(p *sessionTimerPlan) bool {
	req := c.caller.dialog.newRequest(sipmsg.UPDATE)
	req.AppendHeader(c.srv.contactHeader(c.caller.dialog.transport))
	for _, h := range p.headers() {
		if h.Name() != "Require" {
			req.AppendHeader(h)
		}
	}

	ctx, stop := context.WithTimeout(c.ctx, refreshTimeout)
	defer stop()
	res, err := sendRequest(ctx, c.srv.client, req)
	switch {
	case c.ctx.Err() != nil:
		return false
	case err != nil || res.StatusCode == sipmsg.StatusCallTransactionDoesNotExists || res.StatusCode == sipmsg.StatusRequestTimeout:
		c.log.Warn().Err(err).Msg("session refresh failed, ending the call")
		c.end(&hangup{side: records.SideServer, reason: "session refresh failed"})
		return false
	case res.StatusCode == sipmsg.StatusMethodNotAllowed || res.StatusCode == sipmsg.StatusNotImplemented:
		c.log.Warn().Int("status", res.StatusCode).Msg("caller does not take UPDATE, session timer stopped")
		return false
	case !res.IsSuccess():
		c.log.Warn().Int("status", res.StatusCode).Msg("session refresh rejected, trying again at the next interval")
		return true
	}
	c.log.Debug().Msg("session refreshed")
	return true
}

// refreshSession handles the session timer part of a re-INVITE or UPDATE
// from leg, and returns the headers its 2xx carries. Only the caller's
// leg has a session timer. A request with Session-Expires sets the new
// interval, or fails with ErrSessionIntervalTooSmall. A request without
// it refreshes the running timer with its current interval, and when the
// request does not list Supported: timer either, this server becomes the
// refresher, so that a caller who dropped session timers is never hung up
// for not refreshing (RFC 4028 section 9).
func (c *call) refreshSession(leg any, req *sipmsg.Request) ([]sipmsg.Header, error) {
	if leg != any(c.caller) {
		return nil, nil
	}
	plan, err := c.srv.negotiateSessionTimer(req)
	if err != nil {
		return nil, err
	}

	c.mu.Lock()
	st := c.sessionTimer
	c.mu.Unlock()
	if st == nil {
		if plan == nil {
			return nil, nil
		}
		c.useSessionTimer(plan)
		c.startSessionTimer()
		return plan.headers(), nil
	}

	current := st.plan()
	if _, _, present, _ := parseSessionExpires(req); !present {
		if plan == nil {
			plan = &sessionTimerPlan{refresher: refresherUAS}
		}
		plan.interval = current.interval
	}
	st.apply(plan)
	select {
	case st.refreshed <- struct{}{}:
	default:
	}
	c.log.Debug().Dur("session_expires", plan.interval).Str("refresher", plan.refresher).Msg("session refreshed by the caller")
	return plan.headers(), nil
}

// sessionRefresher is a leg's call that keeps a session timer.
type sessionRefresher interface {
	refreshSession(leg any, req *sipmsg.Request) ([]sipmsg.Header, error)
}

// refreshHeaders runs the session timer part of an in-dialog request. On
// ErrSessionIntervalTooSmall it answers 422 with Min-SE and returns false.
func refreshHeaders(srv *Server, leg any, events legEvents, req *sipmsg.Request, tx sipmsg.ServerTransaction) ([]sipmsg.Header, bool) {
	refresher, ok := events.(sessionRefresher)
	if !ok {
		return nil, true
	}
	headers, err := refresher.refreshSession(leg, req)
	if err != nil {
		r := rejectionFor(err)
		extra := []sipmsg.Header{}
		if errors.Is(err, ErrSessionIntervalTooSmall) {
			extra = append(extra, srv.minSEHeader())
		}
		srv.respond(req, tx, r.status, r.reason, nil, extra...)
		return nil, false
	}
	return headers, true
}

// handleUpdate answers an UPDATE (RFC 3311): a session refresh, and an
// offer when it carries SDP.
func handleUpdate(srv *Server, leg any, events legEvents, req *sipmsg.Request, tx sipmsg.ServerTransaction) {
	if events == nil {
		srv.respond(req, tx, sipmsg.StatusOK, "OK", nil, sipmsg.NewHeader("Allow", allowMethods))
		return
	}
	headers, ok := refreshHeaders(srv, leg, events, req, tx)
	if !ok {
		return
	}
	headers = append(headers, sipmsg.NewHeader("Allow", allowMethods))

	if len(req.Body()) == 0 {
		srv.respond(req, tx, sipmsg.StatusOK, "OK", nil, headers...)
		return
	}
	answer, err := events.legReoffer(leg, req.Body())
	if err != nil {
		r := rejectionFor(err)
		srv.respond(req, tx, r.status, r.reason, nil)
		return
	}
	headers = append(headers, srv.contactHeader(req.Transport()), sipmsg.NewHeader("Content-Type", contentSDP))
	srv.respond(req, tx, sipmsg.StatusOK, "OK", answer, headers...)
}

// rejectSessionTimer answers an INVITE whose Session-Expires is unusable:
// 422 with Min-SE when it is too small, 400 when it is not a number. No
// record is written, because the trunk retries at once with a larger
// interval (RFC 4028 section 8.2).
func (s *Server) rejectSessionTimer(leg *inboundLeg, err error) {
	var headers []sipmsg.Header
	if errors.Is(err, ErrSessionIntervalTooSmall) {
		headers = append(headers, s.minSEHeader())
	}
	leg.reject(err, headers...)
	leg.log.Warn().Err(err).Int("status", rejectionFor(err).status).Msg("call rejected for its session timer")
}
