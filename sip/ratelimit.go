package sip

import (
	"net/netip"
	"sync"
	"time"
)

// Defaults and fixed limits of the per-source rate limit.
const (
	// defaultRateLimitIdle is RateLimit.IdleTimeout when it is zero.
	defaultRateLimitIdle = time.Minute
	// defaultRateLimitSources is RateLimit.MaxSources when it is zero.
	defaultRateLimitSources = 10000
	// rateLimitReportInterval is the shortest time between two reports
	// (log line and event) about one method of one source.
	rateLimitReportInterval = time.Minute
	// maxRateLimitReports bounds the reports about all sources within one
	// rateLimitReportInterval, so that a flood from many addresses cannot
	// flood the log either. Sources beyond it are counted in the next
	// report.
	maxRateLimitReports = 20
	// ipv6SourceBits is the prefix length an IPv6 source is limited by:
	// one host commonly holds a whole /64.
	ipv6SourceBits = 64
)

// RateLimit configures the per-source token buckets of new INVITEs and
// REGISTERs. A zero rate turns the limit of that method off, and a burst
// below 1 is taken as 1.
type RateLimit struct {
	// InviteRate is the sustained INVITEs per second of one source.
	InviteRate int
	// InviteBurst is how many INVITEs one source may send at once.
	InviteBurst int
	// RegisterRate is the sustained REGISTERs per second of one source.
	RegisterRate int
	// RegisterBurst is how many REGISTERs one source may send at once.
	RegisterBurst int
	// IdleTimeout drops the buckets of a source idle this long (0: 1m).
	IdleTimeout time.Duration
	// MaxSources is how many sources get buckets of their own (0: 10000).
	// Further sources share one bucket per method.
	MaxSources int
}

// enabled reports whether any method is limited.
func (r RateLimit) enabled() bool {
	return r.InviteRate > 0 || r.RegisterRate > 0
}

// limitedMethod is a method with a bucket of its own.
type limitedMethod int

const (
	limitInvite limitedMethod = iota
	limitRegister
	limitedMethods
)

// bucketRate is the refill rate and size of one method's buckets.
type bucketRate struct {
	perSecond float64
	burst     float64
}

// tokenBucket holds up to burst tokens and gains perSecond tokens each
// second; each request takes one.
type tokenBucket struct {
	tokens float64
	last   time.Time
}

// take refills the bucket up to now and takes one token. When the bucket
// is empty it returns false and the time until the next token.
func (b *tokenBucket) take(r bucketRate, now time.Time) (bool, time.Duration) {
	if b.last.IsZero() {
		b.tokens = r.burst
	} else if elapsed := now.Sub(b.last); elapsed > 0 {
		b.tokens = min(r.burst, b.tokens+elapsed.Seconds()*r.perSecond)
	}
	b.last = now

	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	missing := 1 - b.tokens
	return false, time.Duration(missing / r.perSecond * float64(time.Second))
}

// sourceBuckets is the state of one source address.
type sourceBuckets struct {
	buckets  [limitedMethods]tokenBucket
	lastSeen time.Time
	// limited counts the requests of each method limited since the last
	// report about that method.
	limited [limitedMethods]int
	// reported is when the last report about each method of this source
	// was made.
	reported [limitedMethods]time.Time
}

// lastReported is when the last report about any method of the source was
// made.
func (b *sourceBuckets) lastReported() time.Time {
	var last time.Time
	for _, t := range b.reported {
		if t.After(last) {
			last = t
		}
	}
	return last
}

// limitDecision is the outcome of one request's check.
type limitDecision struct {
	allowed bool
	// retryAfter is the time until the source's next token.
	retryAfter time.Duration
	// report, when set, is to be logged and published: the first limited
	// request of a method of a source in each report interval.
	report *limitReport
}

// limitReport sums up the limited requests of one method of one source.
type limitReport struct {
	// source is the address, the IPv6 /64 prefix, or "" for the bucket
	// that sources beyond MaxSources share.
	source string
	// limited is the number of requests of the method limited since the
	// last report about it, this one included.
	limited int
	// unreported is the number of limited sources that were not reported
	// because too many reports were made in the interval.
	unreported int
}

// sourceLimiter keeps a token bucket per source address and method. Its
// map is bounded by maxSources, and entries idle for idle are dropped.
type sourceLimiter struct {
	rates      [limitedMethods]bucketRate
	idle       time.Duration
	maxSources int

	// mu guards every field below.
	mu      sync.Mutex
	sources map[netip.Prefix]*sourceBuckets
	// shared is the state of the sources that found the map full.
	shared    sourceBuckets
	lastSweep time.Time
	// reportWindow starts the current report interval of all sources;
	// reports counts the reports made in it and unreported the limited
	// sources it left out.
	reportWindow time.Time
	reports      int
	unreported   int
}

// newSourceLimiter returns a limiter for cfg, or nil when cfg limits
// nothing.
func newSourceLimiter(cfg RateLimit) *sourceLimiter {
	if !cfg.enabled() {
		return nil
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = defaultRateLimitIdle
	}
	if cfg.MaxSources <= 0 {
		cfg.MaxSources = defaultRateLimitSources
	}
	l := &sourceLimiter{
		idle:       cfg.IdleTimeout,
		maxSources: cfg.MaxSources,
		sources:    make(map[netip.Prefix]*sourceBuckets),
	}
	l.rates[limitInvite] = newBucketRate(cfg.InviteRate, cfg.InviteBurst)
	l.rates[limitRegister] = newBucketRate(cfg.RegisterRate, cfg.RegisterBurst)
	return l
}

// newBucketRate returns the rate of one method's buckets. A burst below 1
// is taken as 1, because a bucket that cannot hold one token would stop
// every request.
func newBucketRate(perSecond, burst int) bucketRate {
	return bucketRate{perSecond: float64(perSecond), burst: float64(max(burst, 1))}
}

// allow charges one request of method from source at now.
func (l *sourceLimiter) allow(method limitedMethod, source netip.Addr, now time.Time) limitDecision {
	rate := l.rates[method]
	if rate.perSecond <= 0 {
		return limitDecision{allowed: true}
	}

	l.mu.Lock()
	defer l.mu.Unlock()

	state, key, shared := l.stateLocked(source, now)
	state.lastSeen = now
	ok, wait := state.buckets[method].take(rate, now)
	if ok {
		return limitDecision{allowed: true}
	}

	state.limited[method]++
	decision := limitDecision{retryAfter: wait}
	if now.Sub(state.reported[method]) >= rateLimitReportInterval && l.takeReportLocked(now) {
		decision.report = &limitReport{limited: state.limited[method], unreported: l.unreported}
		if !shared {
			decision.report.source = keyText(key)
		}
		l.unreported = 0
		state.limited[method] = 0
		state.reported[method] = now
	} else if state.limited[method] == 1 {
		// The first limited request of this method since its last report
		// that will not be reported in this interval.
		l.countUnreportedLocked(now, state.reported[method])
	}
	return decision
}

// stateLocked returns the buckets of source and the key they are kept
// under, creating them when there is room. Otherwise it returns the
// shared buckets and true.
func (l *sourceLimiter) stateLocked(source netip.Addr, now time.Time) (*sourceBuckets, netip.Prefix, bool) {
	key := sourceKey(source)
	if state, ok := l.sources[key]; ok {
		return state, key, false
	}

	if now.Sub(l.lastSweep) >= l.idle || len(l.sources) >= l.maxSources {
		l.sweepLocked(now)
	}
	if len(l.sources) >= l.maxSources {
		return &l.shared, key, true
	}
	state := &sourceBuckets{}
	l.sources[key] = state
	return state, key, false
}

// sweepLocked drops the sources idle for l.idle or longer. A source
// reported within the last rateLimitReportInterval stays, so that a pause
// shorter than that interval does not earn it a second report. At most
// maxRateLimitReports such sources stay per interval. The sweep runs at
// most once per idle period, so a full map under a flood is not swept for
// every new source.
func (l *sourceLimiter) sweepLocked(now time.Time) {
	if now.Sub(l.lastSweep) < l.idle && !l.lastSweep.IsZero() {
		return
	}
	l.lastSweep = now
	for key, state := range l.sources {
		if now.Sub(state.lastSeen) >= l.idle && now.Sub(state.lastReported()) >= rateLimitReportInterval {
			delete(l.sources, key)
		}
	}
}

// takeReportLocked reports whether one more report fits in the current
// interval, and counts it.
func (l *sourceLimiter) takeReportLocked(now time.Time) bool {
	if now.Sub(l.reportWindow) >= rateLimitReportInterval {
		l.reportWindow = now
		l.reports = 0
	}
	if l.reports >= maxRateLimitReports {
		return false
	}
	l.reports++
	return true
}

// countUnreportedLocked counts a source's method left out of the reports
// because the interval's reports were used up. One still inside its own
// interval since reported is not counted, because its last report covers it.
func (l *sourceLimiter) countUnreportedLocked(now, reported time.Time) {
	if now.Sub(reported) >= rateLimitReportInterval {
		l.unreported++
	}
}

// size returns the number of sources with buckets of their own.
func (l *sourceLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.sources)
}

// sourceKey is the prefix a source is limited by: the address itself for
// IPv4, its /64 for IPv6.
func sourceKey(source netip.Addr) netip.Prefix {
	source = source.Unmap()
	if source.Is6() {
		prefix, err := source.Prefix(ipv6SourceBits)
		if err == nil {
			return prefix
		}
	}
	return netip.PrefixFrom(source, source.BitLen())
}

// keyText names a source key in logs and events: the address alone for a
// single address, the prefix otherwise.
func keyText(key netip.Prefix) string {
	if key.IsSingleIP() {
		return key.Addr().String()
	}
	return key.String()
}
