package sip

import (
	"errors"
	"strconv"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"

	"helpline/events"
	"helpline/routing"
)

// Statuses of a call's emergency call, as EmergencyState reports them.
const (
	// EmergencyCalling means the target is being rung. Reason and
	// SIPStatus then hold why the attempt before it, to the same target,
	// failed, when it did.
	EmergencyCalling = "calling"
	// EmergencyJoined means the target answered and is in the call.
	EmergencyJoined = "joined"
	// EmergencyFailed means the target was not reached or could not be
	// added to the call.
	EmergencyFailed = "failed"
	// EmergencyLeft means the target was in the call and hung up.
	EmergencyLeft = "left"
)

// Reasons of a failed emergency call, in EmergencyState.Reason and the
// "reason" of an emergency_failed event.
const (
	// EmergencyReasonTimeout: the target did not answer within the ring
	// timeout, or the gateway sent no response at all.
	EmergencyReasonTimeout = "timeout"
	// EmergencyReasonBusy: the gateway answered 486 or 600.
	EmergencyReasonBusy = "busy"
	// EmergencyReasonRejected: the gateway answered another error status,
	// which EmergencyState.SIPStatus holds.
	EmergencyReasonRejected = "rejected"
	// EmergencyReasonUnreachable: the INVITE could not be sent, or no
	// media port was free.
	EmergencyReasonUnreachable = "unreachable"
	// EmergencyReasonNoRoute: trunk.outbound_uri is empty.
	EmergencyReasonNoRoute = "no_route"
	// EmergencyReasonNotJoined: the target answered but could not be
	// added to the call.
	EmergencyReasonNotJoined = "not_joined"
)

// EmergencyState is the emergency call of a call in progress.
type EmergencyState struct {
	// Target is the number called, one of trunk.allowed_targets.
	Target string
	// Status is EmergencyCalling, EmergencyJoined, EmergencyFailed or
	// EmergencyLeft.
	Status string
	// Reason is one of the EmergencyReason constants while Status is
	// EmergencyFailed. It is kept while Status is EmergencyCalling again
	// after a failed attempt to the same target, and is "" otherwise.
	Reason string
	// SIPStatus is the gateway's final status of the failed attempt, 0
	// when there was none.
	SIPStatus int
	// At is when Status was reached.
	At time.Time
}

// EmergencyState returns the state of the emergency call of the call
// callID. It returns false when no emergency target was called into it,
// or when the call is not in progress on this server.
//
// NOTE: in shared mode only the node that holds the call has this state,
// just as only that node accepts CallEmergency for the call.
func (s *Server) EmergencyState(callID string) (EmergencyState, bool) {
	c, ok := s.calls.get(callID)
	if !ok {
		return EmergencyState{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.emergency, c.emergency.Status != ""
}

// retry returns the calling state of a new attempt to target after state.
// A new attempt after a failure to the same target keeps the failure's
// reason, so that the counselor still sees that the service is not on
// the call until it answers.
func (state EmergencyState) retry(target string) EmergencyState {
	calling := EmergencyState{Target: target, Status: EmergencyCalling}
	if state.Target == target && state.Status == EmergencyFailed {
		calling.Reason, calling.SIPStatus = state.Reason, state.SIPStatus
	}
	return calling
}

// setEmergencyLocked sets the call's emergency state with the time of now.
// The call's mu must be held.
func (c *call) setEmergencyLocked(state EmergencyState) {
	state.At = time.Now()
	c.emergency = state
}

// emergencyJoined marks target as in the call and ends its dial.
func (c *call) emergencyJoined(target string) {
	c.mu.Lock()
	c.emergencyDialing = false
	c.setEmergencyLocked(EmergencyState{Target: target, Status: EmergencyJoined})
	c.mu.Unlock()
}

// emergencyLeft marks the emergency target as gone, when it hung up.
func (c *call) emergencyLeft() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.emergency.Status == EmergencyJoined {
		c.setEmergencyLocked(EmergencyState{Target: c.emergency.Target, Status: EmergencyLeft})
	}
}

// emergencyDialFailed ends the dial of target, which failed for reason,
// and reports the failure like emergencyFailed. Both happen under one
// lock, so that a new request sees either the dial or its failure.
func (c *call) emergencyDialFailed(target, reason string, sipStatus int) {
	c.mu.Lock()
	c.emergencyDialing = false
	failed, ok := c.failEmergencyLocked(target, reason, sipStatus)
	c.mu.Unlock()
	if ok {
		c.srv.events.Publish(failed)
	}
}

// emergencyFailed marks the emergency call to target as failed for reason
// and publishes emergency_failed, so that the counselor's console and the
// board show it.
func (c *call) emergencyFailed(target, reason string, sipStatus int) {
	c.mu.Lock()
	failed, ok := c.failEmergencyLocked(target, reason, sipStatus)
	c.mu.Unlock()
	if ok {
		c.srv.events.Publish(failed)
	}
}

// failEmergencyLocked stores the failure and returns its emergency_failed
// event. It returns false, and stores nothing, once the call ended,
// because nobody is left to call the target for. The call's mu must be
// held.
func (c *call) failEmergencyLocked(target, reason string, sipStatus int) (events.Event, bool) {
	if c.ctx.Err() != nil {
		return events.Event{}, false
	}
	c.setEmergencyLocked(EmergencyState{Target: target, Status: EmergencyFailed, Reason: reason, SIPStatus: sipStatus})
	data := map[string]string{"target": target, "reason": reason}
	if sipStatus != 0 {
		data["status"] = strconv.Itoa(sipStatus)
	}
	return events.Event{Type: events.EmergencyFailed, CallID: c.id, CounselorID: c.counselorID, Data: data}, true
}

// emergencyFailureReason classifies why dialling an emergency target
// failed, and returns the gateway's final status when there was one.
func emergencyFailureReason(err error) (string, int) {
	var dial *dialError
	if !errors.As(err, &dial) {
		return EmergencyReasonUnreachable, 0
	}
	switch {
	case dial.outcome == routing.NoAnswer:
		return EmergencyReasonTimeout, dial.status
	case dial.outcome == routing.Busy:
		return EmergencyReasonBusy, dial.status
	case dial.status >= int(sipmsg.StatusBadRequest):
		return EmergencyReasonRejected, dial.status
	case errors.Is(dial.err, sipmsg.ErrTransactionTimeout):
		return EmergencyReasonTimeout, 0
	default:
		return EmergencyReasonUnreachable, dial.status
	}
}
