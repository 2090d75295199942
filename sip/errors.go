package sip

import (
	"errors"

	sipmsg "github.com/emiago/sipgo/sip"

	"helpline/media"
)

// Sentinel errors for why an INVITE from the trunk is not answered.
var (
	// ErrUntrustedSource: the INVITE came from outside trunk.trusted_sources.
	ErrUntrustedSource = errors.New("source is not a trusted trunk")
	// ErrUnknownNumber: the Request-URI names a number this server does not serve.
	ErrUnknownNumber = errors.New("called number is not served here")
	// ErrDraining: the server is shutting down and takes no new calls.
	ErrDraining = errors.New("server is draining")
	// ErrNoMediaPort: every RTP port of the configured range is in use.
	ErrNoMediaPort = errors.New("no free RTP port")
	// ErrMissingOffer: the INVITE has no SDP offer.
	ErrMissingOffer = errors.New("INVITE has no SDP offer")
	// ErrNoDialog: an in-dialog request matches no dialog.
	ErrNoDialog = errors.New("no dialog matches the request")
	// ErrBadHeader: a header this server reads has an invalid value.
	ErrBadHeader = errors.New("invalid header value")
)

// rejection is the SIP response for an error.
type rejection struct {
	status int
	reason string
}

// rejections maps errors to the response a request that failed with them
// gets. The first entry whose error matches wins.
var rejections = []struct {
	err error
	rejection
}{
	{ErrUntrustedSource, rejection{sipmsg.StatusForbidden, "Forbidden"}},
	{ErrUnknownNumber, rejection{sipmsg.StatusNotFound, "Not Found"}},
	{ErrDraining, rejection{sipmsg.StatusServiceUnavailable, "Service Unavailable"}},
	{ErrNoMediaPort, rejection{sipmsg.StatusServiceUnavailable, "Service Unavailable"}},
	{ErrMissingOffer, rejection{sipmsg.StatusNotAcceptableHere, "Not Acceptable Here"}},
	{media.ErrNoCommonCodec, rejection{sipmsg.StatusNotAcceptableHere, "Not Acceptable Here"}},
	{media.ErrNoCommonCrypto, rejection{sipmsg.StatusNotAcceptableHere, "Not Acceptable Here"}},
	{media.ErrSRTPRequired, rejection{sipmsg.StatusNotAcceptableHere, "Not Acceptable Here: SRTP required"}},
	{ErrTLSRequired, rejection{sipmsg.StatusForbidden, tlsRequiredReason}},
	{media.ErrAddressFamily, rejection{sipmsg.StatusNotAcceptableHere, "Not Acceptable Here"}},
	{media.ErrInvalidSDP, rejection{sipmsg.StatusBadRequest, "Bad Request"}},
	{ErrNoDialog, rejection{sipmsg.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist"}},
	{media.ErrUnsupportedContentType, rejection{sipmsg.StatusUnsupportedMediaType, "Unsupported Media Type"}},
	{media.ErrInvalidDigit, rejection{sipmsg.StatusBadRequest, "Bad Request"}},
	{ErrSessionIntervalTooSmall, rejection{422, "Session Interval Too Small"}},
	{ErrBadHeader, rejection{sipmsg.StatusBadRequest, "Bad Request"}},
	{ErrReferToMissing, rejection{sipmsg.StatusBadRequest, "Bad Request"}},
	{ErrAttendedTransfer, rejection{sipmsg.StatusNotImplemented, "Not Implemented"}},
	{ErrReferToInvalid, rejection{sipmsg.StatusBadRequest, "Bad Request"}},
	{ErrCallerCannotTransfer, rejection{sipmsg.StatusForbidden, "Forbidden"}},
	{ErrNotTransferable, rejection{sipmsg.StatusForbidden, "Forbidden"}},
	{ErrTargetNotAllowed, rejection{sipmsg.StatusForbidden, "Transfer Target Not Allowed"}},
	{ErrTransferPending, rejection{sipmsg.StatusRequestPending, "Request Pending"}},
	{ErrNoOutboundRoute, rejection{sipmsg.StatusServiceUnavailable, "Service Unavailable"}},
}

// rejectionFor returns the response for err; anything unlisted is a 500.
func rejectionFor(err error) rejection {
	for _, r := range rejections {
		if errors.Is(err, r.err) {
			return r.rejection
		}
	}
	return rejection{sipmsg.StatusInternalServerError, "Server Internal Error"}
}
