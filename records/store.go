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
// On SQLite, writes go through a single connection that one goroutine owns
// (see committer), so this process never holds two write locks and
// concurrent updates wait in line instead of failing with SQLITE_BUSY.
// Writes that arrive while a commit is in progress are committed together in
// the next transaction, each in its own savepoint, so one fsync serves them
// all. Reads use a separate pool and run beside the writes.
//
// On PostgreSQL, reads and writes share one pool, and every write is a
// single statement or one transaction, so several nodes can write at once.
type Store struct {
	dialect *dialect
	// location names the database in logs and errors: the SQLite file's
	// path, or the PostgreSQL host, port and database without credentials.
	location string
	// writer and reader are the same pool on PostgreSQL.
	writer *sql.DB
	reader *sql.DB
	// committer runs every write on SQLite after Open. It is nil on
	// PostgreSQL, where each write is its own statement or transaction.
	committer *committer
	numbers   *numberCipher
	log       zerolog.Logger
	now       func() time.Time

	closed    atomic.Bool
	closeOnce sync.Once
}

// Option changes how Open and OpenPostgres set up a Store.
type Option func(*options)

type options struct {
	log         zerolog.Logger
	busyTimeout time.Duration
	now         func() time.Time
	// maxBatch caps the writes of one SQLite transaction. One makes every
	// write its own transaction, as before group commit.
	maxBatch int
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

// withMaxBatch sets the cap of writes in one SQLite transaction, so that
// tests and benchmarks can compare group commit (the default of
// defaultMaxBatch) with one transaction per write (1).
func withMaxBatch(n int) Option {
	return func(o *options) { o.maxBatch = n }
}

// buildOptions applies opts over the defaults.
func buildOptions(opts []Option) options {
	o := options{log: zerolog.Nop(), busyTimeout: defaultBusyTimeout, now: time.Now, maxBatch: defaultMaxBatch}
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
// On SQLite it first commits the writes already queued, then checkpoints the
// write-ahead log into the database file. A second call does nothing and
// returns nil.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		if s.committer != nil {
			s.committer.close()
		}
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
// dialect. On SQLite it runs in the committer's next transaction and
// returns after that commits.
func (s *Store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if s.committer == nil {
		return s.writer.ExecContext(ctx, s.dialect.bind(query), args...)
	}
	var result sql.Result
	err := s.committer.do(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		result, err = s.txExec(ctx, tx, query, args...)
		return err
	})
	return result, err
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
