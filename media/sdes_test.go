package media

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// testKeySalt is 30 bytes of keying material in base64.
var testKeySalt = base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcd"))

func TestParseCryptoAttribute(t *testing.T) {
	tests := []struct {
		name    string
		value   string
		wantTag int
		wantErr string
	}{
		{name: "plain inline key", value: "1 AES_CM_128_HMAC_SHA1_80 inline:" + testKeySalt, wantTag: 1},
		{name: "lifetime as power of two", value: "7 AES_CM_128_HMAC_SHA1_80 inline:" + testKeySalt + "|2^31", wantTag: 7},
		{name: "lifetime as number", value: "2 AES_CM_128_HMAC_SHA1_80 inline:" + testKeySalt + "|1048576", wantTag: 2},
		{name: "unpadded base64", value: "3 AES_CM_128_HMAC_SHA1_80 inline:" + strings.TrimRight(testKeySalt, "="), wantTag: 3},
		{name: "too few fields", value: "1 AES_CM_128_HMAC_SHA1_80", wantErr: "expected <tag> <suite> inline:<key>"},
		{name: "tag not a number", value: "x AES_CM_128_HMAC_SHA1_80 inline:" + testKeySalt, wantErr: "tag \"x\""},
		{name: "tag too long", value: "1234567890 AES_CM_128_HMAC_SHA1_80 inline:" + testKeySalt, wantErr: "up to 9 digits"},
		{name: "other suite", value: "1 AES_CM_128_HMAC_SHA1_32 inline:" + testKeySalt, wantErr: "suite \"AES_CM_128_HMAC_SHA1_32\" is not supported"},
		{name: "AES-256 suite", value: "1 AES_256_CM_HMAC_SHA1_80 inline:" + testKeySalt, wantErr: "is not supported"},
		{name: "session parameter", value: "1 AES_CM_128_HMAC_SHA1_80 inline:" + testKeySalt + " UNENCRYPTED_SRTP", wantErr: "session parameters"},
		{name: "not inline", value: "1 AES_CM_128_HMAC_SHA1_80 uri:http://192.0.2.1/key", wantErr: "key method must be inline"},
		{name: "two keys", value: "1 AES_CM_128_HMAC_SHA1_80 inline:" + testKeySalt + ";inline:" + testKeySalt, wantErr: "several key parameters"},
		{name: "MKI", value: "1 AES_CM_128_HMAC_SHA1_80 inline:" + testKeySalt + "|2^20|1:4", wantErr: "MKI"},
		{name: "MKI without lifetime", value: "1 AES_CM_128_HMAC_SHA1_80 inline:" + testKeySalt + "|1:4", wantErr: "MKI"},
		{name: "bad lifetime", value: "1 AES_CM_128_HMAC_SHA1_80 inline:" + testKeySalt + "|forever", wantErr: "key lifetime"},
		{name: "not base64", value: "1 AES_CM_128_HMAC_SHA1_80 inline:!!!!", wantErr: "not base64"},
		{name: "short key", value: "1 AES_CM_128_HMAC_SHA1_80 inline:" + base64.StdEncoding.EncodeToString(make([]byte, 29)), wantErr: "is 29 bytes, expected 30"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseCryptoAttribute(tc.value)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseCryptoAttribute: %v", err)
				}
				if got.Tag != tc.wantTag || got.Suite != SuiteAES128SHA1_80 {
					t.Errorf("got tag %d suite %s, expected tag %d suite %s", got.Tag, got.Suite, tc.wantTag, SuiteAES128SHA1_80)
				}
				return
			}
			if !errors.Is(err, ErrInvalidCrypto) {
				t.Fatalf("error = %v, expected ErrInvalidCrypto", err)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error = %q, expected it to contain %q", err, tc.wantErr)
			}
			if strings.Contains(err.Error(), testKeySalt) {
				t.Errorf("error %q contains the key", err)
			}
		})
	}
}

func TestCryptoAttributeRoundTrip(t *testing.T) {
	c, err := NewCryptoAttribute(5)
	if err != nil {
		t.Fatalf("NewCryptoAttribute: %v", err)
	}
	parsed, err := ParseCryptoAttribute(c.Value())
	if err != nil {
		t.Fatalf("ParseCryptoAttribute(%q): %v", c.String(), err)
	}
	if parsed.Tag != 5 || !parsed.sameKey(c) {
		t.Errorf("round trip lost the tag or key: tag %d", parsed.Tag)
	}
	other, err := NewCryptoAttribute(5)
	if err != nil {
		t.Fatalf("NewCryptoAttribute: %v", err)
	}
	if other.sameKey(c) {
		t.Error("two new attributes have the same key")
	}
}

func TestCryptoAttributeHidesKey(t *testing.T) {
	c, err := ParseCryptoAttribute("1 AES_CM_128_HMAC_SHA1_80 inline:" + testKeySalt)
	if err != nil {
		t.Fatalf("ParseCryptoAttribute: %v", err)
	}
	keys := SRTPKeys{Local: c, Remote: c}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, value := range []any{c, keys, &keys} {
			text := fmt.Sprintf(format, value)
			if strings.Contains(text, testKeySalt) || strings.Contains(text, "0123456789abcdef") {
				t.Errorf("%s of %T prints the key: %s", format, value, text)
			}
		}
	}
}

func TestChooseCryptoTakesFirstSupported(t *testing.T) {
	got, err := chooseCrypto([]string{
		"1 AES_256_CM_HMAC_SHA1_80 inline:" + base64.StdEncoding.EncodeToString(make([]byte, 46)),
		"2 AES_CM_128_HMAC_SHA1_32 inline:" + testKeySalt,
		"3 AES_CM_128_HMAC_SHA1_80 inline:" + testKeySalt,
	})
	if err != nil {
		t.Fatalf("chooseCrypto: %v", err)
	}
	if got.Tag != 3 {
		t.Errorf("chose tag %d, expected 3", got.Tag)
	}
}

func TestChooseCryptoReportsEveryLine(t *testing.T) {
	_, err := chooseCrypto([]string{
		"1 AES_256_CM_HMAC_SHA1_80 inline:" + base64.StdEncoding.EncodeToString(make([]byte, 46)),
		"2 AES_CM_128_HMAC_SHA1_32 inline:" + testKeySalt,
	})
	if !errors.Is(err, ErrNoCommonCrypto) {
		t.Fatalf("error = %v, expected ErrNoCommonCrypto", err)
	}
	for _, want := range []string{"AES_256_CM_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32", "this server supports AES_CM_128_HMAC_SHA1_80"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if _, err := chooseCrypto(nil); !errors.Is(err, ErrNoCommonCrypto) || !strings.Contains(err.Error(), "no a=crypto line") {
		t.Errorf("chooseCrypto(nil) = %v, expected ErrNoCommonCrypto naming the missing line", err)
	}
}
