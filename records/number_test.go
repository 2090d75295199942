package records

import (
	"strings"
	"testing"
)

func TestNormalizeNumber(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want string
	}{
		{"national mobile", "01012345678", "01012345678"},
		{"national with dashes", "010-1234-5678", "01012345678"},
		{"international with spaces", "+82 10-1234-5678", "01012345678"},
		{"international compact", "+821012345678", "01012345678"},
		{"international with trunk prefix", "+82 (0)10 1234 5678", "01012345678"},
		{"international with trunk zero", "+82 010-1234-5678", "01012345678"},
		{"seoul landline", "(02) 123.4567", "021234567"},
		{"international landline", "+82-2-123-4567", "021234567"},
		{"tel uri", "tel:+82-10-1234-5678", "01012345678"},
		{"tel uri with parameter", "tel:1588-1234;phone-context=+82", "15881234"},
		{"sip uri", "sip:+821012345678@trunk.example;user=phone", "01012345678"},
		{"sips uri in brackets", "<sips:010.1234.5678@192.0.2.7:5061>", "01012345678"},
		{"upper-case scheme", "SIP:01012345678@192.0.2.7", "01012345678"},
		{"host digits ignored", "sip:anonymous@192.0.2.7", ""},
		{"other country keeps digits", "+1 (202) 555-0100", "12025550100"},
		{"82 without plus is not a country code", "821012345678", "821012345678"},
		{"short service number", "120", "120"},
		{"country code only", "+82", ""},
		{"anonymous", "anonymous", ""},
		{"empty", "", ""},
		{"full-width digits dropped", "０１０", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NormalizeNumber(tt.raw); got != tt.want {
				t.Errorf("NormalizeNumber(%q) = %q, want %q", tt.raw, got, tt.want)
			}
		})
	}
}

func TestMaskNumber(t *testing.T) {
	tests := []struct {
		name   string
		number string
		want   string
	}{
		{"korean mobile", "01012345678", "010-****-5678"},
		{"korean mobile international", "+82 10-1234-5678", "010-****-5678"},
		{"older mobile prefix", "01698765432", "016-****-5432"},
		{"older mobile ten digits", "0111235678", "011-***-5678"},
		{"seoul landline", "0212345678", "02-****-5678"},
		{"seoul short landline", "021234567", "02-***-4567"},
		{"seoul international", "+82-2-1234-5678", "02-****-5678"},
		{"gyeonggi landline", "0311235678", "031-***-5678"},
		{"gyeonggi long landline", "03112345678", "031-****-5678"},
		{"internet phone", "07012345678", "070-****-5678"},
		{"personal number", "05051234567", "****-***-4567"},
		{"service number", "15881234", "****-1234"},
		{"seoul wrong length", "02123456789", "021****6789"},
		{"foreign number", "+1 202 555 0100", "120****0100"},
		{"seven digits", "1234567", "****67"},
		{"short number", "120", "****20"},
		{"one digit", "7", "****7"},
		{"withheld", "", "withheld"},
		{"no digits", "anonymous", "withheld"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MaskNumber(tt.number); got != tt.want {
				t.Errorf("MaskNumber(%q) = %q, want %q", tt.number, got, tt.want)
			}
		})
	}
}

func TestFormatNumber(t *testing.T) {
	tests := []struct {
		name   string
		number string
		want   string
	}{
		{"korean mobile", "01012345678", "010-1234-5678"},
		{"korean mobile international", "+82 10-1234-5678", "010-1234-5678"},
		{"older mobile ten digits", "0111235678", "011-123-5678"},
		{"seoul landline", "0212345678", "02-1234-5678"},
		{"seoul short landline", "021234567", "02-123-4567"},
		{"gyeonggi landline", "0311235678", "031-123-5678"},
		{"gyeonggi long landline", "03112345678", "031-1234-5678"},
		{"internet phone", "07012345678", "070-1234-5678"},
		{"personal number", "05051234567", "0505-123-4567"},
		{"service number", "15881234", "1588-1234"},
		{"foreign number", "+1 202 555 0100", "1202555-0100"},
		{"leading zero kept", "0123456", "012-3456"},
		{"short number", "120", "120"},
		{"withheld", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FormatNumber(tt.number); got != tt.want {
				t.Errorf("FormatNumber(%q) = %q, want %q", tt.number, got, tt.want)
			}
		})
	}
}

// maxMaskedDigits is the most digits of a number a masked form may show.
const maxMaskedDigits = 7

// FuzzNormalizeNumber checks that the result holds only digits, that
// normalising twice changes nothing, and that at most one digit (the trunk
// prefix "0") is added.
func FuzzNormalizeNumber(f *testing.F) {
	for _, seed := range []string{"+82 10-1234-5678", "sip:+821012345678@host;user=phone", "tel:02-123-4567", "anonymous", ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		normalized := NormalizeNumber(raw)
		if digitsOf(normalized) != normalized {
			t.Fatalf("NormalizeNumber(%q) = %q, want digits only", raw, normalized)
		}
		if again := NormalizeNumber(normalized); again != normalized {
			t.Fatalf("NormalizeNumber is not idempotent: %q, then %q", normalized, again)
		}
		if len(normalized) > len(digitsOf(raw))+1 {
			t.Fatalf("NormalizeNumber(%q) = %q, more than one digit added", raw, normalized)
		}
	})
}

// FuzzMaskNumber checks that the masked form never shows more than 7
// digits and that those digits appear, in order, in the normalised number.
func FuzzMaskNumber(f *testing.F) {
	for _, seed := range []string{"01012345678", "+82 10-1234-5678", "123456789012345678901234567890", "120", "withheld", "05051234567", "0212345678"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, number string) {
		masked := MaskNumber(number)
		visibleDigits := digitsOf(masked)
		if len(visibleDigits) > maxMaskedDigits {
			t.Fatalf("MaskNumber(%q) = %q shows %d digits, want at most %d", number, masked, len(visibleDigits), maxMaskedDigits)
		}
		if !isSubsequence(visibleDigits, NormalizeNumber(number)) {
			t.Fatalf("MaskNumber(%q) = %q shows digits that are not in the number", number, masked)
		}
		if masked == "" {
			t.Fatalf("MaskNumber(%q) is empty", number)
		}
	})
}

// isSubsequence reports whether the bytes of part appear in whole in order.
func isSubsequence(part, whole string) bool {
	for i := 0; i < len(part); i++ {
		index := strings.IndexByte(whole, part[i])
		if index < 0 {
			return false
		}
		whole = whole[index+1:]
	}
	return true
}
