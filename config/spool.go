package config

import "time"

// RecordsSpool is the records.spool section: the memory that holds call
// records and events while the records store cannot be written.
type RecordsSpool struct {
	// MaxRecords is how many writes the spool holds: one per call record
	// start or update, one per event, about 15 for a call that reaches a
	// counselor. When it is full, newer writes are dropped.
	// Default 20000.
	MaxRecords int `mapstructure:"max_records"`
	// RetryInterval is the pause between two tries of the oldest held
	// write while the store fails. Default 2s.
	RetryInterval time.Duration `mapstructure:"retry_interval"`
	// FallbackDir is the folder where a shutdown saves the writes still
	// held when the store stays unavailable, for the next start to load.
	// Empty uses the folder "helpline-held-records" beside
	// records.data_dir. The server also tries the system's temporary
	// folder when this one cannot be written.
	FallbackDir string `mapstructure:"fallback_dir"`
}

// maxSpoolRecords bounds records.spool.max_records, so that a typo cannot
// let an outage take the host's memory: a held write takes well under
// 1 KiB (about 330 bytes measured), so the bound stays under 1 GiB.
const maxSpoolRecords = 1_000_000

// validateRecordsSpool checks records.spool.
func validateRecordsSpool(s *RecordsSpool, ps *problems) {
	if s.MaxRecords < 1 || s.MaxRecords > maxSpoolRecords {
		ps.add("records.spool.max_records", s.MaxRecords, "must be from 1 to %d: use the number of writes to hold in memory while the records store fails, such as 20000", maxSpoolRecords)
	}
	requirePositive(ps, "records.spool.retry_interval", s.RetryInterval)
}
