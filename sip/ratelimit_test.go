package sip

import (
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"

	"helpline/events"
	"helpline/ivr"
	"helpline/media"
	"helpline/queue"
)

var (
	limitedSource = netip.MustParseAddr("192.0.2.1")
	otherSource   = netip.MustParseAddr("192.0.2.2")
)

func testLimiter(tb testing.TB, cfg RateLimit) *sourceLimiter {
	tb.Helper()
	l := newSourceLimiter(cfg)
	if l == nil {
		tb.Fatalf("newSourceLimiter(%+v) = nil, want a limiter", cfg)
	}
	return l
}

// allowN charges n requests at now and returns how many were allowed.
func allowN(l *sourceLimiter, method limitedMethod, source netip.Addr, n int, now time.Time) int {
	allowed := 0
	for range n {
		if l.allow(method, source, now).allowed {
			allowed++
		}
	}
	return allowed
}

func TestLimiterBurstThenRate(t *testing.T) {
	l := testLimiter(t, RateLimit{InviteRate: 2, InviteBurst: 5})

	if got := allowN(l, limitInvite, limitedSource, 8, testStart); got != 5 {
		t.Fatalf("allowed %d of 8 at once, want the burst of 5", got)
	}
	decision := l.allow(limitInvite, limitedSource, testStart)
	if decision.allowed || decision.retryAfter != 500*time.Millisecond {
		t.Errorf("decision = %+v, want limited with 500ms until the next token at 2/s", decision)
	}
	if got := allowN(l, limitInvite, limitedSource, 3, testStart.Add(time.Second)); got != 2 {
		t.Errorf("allowed %d after 1 s, want 2 at 2/s", got)
	}
	if got := allowN(l, limitInvite, limitedSource, 10, testStart.Add(time.Hour)); got != 5 {
		t.Errorf("allowed %d after an hour, want the burst of 5, not more", got)
	}
}

func TestLimiterZeroBurstAllowsOne(t *testing.T) {
	l := testLimiter(t, RateLimit{InviteRate: 1})
	if got := allowN(l, limitInvite, limitedSource, 3, testStart); got != 1 {
		t.Errorf("allowed %d of 3 with burst 0, want 1", got)
	}
}

func TestLimiterSeparatesSourcesAndMethods(t *testing.T) {
	l := testLimiter(t, RateLimit{InviteRate: 1, InviteBurst: 2, RegisterRate: 1, RegisterBurst: 3})

	allowN(l, limitInvite, limitedSource, 10, testStart)
	if got := allowN(l, limitInvite, otherSource, 10, testStart); got != 2 {
		t.Errorf("another source: allowed %d INVITEs, want its own burst of 2", got)
	}
	if got := allowN(l, limitRegister, limitedSource, 10, testStart); got != 3 {
		t.Errorf("REGISTERs of a source out of INVITEs: allowed %d, want the REGISTER burst of 3", got)
	}
}

func TestLimiterZeroRateTurnsMethodOff(t *testing.T) {
	if l := newSourceLimiter(RateLimit{}); l != nil {
		t.Errorf("newSourceLimiter(zero) = %v, want nil", l)
	}
	l := testLimiter(t, RateLimit{RegisterRate: 1, RegisterBurst: 1})
	if got := allowN(l, limitInvite, limitedSource, 1000, testStart); got != 1000 {
		t.Errorf("INVITEs with invite_rate 0: allowed %d of 1000, want all", got)
	}
	if l.size() != 0 {
		t.Errorf("an unlimited method kept %d sources, want none", l.size())
	}
}

func TestLimiterIPv6ByPrefix(t *testing.T) {
	l := testLimiter(t, RateLimit{InviteRate: 1, InviteBurst: 1})
	first := netip.MustParseAddr("2001:db8:1:2::1")
	sameNet := netip.MustParseAddr("2001:db8:1:2:ffff::9")
	otherNet := netip.MustParseAddr("2001:db8:1:3::1")

	l.allow(limitInvite, first, testStart)
	decision := l.allow(limitInvite, sameNet, testStart)
	if decision.allowed {
		t.Error("an address of the same /64 got a bucket of its own")
	}
	if decision.report == nil || decision.report.source != "2001:db8:1:2::/64" {
		t.Errorf("report = %+v, want the /64 named", decision.report)
	}
	if !l.allow(limitInvite, otherNet, testStart).allowed {
		t.Error("an address of another /64 shares the bucket")
	}
	if !l.allow(limitInvite, netip.MustParseAddr("::ffff:192.0.2.7"), testStart).allowed {
		t.Error("an IPv4-mapped address was not limited as its IPv4 address")
	}
}

// A flood from many addresses keeps at most max_sources buckets. Sources
// beyond share one bucket, and idle buckets expire.
func TestLimiterBoundedMap(t *testing.T) {
	l := testLimiter(t, RateLimit{InviteRate: 1, InviteBurst: 1, MaxSources: 100, IdleTimeout: time.Minute})

	allowed := 0
	for i := range 10000 {
		source := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		if l.allow(limitInvite, source, testStart).allowed {
			allowed++
		}
	}
	if l.size() != 100 {
		t.Errorf("kept %d sources, want max_sources 100", l.size())
	}
	if allowed != 101 {
		t.Errorf("allowed %d INVITEs from 10000 sources, want 100 own buckets plus 1 from the shared one", allowed)
	}

	later := testStart.Add(time.Minute)
	if !l.allow(limitInvite, netip.MustParseAddr("172.16.0.1"), later).allowed {
		t.Error("a new source after the idle timeout did not get a bucket")
	}
	if l.size() != 1 {
		t.Errorf("kept %d sources after the idle timeout, want the new one only", l.size())
	}
}

func TestLimiterReportsOncePerInterval(t *testing.T) {
	l := testLimiter(t, RateLimit{InviteRate: 1, InviteBurst: 1})
	l.allow(limitInvite, limitedSource, testStart)

	first := l.allow(limitInvite, limitedSource, testStart)
	if first.report == nil || first.report.limited != 1 || first.report.source != "192.0.2.1" {
		t.Fatalf("first limited request: report = %+v, want one for 192.0.2.1 with 1 limited", first.report)
	}
	for i := range 50 {
		if d := l.allow(limitInvite, limitedSource, testStart.Add(time.Duration(i)*time.Millisecond)); d.report != nil {
			t.Fatalf("limited request %d within the interval was reported again", i+2)
		}
	}

	next := testStart.Add(rateLimitReportInterval)
	allowN(l, limitInvite, limitedSource, 1, next)
	d := l.allow(limitInvite, limitedSource, next)
	if d.report == nil || d.report.limited != 51 {
		t.Errorf("after the interval: report = %+v, want one counting 51 limited requests", d.report)
	}
}

// A source that pauses longer than the idle timeout but less than the
// report interval is not reported twice in that interval.
func TestLimiterReportSurvivesIdleSweep(t *testing.T) {
	l := testLimiter(t, RateLimit{InviteRate: 1, InviteBurst: 1, IdleTimeout: 10 * time.Second})
	l.allow(limitInvite, limitedSource, testStart)
	if l.allow(limitInvite, limitedSource, testStart).report == nil {
		t.Fatal("first limited request was not reported")
	}

	later := testStart.Add(20 * time.Second)
	l.allow(limitInvite, otherSource, later) // sweeps the idle sources
	l.allow(limitInvite, limitedSource, later)
	if d := l.allow(limitInvite, limitedSource, later); d.allowed || d.report != nil {
		t.Errorf("after a 20 s pause: decision = %+v, want limited without a second report", d)
	}

	next := testStart.Add(rateLimitReportInterval + 20*time.Second)
	l.allow(limitInvite, limitedSource, next)
	if d := l.allow(limitInvite, limitedSource, next); d.report == nil {
		t.Error("after the report interval: not reported")
	}
}

// However many sources are limited, at most maxRateLimitReports are
// reported in one interval, and the next report counts the others.
func TestLimiterCapsReportsOfAllSources(t *testing.T) {
	l := testLimiter(t, RateLimit{InviteRate: 1, InviteBurst: 1})
	reports := 0
	for i := range 200 {
		source := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		l.allow(limitInvite, source, testStart)
		if l.allow(limitInvite, source, testStart).report != nil {
			reports++
		}
	}
	if reports != maxRateLimitReports {
		t.Errorf("made %d reports for 200 sources, want %d", reports, maxRateLimitReports)
	}

	next := testStart.Add(rateLimitReportInterval)
	l.allow(limitInvite, limitedSource, next)
	d := l.allow(limitInvite, limitedSource, next)
	if d.report == nil || d.report.unreported != 200-maxRateLimitReports {
		t.Errorf("next report = %+v, want %d sources counted as unreported", d.report, 200-maxRateLimitReports)
	}
}

// limitCounter is a RateLimitObserver that counts by method and action.
type limitCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

func (c *limitCounter) RequestLimited(method, action string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts == nil {
		c.counts = make(map[string]int)
	}
	c.counts[method+" "+action]++
}

func (c *limitCounter) count(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[key]
}

// newLimitServer returns a server that is never started, trusting
// 127.0.0.2, with a limit of 2 new INVITEs and 2 REGISTERs per source.
func newLimitServer(t *testing.T, logs *lockedBuffer, counter *limitCounter, published *eventRecorder) *Server {
	t.Helper()
	log := zerolog.New(logs).Level(zerolog.InfoLevel)
	registrar, err := NewRegistrar(RegistrarConfig{Realm: testRealm, Passwords: map[string]string{testUser: testPassword}, Logger: log})
	if err != nil {
		t.Fatalf("NewRegistrar: %v", err)
	}
	heldPort := holdEvenPort(t)
	port := heldPort.LocalAddr().(*net.UDPAddr).Port
	ports, err := media.NewPortRange(netip.MustParseAddr("127.0.0.1"), port, port)
	if err != nil {
		t.Fatalf("NewPortRange: %v", err)
	}
	srv, err := New(Options{
		PublicHost:     "127.0.0.1",
		ServiceUser:    "helpline",
		TrustedSources: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")},
		Numbers:        []string{"120"},
		RateLimit:      RateLimit{InviteRate: 1, InviteBurst: 2, RegisterRate: 1, RegisterBurst: 2},
	}, Deps{
		Logger: log, Registrar: registrar, Ports: ports, Prompts: &PromptCache{}, Graph: &ivr.Graph{},
		Queue: queue.NewMemoryStore(), Records: &patchRecorder{}, Events: published, RateLimited: counter,
	})
	if err != nil {
		t.Fatalf("sip.New: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// limitRequestText builds a request of method from source over transport;
// toTag, when set, puts it inside a dialog.
func limitRequestText(t *testing.T, method, source, transport, toTag string, n int) *sipmsg.Request {
	t.Helper()
	to := "<sip:120@127.0.0.1>"
	if toTag != "" {
		to += ";tag=" + toTag
	}
	text := fmt.Sprintf("%s sip:120@127.0.0.1 SIP/2.0\r\n"+
		"Via: SIP/2.0/%s %s;branch=z9hG4bKlimit%d\r\n"+
		"From: <sip:%s@127.0.0.1>;tag=from%d\r\nTo: %s\r\nCall-ID: limit-%d@test\r\nCSeq: 1 %s\r\n"+
		"Contact: <sip:caller@%s>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
		method, transport, source, n, testUser, n, to, n, method, source)
	if method == "REGISTER" {
		text = strings.Replace(text, "To: "+to, "To: <sip:"+testUser+"@127.0.0.1>", 1)
	}
	msg, err := sipmsg.ParseMessage([]byte(text))
	if err != nil {
		t.Fatalf("parsing %s: %v", method, err)
	}
	req := msg.(*sipmsg.Request)
	req.SetSource(source)
	req.SetTransport(transport)
	return req
}

// sendLimited passes one request through the server's handlers and returns the
// status of its last response, 0 for none.
func sendLimited(srv *Server, req *sipmsg.Request) int {
	tx := newRecordingTx()
	serveRequest(srv, req, tx)
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if len(tx.responses) == 0 {
		return 0
	}
	last := tx.responses[len(tx.responses)-1]
	if last.StatusCode == sipmsg.StatusServiceUnavailable {
		if h := last.GetHeader("Retry-After"); h == nil || h.Value() != "1" {
			return -1
		}
	}
	return last.StatusCode
}

func TestServerLimitsNewRequestsPerSource(t *testing.T) {
	logs, counter, published := &lockedBuffer{}, &limitCounter{}, &eventRecorder{}
	srv := newLimitServer(t, logs, counter, published)
	const flood = "127.0.0.3:5060"

	var statuses []int
	for i := range 5 {
		statuses = append(statuses, sendLimited(srv, limitRequestText(t, "INVITE", flood, "UDP", "", i)))
	}
	if want := "[403 403 0 0 0]"; fmt.Sprint(statuses) != want {
		t.Errorf("UDP INVITE statuses = %v, want %s: the burst gets 403 (untrusted), the rest are dropped", statuses, want)
	}
	if got := sendLimited(srv, limitRequestText(t, "INVITE", "127.0.0.3:5061", "TCP", "", 10)); got != sipmsg.StatusServiceUnavailable {
		t.Errorf("TCP INVITE over the limit: status = %d, want 503 with Retry-After: 1", got)
	}

	// In-dialog requests from the same source pass.
	if got := sendLimited(srv, limitRequestText(t, "INVITE", flood, "UDP", "dialog1", 20)); got != sipmsg.StatusCallTransactionDoesNotExists {
		t.Errorf("re-INVITE from the limited source: status = %d, want 481 from the dialog lookup", got)
	}
	if got := sendLimited(srv, limitRequestText(t, "BYE", flood, "UDP", "dialog1", 21)); got != sipmsg.StatusCallTransactionDoesNotExists {
		t.Errorf("BYE from the limited source: status = %d, want 481 from the dialog lookup", got)
	}
	// The trunk is not limited: each of its INVITEs gets the handler's
	// answer, 488 for the missing SDP.
	for i := range 5 {
		if got := sendLimited(srv, limitRequestText(t, "INVITE", "127.0.0.2:5060", "UDP", "", 30+i)); got != sipmsg.StatusNotAcceptableHere {
			t.Errorf("trunk INVITE %d: status = %d, want 488 from the handler", i+1, got)
		}
	}
	// REGISTERs have their own bucket.
	if got := sendLimited(srv, limitRequestText(t, "REGISTER", flood, "UDP", "", 40)); got != sipmsg.StatusUnauthorized {
		t.Errorf("REGISTER from a source out of INVITEs: status = %d, want 401", got)
	}

	if got := counter.count("INVITE dropped"); got != 3 {
		t.Errorf("counted %d dropped INVITEs, want 3", got)
	}
	if got := counter.count("INVITE rejected"); got != 1 {
		t.Errorf("counted %d rejected INVITEs, want 1", got)
	}
	if n := strings.Count(logs.String(), "requests over the per-source rate limit"); n != 1 {
		t.Errorf("logged the limit %d times, want once for the source:\n%s", n, logs.String())
	}
	published.mu.Lock()
	defer published.mu.Unlock()
	var limited []events.Event
	for _, e := range published.events {
		if e.Type == events.SIPRateLimited {
			limited = append(limited, e)
		}
	}
	if len(limited) != 1 || limited[0].Data["source"] != "127.0.0.3" || limited[0].Data["method"] != "INVITE" || limited[0].Data["action"] != "dropped" {
		t.Errorf("sip_rate_limited events = %+v, want one for 127.0.0.3, INVITE, dropped", limited)
	}
}

// BenchmarkLimiterAllow measures the check of one request from a source
// that is over its limit, the path every request of a flood takes.
func BenchmarkLimiterAllow(b *testing.B) {
	l := testLimiter(b, RateLimit{InviteRate: 5, InviteBurst: 20})
	now := testStart
	for b.Loop() {
		l.allow(limitInvite, limitedSource, now)
	}
}

// BenchmarkLimiterManySources measures the check of requests from 10,000
// rotating sources, and the heap each source's buckets take.
func BenchmarkLimiterManySources(b *testing.B) {
	const sources = 10000
	addrs := make([]netip.Addr, sources)
	for i := range addrs {
		addrs[i] = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
	}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	l := testLimiter(b, RateLimit{InviteRate: 5, InviteBurst: 20, MaxSources: sources})
	for _, addr := range addrs {
		l.allow(limitInvite, addr, testStart)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perSource := float64(after.HeapAlloc-before.HeapAlloc) / sources

	i := 0
	for b.Loop() {
		l.allow(limitInvite, addrs[i%sources], testStart)
		i++
	}
	b.ReportMetric(perSource, "heap-bytes/source")
}

func TestLimiterCountsEachMethodApart(t *testing.T) {
	l := testLimiter(t, RateLimit{InviteRate: 1, InviteBurst: 1, RegisterRate: 1, RegisterBurst: 1})
	allowN(l, limitRegister, limitedSource, 1, testStart)
	allowN(l, limitInvite, limitedSource, 1, testStart)

	first := l.allow(limitRegister, limitedSource, testStart)
	if first.report == nil || first.report.limited != 1 {
		t.Fatalf("first limited REGISTER: report = %+v, want one with 1 limited", first.report)
	}
	allowN(l, limitRegister, limitedSource, 298, testStart)

	invite := l.allow(limitInvite, limitedSource, testStart)
	if invite.report == nil || invite.report.limited != 1 {
		t.Errorf("first limited INVITE after 299 REGISTERs: report = %+v, want its own with 1 limited", invite.report)
	}

	next := testStart.Add(rateLimitReportInterval)
	allowN(l, limitRegister, limitedSource, 1, next)
	again := l.allow(limitRegister, limitedSource, next)
	if again.report == nil || again.report.limited != 299 {
		t.Errorf("REGISTER after the interval: report = %+v, want 299 limited (298 held back and this one)", again.report)
	}
}
