package sip

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// fraudServer is a server that is never started, with the example's
// allowed targets and a gateway. Only its options are used.
func fraudServer() *Server {
	return &Server{opts: Options{
		OutboundURI:    "sip:gw@192.0.2.100:5070",
		AllowedTargets: []string{"119", "112", "109"},
	}}
}

// Whatever a REFER's Refer-To says, the server dials either nothing or an
// allowed number exactly, at the configured gateway and never at the host
// that Refer-To names.
func TestReferToNeverDialsOutsideAllowList(t *testing.T) {
	s := fraudServer()
	values := []string{
		"<sip:119@evil.example>",
		"<sip:119@evil.example;maddr=198.51.100.1>",
		"<sip:01099998888@192.0.2.100:5070>",
		"<tel:010-9999-8888>",
		"<sip:+82119@gw.example;user=phone>",
		"<sip:0119@host>",
		"<sip:1190@host>",
		"<sip:119%2301099998888@host>",
		"<sip:%31%31%39@host>",
		"<sip:119;phone-context=01099998888@host>",
		"<sip:119,01099998888@host>",
		"<sip:119@host>, <sip:01099998888@host>",
		"<tel:119;ext=01099998888>",
		"<sip:*9119@host>",
		"<sip:119@host?Refer-To=sip:01099998888@host>",
	}
	// The first value is allowed: its number is 119, so the loop below
	// checks a dial and not only rejections.
	if number, err := parseReferTo(values[0]); err != nil || !s.targetAllowed(number) {
		t.Fatalf("parseReferTo(%s) = %q, %v, want the allowed 119", values[0], number, err)
	}
	for _, value := range values {
		t.Run(value, func(t *testing.T) {
			number, err := parseReferTo(value)
			if err != nil || !s.targetAllowed(number) {
				return
			}
			uri, err := s.outsideURI(number)
			if err != nil {
				t.Fatalf("outsideURI(%q): %v", number, err)
			}
			if !slices.Contains(s.opts.AllowedTargets, uri.User) || uri.Host != "192.0.2.100" || uri.Port != 5070 {
				t.Errorf("Refer-To %s dials %s, want an allowed number at the gateway 192.0.2.100:5070", value, uri.String())
			}
		})
	}
}

// The emergency code with a number outside the list never starts a call,
// and the error does not hold the number in full.
func TestEmergencyCodeOutsideNumberRejected(t *testing.T) {
	s := fraudServer()
	reader := featureCodeReader{code: DefaultEmergencyCode}
	now := time.Now()
	var number string
	var complete bool
	for _, key := range "*901099998888#" {
		number, complete = reader.feed(key, now)
	}
	if !complete || number != "01099998888" {
		t.Fatalf("reader returned %q, %v, want the typed number", number, complete)
	}

	c := &call{srv: s}
	err := c.startEmergency(number, nil)
	if !errors.Is(err, ErrTargetNotAllowed) {
		t.Fatalf("startEmergency(%s) = %v, want ErrTargetNotAllowed", number, err)
	}
	if strings.Contains(err.Error(), number) {
		t.Errorf("error %q holds the number in full", err)
	}
}

func TestLoggableTargetAndFeatureCode(t *testing.T) {
	s := fraudServer()
	targets := map[string]string{"119": "119", "01099998888": "010-****-8888"}
	for number, want := range targets {
		if got := s.loggableTarget(number); got != want {
			t.Errorf("loggableTarget(%s) = %q, want %q", number, got, want)
		}
	}

	codes := map[string]bool{"*21": true, "*311001": true, "*901099998888": false, "*2101099998888": false}
	for code, shown := range codes {
		got := loggableFeatureCode(code)
		if shown && got != code {
			t.Errorf("loggableFeatureCode(%s) = %q, want it unchanged", code, got)
		}
		if !shown && (strings.Contains(got, "99998888") || !strings.HasPrefix(got, code[:3])) {
			t.Errorf("loggableFeatureCode(%s) = %q, want the code's start and the number masked", code, got)
		}
	}
}
