package sip

import (
	"net/netip"
	"strings"

	sipmsg "github.com/emiago/sipgo/sip"
)

// AuthenticateCall checks the digest credentials of a request a counselor's
// phone sends outside REGISTER, such as the INVITE of a feature code, with
// the same passwords, nonces and failure guard as registration. The digest
// username must be the From user. It returns the counselor ID, or the
// response to send instead: 401 with fresh challenges when credentials are
// missing, stale or wrong, 403 for an unknown counselor, another user's
// name or a blocked source, and 400 for a malformed request.
func (r *Registrar) AuthenticateCall(req *sipmsg.Request) (string, *sipmsg.Response) {
	now := r.now()
	from := req.From()
	source, err := netip.ParseAddrPort(req.Source())
	if from == nil || err != nil {
		return "", r.rejectCall(req, ErrMalformedRegister)
	}
	user := from.Address.User
	origin := registerOrigin{
		source:    netip.AddrPortFrom(source.Addr().Unmap(), source.Port()),
		transport: strings.ToLower(req.Transport()),
	}
	log := r.log.With().Str("source", origin.source.String()).Str("method", string(req.Method)).Logger()

	if err := r.security.checkTransport(origin.source.Addr(), origin.transport); err != nil {
		if suppressed, ok := r.insecureLog.allow(origin.source.Addr().String(), now); ok {
			log.Warn().Str("user", loggableUser(user)).Int("suppressed", suppressed).Dur("log_interval", sourceLogInterval).
				Msg("call rejected: the phone is outside the office networks and did not use TLS, set its account to transport=tls")
		}
		return "", r.rejectCall(req, err)
	}
	if until, locked := r.guard.lockedUntil(origin.source.Addr(), user, now); locked {
		// The lock was logged once when it began; repeats are debug only.
		log.Debug().Str("user", loggableUser(user)).Time("until", until).
			Msg("call rejected: this counselor is locked at this address after repeated authentication failures")
		return "", r.rejectCall(req, ErrTooManyAuthFailures)
	}
	id, err := r.authenticate(req, user)
	if err != nil {
		r.noteAuthFailure(log, user, origin, req.Method, err, now)
		return "", r.rejectCall(req, err)
	}
	r.guard.reset(origin.source.Addr(), user)
	return id, nil
}

// rejectCall builds the response for a failed AuthenticateCall, with a To
// tag so that the phone's ACK matches it.
func (r *Registrar) rejectCall(req *sipmsg.Request, err error) *sipmsg.Response {
	res := r.rejectRegister(req, err)
	if to := res.To(); to != nil {
		if _, ok := to.Params.Get("tag"); !ok {
			to.Params.Add("tag", sipmsg.GenerateTagN(localTagBytes))
		}
	}
	return res
}
