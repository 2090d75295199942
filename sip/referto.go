package sip

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// Errors for a Refer-To header (RFC 3515 2.1) this server cannot act on.
var (
	// ErrReferToMissing: the REFER has no Refer-To header, or more than one.
	ErrReferToMissing = errors.New("REFER needs exactly one Refer-To header")
	// ErrReferToInvalid: the Refer-To value is not a sip:, sips: or tel:
	// URI whose user part is a phone number.
	ErrReferToInvalid = errors.New("invalid Refer-To: use <sip:NUMBER@host> or <tel:NUMBER>")
	// ErrAttendedTransfer: the Refer-To URI carries a Replaces header
	// (RFC 3891), which asks for an attended transfer.
	ErrAttendedTransfer = errors.New("attended transfer (Refer-To with Replaces) is not supported: transfer blind")
)

// maxReferDigits bounds a transfer number; E.164 allows 15 digits, the
// rest is room for prefixes.
const maxReferDigits = 32

// targetNumberRegexp is the form of a transfer number once visual
// separators are removed: digits with an optional leading +, as
// trunk.allowed_targets lists them.
var targetNumberRegexp = regexp.MustCompile(`^\+?[0-9]+$`)

// parseReferTo returns the phone number a Refer-To header value names. Its
// errors never quote the number, so they may be logged. It
// takes a name-addr (`"Name" <sip:119@host;user=phone>`) or an addr-spec
// without brackets (`sip:119@host`), with sip:, sips: or tel: URIs. Visual
// separators (-, ., parentheses) of tel numbers (RFC 3966 5.1.1) are
// removed, so "tel:1-1-9" names 119.
func parseReferTo(value string) (string, error) {
	uri, err := referToURI(strings.TrimSpace(value))
	if err != nil {
		return "", err
	}

	scheme, rest, ok := strings.Cut(uri, ":")
	if !ok {
		return "", fmt.Errorf("%w: the URI has no scheme", ErrReferToInvalid)
	}

	var user string
	switch strings.ToLower(strings.TrimSpace(scheme)) {
	case "sip", "sips":
		user, err = sipUserPart(rest)
	case "tel":
		user, _, _ = strings.Cut(rest, ";")
	default:
		return "", fmt.Errorf("%w: scheme %q is not sip, sips or tel", ErrReferToInvalid, scheme)
	}
	if err != nil {
		return "", err
	}
	return targetNumber(user)
}

// referToURI returns the URI inside the angle brackets of a name-addr, or
// the addr-spec before any header parameter.
func referToURI(value string) (string, error) {
	if value == "" {
		return "", fmt.Errorf("%w: the header is empty", ErrReferToInvalid)
	}
	open := strings.IndexByte(value, '<')
	if open < 0 {
		// Without brackets, a ';' starts header parameters (RFC 3261 20).
		uri, _, _ := strings.Cut(value, ";")
		return strings.TrimSpace(uri), nil
	}
	length := strings.IndexByte(value[open:], '>')
	if length < 0 {
		return "", fmt.Errorf("%w: '<' without '>'", ErrReferToInvalid)
	}
	return strings.TrimSpace(value[open+1 : open+length]), nil
}

// sipUserPart returns the number in the user part of a sip: URI after
// its scheme. Embedded headers are allowed except Replaces.
func sipUserPart(rest string) (string, error) {
	rest, headers, _ := strings.Cut(rest, "?")
	if headers != "" && hasReplaces(headers) {
		return "", ErrAttendedTransfer
	}
	userinfo, host, ok := strings.Cut(rest, "@")
	if !ok || strings.TrimSpace(host) == "" || strings.HasPrefix(host, ":") || strings.HasPrefix(host, ";") {
		return "", fmt.Errorf("%w: the sip URI has no user@host", ErrReferToInvalid)
	}
	user, _, _ := strings.Cut(userinfo, ":")
	// A telephone-subscriber user part may carry parameters such as
	// ;phone-context= (RFC 3261 19.1.1).
	user, _, _ = strings.Cut(user, ";")
	unescaped, err := url.PathUnescape(user)
	if err != nil {
		return "", fmt.Errorf("%w: bad escape in the user part: %w", ErrReferToInvalid, err)
	}
	return unescaped, nil
}

// hasReplaces reports whether URI headers (after '?') name Replaces.
func hasReplaces(headers string) bool {
	for _, header := range strings.Split(headers, "&") {
		name, _, _ := strings.Cut(header, "=")
		if strings.EqualFold(strings.TrimSpace(name), "Replaces") {
			return true
		}
	}
	return false
}

// targetNumber removes visual separators and checks that what is left is
// a phone number.
func targetNumber(user string) (string, error) {
	number := strings.Map(func(r rune) rune {
		switch r {
		case '-', '.', '(', ')', ' ':
			return -1
		}
		return r
	}, user)
	if !targetNumberRegexp.MatchString(number) || len(number) > maxReferDigits {
		return "", fmt.Errorf("%w: the user part is not a phone number", ErrReferToInvalid)
	}
	return number, nil
}
