package queue_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"helpline/queue"
)

func TestTransitionErrorMatching(t *testing.T) {
	err := fmt.Errorf("set counselor state: %w",
		&queue.TransitionError{CounselorID: "c1", From: queue.StateOnCall, To: queue.StateBreak})

	tests := []struct {
		name   string
		target error
		want   bool
	}{
		{name: "sentinel", target: queue.ErrInvalidTransition, want: true},
		{name: "same fields", target: &queue.TransitionError{CounselorID: "c1", From: queue.StateOnCall, To: queue.StateBreak}, want: true},
		{name: "target state only", target: &queue.TransitionError{To: queue.StateBreak}, want: true},
		{name: "other source state", target: &queue.TransitionError{From: queue.StateAvailable}, want: false},
		{name: "other counselor", target: &queue.TransitionError{CounselorID: "c2"}, want: false},
		{name: "other sentinel", target: queue.ErrUnknownCounselor, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errors.Is(err, tt.target); got != tt.want {
				t.Errorf("errors.Is(%v, %v) = %t, want %t", err, tt.target, got, tt.want)
			}
		})
	}
}

func TestTransitionErrorMessage(t *testing.T) {
	err := &queue.TransitionError{CounselorID: "c1", From: queue.StateOnCall, To: queue.StateBreak}

	message := err.Error()

	for _, part := range []string{"c1", "on_call", "break"} {
		if !strings.Contains(message, part) {
			t.Errorf("message %q does not name %q", message, part)
		}
	}
}
