package config

import "time"

// rfc4028MinSE is the smallest Min-SE that RFC 4028 section 4 allows.
const rfc4028MinSE = 90 * time.Second

// validateSessionTimers checks sip.session_expires and sip.min_se. A
// min_se below the RFC 4028 floor of 90 s is a warning, not an error, so
// that tests can let a session expire in seconds.
func validateSessionTimers(s *SIP, ps, warnings *problems) {
	requirePositive(ps, "sip.min_se", s.MinSE)
	requireWholeSeconds(ps, "sip.min_se", s.MinSE)
	requirePositive(ps, "sip.session_expires", s.SessionExpires)
	requireWholeSeconds(ps, "sip.session_expires", s.SessionExpires)
	if ps.hasKey("sip.min_se") || ps.hasKey("sip.session_expires") {
		return
	}

	if s.SessionExpires < s.MinSE {
		ps.add("sip.session_expires", s.SessionExpires, "is below sip.min_se (%s): use a value of at least min_se, such as 30m", s.MinSE)
	}
	if s.MinSE < rfc4028MinSE {
		warnings.add("sip.min_se", s.MinSE, "is below the 90s that RFC 4028 requires: use it only in tests, because trunks may reject it")
	}
}
