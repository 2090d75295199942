package metrics_test

import (
	"testing"

	"github.com/rs/zerolog"

	"helpline/metrics"
)

func TestRecordsSpoolSeries(t *testing.T) {
	stats := metrics.SpoolStats{Unavailable: true, Depth: 7, Max: 100, Held: 12, Dropped: 3}
	m := metrics.New(metrics.WithRecordsSpool(func() metrics.SpoolStats { return stats }), metrics.WithLogger(zerolog.Nop()))

	body := scrape(t, m)
	for _, want := range []string{
		"helpline_records_store_unavailable 1",
		"helpline_records_spool_depth 7",
		"helpline_records_spool_max 100",
		"helpline_records_spool_held_total 12",
		"helpline_records_spool_dropped_total 3",
	} {
		if !hasLine(body, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
}

func TestRecordsSpoolSeriesOffWithoutSpool(t *testing.T) {
	body := scrape(t, metrics.New(metrics.WithLogger(zerolog.Nop())))
	if hasLine(body, "helpline_records_spool_depth 0") {
		t.Errorf("/metrics has spool series without a spool:\n%s", body)
	}
}
