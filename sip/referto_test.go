package sip

import (
	"errors"
	"strings"
	"testing"
)

func TestParseReferToAcceptsNumbers(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  string
	}{
		{"name-addr on this server", "<sip:119@127.0.0.1:5060>", "119"},
		{"display name", `"Fire" <sip:119@helpline.example>`, "119"},
		{"addr-spec", "sip:112@127.0.0.1", "112"},
		{"addr-spec with header parameter", "sip:112@127.0.0.1;method=INVITE", "112"},
		{"sips", "<sips:109@gw.example:5061;transport=tls>", "109"},
		{"user=phone", "<sip:+82119@gw.example;user=phone>", "+82119"},
		{"phone-context in the user part", "<sip:119;phone-context=+82@gw.example>", "119"},
		{"tel URI", "<tel:119>", "119"},
		{"tel URI with separators", "<tel:1-1.9;phone-context=+82>", "119"},
		{"bare tel", "tel:+82-2-120", "+822120"},
		{"upper-case scheme", "<SIP:119@host>", "119"},
		{"escaped plus", "<sip:%2B82119@host>", "+82119"},
		{"password ignored", "<sip:119:secret@host>", "119"},
		{"other URI headers", "<sip:119@host?Subject=help>", "119"},
		{"spaces around", "  <sip:119@host>  ", "119"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseReferTo(tt.value)
			if err != nil {
				t.Fatalf("parseReferTo(%q): %v", tt.value, err)
			}
			if got != tt.want {
				t.Errorf("parseReferTo(%q) = %q, want %q", tt.value, got, tt.want)
			}
		})
	}
}

func TestParseReferToRejects(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  error
	}{
		{"empty", "", ErrReferToInvalid},
		{"only spaces", "   ", ErrReferToInvalid},
		{"no scheme", "119", ErrReferToInvalid},
		{"unclosed bracket", "<sip:119@host", ErrReferToInvalid},
		{"http scheme", "<http://example.com/119>", ErrReferToInvalid},
		{"sip without user", "<sip:host.example>", ErrReferToInvalid},
		{"sip without host", "<sip:119@>", ErrReferToInvalid},
		{"sip with only a port", "<sip:119@:5060>", ErrReferToInvalid},
		{"letters in user", "<sip:fire@host>", ErrReferToInvalid},
		{"counselor name", "<sip:counselor1001x@host>", ErrReferToInvalid},
		{"plus in the middle", "<sip:11+9@host>", ErrReferToInvalid},
		{"star code", "<sip:*72@host>", ErrReferToInvalid},
		{"bad escape", "<sip:11%zz@host>", ErrReferToInvalid},
		{"empty tel", "<tel:>", ErrReferToInvalid},
		{"too long", "<tel:123456789012345678901234567890123>", ErrReferToInvalid},
		{"attended transfer", "<sip:119@host?Replaces=abc%40host%3Bto-tag%3D1%3Bfrom-tag%3D2>", ErrAttendedTransfer},
		{"attended transfer, lower case", "<sip:119@host?subject=x&replaces=abc>", ErrAttendedTransfer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseReferTo(tt.value)
			if !errors.Is(err, tt.want) {
				t.Errorf("parseReferTo(%q) = %q, %v; want error %v", tt.value, got, err, tt.want)
			}
		})
	}
}

func TestParseReferToErrorHidesNumber(t *testing.T) {
	_, err := parseReferTo("<sip:0101234567x@host>")
	if err == nil {
		t.Fatal("parseReferTo accepted a user part with a letter")
	}
	if msg := err.Error(); strings.Contains(msg, "0101234567") {
		t.Errorf("error %q quotes the number", msg)
	}
}

// FuzzParseReferTo checks that whatever the header holds, a parsed number
// is digits with an optional leading + that fits the length limit.
func FuzzParseReferTo(f *testing.F) {
	for _, seed := range []string{
		"<sip:119@127.0.0.1>", "tel:+82-2-120", `"A" <sips:1@h?Replaces=x>`,
		"<sip:%2B1@h>", "<", "sip:", "tel:;", "<sip:1;a=b:c@h;x>",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		number, err := parseReferTo(value)
		if err != nil {
			if number != "" {
				t.Errorf("parseReferTo(%q) returned %q with error %v", value, number, err)
			}
			return
		}
		if !targetNumberRegexp.MatchString(number) || len(number) > maxReferDigits {
			t.Errorf("parseReferTo(%q) = %q, not a phone number", value, number)
		}
	})
}
