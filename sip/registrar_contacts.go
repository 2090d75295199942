package sip

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
)

// maxDeltaSeconds (2**32-1) is the largest expiration RFC 3261 section
// 10.2.1.1 defines. Larger values are read as this one, which that section allows.
const maxDeltaSeconds = 1<<32 - 1

// expiresPolicy holds the registrar's limits for binding lifetimes.
type expiresPolicy struct {
	min, max, fallback time.Duration
}

// contactUpdate is one Contact of a REGISTER. A zero expires removes the
// binding at once.
type contactUpdate struct {
	uri     sipmsg.Uri
	key     string
	expires time.Duration
}

// registerUpdate is the change a REGISTER requests. It removes every binding
// of the user ("Contact: *"), or adds, refreshes and removes the listed
// contacts. With neither, the REGISTER is a query.
type registerUpdate struct {
	removeAll bool
	contacts  []contactUpdate
}

// parseRegisterUpdate reads the Contact and Expires headers of a REGISTER and
// applies policy (RFC 3261 section 10.3, step 6). A Contact expires parameter
// overrides the Expires header for that contact.
func parseRegisterUpdate(req *sipmsg.Request, policy expiresPolicy) (registerUpdate, error) {
	headerSeconds, headerPresent, err := parseExpiresHeader(req)
	if err != nil {
		return registerUpdate{}, err
	}

	contacts, err := contactHeaders(req)
	if err != nil {
		return registerUpdate{}, err
	}

	if hasWildcard(contacts) {
		if len(contacts) != 1 || !headerPresent || headerSeconds != 0 {
			return registerUpdate{}, ErrInvalidWildcardContact
		}
		return registerUpdate{removeAll: true}, nil
	}

	update := registerUpdate{contacts: make([]contactUpdate, 0, len(contacts))}
	for _, contact := range contacts {
		entry, err := parseContactUpdate(contact, headerSeconds, headerPresent, policy)
		if err != nil {
			return registerUpdate{}, err
		}
		update.contacts = append(update.contacts, entry)
	}
	return update, nil
}

func parseContactUpdate(contact *sipmsg.ContactHeader, headerSeconds uint64, headerPresent bool, policy expiresPolicy) (contactUpdate, error) {
	scheme := strings.ToLower(contact.Address.Scheme)
	if (scheme != "sip" && scheme != "sips") || contact.Address.Host == "" {
		return contactUpdate{}, fmt.Errorf("contact %q is not a sip or sips uri with a host: %w", contact.Address.String(), ErrMalformedRegister)
	}

	requested := policy.fallback
	if value, ok := contactExpiresParam(contact); ok {
		seconds, err := parseDeltaSeconds(value)
		if err != nil {
			return contactUpdate{}, fmt.Errorf("parse Contact expires parameter: %w", err)
		}
		requested = secondsToDuration(seconds)
	} else if headerPresent {
		requested = secondsToDuration(headerSeconds)
	}

	granted, err := policy.grant(requested)
	if err != nil {
		return contactUpdate{}, err
	}

	return contactUpdate{
		uri:     *contact.Address.Clone(),
		key:     contactKey(contact.Address),
		expires: granted,
	}, nil
}

// grant returns the lifetime the registrar gives to a requested expiration:
// zero stays zero (a removal), values above max are lowered to max, and
// values below min are rejected with ErrExpiresTooBrief.
func (p expiresPolicy) grant(requested time.Duration) (time.Duration, error) {
	switch {
	case requested == 0:
		return 0, nil
	case requested < p.min:
		return 0, fmt.Errorf("requested %s, minimum %s: %w", requested, p.min, ErrExpiresTooBrief)
	case requested > p.max:
		return p.max, nil
	default:
		return requested, nil
	}
}

// parseExpiresHeader returns the first Expires header value in seconds and
// whether the header is present.
func parseExpiresHeader(req *sipmsg.Request) (uint64, bool, error) {
	header := req.GetHeader("Expires")
	if header == nil {
		return 0, false, nil
	}

	seconds, err := parseDeltaSeconds(header.Value())
	if err != nil {
		return 0, false, fmt.Errorf("parse Expires header: %w", err)
	}
	return seconds, true, nil
}

// parseDeltaSeconds parses delta-seconds (RFC 3261 section 25.1: one or more
// digits). Values above maxDeltaSeconds are read as maxDeltaSeconds.
//
// NOTE: RFC 3261 section 10.2.1.1 recommends reading malformed values as
// 3600. This registrar rejects them with 400 instead, so that a misconfigured
// phone fails visibly rather than registering for an hour it never requested.
func parseDeltaSeconds(value string) (uint64, error) {
	trimmed := strings.TrimSpace(value)
	seconds, err := strconv.ParseUint(trimmed, 10, 64)
	if errors.Is(err, strconv.ErrRange) {
		return maxDeltaSeconds, nil
	}
	if err != nil {
		return 0, fmt.Errorf("%q is not delta-seconds: %w", value, ErrInvalidExpires)
	}
	return min(seconds, maxDeltaSeconds), nil
}

func secondsToDuration(seconds uint64) time.Duration {
	return time.Duration(seconds) * time.Second
}

// contactHeaders returns the Contact headers of req. A Contact that sipgo
// left unparsed (only possible for requests built in code) is malformed.
func contactHeaders(req *sipmsg.Request) ([]*sipmsg.ContactHeader, error) {
	headers := req.GetHeaders("Contact")
	contacts := make([]*sipmsg.ContactHeader, 0, len(headers))
	for _, header := range headers {
		contact, ok := header.(*sipmsg.ContactHeader)
		if !ok {
			return nil, fmt.Errorf("contact %q could not be parsed: %w", header.Value(), ErrMalformedRegister)
		}
		contacts = append(contacts, contact)
	}
	return contacts, nil
}

func hasWildcard(contacts []*sipmsg.ContactHeader) bool {
	for _, contact := range contacts {
		if contact.Address.Wildcard {
			return true
		}
	}
	return false
}

func contactExpiresParam(contact *sipmsg.ContactHeader) (string, bool) {
	for _, param := range contact.Params {
		if strings.EqualFold(param.K, "expires") {
			return param.V, true
		}
	}
	return "", false
}

// contactKey identifies a contact URI for matching refreshes and removals.
// It compares scheme, user, host, port and transport, a subset of the URI
// equality rules in RFC 3261 section 19.1.4. Other URI parameters are ignored.
func contactKey(uri sipmsg.Uri) string {
	scheme := strings.ToLower(uri.Scheme)
	if scheme == "" {
		scheme = "sip"
	}

	var transport string
	for _, param := range uri.UriParams {
		if strings.EqualFold(param.K, "transport") {
			transport = strings.ToLower(param.V)
		}
	}

	return fmt.Sprintf("%s:%s@%s:%d;transport=%s", scheme, uri.User, strings.ToLower(uri.Host), uri.Port, transport)
}
