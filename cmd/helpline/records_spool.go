package main

import (
	"path/filepath"

	"github.com/rs/zerolog"

	"helpline/config"
	"helpline/events"
	"helpline/metrics"
	"helpline/records"
)

// newRecordsSpool builds the spool that holds call records and events
// while store fails, with the place and the fix its log lines name.
func newRecordsSpool(cfg *config.Config, store *records.Store, bus *events.Bus, log zerolog.Logger) *records.Spool {
	location, fix := spoolLocation(cfg)
	return records.NewSpool(store, records.SpoolConfig{
		MaxRecords:    cfg.Records.Spool.MaxRecords,
		RetryInterval: cfg.Records.Spool.RetryInterval,
		Location:      location,
		Fix:           fix,
		Logger:        log.With().Str("component", "records_spool").Logger(),
		Events:        bus,
		FallbackDirs:  heldRecordsDirs(cfg),
	})
}

// spoolLocation names where the records go and what brings that place
// back, for the log line of a records outage.
func spoolLocation(cfg *config.Config) (location, fix string) {
	if cfg.Records.Driver == config.RecordsPostgres {
		return recordsLocation(cfg), "check that the PostgreSQL server is up, reachable from this node and has free disk space"
	}
	folder := cfg.Records.DataDir
	if absolute, err := filepath.Abs(folder); err == nil {
		folder = absolute
	}
	return folder, "check that the folder " + folder + " is mounted read-write, writable by this server's user, and that its disk has free space (df -h " + folder + ")"
}

// spoolGauges adapts the spool's statistics to the metrics' gauges.
func spoolGauges(spool *records.Spool) func() metrics.SpoolStats {
	return func() metrics.SpoolStats {
		stats := spool.Stats()
		return metrics.SpoolStats{
			Unavailable: stats.Unavailable,
			Depth:       stats.Depth,
			Max:         stats.Max,
			Held:        stats.Held,
			Dropped:     stats.Dropped,
		}
	}
}
