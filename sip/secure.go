package sip

import (
	"errors"
	"net/netip"
	"slices"
)

// ErrTLSRequired marks a REGISTER, or a counselor's own INVITE, from
// outside the office networks that did not arrive over TLS while
// SecurityPolicy.RequiredOutsideOffice is on.
var ErrTLSRequired = errors.New("TLS required outside the office")

// tlsRequiredReason is the reason phrase of the 403 for ErrTLSRequired.
const tlsRequiredReason = "Forbidden: TLS required outside the office"

// tlsRequiredWarning is the Warning header (RFC 3261 section 20.43) of that
// 403: code 399 (miscellaneous) with the fix for the phone's user.
const tlsRequiredWarning = `399 helpline "Register over TLS (transport=tls) and use SRTP from outside the office"`

// SecurityPolicy requires TLS and SRTP of counselor phones outside the
// office networks.
type SecurityPolicy struct {
	// OfficeNetworks are the source networks of the counseling office.
	OfficeNetworks []netip.Prefix
	// RequiredOutsideOffice turns the requirement on.
	RequiredOutsideOffice bool
}

// requiresSecure reports whether a phone sending from source must use TLS
// and SRTP. Behind a proxy that adds Path, source is the proxy's address.
func (p SecurityPolicy) requiresSecure(source netip.Addr) bool {
	if !p.RequiredOutsideOffice {
		return false
	}
	source = source.Unmap()
	return !slices.ContainsFunc(p.OfficeNetworks, func(prefix netip.Prefix) bool { return prefix.Contains(source) })
}

// checkTransport returns ErrTLSRequired when a phone sending from source
// over transport (lowercase) must use TLS and does not.
func (p SecurityPolicy) checkTransport(source netip.Addr, transport string) error {
	if transport != "tls" && p.requiresSecure(source) {
		return ErrTLSRequired
	}
	return nil
}
