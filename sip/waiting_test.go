package sip

import (
	"testing"
	"time"

	"helpline/callback"
	"helpline/queue"
)

func TestAbandonCallbackReason(t *testing.T) {
	const after = time.Minute
	cases := []struct {
		name   string
		caller queue.Caller
		waited time.Duration
		after  time.Duration
		want   string
		ok     bool
	}{
		{"short wait", queue.Caller{}, 10 * time.Second, after, "", false},
		{"long wait", queue.Caller{}, after, after, callback.ReasonAbandoned, true},
		{"high risk attribute", queue.Caller{Attributes: map[string]string{"high_risk": "true"}}, time.Second, after, callback.ReasonHighRisk, true},
		{"raised priority", queue.Caller{Priority: 1}, time.Second, after, callback.ReasonHighRisk, true},
		{"high risk with threshold off", queue.Caller{Priority: 1}, time.Second, 0, callback.ReasonHighRisk, true},
		{"threshold off", queue.Caller{}, time.Hour, 0, "", false},
		{"other attribute value", queue.Caller{Attributes: map[string]string{"high_risk": "false"}}, time.Second, after, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := abandonCallbackReason(tc.caller, tc.waited, tc.after)
			if got != tc.want || ok != tc.ok {
				t.Errorf("abandonCallbackReason = %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestIsSIPURI(t *testing.T) {
	cases := map[string]bool{
		"sip:a@192.0.2.1":  true,
		"sips:a@192.0.2.1": true,
		"109":              false,
		"sip:":             false,
		"":                 false,
	}
	for target, want := range cases {
		if got := isSIPURI(target); got != want {
			t.Errorf("isSIPURI(%q) = %v, want %v", target, got, want)
		}
	}
}
