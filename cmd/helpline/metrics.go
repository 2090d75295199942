package main

import (
	"github.com/rs/zerolog"

	"helpline/config"
	"helpline/events"
	"helpline/media"
	"helpline/metrics"
	"helpline/queue"
	"helpline/records"
	"helpline/sip"
	"helpline/web"
)

// newMetrics builds the metrics behind /metrics, with gauges read from q
// for every configured queue and the records spool's series, or returns nil when the API is off. It
// starts nothing, so it can be built before the SIP server, whose media
// sessions feed its RTP series.
func newMetrics(cfg *config.Config, q queue.Store, spool *records.Spool, log zerolog.Logger) *metrics.Metrics {
	if !cfg.API.Enabled() {
		return nil
	}
	names := make([]string, 0, len(cfg.Queues))
	for _, def := range cfg.Queues {
		names = append(names, def.Name)
	}

	opts := []metrics.Option{
		metrics.WithQueueStore(q, names),
		metrics.WithLogger(log.With().Str("component", "metrics").Logger()),
	}
	if spool != nil {
		opts = append(opts, metrics.WithRecordsSpool(spoolGauges(spool)))
	}
	return metrics.New(opts...)
}

// serveMetrics feeds m's counters from bus and serves /metrics on api,
// without a token. The caller closes m at shutdown.
func serveMetrics(m *metrics.Metrics, api *web.API, bus *events.Bus) {
	m.Start(bus)
	web.RegisterMetrics(api, m.Handler())
}

// receptionObserver returns m as the observer of the media sessions' RTP
// statistics, or nil when there are no metrics. A nil *metrics.Metrics
// in the interface would not compare equal to nil.
func receptionObserver(m *metrics.Metrics) media.ReceptionObserver {
	if m == nil {
		return nil
	}
	return m
}

// rateLimitObserver returns m as the counter of the requests the SIP rate
// limit stopped, or nil when there are no metrics.
func rateLimitObserver(m *metrics.Metrics) sip.RateLimitObserver {
	if m == nil {
		return nil
	}
	return m
}
