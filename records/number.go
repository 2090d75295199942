package records

import (
	"strings"
)

const (
	// koreaCountryCode follows "+" in an international Korean number.
	koreaCountryCode = "82"
	// nationalTrunkPrefix starts every Korean number in national format.
	nationalTrunkPrefix = "0"
	// mobilePrefix starts Korean mobile numbers (010, 011, 016 to 019).
	mobilePrefix = "01"
	// mobileLength is the digit count of a Korean mobile number such as
	// 01012345678.
	mobileLength = 11

	// maskedShortLength is the digit count below which MaskNumber keeps only
	// the last shortKeepDigits digits.
	maskedShortLength = 8
	shortKeepDigits   = 2
	keepHeadDigits    = 3
	keepTailDigits    = 4
	maskFill          = "****"
	// maskedWithheld is what MaskNumber returns for a missing number.
	maskedWithheld = "withheld"
)

// uriSchemes are the URI prefixes NormalizeNumber strips, in lower case.
var uriSchemes = []string{"sip:", "sips:", "tel:"}

// NormalizeNumber reduces a caller number to its digits in Korean national
// format, so that the forms of one number hash alike. It accepts a bare
// number or a tel: or sip: URI, and keeps only the user part of the URI
// (before "@" and ";"). Visual separators and other non-digits are dropped.
// A leading "+82" becomes the trunk prefix "0", so "+82 10-1234-5678"
// and "01012345678" give the same result. Other international numbers lose
// their "+". The result is "" when no digit remains, as for "anonymous".
func NormalizeNumber(raw string) string {
	user := uriUserPart(raw)
	international := strings.HasPrefix(strings.TrimLeft(user, " \t"), "+")
	digits := digitsOf(user)
	if !international || !strings.HasPrefix(digits, koreaCountryCode) {
		return digits
	}

	national := strings.TrimPrefix(digits, koreaCountryCode)
	if national == "" {
		return ""
	}
	// "+82 (0)10 ..." writes the trunk prefix already, and no national
	// number starts with "00", so the prefix is added only when missing.
	if strings.HasPrefix(national, nationalTrunkPrefix) {
		return national
	}
	return nationalTrunkPrefix + national
}

// uriUserPart strips angle brackets and a sip:, sips: or tel: scheme, then
// cuts the host and the parameters.
func uriUserPart(raw string) string {
	user := strings.TrimSpace(raw)
	user = strings.TrimPrefix(user, "<")
	user = strings.TrimSuffix(user, ">")

	lower := strings.ToLower(user)
	for _, scheme := range uriSchemes {
		if strings.HasPrefix(lower, scheme) {
			user = user[len(scheme):]
			break
		}
	}

	user, _, _ = strings.Cut(user, "@")
	user, _, _ = strings.Cut(user, ";")
	return user
}

// digitsOf returns the ASCII digits of s in order.
func digitsOf(s string) string {
	var digits strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			digits.WriteByte(s[i])
		}
	}
	return digits.String()
}

// MaskNumber hides most digits of a caller number for logs and exports. It
// normalises the number first. A Korean mobile number 01012345678 becomes
// "010-****-5678". Other numbers of 8 or more digits keep their first 3 and
// last 4 digits around "****". Shorter numbers become "****" and their last 2
// digits. A number without digits becomes "withheld". The output never
// contains more than 7 digits.
func MaskNumber(number string) string {
	digits := NormalizeNumber(number)
	switch {
	case digits == "":
		return maskedWithheld
	case len(digits) == mobileLength && strings.HasPrefix(digits, mobilePrefix):
		return digits[:keepHeadDigits] + "-" + maskFill + "-" + digits[len(digits)-keepTailDigits:]
	case len(digits) < maskedShortLength:
		return maskFill + digits[max(0, len(digits)-shortKeepDigits):]
	default:
		return digits[:keepHeadDigits] + maskFill + digits[len(digits)-keepTailDigits:]
	}
}
