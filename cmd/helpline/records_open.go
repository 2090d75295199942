package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"

	"helpline/config"
	"helpline/records"
)

// openRecordsStore opens the records database that records.driver names:
// the SQLite file under records.data_dir, or the PostgreSQL database at the
// DSN read from records.postgres.dsn_env. With mustExist set, a missing
// SQLite file is an error instead of being created, for commands that only
// read.
func openRecordsStore(ctx context.Context, cfg *config.Config, key records.Key, mustExist bool, opts ...records.Option) (*records.Store, error) {
	if cfg.Records.Driver == config.RecordsPostgres {
		store, err := records.OpenPostgres(ctx, cfg.Records.Postgres.DSN, key, opts...)
		if err != nil {
			return nil, fmt.Errorf("opening records in PostgreSQL (%s): %w", cfg.Records.Postgres.DSNEnv, err)
		}
		return store, nil
	}

	path := filepath.Join(cfg.Records.DataDir, cfg.Records.File)
	if mustExist {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("no records database at %s: run the command from the folder the server runs in, or pass the server's --config (records.data_dir): %w", path, err)
		}
	}
	store, err := records.Open(ctx, path, key, opts...)
	if err != nil {
		return nil, fmt.Errorf("opening records %s: %w", path, err)
	}
	return store, nil
}

// markRecordsInterrupted closes every record that the last run of this
// server left open and returns them. It serves embedded mode only: in
// shared mode the other nodes' calls may still be in progress, and the
// watchdog closes this node's records instead.
func markRecordsInterrupted(ctx context.Context, store *records.Store, log zerolog.Logger) []records.Record {
	recs, err := store.MarkInterruptedCalls(ctx, time.Now())
	if err != nil {
		log.Error().Err(err).Msg("marking interrupted calls failed")
		return nil
	}
	if len(recs) > 0 {
		log.Warn().Int("calls", len(recs)).Msg("calls left open by the last run marked interrupted")
	}
	return recs
}

// recordsLocation names where the records go, for the start-up log: the
// SQLite file, or "postgres" without the DSN, which holds a password.
func recordsLocation(cfg *config.Config) string {
	if cfg.Records.Driver == config.RecordsPostgres {
		return "postgres (" + cfg.Records.Postgres.DSNEnv + ")"
	}
	return filepath.Join(cfg.Records.DataDir, cfg.Records.File)
}
