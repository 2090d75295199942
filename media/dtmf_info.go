package media

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Sentinel errors of SIP INFO DTMF parsing.
var (
	// ErrUnsupportedContentType means an INFO body is not a DTMF type this
	// server reads. The SIP layer responds 415 Unsupported Media Type with
	// InfoDigitContentTypes in Accept.
	ErrUnsupportedContentType = errors.New("unsupported content type for DTMF")

	// ErrInvalidDigit means a DTMF INFO body names no valid key. The SIP
	// layer responds 400 Bad Request.
	ErrInvalidDigit = errors.New("invalid DTMF digit")
)

// Content types of DTMF in SIP INFO bodies.
const (
	// ContentTypeDTMFRelay is the widespread vendor format with lines
	// "Signal=1" and "Duration=160".
	ContentTypeDTMFRelay = "application/dtmf-relay"
	// ContentTypeDTMF is the format whose body is the key itself.
	ContentTypeDTMF = "application/dtmf"
)

// InfoDigitContentTypes is the Accept header value for a 415 response to
// an INFO whose body ParseInfoDigit rejects.
const InfoDigitContentTypes = ContentTypeDTMFRelay + ", " + ContentTypeDTMF

// maxInfoBodySize bounds the DTMF INFO body we read. A dtmf-relay body
// such as "Signal=1\r\nDuration=160\r\n" has 24 bytes.
const maxInfoBodySize = 1024

// signalKey is the dtmf-relay line that names the key.
const signalKey = "signal"

// ParseInfoDigit returns the key a SIP INFO request carries. Media type
// names are compared without case and parameters such as charset are
// ignored.
//
// For application/dtmf-relay the key is the value of the Signal line,
// whose key name is matched without case, with white space allowed
// around '='. For application/dtmf the trimmed body is the key. Either
// value is one of 0-9 * # A-D (a-d accepted) or an RFC 4733 event code
// from 0 to 15, so "10" is '*' and "11" is '#'.
//
// Errors: ErrUnsupportedContentType for any other content type,
// ErrInvalidDigit for a body without a valid key.
func ParseInfoDigit(contentType string, body []byte) (Digit, error) {
	mediaType, _, _ := strings.Cut(contentType, ";")
	mediaType = strings.ToLower(strings.TrimSpace(mediaType))
	if mediaType != ContentTypeDTMFRelay && mediaType != ContentTypeDTMF {
		return 0, fmt.Errorf("parse DTMF INFO body: %w: %q; send %s", ErrUnsupportedContentType, mediaType, InfoDigitContentTypes)
	}
	if len(body) > maxInfoBodySize {
		return 0, fmt.Errorf("parse DTMF INFO body: %w: body of %d bytes exceeds %d bytes", ErrInvalidDigit, len(body), maxInfoBodySize)
	}

	value := strings.TrimSpace(string(body))
	if mediaType == ContentTypeDTMFRelay {
		signal, found := findSignal(string(body))
		if !found {
			return 0, fmt.Errorf("parse DTMF INFO body: %w: no Signal line in %s body", ErrInvalidDigit, ContentTypeDTMFRelay)
		}
		value = signal
	}

	digit, ok := parseDigitValue(value)
	if !ok {
		return 0, fmt.Errorf("parse DTMF INFO body: %w: %s is not one of 0-9 * # A-D or an event code 0-15", ErrInvalidDigit, abbreviate(value))
	}
	return digit, nil
}

// maxQuotedValue is how many bytes of an invalid value an error shows.
// A peer may put a phone number in the body, and errors end up in logs.
const maxQuotedValue = 4

// abbreviate quotes the start of value and gives its length when longer
// than maxQuotedValue.
func abbreviate(value string) string {
	if len(value) <= maxQuotedValue {
		return strconv.Quote(value)
	}
	return fmt.Sprintf("%q... (%d bytes)", value[:maxQuotedValue], len(value))
}

// findSignal returns the trimmed value of the first Signal line of a
// dtmf-relay body. Lines may end in CRLF or LF.
func findSignal(body string) (string, bool) {
	for line := range strings.SplitSeq(body, "\n") {
		key, value, found := strings.Cut(line, "=")
		if !found {
			continue
		}
		if strings.EqualFold(strings.TrimSpace(key), signalKey) {
			return strings.TrimSpace(value), true
		}
	}
	return "", false
}

// parseDigitValue returns the key a single character or an event code
// names.
func parseDigitValue(value string) (Digit, bool) {
	if len(value) == 1 {
		return keyDigit(value[0])
	}

	code, err := strconv.ParseUint(value, 10, 8)
	if err != nil {
		return 0, false
	}
	return eventDigit(uint8(code))
}

// keyDigit returns the Digit for a key character: 0-9, *, #, A-D or a-d.
func keyDigit(key byte) (Digit, bool) {
	switch {
	case key >= '0' && key <= '9', key == '*', key == '#':
		return Digit(key), true
	case key >= 'A' && key <= 'D':
		return Digit(key), true
	case key >= 'a' && key <= 'd':
		return Digit(key - 'a' + 'A'), true
	default:
		return 0, false
	}
}
