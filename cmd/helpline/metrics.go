package main

import (
	"github.com/rs/zerolog"

	"helpline/config"
	"helpline/events"
	"helpline/metrics"
	"helpline/queue"
	"helpline/web"
)

// registerMetrics serves /metrics on api, without a token, from counters
// fed by bus and gauges read from q for every configured queue. The
// caller closes the returned Metrics at shutdown.
func registerMetrics(cfg *config.Config, api *web.API, bus *events.Bus, q queue.Store, log zerolog.Logger) *metrics.Metrics {
	names := make([]string, 0, len(cfg.Queues))
	for _, def := range cfg.Queues {
		names = append(names, def.Name)
	}

	m := metrics.New(
		metrics.WithQueueStore(q, names),
		metrics.WithLogger(log.With().Str("component", "metrics").Logger()),
	)
	m.Start(bus)
	web.RegisterMetrics(api, m.Handler())
	return m
}
