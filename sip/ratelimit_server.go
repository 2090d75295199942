package sip

import (
	"strconv"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"

	"helpline/events"
)

// Actions taken on a request over its source's limit, the action label
// of RateLimitObserver.
const (
	// LimitRejected: the request got 503 Service Unavailable with
	// Retry-After. Requests over TCP get it.
	LimitRejected = "rejected"
	// LimitDropped: the request was dropped without a response, as
	// requests over UDP are. A flood with forged source addresses then
	// gets no responses, and no 503 to an INVITE is resent while the
	// server waits for an ACK that a flood never sends.
	LimitDropped = "dropped"
)

// RateLimitObserver counts the requests the per-source limit stopped.
type RateLimitObserver interface {
	// RequestLimited counts one request of method (INVITE or REGISTER)
	// stopped with action (LimitRejected or LimitDropped).
	RequestLimited(method, action string)
}

// limitRequest applies the per-source limit to a new INVITE or a REGISTER
// and returns true when it stopped the request. In-dialog requests, other
// methods, and requests from the trunk and the other nodes pass.
func (s *Server) limitRequest(req *sipmsg.Request, tx sipmsg.ServerTransaction) bool {
	if s.limiter == nil {
		return false
	}
	method, ok := limitedMethodOf(req)
	if !ok {
		return false
	}
	source := sourceAddr(req)
	if !source.IsValid() || s.trusted(source) || (s.opts.NodeID != "" && s.fromNode(req)) {
		return false
	}

	decision := s.limiter.allow(method, source, time.Now())
	if decision.allowed {
		return false
	}

	action := LimitDropped
	if sipmsg.IsReliable(req.Transport()) {
		action = LimitRejected
		s.respond(req, tx, sipmsg.StatusServiceUnavailable, "Service Unavailable", nil, retryAfterCeil(decision.retryAfter))
	}
	if s.rateLimited != nil {
		s.rateLimited.RequestLimited(string(req.Method), action)
	}
	if decision.report != nil {
		s.reportLimited(req, action, decision.report)
	}
	return true
}

// limitedMethodOf returns the bucket of a request: INVITEs outside a
// dialog (no To tag) and every REGISTER have one.
func limitedMethodOf(req *sipmsg.Request) (limitedMethod, bool) {
	switch req.Method {
	case sipmsg.REGISTER:
		return limitRegister, true
	case sipmsg.INVITE:
		if _, inDialog := incomingKey(req); inDialog {
			return 0, false
		}
		return limitInvite, true
	default:
		return 0, false
	}
}

// reportLimited logs and publishes the limited requests of one source,
// at most once per source per rateLimitReportInterval.
func (s *Server) reportLimited(req *sipmsg.Request, action string, report *limitReport) {
	source := report.source
	if source == "" {
		source = "other"
	}
	s.log.Warn().Str("source", source).Str("method", string(req.Method)).Str("transport", req.Transport()).
		Str("action", action).Int("limited", report.limited).Int("other_sources_limited", report.unreported).
		Dur("report_interval", rateLimitReportInterval).
		Msg("requests over the per-source rate limit (sip.rate_limit): further ones from this source are counted, not logged, until the interval passes")
	s.events.Publish(events.Event{
		Type: events.SIPRateLimited,
		Data: map[string]string{
			"source":  source,
			"method":  string(req.Method),
			"action":  action,
			"limited": strconv.Itoa(report.limited),
		},
	})
}

// retryAfterCeil is a Retry-After header of d rounded up to whole
// seconds, at least 1 (RFC 3261 section 20.33).
func retryAfterCeil(d time.Duration) sipmsg.Header {
	seconds := max(int64(1), int64((d+time.Second-1)/time.Second))
	return sipmsg.NewHeader("Retry-After", strconv.FormatInt(seconds, 10))
}
