package records

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// defaultBusyTimeout is how long a write waits for another process (such as
// an export run while the server is up, or another node) to release a lock
// before failing.
const defaultBusyTimeout = 5 * time.Second

// ErrClosed is returned by a Store method called after Close.
var ErrClosed = errors.New("records store is closed")

// Store is the call records database, an SQLite file (Open) or a PostgreSQL
// database shared by several nodes (OpenPostgres). Its methods are safe for
// concurrent use and behave the same on both.
//
// On SQLite, writes go through a single connection, so this process never
// holds two write locks and concurrent updates wait in line instead of
// failing with SQLITE_BUSY. Reads use a separate pool and run beside the
// writes. On PostgreSQL, reads and writes share one pool, and every write is
// a single statement or one transaction, so several nodes can write at once.
type Store struct {
	dialect *dialect
	// location names the database in logs and errors: the SQLite file's
	// path, or the PostgreSQL host, port and database without credentials.
	location string
	// writer and reader are the same pool on PostgreSQL.
	writer  *sql.DB
	reader  *sql.DB
	numbers *numberCipher
	log     zerolog.Logger
	now     func() time.Time

	closed    atomic.Bool
	closeOnce sync.Once
}

// Option changes how Open and OpenPostgres set up a Store.
type Option func(*options)

type options struct {
	log         zerolog.Logger
	busyTimeout time.Duration
	now         func() time.Time
}

// WithLogger sets the logger for opening, migrations, closing and records
// that fail to decrypt. The default discards everything.
func WithLogger(log zerolog.Logger) Option {
	return func(o *options) { o.log = log }
}

// WithBusyTimeout sets how long a statement waits for a lock held by another
// process before it fails: SQLite's busy_timeout, or PostgreSQL's
// lock_timeout. The default is 5 seconds.
func WithBusyTimeout(timeout time.Duration) Option {
	return func(o *options) { o.busyTimeout = timeout }
}

// WithClock sets the clock for UpdatedAt, for migration times and for a
// StartInfo without StartedAt. The default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// buildOptions applies opts over the defaults.
func buildOptions(opts []Option) options {
	o := options{log: zerolog.Nop(), busyTimeout: defaultBusyTimeout, now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// migrateSchema brings the opened store's schema to the latest version of
// its dialect, closing the store when that fails.
func (s *Store) migrateSchema(ctx context.Context, migrations []migration) error {
	applied, err := migrate(ctx, s.writer, s.dialect, migrations, s.now())
	if err != nil {
		return errors.Join(fmt.Errorf("migrate records database %s: %w", s.location, err), s.closePools())
	}
	if len(applied) > 0 {
		s.log.Info().Str("database", s.location).Ints("versions", applied).Msg("records schema migrated")
	}
	s.log.Info().Str("database", s.location).Str("driver", s.dialect.name).Int("schema_version", len(migrations)).
		Msg("records database opened")
	return nil
}

// Close closes the connections, waiting for running statements to finish.
// On SQLite it first checkpoints the write-ahead log into the database file.
// A second call does nothing and returns nil.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		var checkpointErr error
		if s.dialect == &sqliteDialect {
			checkpointErr = s.checkpoint()
		}
		err = errors.Join(checkpointErr, s.closePools())
		if err != nil {
			s.log.Error().Err(err).Str("database", s.location).Msg("records database close failed")
			return
		}
		s.log.Info().Str("database", s.location).Msg("records database closed")
	})
	return err
}

// closePools closes the reader pool and the writer connection, or the one
// shared pool.
func (s *Store) closePools() error {
	var errs []error
	if s.reader != nil && s.reader != s.writer {
		if err := s.reader.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close records reader: %w", err))
		}
	}
	if err := s.writer.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close records writer: %w", err))
	}
	return errors.Join(errs...)
}

// checkOpen returns ErrClosed after Close.
func (s *Store) checkOpen() error {
	if s.closed.Load() {
		return ErrClosed
	}
	return nil
}

// exec runs a statement on the writer, with placeholders bound for the
// dialect.
func (s *Store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return s.writer.ExecContext(ctx, s.dialect.bind(query), args...)
}

// Ping checks that the database responds, for readiness checks.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	if err := s.writer.PingContext(ctx); err != nil {
		return fmt.Errorf("ping records database failed: %w", err)
	}
	return nil
}
