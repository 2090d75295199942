package sip

import (
	"errors"
	"fmt"
	"testing"

	sipmsg "github.com/emiago/sipgo/sip"

	"helpline/media"
	"helpline/records"
)

func TestRejectionFor(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"untrusted source", fmt.Errorf("%w: 192.0.2.1", ErrUntrustedSource), sipmsg.StatusForbidden},
		{"unknown number", ErrUnknownNumber, sipmsg.StatusNotFound},
		{"draining", ErrDraining, sipmsg.StatusServiceUnavailable},
		{"ports exhausted", ErrNoMediaPort, sipmsg.StatusServiceUnavailable},
		{"no common codec", fmt.Errorf("negotiating: %w", media.ErrNoCommonCodec), sipmsg.StatusNotAcceptableHere},
		{"wrong address family", media.ErrAddressFamily, sipmsg.StatusNotAcceptableHere},
		{"no common SRTP suite", fmt.Errorf("negotiating: %w", media.ErrNoCommonCrypto), sipmsg.StatusNotAcceptableHere},
		{"SRTP required", media.ErrSRTPRequired, sipmsg.StatusNotAcceptableHere},
		{"TLS required", ErrTLSRequired, sipmsg.StatusForbidden},
		{"broken SDP", media.ErrInvalidSDP, sipmsg.StatusBadRequest},
		{"no dialog", ErrNoDialog, sipmsg.StatusCallTransactionDoesNotExists},
		{"INFO body type", media.ErrUnsupportedContentType, sipmsg.StatusUnsupportedMediaType},
		{"INFO bad digit", media.ErrInvalidDigit, sipmsg.StatusBadRequest},
		{"session interval too small", fmt.Errorf("%w: 60 s", ErrSessionIntervalTooSmall), 422},
		{"bad Session-Expires", ErrBadHeader, sipmsg.StatusBadRequest},
		{"no Refer-To", ErrReferToMissing, sipmsg.StatusBadRequest},
		{"bad Refer-To", fmt.Errorf("%w: no scheme", ErrReferToInvalid), sipmsg.StatusBadRequest},
		{"attended transfer", ErrAttendedTransfer, sipmsg.StatusNotImplemented},
		{"REFER from the caller", ErrCallerCannotTransfer, sipmsg.StatusForbidden},
		{"REFER on another leg", ErrNotTransferable, sipmsg.StatusForbidden},
		{"target not allowed", ErrTargetNotAllowed, sipmsg.StatusForbidden},
		{"transfer pending", ErrTransferPending, sipmsg.StatusRequestPending},
		{"no outbound route", ErrNoOutboundRoute, sipmsg.StatusServiceUnavailable},
		{"anything else", errors.New("boom"), sipmsg.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rejectionFor(tt.err).status; got != tt.want {
				t.Errorf("status = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestOutcomeFor(t *testing.T) {
	caller := &hangup{side: records.SideCaller, reason: "BYE"}
	tests := []struct {
		name  string
		phase phase
		cause *hangup
		want  records.Outcome
	}{
		{"caller leaves IVR", phaseIVR, caller, records.OutcomeAbandonedInIVR},
		{"caller leaves queue", phaseQueued, caller, records.OutcomeAbandonedInQueue},
		{"conversation ends", phaseTalking, caller, records.OutcomeAnswered},
		{"transfer ends", phaseTransferred, caller, records.OutcomeTransferred},
		{"shutdown in queue", phaseQueued, causeShutdown, records.OutcomeInterrupted},
		{"shutdown during conversation", phaseTalking, causeShutdown, records.OutcomeAnswered},
		{"shutdown after a transfer", phaseTransferred, causeShutdown, records.OutcomeTransferred},
		{"no ACK", phaseIVR, causeNoAck, records.OutcomeFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := outcomeFor(tt.phase, tt.cause); got != tt.want {
				t.Errorf("outcome = %q, want %q", got, tt.want)
			}
		})
	}
}
