package sip

import (
	"fmt"
	"net"
	"time"
)

// portShortageLogInterval bounds the errors about an exhausted RTP port
// range to one per interval, because every call and every offer fails
// while it lasts.
const portShortageLogInterval = time.Minute

// allocatePort takes a UDP socket from the RTP port range. When the range
// is exhausted it returns an error wrapping ErrNoMediaPort and logs, at
// most once per portShortageLogInterval, which range ran out and how to
// fix it.
func (s *Server) allocatePort() (*net.UDPConn, error) {
	conn, err := s.ports.Allocate()
	if err == nil {
		return conn, nil
	}

	if suppressed, ok := s.portShortageLog.allow(time.Now()); ok {
		first, last := s.ports.Bounds()
		s.log.Error().Err(err).Int("port_min", first).Int("port_max", last).
			Int("in_use", s.ports.InUse()).Int("suppressed", suppressed).
			Msg(fmt.Sprintf("no free RTP port in rtp.port_min..rtp.port_max (%d-%d): widen the range or reduce the load", first, last))
	}
	return nil, fmt.Errorf("%w: %w", ErrNoMediaPort, err)
}
