package sip

import (
	"strings"

	sipmsg "github.com/emiago/sipgo/sip"
)

// CallerIdentity is the caller as the trunk identifies them.
type CallerIdentity struct {
	// Number is the caller's number as the trunk sent it; empty when withheld.
	Number string
	// Withheld is true when the caller asked for privacy or the number is
	// anonymous or missing.
	Withheld bool
}

// anonymousUsers are user parts that mean "no number" in From or PAI.
var anonymousUsers = map[string]bool{
	"anonymous":   true,
	"restricted":  true,
	"unknown":     true,
	"unavailable": true,
	"private":     true,
}

// callerIdentity reads the caller's number from a trusted trunk's INVITE:
// P-Asserted-Identity when present (RFC 3325), else From. A Privacy header
// with "id" or "user" (RFC 3323, RFC 3325), an anonymous user part, or a
// user part without digits marks the caller withheld, and then no number is
// kept at all.
func callerIdentity(req *sipmsg.Request) CallerIdentity {
	if privacyRequested(req) {
		return CallerIdentity{Withheld: true}
	}

	number := assertedNumber(req)
	if number == "" {
		if from := req.From(); from != nil {
			number = from.Address.User
		}
	}
	if number == "" || anonymousUsers[strings.ToLower(number)] || !strings.ContainsAny(number, "0123456789") {
		return CallerIdentity{Withheld: true}
	}
	return CallerIdentity{Number: number}
}

// assertedNumber returns the user part of the first sip: or tel: URI in
// P-Asserted-Identity, or "" when there is none.
func assertedNumber(req *sipmsg.Request) string {
	for _, h := range req.GetHeaders("P-Asserted-Identity") {
		for _, value := range strings.Split(h.Value(), ",") {
			if number := uriUser(value); number != "" {
				return number
			}
		}
	}
	return ""
}

// uriUser extracts the user part from a name-addr or addr-spec such as
// `"Name" <sip:01012345678@host>` or `<tel:+821012345678>`.
func uriUser(value string) string {
	value = strings.TrimSpace(value)
	if start := strings.IndexByte(value, '<'); start >= 0 {
		end := strings.IndexByte(value[start:], '>')
		if end < 0 {
			return ""
		}
		value = value[start+1 : start+end]
	}

	lower := strings.ToLower(value)
	switch {
	case strings.HasPrefix(lower, "tel:"):
		value = value[len("tel:"):]
		if semi := strings.IndexByte(value, ';'); semi >= 0 {
			value = value[:semi]
		}
		return value
	case strings.HasPrefix(lower, "sip:"), strings.HasPrefix(lower, "sips:"):
		value = value[strings.IndexByte(value, ':')+1:]
		at := strings.IndexByte(value, '@')
		if at < 0 {
			return ""
		}
		user := value[:at]
		if semi := strings.IndexByte(user, ';'); semi >= 0 {
			user = user[:semi]
		}
		return user
	}
	return ""
}

// privacyRequested reports whether the Privacy header asks to hide the
// caller's identity.
func privacyRequested(req *sipmsg.Request) bool {
	for _, h := range req.GetHeaders("Privacy") {
		for _, token := range strings.FieldsFunc(h.Value(), func(r rune) bool { return r == ';' || r == ',' || r == ' ' }) {
			switch strings.ToLower(token) {
			case "id", "user":
				return true
			}
		}
	}
	return false
}
