package metrics_test

import (
	"testing"

	"helpline/metrics"
)

func TestRateLimitedSeries(t *testing.T) {
	m := metrics.New()
	before := scrape(t, m)
	for _, want := range []string{
		`helpline_sip_rate_limited_total{action="dropped",method="INVITE"} 0`,
		`helpline_sip_rate_limited_total{action="rejected",method="REGISTER"} 0`,
	} {
		if !hasLine(before, want) {
			t.Errorf("scrape before any limit lacks %q", want)
		}
	}

	m.RequestLimited("INVITE", "dropped")
	m.RequestLimited("INVITE", "dropped")
	m.RequestLimited("REGISTER", "rejected")

	after := scrape(t, m)
	for _, want := range []string{
		`helpline_sip_rate_limited_total{action="dropped",method="INVITE"} 2`,
		`helpline_sip_rate_limited_total{action="rejected",method="REGISTER"} 1`,
		`helpline_sip_rate_limited_total{action="rejected",method="INVITE"} 0`,
	} {
		if !hasLine(after, want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
}
