package sip

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
)

// promptMonitorStarting confirms a supervisor's monitor code: the
// supervisor's phone rings into the call next.
const promptMonitorStarting = "feature_monitor_starting"

// MonitorCodes are the supervisor feature codes. Each is dialled followed
// by the id of the counselor whose call to join, such as *311001.
type MonitorCodes struct {
	Listen  string
	Whisper string
	Barge   string
}

// ServerRef hands feature handlers the server, which is built after the
// feature table it takes. Set it once the server exists.
type ServerRef struct {
	server atomic.Pointer[Server]
}

// Set stores the server.
func (r *ServerRef) Set(s *Server) { r.server.Store(s) }

// errServerNotReady is returned by a monitor code dialled before the
// server was set in its ServerRef.
var errServerNotReady = errors.New("server not ready for monitor codes")

// AddMonitorFeatures adds the three supervisor codes to table.
func AddMonitorFeatures(table *FeatureTable, codes MonitorCodes, ref *ServerRef) error {
	entries := []struct {
		code string
		mode MonitorMode
	}{
		{codes.Listen, MonitorListen},
		{codes.Whisper, MonitorWhisper},
		{codes.Barge, MonitorBarge},
	}
	for _, entry := range entries {
		mode := entry.mode
		handler := func(_ context.Context, req FeatureRequest) (string, error) {
			s := ref.server.Load()
			if s == nil {
				return "", errServerNotReady
			}
			return s.monitorFromPhone(req.CounselorID, req.Arg, mode)
		}
		if err := table.AddWithArg(entry.code, handler); err != nil {
			return fmt.Errorf("adding monitor code for %s: %w", mode, err)
		}
	}
	return nil
}

// monitorFromPhone checks a supervisor's monitor code and, once the
// feature code call has ended, rings the supervisor into the counselor's
// call. Waiting for that end keeps a phone without call waiting from
// answering the monitor call busy.
func (s *Server) monitorFromPhone(supervisorID, counselorID string, mode MonitorMode) (string, error) {
	if !slices.Contains(s.opts.Supervisors, supervisorID) {
		return "", fmt.Errorf("%w: %q", ErrNotSupervisor, supervisorID)
	}
	c, err := s.callOfCounselor(counselorID)
	if err != nil {
		return "", err
	}

	s.spawn(func() {
		ctx, stop := context.WithTimeout(context.Background(), maxFeatureWait)
		s.featureCalls.wait(ctx, supervisorID)
		stop()
		if err := c.startMonitor(supervisorID, mode); err != nil {
			c.log.Warn().Err(err).Str("supervisor", supervisorID).Str("mode", string(mode)).
				Msg("monitor code dialled, but monitoring did not start")
		}
	})
	return promptMonitorStarting, nil
}

// callOfCounselor returns the connected call that counselorID talks on.
func (s *Server) callOfCounselor(counselorID string) (*call, error) {
	for _, c := range s.calls.all() {
		if _, id, err := c.talkingPeer(); err == nil && id == counselorID {
			return c, nil
		}
	}
	return nil, fmt.Errorf("%w: counselor %q is on no connected call", ErrCallNotFound, counselorID)
}
