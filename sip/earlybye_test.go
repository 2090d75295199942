package sip

import (
	"context"
	"errors"
	"testing"

	"helpline/records"
)

// A counselor's BYE that arrives after the answer but before the bridge is
// kept for connect, and does not end the caller's call as an abandonment.
func TestEarlyCounselorByeWaitsForConnect(t *testing.T) {
	c, leg := testCall(t)
	c.peer = nil
	c.phase = phaseQueued

	c.legHangup(leg, reasonBye)

	if err := c.ctx.Err(); err != nil {
		t.Fatalf("call ended at the early BYE (%v), want it kept for connect", context.Cause(c.ctx))
	}
	if !c.earlyBye[leg] {
		t.Errorf("early BYE not recorded for the leg")
	}
}

// Once the leg is the connected peer, its BYE ends the call on the
// counselor's side.
func TestConnectedCounselorByeEndsCall(t *testing.T) {
	c, leg := testCall(t)
	c.phase = phaseTalking

	c.legHangup(leg, reasonBye)

	var h *hangup
	if !errors.As(context.Cause(c.ctx), &h) || h.side != records.SideCounselor {
		t.Fatalf("cause = %v, want a hang-up on the counselor's side", context.Cause(c.ctx))
	}
}
