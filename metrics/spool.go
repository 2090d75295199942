package metrics

import "github.com/prometheus/client_golang/prometheus"

// SpoolStats is the records spool's state at a scrape.
type SpoolStats struct {
	// Unavailable is set while records writes fail and are held.
	Unavailable bool
	// Depth is how many writes are held now, and Max the limit.
	Depth, Max int
	// Held and Dropped count the writes held and dropped since the start.
	Held, Dropped uint64
}

var (
	spoolUnavailableDesc = prometheus.NewDesc("helpline_records_store_unavailable",
		"1 while writes to the records store fail and call records and events are held in memory, else 0.",
		nil, nil)
	spoolDepthDesc = prometheus.NewDesc("helpline_records_spool_depth",
		"Call record and event writes held in memory now, waiting for the records store.",
		nil, nil)
	spoolMaxDesc = prometheus.NewDesc("helpline_records_spool_max",
		"Writes the spool holds at most (records.spool.max_records).",
		nil, nil)
	spoolHeldDesc = prometheus.NewDesc("helpline_records_spool_held_total",
		"Call record and event writes held in memory because the records store failed.",
		nil, nil)
	spoolDroppedDesc = prometheus.NewDesc("helpline_records_spool_dropped_total",
		"Call record and event writes lost because the spool was full, or rejected when written back.",
		nil, nil)
)

// WithRecordsSpool adds the records spool's series, read from stats at
// every scrape.
func WithRecordsSpool(stats func() SpoolStats) Option {
	return func(m *Metrics) { m.spool = stats }
}

// spoolCollector reads the records spool at each scrape.
type spoolCollector struct {
	stats func() SpoolStats
}

// Describe sends the spool's descriptors.
func (c spoolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, desc := range []*prometheus.Desc{spoolUnavailableDesc, spoolDepthDesc, spoolMaxDesc, spoolHeldDesc, spoolDroppedDesc} {
		ch <- desc
	}
}

// Collect sends the spool's series.
func (c spoolCollector) Collect(ch chan<- prometheus.Metric) {
	stats := c.stats()
	unavailable := 0.0
	if stats.Unavailable {
		unavailable = 1
	}
	ch <- prometheus.MustNewConstMetric(spoolUnavailableDesc, prometheus.GaugeValue, unavailable)
	ch <- prometheus.MustNewConstMetric(spoolDepthDesc, prometheus.GaugeValue, float64(stats.Depth))
	ch <- prometheus.MustNewConstMetric(spoolMaxDesc, prometheus.GaugeValue, float64(stats.Max))
	ch <- prometheus.MustNewConstMetric(spoolHeldDesc, prometheus.CounterValue, float64(stats.Held))
	ch <- prometheus.MustNewConstMetric(spoolDroppedDesc, prometheus.CounterValue, float64(stats.Dropped))
}
