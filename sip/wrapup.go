package sip

import "time"

// wrapUpFor returns a counselor's wrap-up time: the counselor's own, or
// Options.WrapUp.
func (s *Server) wrapUpFor(counselorID string) time.Duration {
	if d, ok := s.opts.CounselorWrapUp[counselorID]; ok && d > 0 {
		return d
	}
	return s.opts.WrapUp
}
