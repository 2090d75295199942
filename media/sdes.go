package media

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// SuiteAES128SHA1_80 is the one SRTP crypto suite this server supports
// (RFC 4568 section 6.2.1): AES in counter mode with a 128-bit key and an
// 80-bit HMAC-SHA1 authentication tag.
const SuiteAES128SHA1_80 = "AES_CM_128_HMAC_SHA1_80"

// Sizes of SDES keying material for SuiteAES128SHA1_80.
const (
	// srtpMasterKeySize and srtpMasterSaltSize are the master key and
	// master salt lengths in bytes (RFC 3711 section 8.2).
	srtpMasterKeySize  = 16
	srtpMasterSaltSize = 14
	// sdesKeySaltSize is the decoded length of an inline key: key || salt.
	sdesKeySaltSize = srtpMasterKeySize + srtpMasterSaltSize
	// maxCryptoTag is the largest a=crypto tag: at most 9 digits
	// (RFC 4568 section 9.1).
	maxCryptoTag = 999999999
)

// attributeCrypto is the SDES attribute name.
const attributeCrypto = "crypto"

// Sentinel errors of SDES.
var (
	// ErrInvalidCrypto marks an a=crypto line that does not follow RFC
	// 4568 or uses a feature this server does not support for its suite,
	// such as an MKI.
	ErrInvalidCrypto = errors.New("invalid a=crypto attribute")

	// ErrNoCommonCrypto means an RTP/SAVP stream offered no a=crypto line
	// this server can use. The SIP layer responds 488 Not Acceptable Here.
	ErrNoCommonCrypto = errors.New("no supported SRTP crypto suite")

	// ErrSRTPRequired means plain RTP was offered where SRTP is required.
	// The SIP layer responds 488 Not Acceptable Here.
	ErrSRTPRequired = errors.New("SRTP required")
)

// CryptoAttribute is one a=crypto line (RFC 4568 section 9.1) of the
// supported suite: a tag and the master key and salt.
type CryptoAttribute struct {
	// Tag identifies the line within its m= line. The answer repeats the
	// tag of the offer line it accepts.
	Tag int
	// Suite is the crypto suite name.
	Suite string
	// keySalt is the master key followed by the master salt. It is never
	// printed: String and GoString hide it.
	keySalt [sdesKeySaltSize]byte
}

// NewCryptoAttribute returns a line of the supported suite with tag and a
// fresh random master key and salt.
func NewCryptoAttribute(tag int) (CryptoAttribute, error) {
	c := CryptoAttribute{Tag: tag, Suite: SuiteAES128SHA1_80}
	if _, err := rand.Read(c.keySalt[:]); err != nil {
		return CryptoAttribute{}, fmt.Errorf("generating SRTP master key: %w", err)
	}
	return c, nil
}

// ParseCryptoAttribute parses the value of an a=crypto line, as in
// "1 AES_CM_128_HMAC_SHA1_80 inline:<base64 key||salt>|2^31". Only the
// supported suite is accepted, with exactly one key parameter whose inline
// key decodes to 30 bytes. The optional lifetime is accepted, because
// calls never reach it. An MKI, several keys or session parameters are
// rejected, because this server implements none of them. Errors wrap
// ErrInvalidCrypto and never contain the key.
func ParseCryptoAttribute(value string) (CryptoAttribute, error) {
	fields := strings.Fields(value)
	if len(fields) < 3 {
		return CryptoAttribute{}, fmt.Errorf("%w: expected <tag> <suite> inline:<key>, got %d fields", ErrInvalidCrypto, len(fields))
	}

	tag, err := strconv.Atoi(fields[0])
	if err != nil || tag < 0 || tag > maxCryptoTag || len(fields[0]) > 9 {
		return CryptoAttribute{}, fmt.Errorf("%w: tag %q is not a number of up to 9 digits", ErrInvalidCrypto, fields[0])
	}
	if fields[1] != SuiteAES128SHA1_80 {
		return CryptoAttribute{}, fmt.Errorf("%w: suite %q is not supported: use %s", ErrInvalidCrypto, fields[1], SuiteAES128SHA1_80)
	}
	if len(fields) > 3 {
		return CryptoAttribute{}, fmt.Errorf("%w: session parameters (%d) are not supported", ErrInvalidCrypto, len(fields)-3)
	}

	c := CryptoAttribute{Tag: tag, Suite: fields[1]}
	if err := c.parseKeyParams(fields[2]); err != nil {
		return CryptoAttribute{}, err
	}
	return c, nil
}

// parseKeyParams reads "inline:<key||salt>[|lifetime]" into c.
func (c *CryptoAttribute) parseKeyParams(params string) error {
	if strings.Contains(params, ";") {
		return fmt.Errorf("%w: several key parameters are not supported", ErrInvalidCrypto)
	}
	method, info, found := strings.Cut(params, ":")
	if !found || method != "inline" {
		return fmt.Errorf("%w: key method must be inline", ErrInvalidCrypto)
	}

	parts := strings.Split(info, "|")
	if len(parts) > 2 {
		return fmt.Errorf("%w: an MKI is not supported", ErrInvalidCrypto)
	}
	if len(parts) == 2 && strings.Contains(parts[1], ":") {
		return fmt.Errorf("%w: an MKI is not supported", ErrInvalidCrypto)
	}
	if len(parts) == 2 && !validLifetime(parts[1]) {
		return fmt.Errorf("%w: key lifetime %q is not a number or a power of 2 such as 2^31", ErrInvalidCrypto, parts[1])
	}

	keySalt, err := base64.StdEncoding.DecodeString(parts[0])
	if err != nil {
		keySalt, err = base64.RawStdEncoding.DecodeString(parts[0])
	}
	if err != nil {
		return fmt.Errorf("%w: inline key is not base64", ErrInvalidCrypto)
	}
	if len(keySalt) != sdesKeySaltSize {
		return fmt.Errorf("%w: inline key is %d bytes, expected %d (16-byte key and 14-byte salt)", ErrInvalidCrypto, len(keySalt), sdesKeySaltSize)
	}
	copy(c.keySalt[:], keySalt)
	return nil
}

// validLifetime reports whether text is a key lifetime: a decimal number
// or 2^n.
func validLifetime(text string) bool {
	digits := strings.TrimPrefix(text, "2^")
	n, err := strconv.ParseUint(digits, 10, 64)
	return err == nil && n > 0 && (digits == text || n <= 64)
}

// Value returns the a=crypto attribute value, key included. Write it only
// into SDP, never into a log.
func (c CryptoAttribute) Value() string {
	return strconv.Itoa(c.Tag) + " " + c.Suite + " inline:" + base64.StdEncoding.EncodeToString(c.keySalt[:])
}

// String describes the line without its key, so that logging it is safe.
func (c CryptoAttribute) String() string {
	return strconv.Itoa(c.Tag) + " " + c.Suite
}

// GoString hides the key from %#v as String does.
func (c CryptoAttribute) GoString() string {
	return "media.CryptoAttribute{" + c.String() + "}"
}

// masterKey and masterSalt split the keying material for pion/srtp.
func (c CryptoAttribute) masterKey() []byte  { return c.keySalt[:srtpMasterKeySize] }
func (c CryptoAttribute) masterSalt() []byte { return c.keySalt[srtpMasterKeySize:] }

// sameKey reports whether c and other carry the same keying material.
func (c CryptoAttribute) sameKey(other CryptoAttribute) bool {
	return c.Suite == other.Suite && c.keySalt == other.keySalt
}

// chooseCrypto returns the first of an offered stream's a=crypto values
// that this server supports, in the offer's order of preference. When none
// does, the error wraps ErrNoCommonCrypto and names the reason each line
// failed.
func chooseCrypto(values []string) (CryptoAttribute, error) {
	if len(values) == 0 {
		return CryptoAttribute{}, fmt.Errorf("%w: the RTP/SAVP stream has no a=crypto line (keys by DTLS-SRTP or MIKEY are not supported)", ErrNoCommonCrypto)
	}
	reasons := make([]string, 0, len(values))
	for _, value := range values {
		c, err := ParseCryptoAttribute(value)
		if err == nil {
			return c, nil
		}
		reasons = append(reasons, strings.TrimPrefix(err.Error(), ErrInvalidCrypto.Error()+": "))
	}
	return CryptoAttribute{}, fmt.Errorf("%w: %s; this server supports %s with one inline key",
		ErrNoCommonCrypto, strings.Join(reasons, "; "), SuiteAES128SHA1_80)
}
