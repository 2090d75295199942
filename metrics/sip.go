package metrics

import "github.com/prometheus/client_golang/prometheus"

// Label values of helpline_sip_rate_limited_total. They match the method
// names and the sip.LimitRejected and sip.LimitDropped actions.
var (
	limitedMethods = []string{"INVITE", "REGISTER"}
	limitActions   = []string{"rejected", "dropped"}
)

// newRateLimited builds helpline_sip_rate_limited_total with a series for
// every method and action at 0.
func newRateLimited() *prometheus.CounterVec {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "helpline_sip_rate_limited_total",
		Help: "SIP requests stopped by the per-source rate limit (sip.rate_limit), by method (INVITE or REGISTER) and action: rejected (503 over TCP) or dropped (no response, UDP).",
	}, []string{"method", "action"})
	for _, method := range limitedMethods {
		for _, action := range limitActions {
			v.WithLabelValues(method, action)
		}
	}
	return v
}

// RequestLimited counts one request of method that the SIP rate limit
// stopped with action. It implements sip.RateLimitObserver.
func (m *Metrics) RequestLimited(method, action string) {
	m.rateLimited.WithLabelValues(method, action).Inc()
}
