package config

// validateHoldTimeout checks rtp.hold_timeout: 0 (off), or at least
// rtp.media_timeout, because a party on hold may send less RTP than one
// that talks, never more.
func validateHoldTimeout(r *RTP, ps *problems) {
	requireNonNegative(ps, "rtp.hold_timeout", r.HoldTimeout)
	if r.HoldTimeout > 0 && r.MediaTimeout > 0 && r.HoldTimeout < r.MediaTimeout {
		ps.add("rtp.hold_timeout", r.HoldTimeout, "is shorter than rtp.media_timeout %s: use 0 (off) or at least %s",
			r.MediaTimeout, r.MediaTimeout)
	}
}
