package sip

import (
	"errors"
	"fmt"
	"testing"

	sipmsg "github.com/emiago/sipgo/sip"

	"helpline/routing"
)

func TestEmergencyFailureReason(t *testing.T) {
	timerB := fmt.Errorf("INVITE transaction ended: %w", fmt.Errorf("Timer_B timed out. %w", sipmsg.ErrTransactionTimeout))
	tests := []struct {
		name       string
		err        error
		wantReason string
		wantStatus int
	}{
		{"ring timeout", &dialError{outcome: routing.NoAnswer, status: 487}, EmergencyReasonTimeout, 487},
		{"no response", &dialError{outcome: routing.Unavailable, err: timerB}, EmergencyReasonTimeout, 0},
		{"busy here", &dialError{outcome: routing.Busy, status: 486}, EmergencyReasonBusy, 486},
		{"declined", &dialError{outcome: routing.Declined, status: 603}, EmergencyReasonRejected, 603},
		{"service unavailable", &dialError{outcome: routing.Unavailable, status: 503}, EmergencyReasonRejected, 503},
		{"transport error", &dialError{outcome: routing.Unavailable, err: sipmsg.ErrTransactionTransport}, EmergencyReasonUnreachable, 0},
		{"no media port", &dialError{outcome: routing.Unavailable, err: ErrNoMediaPort}, EmergencyReasonUnreachable, 0},
		{"other error", errors.New("boom"), EmergencyReasonUnreachable, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reason, status := emergencyFailureReason(tt.err)
			if reason != tt.wantReason {
				t.Errorf("reason = %q, want %q", reason, tt.wantReason)
			}
			if status != tt.wantStatus {
				t.Errorf("status = %d, want %d", status, tt.wantStatus)
			}
		})
	}
}

func TestEmergencyRetryKeepsFailure(t *testing.T) {
	failed := EmergencyState{Target: "119", Status: EmergencyFailed, Reason: EmergencyReasonRejected, SIPStatus: 503}
	tests := []struct {
		name   string
		before EmergencyState
		target string
		want   EmergencyState
	}{
		{"first attempt", EmergencyState{}, "119", EmergencyState{Target: "119", Status: EmergencyCalling}},
		{"after a failure", failed, "119", EmergencyState{Target: "119", Status: EmergencyCalling, Reason: EmergencyReasonRejected, SIPStatus: 503}},
		{"another target after a failure", failed, "112", EmergencyState{Target: "112", Status: EmergencyCalling}},
		{"after the target left", EmergencyState{Target: "119", Status: EmergencyLeft}, "119", EmergencyState{Target: "119", Status: EmergencyCalling}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.before.retry(tt.target); got != tt.want {
				t.Errorf("retry(%s) after %+v = %+v, want %+v", tt.target, tt.before, got, tt.want)
			}
		})
	}
}
