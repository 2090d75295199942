package sip

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"helpline/events"
	"helpline/media"
)

// MonitorMode names who hears a supervisor in a counselor's call.
type MonitorMode string

// Monitor modes. The supervisor always hears caller and counselor.
const (
	// MonitorListen: nobody hears the supervisor.
	MonitorListen MonitorMode = "listen"
	// MonitorWhisper: only the counselor hears the supervisor.
	MonitorWhisper MonitorMode = "whisper"
	// MonitorBarge: everybody hears the supervisor.
	MonitorBarge MonitorMode = "barge"
)

// Sentinel errors of supervisor monitoring.
var (
	// ErrNotSupervisor means the id is not a counselor with supervisor:
	// true in the configuration.
	ErrNotSupervisor = errors.New("not a configured supervisor: set supervisor: true on the counselors entry")
	// ErrSupervisorNotRegistered means the supervisor's phone is not
	// registered, so it cannot be called.
	ErrSupervisorNotRegistered = errors.New("supervisor has no registered phone: register the softphone first")
	// ErrInvalidMonitorMode means the mode is not listen, whisper or barge.
	ErrInvalidMonitorMode = errors.New("invalid monitor mode: use listen, whisper or barge")
	// ErrMonitorOwnCall means a supervisor asked to monitor their own call.
	ErrMonitorOwnCall = errors.New("a supervisor cannot monitor their own call")
)

// ParseMonitorMode returns the mode named s.
func ParseMonitorMode(s string) (MonitorMode, error) {
	switch mode := MonitorMode(s); mode {
	case MonitorListen, MonitorWhisper, MonitorBarge:
		return mode, nil
	default:
		return "", fmt.Errorf("%w: %q", ErrInvalidMonitorMode, s)
	}
}

// monitorModeKeys maps the keys a supervisor presses during monitoring to
// modes.
var monitorModeKeys = map[media.Digit]MonitorMode{
	'1': MonitorListen,
	'2': MonitorWhisper,
	'3': MonitorBarge,
}

// MonitorCall makes supervisorID take part in call callID in mode. When
// that supervisor is already on the call, only the mode changes, at once.
// Otherwise it checks the request and then, in the background, calls the
// supervisor's registered phone and adds it to the call when it answers.
// It returns ErrCallNotFound, ErrCallNotTalking, ErrNotSupervisor,
// ErrSupervisorNotRegistered, ErrInvalidMonitorMode or ErrPartyBusy when
// it cannot start.
func (s *Server) MonitorCall(callID, supervisorID string, mode MonitorMode) error {
	c, ok := s.calls.get(callID)
	if !ok {
		return fmt.Errorf("%w: %q", ErrCallNotFound, callID)
	}
	return c.startMonitor(supervisorID, mode)
}

// StartMonitor makes supervisorID take part, in mode, in the call that
// counselorID is on, as MonitorCall does. It is the handler for a
// supervisor's feature code such as *31 followed by the counselor id.
func (s *Server) StartMonitor(_ context.Context, supervisorID, counselorID string, mode MonitorMode) error {
	c, err := s.callOfCounselor(counselorID)
	if err != nil {
		return err
	}
	return c.startMonitor(supervisorID, mode)
}

// startMonitor checks a monitor request and starts it or changes its
// mode.
func (c *call) startMonitor(supervisorID string, mode MonitorMode) error {
	if _, err := ParseMonitorMode(string(mode)); err != nil {
		return err
	}
	if !slices.Contains(c.srv.opts.Supervisors, supervisorID) {
		return fmt.Errorf("%w: %q", ErrNotSupervisor, supervisorID)
	}
	_, counselorID, err := c.talkingPeer()
	if err != nil {
		return err
	}
	if counselorID == supervisorID {
		return ErrMonitorOwnCall
	}

	c.mu.Lock()
	if cf := c.conf; cf != nil && cf.supervisor != nil {
		current := cf.supervisorID
		c.mu.Unlock()
		if current != supervisorID {
			return fmt.Errorf("%w: supervisor %q is already on the call", ErrPartyBusy, current)
		}
		c.setMonitorMode(mode, "api")
		return nil
	}
	if c.monitorDialing {
		c.mu.Unlock()
		return fmt.Errorf("%w: a supervisor is being called", ErrPartyBusy)
	}
	c.mu.Unlock()

	binding, ok := c.srv.registrar.Lookup(supervisorID)
	if !ok {
		return fmt.Errorf("%w: %q", ErrSupervisorNotRegistered, supervisorID)
	}

	c.mu.Lock()
	if c.monitorDialing {
		c.mu.Unlock()
		return fmt.Errorf("%w: a supervisor is being called", ErrPartyBusy)
	}
	c.monitorDialing = true
	c.mu.Unlock()

	log := c.log.With().Str("supervisor", supervisorID).Logger()
	c.srv.spawn(func() {
		defer func() {
			c.mu.Lock()
			c.monitorDialing = false
			c.mu.Unlock()
		}()
		req := dialRequest{
			toUser:      supervisorID,
			ringTimeout: c.srv.opts.RingTimeout,
			log:         log,
		}
		if err := req.reach(binding); err != nil {
			log.Warn().Err(err).Msg("supervisor not reached")
			return
		}
		c.dialSupervisor(req, supervisorID, mode)
	})
	return nil
}

// dialSupervisor rings the supervisor's phone and adds it to the mix.
//
// NOTE: the supervisor stays available in the queue while monitoring, so
// the distributor may ring the same phone for a new caller meanwhile.
func (c *call) dialSupervisor(req dialRequest, supervisorID string, mode MonitorMode) {
	req.log.Info().Str("mode", string(mode)).Msg("calling the supervisor into the call")
	leg, err := c.dialParty(req, partySupervisor)
	if err != nil {
		req.log.Warn().Err(err).Msg("supervisor not reached")
		return
	}
	cf, err := c.joinConference()
	if err != nil {
		req.log.Warn().Err(err).Msg("supervisor answered but the call cannot take them, hanging up")
		leg.byeDetached()
		leg.release()
		return
	}

	attached := c.attachParty(cf, partySupervisor, leg, func() {
		cf.supervisor, cf.supervisorID, cf.mode = leg, supervisorID, mode
	})
	if !attached {
		return
	}

	c.publishMonitor(supervisorID, mode, "")
	req.log.Info().Str("mode", string(mode)).Msg("supervisor joined the call")
	c.srv.spawn(func() { c.watchSupervisorDigits(leg) })
}

// setMonitorMode changes the supervisor's mode, and publishes the change
// when there is one. by says who asked: "api" or "phone".
func (c *call) setMonitorMode(mode MonitorMode, by string) {
	c.mu.Lock()
	cf := c.conf
	if cf == nil || cf.supervisor == nil {
		c.mu.Unlock()
		return
	}
	changed := cf.mode != mode
	cf.mode = mode
	cf.setMatrixLocked()
	supervisorID := cf.supervisorID
	c.mu.Unlock()

	if changed {
		c.publishMonitor(supervisorID, mode, by)
		c.log.Info().Str("supervisor", supervisorID).Str("mode", string(mode)).Str("by", by).Msg("monitor mode changed")
	}
}

// publishMonitor publishes a MonitorStarted event: Data["action"] is
// "start" when by is empty, else "change", and Data["by"] says who changed
// the mode.
func (c *call) publishMonitor(supervisorID string, mode MonitorMode, by string) {
	c.mu.Lock()
	counselorID := c.counselorID
	c.mu.Unlock()
	data := map[string]string{"mode": string(mode), "supervisor": supervisorID, "action": "start"}
	if by != "" {
		data["action"], data["by"] = "change", by
	}
	c.srv.events.Publish(events.Event{Type: events.MonitorStarted, CallID: c.id, CounselorID: counselorID, Data: data})
}

// watchSupervisorDigits switches the mode on the supervisor's keys 1, 2
// and 3 until the supervisor leaves or the call ends.
func (c *call) watchSupervisorDigits(leg *outboundLeg) {
	digits := leg.media.Digits()
	for {
		select {
		case <-c.ctx.Done():
			return
		case digit := <-digits:
			c.mu.Lock()
			present := c.conf != nil && c.conf.supervisor == leg
			c.mu.Unlock()
			if !present {
				return
			}
			if mode, ok := monitorModeKeys[digit]; ok {
				c.setMonitorMode(mode, "phone")
			}
		}
	}
}
