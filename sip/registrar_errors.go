package sip

import (
	"errors"

	sipmsg "github.com/emiago/sipgo/sip"
)

var (
	// ErrInvalidRegistrarConfig is returned by NewRegistrar for a config it
	// cannot run with. The wrapping error names the field.
	ErrInvalidRegistrarConfig = errors.New("invalid registrar config")

	// ErrMalformedRegister marks a REGISTER that lacks a required header or
	// carries one that cannot be parsed.
	ErrMalformedRegister = errors.New("malformed REGISTER request")

	// ErrNoCredentials marks a REGISTER without an Authorization header.
	ErrNoCredentials = errors.New("no credentials")

	// ErrMalformedCredentials marks an Authorization header that is not valid
	// digest syntax or lacks a parameter the offered qop requires.
	ErrMalformedCredentials = errors.New("malformed digest credentials")

	// ErrRealmMismatch marks Authorization headers that carry no digest
	// credentials for this registrar's realm.
	ErrRealmMismatch = errors.New("credentials for another realm")

	// ErrDigestURIMismatch marks a digest-uri that differs from the Request-URI.
	ErrDigestURIMismatch = errors.New("digest uri does not match request uri")

	// ErrUnsupportedDigest marks an algorithm, qop or userhash value that the
	// challenge did not offer.
	ErrUnsupportedDigest = errors.New("unsupported digest option")

	// ErrInvalidNonce marks a nonce or opaque value that this process did not issue.
	ErrInvalidNonce = errors.New("invalid nonce")

	// ErrStaleNonce marks a correct response computed with an expired nonce.
	ErrStaleNonce = errors.New("stale nonce")

	// ErrNonceReused marks a correct response whose nonce count was already
	// accepted with the same nonce: a replayed or repeated request.
	ErrNonceReused = errors.New("nonce count reused")

	// ErrUsernameMismatch marks a digest username that differs from the user
	// of the To header, the address-of-record being registered.
	ErrUsernameMismatch = errors.New("digest username differs from To user")

	// ErrThirdPartyRegister marks a REGISTER whose From user differs from
	// its To user: one counselor registering another's address-of-record.
	ErrThirdPartyRegister = errors.New("the From user differs from the To user: a phone may register only its own counselor id")

	// ErrUnknownCounselor marks a digest username with no configured password.
	ErrUnknownCounselor = errors.New("unknown counselor")

	// ErrWrongPassword marks a digest response that does not match the
	// stored password.
	ErrWrongPassword = errors.New("wrong password")

	// ErrTooManyAuthFailures marks a request for a counselor id that is
	// locked at the request's source address after repeated failed
	// authentications (RegistrarConfig.AuthLockoutAttempts).
	ErrTooManyAuthFailures = errors.New("too many authentication failures from source")

	// ErrInvalidExpires marks an Expires header or Contact expires parameter
	// that is not a non-negative integer (delta-seconds).
	ErrInvalidExpires = errors.New("invalid expires value")

	// ErrInvalidWildcardContact marks "Contact: *" used with other contacts
	// or without "Expires: 0" (RFC 3261 section 10.3, step 6).
	ErrInvalidWildcardContact = errors.New("wildcard contact requires Expires: 0 and no other contact")

	// ErrExpiresTooBrief marks a requested expiration shorter than the
	// registrar's minimum. The response carries Min-Expires.
	ErrExpiresTooBrief = errors.New("expiration interval too brief")

	// ErrRegisterOutOfOrder marks a REGISTER whose CSeq is not higher than
	// the one stored for a binding with the same Call-ID (RFC 3261 section
	// 10.3, step 7). No binding of the request is changed.
	ErrRegisterOutOfOrder = errors.New("REGISTER out of order")
)

// registerStatusTable maps REGISTER processing errors to SIP status codes and
// reason phrases. The first entry that matches with errors.Is wins.
var registerStatusTable = []struct {
	err    error
	code   int
	reason string
}{
	{ErrMalformedRegister, sipmsg.StatusBadRequest, "Bad Request"},
	{ErrMalformedCredentials, sipmsg.StatusBadRequest, "Bad Request"},
	{ErrInvalidExpires, sipmsg.StatusBadRequest, "Bad Request"},
	{ErrInvalidWildcardContact, sipmsg.StatusBadRequest, "Bad Request"},
	{ErrNoCredentials, sipmsg.StatusUnauthorized, "Unauthorized"},
	{ErrRealmMismatch, sipmsg.StatusUnauthorized, "Unauthorized"},
	{ErrDigestURIMismatch, sipmsg.StatusUnauthorized, "Unauthorized"},
	{ErrUnsupportedDigest, sipmsg.StatusUnauthorized, "Unauthorized"},
	{ErrInvalidNonce, sipmsg.StatusUnauthorized, "Unauthorized"},
	{ErrStaleNonce, sipmsg.StatusUnauthorized, "Unauthorized"},
	{ErrNonceReused, sipmsg.StatusUnauthorized, "Unauthorized"},
	{ErrWrongPassword, sipmsg.StatusUnauthorized, "Unauthorized"},
	{ErrUsernameMismatch, sipmsg.StatusForbidden, "Forbidden"},
	{ErrThirdPartyRegister, sipmsg.StatusForbidden, "Forbidden"},
	{ErrUnknownCounselor, sipmsg.StatusForbidden, "Forbidden"},
	{ErrTooManyAuthFailures, sipmsg.StatusForbidden, "Forbidden"},
	{ErrTLSRequired, sipmsg.StatusForbidden, tlsRequiredReason},
	{ErrExpiresTooBrief, sipmsg.StatusIntervalToBrief, "Interval Too Brief"},
	{ErrRegisterOutOfOrder, sipmsg.StatusInternalServerError, "Server Internal Error"},
}

// registerStatus returns the status code and reason phrase for err, and 500
// for an error missing from registerStatusTable.
func registerStatus(err error) (int, string) {
	for _, entry := range registerStatusTable {
		if errors.Is(err, entry.err) {
			return entry.code, entry.reason
		}
	}
	return sipmsg.StatusInternalServerError, "Server Internal Error"
}
