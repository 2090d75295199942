package sip

import (
	"errors"
	"testing"
)

func TestOutsideURIPutsNumberInUserPart(t *testing.T) {
	s := &Server{opts: Options{OutboundURI: "sip:gw@127.0.0.1:5070;transport=tcp"}}

	uri, err := s.outsideURI("119")

	if err != nil {
		t.Fatalf("outsideURI: %v", err)
	}
	if got := uri.String(); got != "sip:119@127.0.0.1:5070;transport=tcp" {
		t.Errorf("URI = %s, want sip:119@127.0.0.1:5070;transport=tcp", got)
	}
}

func TestOutsideURIWithoutRoute(t *testing.T) {
	s := &Server{}

	_, err := s.outsideURI("119")

	if !errors.Is(err, ErrNoOutboundRoute) {
		t.Errorf("error = %v, want ErrNoOutboundRoute", err)
	}
}

func TestTargetAllowedOnlyListedNumbers(t *testing.T) {
	s := &Server{opts: Options{AllowedTargets: []string{"119", "112"}}}

	for number, want := range map[string]bool{"119": true, "112": true, "010": false, "": false} {
		if got := s.targetAllowed(number); got != want {
			t.Errorf("targetAllowed(%q) = %t, want %t", number, got, want)
		}
	}
}
