package config

import "time"

// Limits of the sip.rate_limit and sip.auth_lockout keys.
const (
	// maxRequestRate bounds the per-second rates of sip.rate_limit.
	maxRequestRate = 10000
	// maxRequestBurst bounds the bursts of sip.rate_limit.
	maxRequestBurst = 100000
	// maxRateLimitSources bounds sip.rate_limit.max_sources, so that a typo
	// cannot let a flood from many addresses take gigabytes.
	maxRateLimitSources = 1000000
	// maxAuthLockoutAttempts bounds sip.auth_lockout.attempts.
	maxAuthLockoutAttempts = 100
	// maxAuthLockoutDuration bounds sip.auth_lockout.duration.
	maxAuthLockoutDuration = 24 * time.Hour
)

// RateLimit is the per-source limit of new INVITEs and REGISTERs. Each
// source address (an IPv6 source by its /64 prefix) has one token bucket
// per method. Requests from trunk.trusted_sources, and in shared mode from
// cluster.node_sources, are not limited.
type RateLimit struct {
	// InviteRate is how many INVITEs outside a dialog one source may send
	// per second, sustained, or 0 to not limit INVITEs. Default 5.
	InviteRate int `mapstructure:"invite_rate"`
	// InviteBurst is how many INVITEs one source may send at once before
	// InviteRate applies. Default 20.
	InviteBurst int `mapstructure:"invite_burst"`
	// RegisterRate is how many REGISTERs one source may send per second,
	// sustained, or 0 to not limit REGISTERs. Default 10.
	RegisterRate int `mapstructure:"register_rate"`
	// RegisterBurst is how many REGISTERs one source may send at once
	// before RegisterRate applies. Default 50.
	RegisterBurst int `mapstructure:"register_burst"`
	// IdleTimeout is how long the buckets of a source that sends nothing
	// are kept. Default 1m.
	IdleTimeout time.Duration `mapstructure:"idle_timeout"`
	// MaxSources is how many sources get buckets of their own. Sources
	// beyond it share one bucket per method until idle entries expire.
	// Default 10000.
	MaxSources int `mapstructure:"max_sources"`
}

// AuthLockout is the lockout after repeated digest authentication
// failures of one counselor id from one source address.
type AuthLockout struct {
	// Attempts is the number of failures in a row, each less than Duration
	// after the one before, that locks the counselor id at that address.
	// Default 5.
	Attempts int `mapstructure:"attempts"`
	// Duration is how long the lock lasts after the failure that set it.
	// Default 1m.
	Duration time.Duration `mapstructure:"duration"`
}

// validateSIPLimits checks sip.rate_limit and sip.auth_lockout.
func validateSIPLimits(s *SIP, ps *problems) {
	validateRate(ps, "sip.rate_limit.invite_rate", "sip.rate_limit.invite_burst", s.RateLimit.InviteRate, s.RateLimit.InviteBurst)
	validateRate(ps, "sip.rate_limit.register_rate", "sip.rate_limit.register_burst", s.RateLimit.RegisterRate, s.RateLimit.RegisterBurst)
	requirePositiveAs(ps, "sip.rate_limit.idle_timeout", s.RateLimit.IdleTimeout, "1m")
	if s.RateLimit.MaxSources < 1 || s.RateLimit.MaxSources > maxRateLimitSources {
		ps.add("sip.rate_limit.max_sources", s.RateLimit.MaxSources, "must be from 1 to %d: use a count such as 10000", maxRateLimitSources)
	}

	if s.AuthLockout.Attempts < 1 || s.AuthLockout.Attempts > maxAuthLockoutAttempts {
		ps.add("sip.auth_lockout.attempts", s.AuthLockout.Attempts, "must be from 1 to %d: use a count such as 5", maxAuthLockoutAttempts)
	}
	requirePositiveAs(ps, "sip.auth_lockout.duration", s.AuthLockout.Duration, "1m")
	if s.AuthLockout.Duration > maxAuthLockoutDuration {
		ps.add("sip.auth_lockout.duration", s.AuthLockout.Duration, "is longer than %s: use a shorter time, such as 1m, so that a counselor with a mistyped password is not locked out for days", maxAuthLockoutDuration)
	}
}

// validateRate checks one rate and its burst. A rate of 0 turns the limit
// off, and then the burst is not used.
func validateRate(ps *problems, rateKey, burstKey string, rate, burst int) {
	if rate < 0 || rate > maxRequestRate {
		ps.add(rateKey, rate, "must be from 0 (no limit) to %d requests per second", maxRequestRate)
		return
	}
	if rate == 0 {
		return
	}
	if burst < 1 || burst > maxRequestBurst {
		ps.add(burstKey, burst, "must be from 1 to %d: use a count such as 20", maxRequestBurst)
	}
}
