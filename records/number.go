package records

import (
	"strings"
)

const (
	// koreaCountryCode follows "+" in an international Korean number.
	koreaCountryCode = "82"
	// nationalTrunkPrefix starts every Korean number in national format.
	nationalTrunkPrefix = "0"
	// seoulAreaCode is the only two-digit Korean area code.
	seoulAreaCode = "02"

	// maskedShortLength is the digit count below which MaskNumber keeps only
	// the last shortKeepDigits digits.
	maskedShortLength = 8
	shortKeepDigits   = 2
	keepHeadDigits    = 3
	keepTailDigits    = 4
	maskFill          = "****"
	// maskDigit replaces each hidden digit of a grouped number.
	maskDigit = "*"
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
// normalises the number first. A Korean number that FormatNumber groups
// keeps its first group and its last 4 digits, and shows a star for each
// hidden digit: 01012345678 becomes "010-****-5678", 0212345678
// "02-****-5678" and 0311235678 "031-***-5678". A number of two groups,
// such as 15881234, becomes "****-1234". Other numbers of 8 or more
// digits keep their first 3 and last 4 digits around "****". Shorter
// numbers become "****" and their last 2 digits. A number without digits
// becomes "withheld". The output never contains more than 7 digits.
func MaskNumber(number string) string {
	digits := NormalizeNumber(number)
	if digits == "" {
		return maskedWithheld
	}
	if groups := koreanGroups(digits); groups != nil {
		return maskGroups(groups)
	}
	if len(digits) < maskedShortLength {
		return maskFill + digits[max(0, len(digits)-shortKeepDigits):]
	}
	return digits[:keepHeadDigits] + maskFill + digits[len(digits)-keepTailDigits:]
}

// maskGroups joins groups with dashes and stars every digit but those of
// the last group and of a first group of at most 3 digits. So a two-group
// number and a 050X number keep only their last 4 digits, and no more
// than 7 digits show.
func maskGroups(groups []string) string {
	masked := make([]string, len(groups))
	for i, group := range groups {
		keepHead := i == 0 && len(groups) > 2 && len(group) <= keepHeadDigits
		keep := i == len(groups)-1 || keepHead
		if keep {
			masked[i] = group
		} else {
			masked[i] = strings.Repeat(maskDigit, len(group))
		}
	}
	return strings.Join(masked, "-")
}

// FormatNumber writes a caller number in its usual dashed groups after
// normalising it. A mobile number becomes 010-1234-5678, a Seoul number
// 02-123-4567 or 02-1234-5678, and another area code or 070 number
// 031-123-4567 or 031-1234-5678. A 050X number becomes 0505-123-4567, and
// an 8-digit service number 1588-1234.
// Other numbers keep their digits, with a dash before the last 4 digits
// when they have more than 4, so that a spreadsheet keeps a leading zero.
// A number without digits returns "".
func FormatNumber(number string) string {
	digits := NormalizeNumber(number)
	if groups := koreanGroups(digits); groups != nil {
		return strings.Join(groups, "-")
	}
	if len(digits) <= keepTailDigits {
		return digits
	}
	return digits[:len(digits)-keepTailDigits] + "-" + digits[len(digits)-keepTailDigits:]
}

// Lengths of the Korean national numbers koreanGroups splits.
const (
	// serviceNumberLength is the length of a nationwide service number
	// such as 1588-1234.
	serviceNumberLength = 8
	// seoulShortLength and seoulLongLength are 02-123-4567 and
	// 02-1234-5678.
	seoulShortLength = 9
	seoulLongLength  = 10
	// areaShortLength and areaLongLength are 031-123-4567 and
	// 010-1234-5678.
	areaShortLength = 10
	areaLongLength  = 11
	areaCodeLength  = 3
	// personalNumberPrefix starts the 050X numbers, such as
	// 0505-123-4567, whose prefix has 4 digits; personalLongLength is
	// 0505-1234-5678.
	personalNumberPrefix = "050"
	personalLongLength   = 12
)

// koreanGroups splits a normalised Korean number into its dashed groups,
// or returns nil for a number of another form.
func koreanGroups(digits string) []string {
	n := len(digits)
	switch {
	case strings.HasPrefix(digits, seoulAreaCode) && (n == seoulShortLength || n == seoulLongLength):
		return threeGroups(digits, len(seoulAreaCode))
	case strings.HasPrefix(digits, seoulAreaCode):
		return nil
	case strings.HasPrefix(digits, personalNumberPrefix) && (n == areaLongLength || n == personalLongLength):
		return threeGroups(digits, len(personalNumberPrefix)+1)
	case strings.HasPrefix(digits, nationalTrunkPrefix) && !strings.HasPrefix(digits, "00") &&
		(n == areaShortLength || n == areaLongLength):
		return threeGroups(digits, areaCodeLength)
	case n == serviceNumberLength && digits[0] == '1':
		return []string{digits[:keepTailDigits], digits[keepTailDigits:]}
	default:
		return nil
	}
}

// threeGroups splits digits into the first head digits, the middle and
// the last 4 digits.
func threeGroups(digits string, head int) []string {
	tail := len(digits) - keepTailDigits
	return []string{digits[:head], digits[head:tail], digits[tail:]}
}
