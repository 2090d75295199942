package sip

import (
	"context"
	"errors"
	"testing"
)

func TestCancelReasonFor(t *testing.T) {
	tests := []struct {
		name  string
		cause error
		want  string
	}{
		{name: "answered elsewhere", cause: errCompletedElsewhere, want: `SIP;cause=200;text="Call completed elsewhere"`},
		{name: "caller left", cause: nil, want: ""},
		{name: "other cause", cause: errors.New("stopping"), want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancelCause(context.Background())
			cancel(tt.cause)
			if got := cancelReasonFor(ctx); got != tt.want {
				t.Errorf("cancelReasonFor = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCallerPriority(t *testing.T) {
	tests := []struct {
		name       string
		attributes map[string]string
		want       int
	}{
		{name: "high risk", attributes: map[string]string{"priority": "high_risk"}, want: PriorityHighRisk},
		{name: "no priority", attributes: map[string]string{"caller_type": "self"}, want: 0},
		{name: "unknown value", attributes: map[string]string{"priority": "urgent"}, want: 0},
		{name: "no attributes", attributes: nil, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := callerPriority(tt.attributes); got != tt.want {
				t.Errorf("callerPriority(%v) = %d, want %d", tt.attributes, got, tt.want)
			}
		})
	}
}
